#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Static checks of the Dockerfile and docker-compose.yaml, for machines without a Docker
engine (hadolint is not packaged in Debian 12). It parses the Dockerfile the way the
builder does (line continuations, comments, exec form as JSON) and checks what would
otherwise only fail in `docker build`: known instructions, FROM first, COPY --from naming
an earlier stage, build-context sources that exist and are not excluded by .dockerignore,
scripts that exist, are executable and pass `sh -n`, and the runtime stage's promises
(non-root USER, HEALTHCHECK via --healthcheck, LOG_LEVEL, /app/config.ini). With
--stage DIR (a DESTDIR that scripts/build-release.sh filled) it also checks that every
COPY --from=build source exists there (/out in the image = DIR).
Exit status 0 if all is well; one line per problem otherwise."""

import argparse
import fnmatch
import json
import os
import re
import subprocess
import sys

KNOWN = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
         "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}


def instructions(text):
    """Yields (line number, INSTRUCTION, arguments) with continuations joined."""
    buf, start = "", None
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not buf and (not s or s.startswith("#")):
            continue
        if buf and s.startswith("#"):
            continue  # comment lines inside a continuation are dropped by the builder
        if start is None:
            start = n
        if s.endswith("\\"):
            buf += s[:-1] + " "
            continue
        buf += s
        word, _, rest = buf.partition(" ")
        yield start, word.upper(), rest.strip(), word
        buf, start = "", None
    if buf:
        yield start, "<EOF>", buf, ""


def ignored(path, patterns):
    hit = False
    for p in patterns:
        neg = p.startswith("!")
        pat = p[1:] if neg else p
        pat = pat.rstrip("/")
        if pat.startswith("**/"):
            m = any(fnmatch.fnmatch(part, pat[3:]) for part in path.split("/"))
        else:
            m = fnmatch.fnmatch(path, pat) or path.startswith(pat + "/")
        if m:
            hit = not neg
    return hit


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", default=os.path.join(os.path.dirname(__file__), ".."))
    ap.add_argument("--stage", help="DESTDIR filled by scripts/build-release.sh")
    a = ap.parse_args()
    src = os.path.abspath(a.src)
    problems = []
    bad = problems.append
    with open(os.path.join(src, "Dockerfile")) as f:
        text = f.read()
    patterns = []
    di = os.path.join(src, ".dockerignore")
    if os.path.exists(di):
        with open(di) as f:
            patterns = [l.strip() for l in f if l.strip() and not l.startswith("#")]
    stages, final = [], {}
    cur = None
    for n, ins, args, word in instructions(text):
        where = "Dockerfile:%d" % n
        if ins not in KNOWN:
            bad("%s: unknown instruction %r" % (where, word))
            continue
        if word != ins:
            bad("%s: write instructions in upper case (%s)" % (where, word))
        if cur is None and ins not in ("FROM", "ARG"):
            bad("%s: %s before the first FROM" % (where, ins))
        if ins == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?$", args, re.I)
            if not m:
                bad("%s: cannot parse FROM %r" % (where, args))
                continue
            if ":" not in m.group(1) or m.group(1).endswith(":latest"):
                bad("%s: pin the base image tag (%s)" % (where, m.group(1)))
            cur = {"name": m.group(2), "image": m.group(1), "ins": []}
            stages.append(cur)
            continue
        cur["ins"].append((n, ins, args))
        if ins in ("CMD", "ENTRYPOINT") or (ins == "HEALTHCHECK" and " CMD " in " " + args):
            body = args.split("CMD", 1)[1].strip() if ins == "HEALTHCHECK" else args
            if body.startswith("["):
                try:
                    v = json.loads(body)
                    if not (isinstance(v, list) and v and all(isinstance(x, str) for x in v)):
                        raise ValueError
                except ValueError:
                    bad("%s: exec form is not a JSON array of strings: %s" % (where, body))
        if ins in ("COPY", "ADD"):
            parts = args.split()
            opts = [p for p in parts if p.startswith("--")]
            files = [p for p in parts if not p.startswith("--")]
            if len(files) < 2:
                bad("%s: %s needs a source and a destination" % (where, ins))
                continue
            frm = [o.split("=", 1)[1] for o in opts if o.startswith("--from=")]
            if frm:
                names = [s["name"] for s in stages[:-1]]
                if frm[0] not in names:
                    bad("%s: COPY --from=%s names no earlier stage" % (where, frm[0]))
                if a.stage:
                    for s in files[:-1]:
                        if s.startswith("/out/"):
                            p = os.path.join(a.stage, s[len("/out/"):])
                            if not os.path.exists(p):
                                bad("%s: %s is not produced by build-release.sh (%s)"
                                    % (where, s, p))
                continue
            for s in files[:-1]:
                if s == ".":
                    continue
                if not os.path.exists(os.path.join(src, s)):
                    bad("%s: COPY source %s does not exist" % (where, s))
                elif ignored(s, patterns):
                    bad("%s: COPY source %s is excluded by .dockerignore" % (where, s))
        if ins == "RUN":
            for s in sorted(set(re.findall(r"(?:\./|/tmp/)scripts/([\w.-]+)", args))):
                p = os.path.join(src, "scripts", s)
                if not os.path.isfile(p):
                    bad("%s: RUN uses scripts/%s, which does not exist" % (where, s))
                elif not os.access(p, os.X_OK):
                    bad("%s: scripts/%s is not executable" % (where, s))
                elif subprocess.run(["sh", "-n", p]).returncode != 0:
                    bad("%s: scripts/%s has a shell syntax error" % (where, s))
    if not stages:
        bad("Dockerfile: no FROM")
    else:
        final = stages[-1]
        ins = [(i, x) for _, i, x in final["ins"]]
        users = [x for i, x in ins if i == "USER"]
        if not users or users[-1].split(":")[0] in ("root", "0"):
            bad("runtime stage: runs as root (add a USER)")
        hc = [x for i, x in ins if i == "HEALTHCHECK"]
        if not hc or "--healthcheck" not in hc[-1]:
            bad("runtime stage: no HEALTHCHECK using astrameter --healthcheck")
        envs = " ".join(x for i, x in ins if i == "ENV")
        if "LOG_LEVEL=" not in envs:
            bad("runtime stage: LOG_LEVEL not set")
        cmd = [x for i, x in ins if i == "CMD"]
        if not cmd or "/app/config.ini" not in cmd[-1]:
            bad("runtime stage: CMD does not read /app/config.ini")
        if any(i == "RUN" and re.search(r"\bcurl\b|\bwget\b", x) for i, x in ins):
            bad("runtime stage: installs curl/wget")
    comp = os.path.join(src, "docker-compose.yaml")
    with open(comp) as f:
        c = f.read()
    if not re.search(r"^\s+network_mode:\s*host\s*$", c, re.M):
        bad("docker-compose.yaml: network_mode: host missing")
    if not re.search(r"^\s+-\s*\./config\.ini:/app/config\.ini", c, re.M):
        bad("docker-compose.yaml: config.ini is not mounted at /app/config.ini")
    if "\t" in c:
        bad("docker-compose.yaml: tabs are not allowed in YAML")
    for p in problems:
        print(p)
    if not problems:
        print("Dockerfile and docker-compose.yaml: OK (%d stages)" % len(stages))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
