#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Read the test machine's console and report test results.

The console is read from stdin as it arrives, copied to --log, and parsed:

  harness: begin kunit <debugfs dir> ... harness: end kunit
  harness: begin selftest <name> ... harness: end selftest <name> rc=<n> [seconds=<n>]
  harness: exit <n>

Each section holds (K)TAP.  One line per test case is printed as soon as its
section ends, then one summary line "N passed, N failed[, N skipped]".  A run
also fails on any kernel report (oops, BUG, WARNING, lockdep, KASAN, ...),
on a bad boot, on a test program that exits non-zero or does not run its
plan, on an expected suite that never reported, and when the machine never
reached "harness: exit".
"""

import argparse
import re
import sys

RESULT = re.compile(r"^(?P<indent>\s*)(?P<not>not )?ok (?P<num>\d+)(?: -)? ?(?P<name>[^#]*?)"
                    r"\s*(?:#\s*(?P<directive>\S+)\s*(?P<reason>.*))?$")
PLAN = re.compile(r"^(?P<indent>\s*)1\.\.(?P<count>\d+)(?:\s*#\s*SKIP\s*(?P<skip>.*))?")
KSFT_SKIP = 4
SUBTEST = re.compile(r"^(?P<indent>\s*)# Subtest: (?P<name>\S+)")

# What a kernel report starts with.  Any of these fails the run.  KASAN and
# KFENCE reports start "BUG: KASAN:" / "BUG: KFENCE:", lockdep's "WARNING:";
# their boot banners ("kfence: initialized", "kasan: ...") are not reports.
KERNEL_REPORTS = re.compile(
    r"(\bBUG: |WARNING: |\bOops\b|Kernel panic|general protection fault|"
    r"Call Trace:|possible circular locking|possible recursive locking|"
    r"inconsistent lock state|suspicious RCU usage|KASAN:|UBSAN|KFENCE:|"
    r"list_add corruption|list_del corruption|refcount_t: |"
    r"soft lockup|hard LOCKUP|rcu_sched detected stall|blocked for more than|"
    r"Unable to handle kernel|invalid opcode:|stack-protector)")

# A failed allocation's warning (warn_alloc) is not a bug, and the fault
# injection tests cause some: its stack dump, up to "</TASK>", is not a
# report.  Any BUG:/WARNING: inside it still is.
ALLOC_FAILURE = re.compile(r"(vmalloc error: |page allocation failure: )")


class Run:
    def __init__(self, out, verbose, label=None):
        self.out = out
        self.verbose = verbose
        self.label = label
        self.passed = self.failed = self.skipped = 0
        self.reports = []
        self.seen_suites = set()
        self.exit_status = None
        self.bad_boot = None

    def emit(self, ok, name, note=""):
        if ok is None:
            self.skipped += 1
            word = "ok"
        elif ok:
            self.passed += 1
            word = "ok"
        else:
            self.failed += 1
            word = "not ok"
        if self.label:
            name = f"{self.label}/{name}"
        print(f"{word} {name}{note}", file=self.out, flush=True)

    def problem(self, name, what):
        self.emit(False, name, f" # {what}")

    def parse_tap(self, kind, section, lines, rc=None):
        """Emit the leaf results of one (K)TAP section."""
        results = []      # (indent, ok, fullname, directive, reason)
        names = {}        # indent -> name of the subtest whose children sit there
        top_plan = None
        top_indent = None
        plan_skip = None  # "1..0 # SKIP why": the whole program skipped
        for line in lines:
            m = SUBTEST.match(line)
            if m:
                names[len(m["indent"])] = m["name"]
                continue
            m = PLAN.match(line)
            if m and top_plan is None:
                top_plan, top_indent = int(m["count"]), len(m["indent"])
                plan_skip = m["skip"]
                continue
            m = RESULT.match(line)
            if not m:
                continue
            indent = len(m["indent"])
            for deeper in [k for k in names if k > indent]:
                del names[deeper]
            prefix = ".".join(names[k] for k in sorted(names) if k <= indent)
            leaf = m["name"].strip() or f"#{m['num']}"
            full = f"{prefix}.{leaf}" if prefix and not leaf.startswith(prefix) else leaf
            results.append((indent, m["not"] is None, full,
                            (m["directive"] or "").upper(), m["reason"] or ""))

        leaves = []
        for i, r in enumerate(results):
            is_parent = i > 0 and results[i - 1][0] > r[0]
            if is_parent:
                # A parent that failed with no failed child (e.g. a crash in
                # suite init) must still count.
                if not r[1] and all(c[1] for c in results[:i] if c[0] > r[0]):
                    leaves.append((r[0], False, r[2] + " (suite)", "", "failed without a failed case"))
                continue
            leaves.append(r)

        for _, ok, full, directive, reason in leaves:
            name = f"{kind}:{section}.{full}" if kind == "selftest" else f"{kind}:{full}"
            if directive == "SKIP":
                self.emit(None, name, f" # SKIP {reason}")
            elif directive == "XFAIL":
                self.emit(True, name, f" # XFAIL {reason}")
            else:
                self.emit(ok, name, "" if ok else f" # {reason}" if reason else "")

        if (kind == "selftest" and top_plan == 0 and plan_skip is not None
                and not results and rc == KSFT_SKIP):
            self.emit(None, f"selftest:{section}", f" # SKIP {plan_skip}")
            return

        if kind == "kunit":
            for _, _, full, _, _ in leaves:
                self.seen_suites.add(full.split(".")[0])
        if top_plan is not None:
            ran = sum(1 for r in results if r[0] == top_indent)
            if ran != top_plan:
                self.problem(f"{kind}:{section}", f"ran {ran} of {top_plan} planned tests")
        elif kind == "selftest" and not results:
            # A plain program (most of 6.1's vm/ and memfd/ tests): one
            # test, judged by its exit status as kselftest's runner does.
            if rc == KSFT_SKIP:
                self.emit(None, f"selftest:{section}", " # SKIP the program said it cannot run here")
            else:
                self.emit(rc == 0, f"selftest:{section}", "" if rc == 0 else f" # exited with status {rc}")
            return
        elif kind == "selftest":
            self.problem(f"selftest:{section}", "printed results but no TAP plan")
        if rc is not None and rc != 0 and all(ok for _, ok, *_ in leaves):
            self.problem(f"selftest:{section}", f"exited with status {rc}")

    def feed(self, stream, log):
        section = None
        lines = []
        in_alloc_failure = False
        for raw in stream:
            log.write(raw)
            log.flush()
            line = raw.rstrip("\r\n")
            if self.verbose:
                print(line, file=self.out, flush=True)
            if ALLOC_FAILURE.search(line):
                in_alloc_failure = True
            elif in_alloc_failure and "</TASK>" in line:
                in_alloc_failure = False
            report = KERNEL_REPORTS.search(line)
            if report and not (in_alloc_failure and report.group(0) == "Call Trace:"):
                self.reports.append(line.strip())
            m = re.search(r"harness: (.*)$", line)
            if not m:
                if section:
                    lines.append(line)
                continue
            msg = m.group(1)
            if msg.startswith("begin "):
                _, kind, name = msg.split(" ", 2)
                section, lines = (kind, name.rsplit("/", 1)[-1]), []
                if kind == "selftest":
                    print(f"    running {section[1]}", file=self.out, flush=True)
            elif msg.startswith("end ") and section:
                rc = re.search(r"rc=(\d+)", msg)
                self.parse_tap(section[0], section[1], lines, int(rc.group(1)) if rc else None)
                took = re.search(r"seconds=(\d+)", msg)
                if took and not self.verbose:
                    print(f"      {section[1]} took {took.group(1)} s", file=self.out, flush=True)
                section = None
            elif msg.startswith("exit "):
                self.exit_status = int(msg.split()[1])
            elif msg.startswith("bad boot"):
                self.bad_boot = msg
            elif msg.startswith("booted") and not self.verbose:
                print(f"    {msg}", file=self.out, flush=True)
        if section:
            self.problem(f"{section[0]}:{section[1]}", "did not finish (the machine died or hung)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--log", required=True, help="where to copy the console")
    ap.add_argument("--expect-kunit", action="append", default=[],
                    help="a KUnit suite that must report")
    ap.add_argument("--verbose", action="store_true", help="echo the console")
    ap.add_argument("--label", help="prefix of every case name and of the summary")
    args = ap.parse_args()

    run = Run(sys.stdout, args.verbose, args.label)
    with open(args.log, "w") as log:
        run.feed(sys.stdin, log)

    for suite in args.expect_kunit:
        if suite not in run.seen_suites:
            run.problem(f"kunit:{suite}", "the suite did not report (not built in?)")
    if run.bad_boot:
        run.problem("boot", run.bad_boot + " (see DESIGN §7); not a test failure, boot again")
    elif run.exit_status is None:
        run.problem("boot", "the machine did not finish: panic, hang or timeout (see the log)")
    elif run.exit_status != 0:
        run.problem("boot", f"the guest's init exited with status {run.exit_status}")
    if run.reports:
        print(f"# {len(run.reports)} kernel report line(s) in {args.log}, first:", flush=True)
        for r in run.reports[:5]:
            print(f"#   {r}", flush=True)
        run.problem("kernel", f"{len(run.reports)} kernel report line(s) (oops/BUG/WARNING/lockdep/KASAN)")

    summary = f"{run.passed} passed, {run.failed} failed"
    if run.skipped:
        summary += f", {run.skipped} skipped"
    if args.label:
        summary = f"{args.label} kernel: {summary}"
    print(summary, flush=True)
    sys.exit(1 if run.failed else 0)


if __name__ == "__main__":
    main()
