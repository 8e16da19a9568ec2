#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs what is needed, builds, and runs the whole test suite:
#   1. unit tests and fuzz-corpus replays under AddressSanitizer + UndefinedBehaviorSanitizer
#      (debug build, warnings are errors);
#   2. integration tests: the real release binaries on loopback against real peers.
# Used by the README's second Quick start command and by .ci/run.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
JOBS=$(nproc 2>/dev/null || echo 2)

echo "== format"
./scripts/check-format.sh

echo "== unit + fuzz corpus (ASan+UBSan)"
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$JOBS"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --test-dir build/asan -L 'unit|fuzz' --output-on-failure -j "$JOBS"

echo "== integration (release build)"
cmake --preset release >/dev/null
cmake --build --preset release -j "$JOBS"
# Two at a time: most of these wait in real time (2 s deadlines, 30 s staleness, closed
# loops); tests on fixed ports (Shelly 1010/2220/2222/2223) hold a RESOURCE_LOCK.
ctest --test-dir build/release -L 'integration|closedloop' --output-on-failure -j 2
