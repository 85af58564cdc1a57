# SPDX-License-Identifier: GPL-2.0
#
# hugetlbfs-first memfile_notifier on Linux 6.1: build, boot and test in QEMU.
# 'make help' lists the targets.

H := harness

.PHONY: help setup prepare kernel tests check run vm soak stress-runs boot-runs qemu-backports series refresh reset clean distclean

help:
	@echo "make run         build, boot, and show what the kernel offers"
	@echo "make check       build, boot, run every test; 'N passed, N failed' at the end"
	@echo "make vm CMD='...' [FILES='a b']   run your command as root in the test machine"
	@echo "make check FLAVOUR=base   the same on the unpatched 6.1 kernel (upstream ABI only)"
	@echo "make soak [DURATION=30m]  the full stress, 2 vCPUs, on the debug kernel"
	@echo "make stress-runs [RUNS=10 STRESS='-s -o pm -d 60']   count stress failures"
	@echo "make boot-runs [RUNS=20 FLAVOUR=debug]   count boots with a kernel report"
	@echo "make qemu-backports   unpack QEMU 10.0 to compare (QEMU_ROOT=build/qemu-backports)"
	@echo "make series      export build/series/*.patch and run checkpatch --strict on it"
	@echo "make prepare     lay build/linux: Linux 6.1 + patches/ + our new files"
	@echo "make refresh     write commits made in build/linux back to patches/ and our files"
	@echo "make reset       drop edits in build/linux that were not refreshed"
	@echo "make setup       install the Debian packages needed (as root)"
	@echo "make clean       remove kernel objects; 'make distclean' removes build/"

setup:
	@$(H)/setup

prepare:
	@$(H)/prepare

kernel: prepare
	@$(H)/build-kernel

tests: prepare
	@$(H)/build-tests

check: kernel tests
	@out=$$(python3 -m unittest -q harness/test_results.py 2>&1) || { echo "$$out"; exit 1; }; \
		echo "==> result parser self-test: $$(echo "$$out" | grep '^Ran'), OK"
	@$(H)/check

run: kernel tests
	@$(H)/describe-series
	@$(H)/boot run

# CMD reaches the guest through the environment, untouched by the shell
# here; write $$ for a $ the guest's shell should see.
vm: kernel tests
	@test -n "$$CMD" || { echo "usage: make vm CMD='command' [FILES='file ...']" >&2; exit 2; }
	@$(H)/boot vm $(FILES)

soak: prepare tests
	@FLAVOUR=debug $(H)/build-kernel
	@FLAVOUR=debug $(H)/soak

stress-runs: kernel tests
	@$(H)/stress-runs

boot-runs: kernel tests
	@$(H)/boot-runs

qemu-backports:
	@$(H)/qemu-backports

series: prepare
	@$(H)/export-series

refresh:
	@$(H)/refresh

reset:
	@$(H)/reset

clean:
	rm -rf build/obj build/obj-debug build/obj-base build/kconfig-* build/tests build/series

distclean:
	rm -rf build
