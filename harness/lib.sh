# SPDX-License-Identifier: GPL-2.0
# Shared settings and helpers for the harness scripts.  Source, don't run.

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
SRC=$BUILD/linux		# unpacked base + series, a git repository
# Which kernel: the default one, "debug" (lockdep, KASAN, KFENCE, ...), or
# "base": the unpatched 6.1 tree with the same config minus the series' own
# options, to compare what uses only upstream ABI against upstream.
FLAVOUR=${FLAVOUR:-default}
KSRC=$SRC			# the tree the kernel is built from
case $FLAVOUR in
default) OBJ=$BUILD/obj ;;	# kernel objects (make O=)
debug) OBJ=$BUILD/obj-debug ;;
base) OBJ=$BUILD/obj-base KSRC=$BUILD/linux-base ;;	# a worktree at tag "base"
*) printf 'error: FLAVOUR=%s: default, debug or base\n' "$FLAVOUR" >&2; exit 1 ;;
esac
TESTS=$BUILD/tests		# static test programs
BASE_TARBALL=/usr/src/linux-source-6.1.tar.xz
# Upstream's KVM selftests of this tree run as a client (upstream-tests.list).
UPSTREAM_TARBALL=/usr/src/linux-source-6.12.tar.xz
# Upstream 7.3's, from trixie-backports, unpacked without installing it
# (harness/fetch-linux-7.3).
UPSTREAM73_TARBALL=$BUILD/apt-trixie-backports/root/usr/src/linux-source-7.3.tar.xz
JOBS=${JOBS:-$(nproc)}

export CCACHE_BASEDIR=$BUILD CCACHE_NOHASHDIR=1 CCACHE_SLOPPINESS=time_macros
export KBUILD_BUILD_TIMESTAMP='Thu Jan  1 00:00:00 UTC 2026'
export KBUILD_BUILD_USER=memfile KBUILD_BUILD_HOST=harness
export LC_ALL=C
# uname -r of our kernel: 6.1.y-memfile[-debug], 6.1.y-base unpatched (no
# "+" for a git tree).
export LOCALVERSION=-memfile
[ "$FLAVOUR" = default ] || LOCALVERSION=-memfile-$FLAVOUR
[ "$FLAVOUR" != base ] || LOCALVERSION=-base

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

# The URI of the archive that serves the "bookworm" suite itself.
bookworm_archive() {
	python3 - <<'PY'
import glob, re
for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try:
        for line in open(path):
            m = re.match(r"\s*deb\s+(\[[^]]*\]\s+)?(\S+)\s+bookworm\s", line)
            if m:
                print(m.group(2)); raise SystemExit
    except OSError:
        pass
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in open(path).read().split("\n\n"):
        fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.M))
        if "deb" in fields.get("Types", "").split() and \
           "bookworm" in fields.get("Suites", "").split() and \
           fields.get("Enabled", "yes") != "no":
            print(fields["URIs"].split()[0]); raise SystemExit
PY
}

# Add bookworm-backports, from the archive bookworm comes from, once.
# $1 says what for.  Needs root.
add_backports() {
	local list=/etc/apt/sources.list.d/memfile-bookworm-backports.list uri
	[ -e "$list" ] && return
	apt-cache policy 2>/dev/null | grep -q 'bookworm-backports' && return
	uri=$(bookworm_archive)
	[ -n "$uri" ] || die "no Debian archive in /etc/apt/sources.list*: cannot add bookworm-backports"
	stage "adding bookworm-backports from $uri ($1)"
	echo "deb $uri bookworm-backports main" >"$list"
	logged "$BUILD/logs/apt-update-backports.log" apt-get update -q
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
