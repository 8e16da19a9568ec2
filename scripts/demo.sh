#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Live demo: the astrameter daemon steering two simulated Marstek batteries in a simulated
# three-phase household, no hardware needed. Builds nothing: it runs already built
# binaries (build/release/astrameter and build/release/astra-sim, or $AM_BIN / $SIM_BIN).
#
#   scripts/demo.sh                      terminal UI (keys: 1-8 loads, s/S solar, q quit)
#   scripts/demo.sh --no-tui --duration 60   print the grid once a second, then exit
#
# Environment: AM_BIN, SIM_BIN, DEMO_HTTP_PORT (18080), DEMO_CT_PORT (22345),
# DEMO_ACTIVE_CONTROL (True; False = relay mode). Everything it starts is stopped on exit
# or Ctrl-C; its files live in a temporary directory that is removed afterwards.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
AM_BIN=${AM_BIN:-$here/build/release/astrameter}
SIM_BIN=${SIM_BIN:-$here/build/release/astra-sim}
HTTP_PORT=${DEMO_HTTP_PORT:-18080}
CT_PORT=${DEMO_CT_PORT:-22345}
ACTIVE=${DEMO_ACTIVE_CONTROL:-True}

tui=1
duration=
while [ $# -gt 0 ]; do
	case $1 in
	--no-tui) tui= ;;
	--duration) duration=$2; shift ;;
	--duration=*) duration=${1#--duration=} ;;
	-h|--help) sed -n '3,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "demo.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

for b in "$AM_BIN" "$SIM_BIN"; do
	if [ ! -x "$b" ]; then
		echo "demo.sh: $b not found; build first (cmake --preset release && cmake --build --preset release)" >&2
		exit 1
	fi
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/astrameter-demo.XXXXXX")
daemon_pid=
sim_pid=
cleanup() {
	trap - EXIT INT TERM
	[ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
	[ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cat > "$dir/sim.json" <<JSON
{
  "ct": {"host": "127.0.0.1", "port": $CT_PORT, "mac": "112233445566"},
  "http": {"host": "127.0.0.1", "port": $HTTP_PORT},
  "powermeter": {
    "base_load": [250, 150, 100],
    "base_noise": 15,
    "loads": [
      {"name": "Kettle", "power": 1200, "phase": "A"},
      {"name": "Fridge", "power": 120, "phase": "B"},
      {"name": "Washing machine", "power": 450, "phase": "C"},
      {"name": "TV + router", "power": 110, "phase": "B"},
      {"name": "Microwave", "power": 800, "phase": "A"}
    ],
    "solar_max": 1600,
    "solar_phases": ["A"]
  },
  "batteries": [
    {"mac": "02B250000001", "phase": "A", "meter_dev_type": "HMG-50", "initial_soc": 0.7},
    {"mac": "02B250000002", "phase": "B", "meter_dev_type": "HMG-50", "initial_soc": 0.4}
  ],
  "auto_interval": [15, 40],
  "log_interval": 1
}
JSON

cat > "$dir/config.ini" <<INI
[GENERAL]
DEVICE_TYPE = ct002

[CT002]
UDP_PORT = $CT_PORT
ACTIVE_CONTROL = $ACTIVE

[JSON_HTTP]
URL = http://127.0.0.1:$HTTP_PORT/power
JSON_PATHS = \$.phase_a,\$.phase_b,\$.phase_c
INI

# The daemon skips its start-up meter test (-t): the simulator's meter comes up just after.
"$AM_BIN" -c "$dir/config.ini" -t > "$dir/daemon.log" 2>&1 &
daemon_pid=$!
sleep 0.5
if ! kill -0 "$daemon_pid" 2>/dev/null; then
	echo "demo.sh: the daemon did not start; its log:" >&2
	cat "$dir/daemon.log" >&2
	exit 1
fi

set -- run -c "$dir/sim.json"
[ -n "$duration" ] && set -- "$@" --duration "$duration"
if [ -n "$tui" ] && [ -t 0 ] && [ -t 1 ]; then
	"$SIM_BIN" "$@"
else
	echo "astrameter demo: daemon PID $daemon_pid (log $dir/daemon.log), grid once a second; Ctrl-C stops"
	"$SIM_BIN" "$@" --no-tui &
	sim_pid=$!
	wait "$sim_pid" || true
	sim_pid=
fi
if ! kill -0 "$daemon_pid" 2>/dev/null; then
	echo "demo.sh: the daemon exited early; its log:" >&2
	cat "$dir/daemon.log" >&2
	exit 1
fi
