#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs everything astrameter needs to build and test on Debian 12 (bookworm).
# Idempotent; run as root (or via sudo). Used by the README, .ci/run and the Dockerfile.
set -eu
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PKGS="build-essential cmake pkg-config git \
 libinih-dev libcurl4-openssl-dev libcjson-dev libcmocka-dev libmosquitto-dev libmodbus-dev libssl-dev libwslay-dev \
 clang clang-format llvm libclang-rt-14-dev python3 libncurses-dev valgrind"
PKGS="$PKGS libmicrohttpd-dev libsystemd-dev systemd dpkg-dev file fakeroot mosquitto openssl"
if [ "${1:-}" = "--runtime" ]; then
  PKGS="libinih1 libcurl4 libcjson1 libmosquitto1 libmodbus5 libncursesw6 libwslay1 libssl3"
  PKGS="$PKGS libmicrohttpd12 libsystemd0"
fi
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -q --no-install-recommends $missing
fi
