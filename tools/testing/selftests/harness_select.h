/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Run some cases of a kselftest_harness.h program, not all of them; skip
 * from a fixture's setup; and count TEST_REQUIRE() in a case as a skip.
 *
 * 6.1's harness runs every fixture x variant x test.  A case that costs the
 * machine something until reboot (poisoning a 1G huge page loses it for
 * good) cannot run among the others; with this, the program's main() takes
 *
 *	-r FIXTURE.VARIANT.TEST   run this case only (harness_case_alone is set)
 *	-x FIXTURE.VARIANT.TEST   run every case but this one (up to 16 -x)
 *
 * and a test runner gives the costly case a boot of its own.  A case is
 * named as the harness prints it: FIXTURE.TEST without a variant,
 * global.TEST for a plain TEST(); a name may be a shell pattern
 * (fnmatch(3)), "private_mem.*_1g.*" for every case of the 1G variants.
 * Include after kselftest_harness.h, and have main() return
 * harness_select_main(argc, argv) instead of TEST_HARNESS_MAIN.
 */
#ifndef SELFTESTS_HARNESS_SELECT_H
#define SELFTESTS_HARNESS_SELECT_H

#include <fnmatch.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#define HARNESS_SELECT_MAX	16

/*
 * SKIP() for a FIXTURE_SETUP().  6.1's harness goes on to the test body
 * after a setup that skipped (it stops only on a failure), which then
 * fails on what setup found missing; end the case's process instead, with
 * the exit status (255) by which the harness learns of a skip.
 */
#define SETUP_SKIP(fmt, ...)	SKIP(_exit(255), fmt, ##__VA_ARGS__)

/* True when -r picked one case: a test may then spend what others need. */
static bool harness_case_alone;

static const char *harness_only;
static const char *harness_excluded[HARNESS_SELECT_MAX];
static int harness_nr_excluded;

/*
 * The KVM library's TEST_REQUIRE() ends a case's process with
 * exit(KSFT_SKIP) after printing what is missing; 6.1's harness counts
 * only exit status 255 as a skip, and would call it a failure.
 */
static pid_t harness_parent;
static struct __test_results *harness_results;

static void harness_exit_skip(int status, void *arg)
{
	if (getpid() == harness_parent || status != KSFT_SKIP)
		return;
	if (!harness_results->reason[0])
		snprintf(harness_results->reason, sizeof(harness_results->reason),
			 "a requirement is not met (the SKIP line above says which)");
	fflush(NULL);	/* what TEST_REQUIRE() printed: _exit() would drop it */
	_exit(255);
}

static bool harness_case_is(const char *name, struct __fixture_metadata *f,
			    struct __fixture_variant_metadata *v,
			    struct __test_metadata *t)
{
	char full[256];

	snprintf(full, sizeof(full), "%s%s%s.%s", f->name,
		 v->name[0] ? "." : "", v->name, t->name);
	return !fnmatch(name, full, 0);
}

static bool harness_case_selected(struct __fixture_metadata *f,
				  struct __fixture_variant_metadata *v,
				  struct __test_metadata *t)
{
	int i;

	if (harness_only)
		return harness_case_is(harness_only, f, v, t);
	for (i = 0; i < harness_nr_excluded; i++)
		if (harness_case_is(harness_excluded[i], f, v, t))
			return false;
	return true;
}

/* Every name given must be a case of this program: a typo is no pass. */
static void harness_check_names(void)
{
	struct __fixture_variant_metadata no_variant = { .name = "" };
	struct __fixture_variant_metadata *v;
	struct __fixture_metadata *f;
	struct __test_metadata *t;
	int i, n = harness_only ? 1 : harness_nr_excluded;

	for (i = 0; i < n; i++) {
		const char *name = harness_only ?: harness_excluded[i];
		bool found = false;

		for (f = __fixture_list; f; f = f->next)
			for (v = f->variant ?: &no_variant; v; v = v->next)
				for (t = f->tests; t; t = t->next)
					found |= harness_case_is(name, f, v, t);
		if (!found) {
			fprintf(stderr, "no test case %s\n", name);
			exit(KSFT_FAIL);
		}
	}
}

static int harness_select_main(int argc, char **argv)
{
	struct __fixture_variant_metadata no_variant = { .name = "" };
	struct __fixture_variant_metadata *v;
	struct __fixture_metadata *f;
	struct __test_results *results;
	struct __test_metadata *t;
	unsigned int count = 0, pass_count = 0;
	int opt, ret = 0;

	(void)test_harness_run;	/* the harness' own runner, which this replaces */
	while ((opt = getopt(argc, argv, "r:x:")) != -1) {
		if (opt == 'r') {
			harness_only = optarg;
			harness_case_alone = true;
		} else if (opt == 'x' && harness_nr_excluded < HARNESS_SELECT_MAX) {
			harness_excluded[harness_nr_excluded++] = optarg;
		} else {
			fprintf(stderr, "usage: %s [-r CASE | -x CASE...]\n",
				argv[0]);
			fprintf(stderr, "CASE: FIXTURE.VARIANT.TEST, as printed, or a pattern\n");
			return KSFT_FAIL;
		}
	}
	harness_check_names();

	for (f = __fixture_list; f; f = f->next)
		for (v = f->variant ?: &no_variant; v; v = v->next)
			for (t = f->tests; t; t = t->next)
				count += harness_case_selected(f, v, t);

	results = mmap(NULL, sizeof(*results), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (results == MAP_FAILED) {
		perror("mmap");
		return KSFT_FAIL;
	}
	harness_parent = getpid();
	harness_results = results;
	on_exit(harness_exit_skip, NULL);
	ksft_print_header();
	ksft_set_plan(count);
	ksft_print_msg("Starting %u of the program's test cases.\n", count);
	for (f = __fixture_list; f; f = f->next) {
		for (v = f->variant ?: &no_variant; v; v = v->next) {
			for (t = f->tests; t; t = t->next) {
				if (!harness_case_selected(f, v, t))
					continue;
				t->results = results;
				__run_test(f, v, t);
				t->results = NULL;
				if (t->passed)
					pass_count++;
				else
					ret = 1;
			}
		}
	}
	munmap(results, sizeof(*results));

	ksft_print_msg("%s: %u / %u tests passed.\n", ret ? "FAILED" : "PASSED",
		       pass_count, count);
	ksft_exit(ret == 0);
	return KSFT_FAIL;
}

#endif /* SELFTESTS_HARNESS_SELECT_H */
