# SPDX-License-Identifier: GPL-3.0-or-later
"""What can be checked of the Docker image without a Docker engine: the Dockerfile and
compose file pass scripts/check-dockerfile.py (which must also catch broken variants),
scripts/build-release.sh with DESTDIR produces every file the runtime stage copies, the
runtime-setup script parses, and the staged binary's --healthcheck works as the
HEALTHCHECK line runs it."""

import os
import shutil
import subprocess
import sys
import tempfile

from amtest import AM_SRC, Runner, check

CHECK = os.path.join(AM_SRC, "scripts/check-dockerfile.py")
BUILD = os.path.join(os.environ.get("AM_BUILD", tempfile.gettempdir()), "deb-test")


def run(args, **kw):
    p = subprocess.run(args, capture_output=True, text=True, **kw)
    return p.returncode, p.stdout + p.stderr


def test_repository_files_pass():
    rc, out = run([sys.executable, CHECK, "--src", AM_SRC])
    check(rc == 0, out)


def variant(edit):
    d = tempfile.mkdtemp(prefix="amtest-docker-")
    for f in ("Dockerfile", "docker-compose.yaml", ".dockerignore"):
        shutil.copy(os.path.join(AM_SRC, f), d)
    shutil.copytree(os.path.join(AM_SRC, "scripts"), os.path.join(d, "scripts"))
    shutil.copy(os.path.join(AM_SRC, "config.example.ini"), d)
    edit(d)
    rc, out = run([sys.executable, CHECK, "--src", d])
    shutil.rmtree(d)
    return rc, out


def sub(path, old, new):
    with open(path) as f:
        s = f.read()
    check(old in s, "fixture text not found: " + old)
    with open(path, "w") as f:
        f.write(s.replace(old, new))


def test_broken_variants_are_caught():
    cases = [
        (lambda d: sub(d + "/Dockerfile", "USER astrameter", "USER root"), "runs as root"),
        (lambda d: sub(d + "/Dockerfile", "--from=build", "--from=builder"), "no earlier stage"),
        (lambda d: sub(d + "/Dockerfile", '"--healthcheck"]', '"--help"]'), "HEALTHCHECK"),
        (lambda d: sub(d + "/Dockerfile", '"/app/config.ini"]', '"/app/config.ini",]'),
         "JSON array"),
        (lambda d: os.remove(d + "/scripts/docker-runtime.sh"), "does not exist"),
        (lambda d: os.chmod(d + "/scripts/build-release.sh", 0o644), "not executable"),
        (lambda d: sub(d + "/docker-compose.yaml", "network_mode: host", "network_mode: bridge"),
         "network_mode"),
        (lambda d: sub(d + "/Dockerfile", "FROM debian:bookworm-slim AS build",
                       "FROM debian AS build"), "pin"),
        (lambda d: sub(d + "/Dockerfile", "RUN /tmp/scripts", "RUNN /tmp/scripts"),
         "unknown instruction"),
    ]
    for edit, want in cases:
        rc, out = variant(edit)
        check(rc == 1 and want in out, "variant not caught (%s): %s" % (want, out))


def test_build_release_stage_has_what_the_image_copies():
    stage = tempfile.mkdtemp(prefix="amtest-stage-")
    env = dict(os.environ, DESTDIR=stage)
    env.pop("DEB", None)
    rc, out = run([os.path.join(AM_SRC, "scripts/build-release.sh"), BUILD], env=env,
                  timeout=900)
    check(rc == 0, out[-4000:])
    rc, out = run([sys.executable, CHECK, "--src", AM_SRC, "--stage", stage])
    check(rc == 0, out)
    binp = os.path.join(stage, "usr/bin/astrameter")
    # Installed stripped, and the HEALTHCHECK command line works: nothing listens -> 1.
    rc, out = run(["file", binp])
    check("not stripped" not in out, out)
    cfg = os.path.join(stage, "config.ini")
    with open(cfg, "w") as f:
        f.write("[GENERAL]\nWEB_SERVER_PORT = 1\n")
    rc, out = run([binp, "-c", cfg, "--healthcheck"], timeout=20)
    check(rc == 1 and "health check failed" in out, (rc, out))
    rc, out = run(["sh", "-n", os.path.join(AM_SRC, "scripts/docker-runtime.sh")])
    check(rc == 0, out)
    shutil.rmtree(stage)


if __name__ == "__main__":
    Runner().run([
        test_repository_files_pass,
        test_broken_variants_are_caught,
        test_build_release_stage_has_what_the_image_copies,
    ])
