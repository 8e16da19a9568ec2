#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The release build, one script for CI, the Dockerfile and the .deb test:
#   scripts/build-release.sh [BUILD_DIR]
# configures a RelWithDebInfo build for prefix /usr without tests, builds the installed
# programs only, then (env) DESTDIR=<dir>: installs there, stripped; DEB=1: builds the
# .deb with CPack into BUILD_DIR. Dependencies: scripts/install-deps.sh.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build/release-pkg}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
cmake -S "$SRC" -B "$BUILD" \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DCMAKE_INSTALL_PREFIX=/usr \
	-DAM_WERROR=OFF -DAM_SANITIZE=OFF -DAM_TESTS=OFF \
	-DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON
TARGETS="astrameter"
if grep -q 'add_executable(astra-sim' "$SRC/CMakeLists.txt" && [ -f "$SRC/src/sim/sim_main.c" ]; then
	TARGETS="$TARGETS astra-sim"
fi
# shellcheck disable=SC2086
cmake --build "$BUILD" -j"$JOBS" --target $TARGETS
if [ -n "${DESTDIR:-}" ]; then
	DESTDIR="$DESTDIR" cmake --install "$BUILD" --strip
fi
if [ "${DEB:-0}" = 1 ]; then
	(cd "$BUILD" && cpack -G DEB)
fi
