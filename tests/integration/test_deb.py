# SPDX-License-Identifier: GPL-3.0-or-later
"""The Debian package, end to end without touching the host: scripts/build-release.sh
builds a release tree and the .deb (CPack); the package's metadata and dependencies are
checked; it is installed into a scratch root with dpkg --root (maintainer scripts run
chrootless with DPKG_ROOT, as dpkg defines it), and files, permissions, the config
postinst creates, the installed binary, and the unit files (systemd-analyze verify and
security, offline against the scratch root) are checked; then an upgrade keeps an edited
config, and a purge removes everything."""

import glob
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

from amtest import AM_SRC, Runner, check

BUILD = os.path.join(os.environ.get("AM_BUILD", tempfile.gettempdir()), "deb-test")
STATE = {}


def sh(args, **kw):
    p = subprocess.run(args, capture_output=True, text=True, **kw)
    return p.returncode, p.stdout, p.stderr


def deb():
    if "deb" not in STATE:
        env = dict(os.environ, DEB="1")
        env.pop("DESTDIR", None)
        rc, out, err = sh([os.path.join(AM_SRC, "scripts/build-release.sh"), BUILD], env=env,
                          timeout=900)
        check(rc == 0, "build-release.sh failed:\n" + out[-3000:] + err[-3000:])
        debs = sorted(glob.glob(os.path.join(BUILD, "astrameter_*.deb")), key=os.path.getmtime)
        check(debs, "no .deb in " + BUILD)
        STATE["deb"] = debs[-1]
    return STATE["deb"]


def dpkg_root(*args):
    root = STATE["root"]
    return sh(["dpkg", "--root=" + root, "--force-script-chrootless", "--force-not-root",
               "--force-depends"] + list(args))


def test_build_and_control_fields():
    path = deb()
    rc, arch, _ = sh(["dpkg", "--print-architecture"])
    rc, out, err = sh(["dpkg-deb", "-f", path, "Package", "Architecture", "Depends", "Version"])
    check(rc == 0, err)
    fields = dict(l.split(": ", 1) for l in out.strip().splitlines())
    check(fields["Package"] == "astrameter", fields)
    check(fields["Architecture"] == arch.strip(), fields)
    deps = fields["Depends"]
    for need in ("libc6", "libmicrohttpd12", "libcurl4", "libcjson1", "libinih1"):
        check(need in deps, "%s missing from Depends: %s" % (need, deps))
    check("-dev" not in deps and "libasan" not in deps and "libubsan" not in deps, deps)
    # Maintainer scripts are in the package and executable.
    rc, out, _ = sh(["dpkg-deb", "-I", path])
    for s in ("postinst", "prerm", "postrm"):
        check(re.search(r"\*\s+%s" % s, out), "%s missing or not executable:\n%s" % (s, out))


def test_contents_owners_and_modes():
    rc, out, err = sh(["dpkg-deb", "-c", deb()])
    check(rc == 0, err)
    entries = {}
    for line in out.splitlines():
        parts = line.split()
        perm, owner, name = parts[0], parts[1], parts[5]
        entries[name.lstrip(".")] = (perm, owner)
        check(owner == "root/root", line)
        check("s" not in perm and "S" not in perm, "setuid/setgid bit: " + line)
        check(not perm.startswith("-") or perm[8] != "w", "world-writable: " + line)
    want = {
        "/usr/bin/astrameter": "-rwxr-xr-x",
        "/usr/lib/systemd/system/astrameter.service": "-rw-r--r--",
        "/usr/lib/systemd/system/astrameter.socket": "-rw-r--r--",
        "/usr/share/astrameter/config.example.ini": "-rw-r--r--",
        "/usr/share/doc/astrameter/README.md": "-rw-r--r--",
        "/usr/share/doc/astrameter/docs/installation/systemd.md": "-rw-r--r--",
        "/usr/share/doc/astrameter/docs/installation/docker.md": "-rw-r--r--",
        "/usr/share/doc/astrameter/docs/installation/direct.md": "-rw-r--r--",
    }
    for name, perm in want.items():
        check(name in entries, "missing from the package: " + name)
        check(entries[name][0] == perm, (name, entries[name]))
    check(not any(n.startswith("/etc/") for n in entries),
          "the package must not ship /etc files (postinst creates the config)")


