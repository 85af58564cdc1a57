// SPDX-License-Identifier: GPL-2.0
/*
 * tmpfs_bench: what the memfile series costs tmpfs files that are not
 * memfiles.
 *
 * In a tmpfs directory, many times over: create a file, write 64 KiB, punch
 * a hole in it, truncate it, unlink it.  Prints the time per iteration of
 * each step, the median of several rounds, and the shmem inode's object size
 * from /proc/slabinfo.  Run it on the patched and on the unpatched kernel,
 * back to back, and compare (README: "What other files pay").
 *
 * The figures are reported, never judged.  With -c it also checks, outside
 * the timed steps, that each step left the file with the blocks tmpfs
 * gives: 64 KiB written, 32 KiB of it punched out, then 8 KiB kept by the
 * truncation.  make check runs it that way on both kernels.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#define FILE_BYTES	(64 << 10)
#define MAX_ROUNDS	32

enum step { CREATE, WRITE, PUNCH, TRUNCATE, UNLINK, NR_STEPS };

static const char * const step_name[NR_STEPS] = {
	"create", "write 64K", "punch 32K", "truncate", "unlink",
};

static void die(const char *what)
{
	fprintf(stderr, "tmpfs_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int check_blocks;
static long checked;	/* iterations whose blocks were checked */

/* With -c: does @fd hold @bytes of memory after @step? */
static void expect_bytes(int fd, long bytes, const char *step)
{
	struct stat st;

	if (!check_blocks)
		return;
	if (fstat(fd, &st))
		die("fstat");
	if (st.st_blocks * 512 != bytes) {
		fprintf(stderr, "tmpfs_bench: after %s the file holds %lld bytes, not %ld\n",
			step, (long long)st.st_blocks * 512, bytes);
		exit(1);
	}
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Add the time since *@t0 to *@acc; the next step starts now. */
static void lap(double *t0, double *acc)
{
	double t1 = now_ns();

	*acc += t1 - *t0;
	*t0 = t1;
}

/* One round of @iterations; per-iteration ns of each step in @ns. */
static void run_round(const char *path, long iterations, double *ns)
{
	static char buf[FILE_BYTES];
	double t[NR_STEPS] = { 0 }, t0;
	long i;
	int fd;

	memset(buf, 0x5a, sizeof(buf));
	for (i = 0; i < iterations; i++) {
		t0 = now_ns();
		fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
		if (fd < 0)
			die("open");
		lap(&t0, &t[CREATE]);
		if (pwrite(fd, buf, sizeof(buf), 0) != sizeof(buf))
			die("pwrite");
		lap(&t0, &t[WRITE]);
		expect_bytes(fd, FILE_BYTES, step_name[WRITE]);
		t0 = now_ns();
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      FILE_BYTES / 4, FILE_BYTES / 2))
			die("fallocate(PUNCH_HOLE)");
		lap(&t0, &t[PUNCH]);
		expect_bytes(fd, FILE_BYTES / 2, step_name[PUNCH]);
		t0 = now_ns();
		if (ftruncate(fd, FILE_BYTES / 8))
			die("ftruncate");
		lap(&t0, &t[TRUNCATE]);
		expect_bytes(fd, FILE_BYTES / 8, step_name[TRUNCATE]);
		checked += check_blocks;
		t0 = now_ns();
		if (unlink(path) || close(fd))
			die("unlink");
		lap(&t0, &t[UNLINK]);
	}
	for (i = 0; i < NR_STEPS; i++)
		ns[i] = t[i] / iterations;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* objsize of shmem_inode_cache, or -1 without /proc/slabinfo. */
static long shmem_inode_objsize(void)
{
	long active, total, size, objsize = -1;
	char line[512], name[64];
	FILE *f = fopen("/proc/slabinfo", "r");

	if (!f)
		return -1;
	while (objsize < 0 && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %ld %ld %ld", name, &active, &total,
			   &size) == 4 && !strcmp(name, "shmem_inode_cache"))
			objsize = size;
	}
	fclose(f);
	return objsize;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"Usage: %s [-c] [-n iterations] [-r rounds] dir\n"
		"  dir         a directory on tmpfs (e.g. /tmp in the test machine)\n"
		"  -n N        iterations per round (default 100000)\n"
		"  -r N        rounds, the median is reported (default 5, at most %d)\n"
		"  -c          check the file's blocks after each step (not timed)\n",
		prog, MAX_ROUNDS);
	exit(2);
}

int main(int argc, char **argv)
{
	double ns[MAX_ROUNDS][NR_STEPS], col[MAX_ROUNDS], total[MAX_ROUNDS];
	long iterations = 100000, objsize;
	int rounds = 5, opt, r, s;
	char path[4096];
	struct statfs sfs;

	while ((opt = getopt(argc, argv, "cn:r:h")) != -1) {
		switch (opt) {
		case 'c':
			check_blocks = 1;
			break;
		case 'n':
			iterations = atol(optarg);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		default:
			usage(argv[0]);
		}
	}
	if (optind != argc - 1 || iterations <= 0 || rounds <= 0 ||
	    rounds > MAX_ROUNDS)
		usage(argv[0]);
	if (statfs(argv[optind], &sfs))
		die(argv[optind]);
	if (sfs.f_type != TMPFS_MAGIC) {
		fprintf(stderr, "tmpfs_bench: %s is not on tmpfs\n", argv[optind]);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/tmpfs_bench.%d", argv[optind], getpid());

	run_round(path, iterations / 10 ? iterations / 10 : 1, ns[0]); /* warm */
	for (r = 0; r < rounds; r++) {
		run_round(path, iterations, ns[r]);
		total[r] = 0;
		for (s = 0; s < NR_STEPS; s++)
			total[r] += ns[r][s];
		printf("round %d: %.0f ns per iteration\n", r + 1, total[r]);
	}

	printf("%d rounds of %ld iterations, median ns per iteration:\n",
	       rounds, iterations);
	for (s = 0; s < NR_STEPS; s++) {
		for (r = 0; r < rounds; r++)
			col[r] = ns[r][s];
		qsort(col, rounds, sizeof(col[0]), cmp_double);
		printf("  %-10s %8.0f\n", step_name[s], col[rounds / 2]);
	}
	qsort(total, rounds, sizeof(total[0]), cmp_double);
	printf("  %-10s %8.0f\n", "all", total[rounds / 2]);

	objsize = shmem_inode_objsize();
	if (objsize < 0)
		printf("shmem_inode_cache: no /proc/slabinfo\n");
	else
		printf("shmem_inode_cache: %ld bytes per object\n", objsize);
	if (check_blocks)
		printf("every step left the blocks expected, %ld times\n",
		       checked);
	return 0;
}
