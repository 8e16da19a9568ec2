#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Prepares the runtime image around an installed /usr/bin/astrameter (the Dockerfile's
# second stage runs it; nothing here is Docker-specific except that it is meant for a
# throwaway root filesystem): the shared libraries from install-deps.sh --runtime, the
# file capability that lets a non-root user bind UDP 1010, the unprivileged user, /app and
# its state directory, and no apt lists left behind.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${BIN:-/usr/bin/astrameter}
USER_NAME=${USER_NAME:-astrameter}
USER_ID=${USER_ID:-1000}
export DEBIAN_FRONTEND=noninteractive
"$HERE/install-deps.sh" --runtime
apt-get install -y -q --no-install-recommends libcap2-bin
# Ports below 1024 (Shelly Pro 3EM: UDP 1010) without root.
setcap cap_net_bind_service=+ep "$BIN"
getcap "$BIN" | grep -q cap_net_bind_service
# setcap was only needed for that; keep the image small.
apt-get purge -y -q libcap2-bin
apt-get autoremove -y -q
rm -rf /var/lib/apt/lists/*
useradd --system --uid "$USER_ID" --user-group --home-dir /app --no-create-home \
	--shell /usr/sbin/nologin "$USER_NAME"
mkdir -p /app/state
chown "$USER_NAME:$USER_NAME" /app/state
chmod 0700 /app/state
# The binary must still find all its libraries.
if ldd "$BIN" | grep -q 'not found'; then
	ldd "$BIN"
	exit 1
fi
