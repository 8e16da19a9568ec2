#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Fails if any tracked C source or header differs from .clang-format (LLVM base, 8-wide
# tabs, Linux braces, 100 columns). Fix with: clang-format -i <file>
set -eu
cd "$(dirname "$0")/.."
bad=0
for f in $(git ls-files '*.c' '*.h'); do
	if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
		echo "not clang-formatted: $f"
		bad=1
	fi
done
[ "$bad" -eq 0 ] && echo "clang-format: all files formatted"
exit "$bad"