def make_root():
    root = tempfile.mkdtemp(prefix="amtest-root-")
    for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "usr/bin", "usr/lib/systemd/system",
              "etc"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    for f in ("var/lib/dpkg/status", "var/lib/dpkg/available"):
        open(os.path.join(root, f), "w").close()
    # Merged /usr as on Debian 12, plus what systemd-analyze resolves against the root:
    # the targets the units order against and ExecReload's kill.
    os.symlink("usr/bin", os.path.join(root, "bin"))
    os.symlink("usr/lib", os.path.join(root, "lib"))
    shutil.copy("/usr/bin/kill", os.path.join(root, "usr/bin/kill"))
    for t in glob.glob("/lib/systemd/system/*.target"):
        if os.path.isfile(t):
            shutil.copy(t, os.path.join(root, "usr/lib/systemd/system"))
    STATE["root"] = root
    return root


def test_install_into_scratch_root():
    host_had_etc = os.path.exists("/etc/astrameter")
    root = make_root()
    rc, out, err = dpkg_root("-i", deb())
    check(rc == 0, "dpkg -i failed:\n" + out + err)
    check("created /etc/astrameter/config.ini" in out + err, out + err)
    check(os.path.exists("/etc/astrameter") == host_had_etc, "postinst touched the host /etc")
    binp = os.path.join(root, "usr/bin/astrameter")
    st = os.stat(binp)
    check(stat.S_IMODE(st.st_mode) == 0o755, oct(st.st_mode))
    conf = os.path.join(root, "etc/astrameter/config.ini")
    check(os.path.isfile(conf), "postinst did not create the config")
    check(stat.S_IMODE(os.stat(conf).st_mode) == 0o644, oct(os.stat(conf).st_mode))
    with open(conf) as a, open(os.path.join(root, "usr/share/astrameter/config.example.ini")) as b:
        check(a.read() == b.read(), "config differs from the example")
    # The installed binary runs (host libraries) and accepts the installed config.
    rc, out, err = sh([binp, "--version"])
    check(rc == 0 and out.startswith("astrameter "), out + err)
    rc, out, err = sh([binp, "-n", "-c", conf])
    check(rc == 0 and "configuration OK" in out, out + err)
    # dpkg knows the files.
    rc, out, _ = dpkg_root("-L", "astrameter")
    check("/usr/bin/astrameter" in out, out)


def test_unit_files_verify_and_security():
    root = STATE.get("root") or make_root()
    units = os.path.join(root, "usr/lib/systemd/system")
    svc = os.path.join(units, "astrameter.service")
    with open(svc) as f:
        text = f.read()
    check("ExecStart=/usr/bin/astrameter -c /etc/astrameter/config.ini" in text, text)
    for key in ("Type=notify", "WatchdogSec=", "DynamicUser=yes", "NoNewPrivileges=yes",
                "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                "PrivateDevices=yes", "RestrictAddressFamilies=",
                "CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "StateDirectory=astrameter",
                "ConfigurationDirectory=astrameter"):
        check(key in text, "unit lacks " + key)
    env = dict(os.environ, SYSTEMD_LOG_LEVEL="notice")
    rc, out, err = sh(["systemd-analyze", "verify", "--root=" + root, svc,
                       os.path.join(units, "astrameter.socket")], env=env)
    check(rc == 0 and not err.strip(), "systemd-analyze verify:\n" + out + err)
    rc, out, err = sh(["systemd-analyze", "security", "--offline=true", "--root=" + root,
                       "--no-pager", "astrameter.service"], env=env)
    m = re.search(r"Overall exposure level for astrameter.service: ([0-9.]+)", out + err)
    check(m, out + err)
    score = float(m.group(1))
    print("    systemd-analyze security: %.1f" % score)
    check(score <= 2.0, "exposure %.1f worse than 2.0" % score)


def test_upgrade_keeps_config_and_purge_removes_all():
    root = STATE.get("root")
    check(root, "needs the install test")
    conf = os.path.join(root, "etc/astrameter/config.ini")
    with open(conf, "a") as f:
        f.write("\n# edited by the admin\n")
    rc, out, err = dpkg_root("-i", deb())
    check(rc == 0, out + err)
    with open(conf) as f:
        check("# edited by the admin" in f.read(), "upgrade overwrote the config")
    rc, out, err = dpkg_root("--purge", "astrameter")
    check(rc == 0, out + err)
    for p in ("usr/bin/astrameter", "usr/lib/systemd/system/astrameter.service",
              "etc/astrameter/config.ini", "etc/astrameter"):
        check(not os.path.exists(os.path.join(root, p)), "left after purge: " + p)
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    for tool in ("cpack", "dpkg", "dpkg-deb", "dpkg-shlibdeps", "systemd-analyze"):
        if not shutil.which(tool):
            print("FAIL: %s not installed (scripts/install-deps.sh installs it)" % tool)
            sys.exit(1)
    Runner().run([
        test_build_and_control_fields,
        test_contents_owners_and_modes,
        test_install_into_scratch_root,
        test_unit_files_verify_and_security,
        test_upgrade_keeps_config_and_purge_removes_all,
    ])
