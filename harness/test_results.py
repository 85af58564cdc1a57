# SPDX-License-Identifier: GPL-2.0
"""Tests of harness/results.py: what counts as passed, failed and skipped.

Run by 'make check' before it boots anything, so a broken parser cannot
turn a failing run green.
"""

import io
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import results  # noqa: E402


def run(console):
    out = io.StringIO()
    r = results.Run(out, verbose=False)
    r.feed(io.StringIO(console), io.StringIO())
    return r, out.getvalue()


KUNIT = """harness: booted x
harness: begin kunit /sys/kernel/debug/kunit/suite
KTAP version 1
1..1
    KTAP version 1
    # Subtest: suite
    1..3
    ok 1 case_a
    not ok 2 case_b
    ok 3 case_c # SKIP no hardware
not ok 1 suite
harness: end kunit
harness: exit 0
"""


class ResultsTest(unittest.TestCase):
    def test_kunit_leaves_counted_not_suites(self):
        r, out = run(KUNIT)
        self.assertEqual((r.passed, r.failed, r.skipped), (1, 1, 1))
        self.assertIn("not ok kunit:suite.case_b", out)
        self.assertIn("ok kunit:suite.case_c # SKIP no hardware", out)
        self.assertEqual(r.seen_suites, {"suite"})

    def test_selftest_plan_and_exit(self):
        r, _ = run("harness: begin selftest t\nTAP version 13\n1..3\nok 1 a\nok 2 b\n"
                   "harness: end selftest t rc=0\nharness: exit 0\n")
        # Ran 2 of 3 planned: the missing one is a failure.
        self.assertEqual((r.passed, r.failed), (2, 1))

    def test_plain_program_judged_by_exit_status(self):
        r, _ = run("harness: begin selftest p\nhello\nharness: end selftest p rc=1\n"
                   "harness: begin selftest q\nharness: end selftest q rc=0\n"
                   "harness: begin selftest s\nharness: end selftest s rc=4\nharness: exit 0\n")
        self.assertEqual((r.passed, r.failed, r.skipped), (1, 1, 1))

    def test_whole_program_skip(self):
        # kselftest's "1..0 # SKIP why" with exit status 4: one skip, with
        # its reason; the same plan with another status is a failure.
        r, out = run("harness: begin selftest u\nTAP version 13\n"
                     "1..0 # SKIP - KVM selftests now require KVM_SET_USER_MEMORY_REGION2\n"
                     "harness: end selftest u rc=4\nharness: exit 0\n")
        self.assertEqual((r.passed, r.failed, r.skipped), (0, 0, 1))
        self.assertIn("ok selftest:u # SKIP - KVM selftests now require", out)
        r, _ = run("harness: begin selftest u\n1..0 # SKIP no\n"
                   "harness: end selftest u rc=1\nharness: exit 0\n")
        self.assertEqual((r.passed, r.failed, r.skipped), (0, 1, 0))

    def test_crash_mid_section_fails(self):
        r, out = run("harness: begin selftest t\n1..2\nok 1 a\n")
        self.assertEqual(r.failed, 1)
        self.assertIn("did not finish", out)
        self.assertIsNone(r.exit_status)

    def test_kernel_reports_are_collected(self):
        for line in ("[ 1.0] WARNING: CPU: 0 PID: 1 at mm/x.c:1 f",
                     "[ 1.0] BUG: KASAN: use-after-free in f",
                     "[ 1.0] Oops: 0000 [#1] SMP",
                     "[ 1.0] WARNING: possible circular locking dependency detected",
                     "[ 1.0] BUG: KFENCE: out-of-bounds read in f"):
            r, _ = run(f"harness: booted x\n{line}\nharness: exit 0\n")
            self.assertEqual(len(r.reports), 1, line)
        # The debug kernel's boot banners are not reports.
        for line in ("[ 1.0] memfile: all well",
                     "[ 0.0] kfence: initialized - using 2097152 bytes for 255 objects",
                     "[ 0.0] kasan: KernelAddressSanitizer initialized (generic)",
                     "[ 0.0]  Lock dependency validator: Copyright (c) 2006 Red Hat"):
            r, _ = run(f"harness: booted x\n{line}\nharness: exit 0\n")
            self.assertEqual(r.reports, [], line)

    def test_allocation_failure_warning_is_not_a_report(self):
        trace = ("[ 1.0] x: vmalloc error: size 16, vm_struct allocation failed\n"
                 "[ 1.0] Call Trace:\n[ 1.0]  <TASK>\n[ 1.0]  warn_alloc+0x15c/0x238\n"
                 "[ 1.0]  </TASK>\n")
        r, _ = run(f"harness: booted x\n{trace}harness: exit 0\n")
        self.assertEqual(r.reports, [])
        # A report after the dump, or inside it, still counts.
        r, _ = run(f"harness: booted x\n{trace}[ 2.0] Call Trace:\nharness: exit 0\n")
        self.assertEqual(len(r.reports), 1)
        r, _ = run("harness: booted x\n[ 1.0] x: page allocation failure: order:0\n"
                   "[ 1.0] WARNING: CPU: 0 PID: 1 at mm/x.c:1 f\nharness: exit 0\n")
        self.assertEqual(len(r.reports), 1)

    def test_bad_boot_is_recognised(self):
        r, _ = run("harness: bad boot: the guest kernel could not calibrate its TSC\n"
                   "harness: exit 125\n")
        self.assertTrue(r.bad_boot)


if __name__ == "__main__":
    unittest.main()
