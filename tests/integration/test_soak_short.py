# SPDX-License-Identifier: GPL-3.0-or-later
"""The short soak (tests/soak/soak.py for 45 s): 20 batteries polling at 1 Hz through a
flaky HTTP meter, an MQTT meter whose broker restarts, and a Home Assistant meter whose
server floods WebSocket PINGs, while one address floods hostile datagrams. Fails on any
battery request not answered within 1.5 s, RSS growth after warm-up, a log flood, or a
dead daemon. Nothing is skipped: a missing mosquitto is a failure. The long run is
`python3 tests/soak/soak.py --duration 600` (docs/testing.md)."""

import os
import subprocess
import sys

from amtest import AM_SRC, Runner, check

SOAK = os.path.join(AM_SRC, "tests", "soak", "soak.py")


def test_soak_45s():
    p = subprocess.run([sys.executable, SOAK, "--duration", "45"], capture_output=True,
                       text=True, timeout=150)
    print(p.stdout, end="")
    if p.stderr:
        print(p.stderr, end="")
    check(p.returncode == 0, "soak exited %d" % p.returncode)


if __name__ == "__main__":
    Runner().run([test_soak_45s])
