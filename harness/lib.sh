# SPDX-License-Identifier: GPL-2.0
# Shared settings and helpers for the harness scripts.  Source, don't run.

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
SRC=$BUILD/linux		# unpacked base + series, a git repository
# Which kernel: the default one, or "debug" (lockdep, KASAN, KFENCE, ...).
FLAVOUR=${FLAVOUR:-default}
case $FLAVOUR in
default) OBJ=$BUILD/obj ;;	# kernel objects (make O=)
debug) OBJ=$BUILD/obj-debug ;;
*) printf 'error: FLAVOUR=%s: default or debug\n' "$FLAVOUR" >&2; exit 1 ;;
esac
TESTS=$BUILD/tests		# static test programs
BASE_TARBALL=/usr/src/linux-source-6.1.tar.xz
# Upstream's KVM selftests of this tree run as a client (upstream-tests.list).
UPSTREAM_TARBALL=/usr/src/linux-source-6.12.tar.xz
UPSTREAM_SRC=$BUILD/linux-6.12		# unpacked once, never edited
UPSTREAM_OBJ=$BUILD/obj-6.12		# its UAPI headers
JOBS=${JOBS:-$(nproc)}

export CCACHE_BASEDIR=$BUILD CCACHE_NOHASHDIR=1 CCACHE_SLOPPINESS=time_macros
export KBUILD_BUILD_TIMESTAMP='Thu Jan  1 00:00:00 UTC 2026'
export KBUILD_BUILD_USER=memfile KBUILD_BUILD_HOST=harness
export LC_ALL=C
# uname -r of our kernel: 6.1.y-memfile[-debug] (no "+" for a git tree).
export LOCALVERSION=-memfile
[ "$FLAVOUR" = default ] || LOCALVERSION=-memfile-$FLAVOUR

if [ -t 1 ]; then
	_bold=$'\e[1m' _red=$'\e[31m' _off=$'\e[0m'
else
	_bold='' _red='' _off=''
fi

# One line per stage, so a newcomer sees where the time goes.
stage() { printf '%s==>%s %s\n' "$_bold" "$_off" "$*"; }
info() { printf '    %s\n' "$*"; }
die() { printf '%serror:%s %s\n' "$_red" "$_off" "$*" >&2; exit 1; }

# Run a noisy command with its output in a log; on failure show the log's end.
logged() {
	local log=$1; shift
	mkdir -p "$(dirname "$log")"
	if ! "$@" >"$log" 2>&1; then
		printf '%serror:%s %s failed; last lines of %s:\n' "$_red" "$_off" "$1" "$log" >&2
		grep -E -B2 -A6 'error:|Error [0-9]|\*\*\*' "$log" | tail -n 60 >&2 || tail -n 40 "$log" >&2
		exit 1
	fi
}

kernel_release() { cat "$OBJ/include/config/kernel.release" 2>/dev/null || echo unknown; }

# Host TSC rate in kHz.  Under TCG the guest TSC runs at the host's rate; the
# guest cannot always calibrate it without ACPI (DESIGN §7), so we tell it.
host_tsc_khz() {
	local mhz
	mhz=$(awk -F: '/^cpu MHz/ { gsub(/ /, "", $2); print $2; exit }' /proc/cpuinfo)
	[ -n "$mhz" ] || die "cannot read the host TSC rate from /proc/cpuinfo"
	awk -v m="$mhz" 'BEGIN { printf "%d\n", m * 1000 }'
}
