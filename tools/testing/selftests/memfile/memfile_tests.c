// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of hugetlbfs and shmem as memfile_notifier backing stores, through the
 * test consumer /dev/test_memfile (lib/test_memfile.c, CONFIG_TEST_MEMFILE).
 *
 * Every case runs for hugetlbfs with 2M and 1G pages and for shmem with
 * base pages.  The file is an inaccessible memfd of two of the store's pages;
 * the consumer registers on it with MEMFILE_F_USER_INACCESSIBLE |
 * MEMFILE_F_UNMOVABLE.  Page counters (hugetlb: free_hugepages and
 * resv_hugepages; shmem: Shmem in /proc/meminfo) are checked exactly after
 * each step.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/falloc.h>
#include <linux/memfd.h>

#include "../kselftest_harness.h"
#include "../harness_select.h"
#include "../../../../lib/test_memfile_uapi.h"

#ifndef F_SEAL_AUTO_ALLOCATE
#define F_SEAL_AUTO_ALLOCATE	0x0080
#endif

#define DEVICE		"/dev/test_memfile"
#define NR_HPAGES	2
/* Bytes the tests write and look for again. */
#define MARK_A		0xa5
#define MARK_B		0x5a

FIXTURE(memfile) {
	int fd;			/* the memfd */
	int dev;		/* the consumer */
	size_t hpage;		/* huge page size in bytes */
	uint64_t hpage_pages;	/* ... in base pages */
	long page;		/* base page size */
	long free0, rsvd0;	/* pool counters before the test */
};

FIXTURE_VARIANT(memfile) {
	const char *pool;	/* /sys/kernel/mm/hugepages/ entry; NULL: shmem */
	unsigned int mfd_flags;	/* memfd_create() flags that pick the store */
	size_t hpage;		/* the store's page size */
	int seal;		/* F_SEAL_AUTO_ALLOCATE supported */
	int write_errno;	/* write(), splice() ... of an inaccessible file */
	int copy_errno;		/* copy_file_range() within the file system */
	unsigned int other_fs;	/* memfd_create() flags of another file system */
};

FIXTURE_VARIANT_ADD(memfile, hugetlb_2m) {
	.pool = "hugepages-2048kB",
	.mfd_flags = MFD_HUGETLB | MFD_HUGE_2MB,
	.hpage = 2UL << 20,
	.seal = 1,
	.write_errno = EINVAL,	/* hugetlbfs has no write or splice_read */
	.copy_errno = EINVAL,
	.other_fs = 0,
};

FIXTURE_VARIANT_ADD(memfile, hugetlb_1g) {
	.pool = "hugepages-1048576kB",
	.mfd_flags = MFD_HUGETLB | MFD_HUGE_1GB,
	.hpage = 1UL << 30,
	.seal = 1,
	.write_errno = EINVAL,
	.copy_errno = EINVAL,
	.other_fs = 0,
};

FIXTURE_VARIANT_ADD(memfile, shmem) {
	.pool = NULL,
	.mfd_flags = 0,
	.hpage = 4096,
	.seal = 0,
	.write_errno = EPERM,	/* refused in write_begin and read_iter */
	.copy_errno = EPERM,
	.other_fs = MFD_HUGETLB | MFD_HUGE_2MB,
};

static long pool_read(const char *pool, const char *what)
{
	char path[128];
	long val = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/%s/%s", pool, what);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &val) != 1)
		val = -1;
	fclose(f);
	return val;
}

/* Shmem pages in use system-wide, from /proc/meminfo. */
static long shmem_pages(void)
{
	char line[128];
	long kb = -1;
	FILE *f;

	/* Fold the per-CPU counter deltas in, or the count lags. */
	f = fopen("/proc/sys/vm/stat_refresh", "w");
	if (!f || fputs("1", f) < 0 || fclose(f))
		return -1;
	f = fopen("/proc/meminfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Shmem: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb / 4;
}

/* The store's pages in use and reserved now, relative to the start. */
#define EXPECT_POOL(used, reserved) do {					\
	long __used = (used), __rsvd = (reserved);				\
										\
	if (variant->pool) {							\
		EXPECT_EQ(self->free0 - __used,					\
			  pool_read(variant->pool, "free_hugepages"));		\
		EXPECT_EQ(self->rsvd0 + __rsvd,					\
			  pool_read(variant->pool, "resv_hugepages"));		\
	} else {								\
		EXPECT_EQ(self->free0 + __used, shmem_pages());			\
		EXPECT_EQ(0, __rsvd);						\
	}									\
} while (0)

static int memfile_memfd(unsigned int flags)
{
	return memfd_create("memfile_test", flags);
}

static int reg(int dev, int fd, uint64_t flags)
{
	struct test_memfile_register r = { .fd = fd, .flags = flags };

	return ioctl(dev, TEST_MEMFILE_REGISTER, &r) ? -errno : 0;
}

static int get_pfn(int dev, uint64_t pgoff, uint64_t *pfn, uint32_t *order)
{
	struct test_memfile_pfn p = { .pgoff = pgoff };

	if (ioctl(dev, TEST_MEMFILE_GET_PFN, &p))
		return -errno;
	*pfn = p.pfn;
	if (order)
		*order = p.order;
	return 0;
}

static int put_pfn(int dev, uint64_t pfn)
{
	struct test_memfile_pfn p = { .pfn = pfn };

	return ioctl(dev, TEST_MEMFILE_PUT_PFN, &p) ? -errno : 0;
}

static uint64_t refs(int dev)
{
	uint64_t n = UINT64_MAX;

	ioctl(dev, TEST_MEMFILE_REFS, &n);
	return n;
}

/* Read (write=0) or write bytes at byte offset @pos of the file, in the kernel. */
static int access_bytes(int dev, long page, uint64_t pos, void *buf,
			size_t len, int write)
{
	struct test_memfile_access a = {
		.pgoff = pos / page, .offset = pos % page, .len = len,
		.buf = (uintptr_t)buf, .write = write,
	};

	return ioctl(dev, TEST_MEMFILE_ACCESS, &a) ? -errno : 0;
}

static int fill(int dev, long page, uint64_t pos, int byte, size_t len)
{
	char buf[64];

	memset(buf, byte, sizeof(buf));
	return access_bytes(dev, page, pos, buf, len < sizeof(buf) ? len : sizeof(buf), 1);
}

/* Does the file hold @len (<= 64) bytes equal to @byte at @pos? */
static int holds(int dev, long page, uint64_t pos, int byte, size_t len)
{
	unsigned char buf[64];
	size_t i;

	if (access_bytes(dev, page, pos, buf, len, 0))
		return 0;
	for (i = 0; i < len; i++)
		if (buf[i] != byte)
			return 0;
	return 1;
}

/* The invalidations logged since the last call; returns how many. */
static int read_log(int dev, struct test_memfile_event *ev, unsigned int max)
{
	struct test_memfile_log l = { .events = (uintptr_t)ev, .max = max };

	if (ioctl(dev, TEST_MEMFILE_READ_LOG, &l))
		return -errno;
	return l.lost ? -EOVERFLOW : (int)l.count;
}

/* Exactly one invalidation, of [start, end) in base pages, start then end. */
#define EXPECT_ONE_INVALIDATION(_start, _end) do {				\
	uint64_t __start = (_start), __end = (_end);				\
	struct test_memfile_event ev[4];					\
	ASSERT_EQ(2, read_log(self->dev, ev, 4));				\
	EXPECT_EQ(TEST_MEMFILE_EVENT_START, ev[0].kind);			\
	EXPECT_EQ(TEST_MEMFILE_EVENT_END, ev[1].kind);				\
	EXPECT_EQ(__start, ev[0].start);					\
	EXPECT_EQ(__end, ev[0].end);						\
	EXPECT_EQ(__start, ev[1].start);					\
	EXPECT_EQ(__end, ev[1].end);						\
} while (0)

#define EXPECT_NO_INVALIDATION() do {						\
	struct test_memfile_event ev[4];					\
	EXPECT_EQ(0, read_log(self->dev, ev, 4));				\
} while (0)

static int punch(int fd, off_t off, off_t len)
{
	return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) ? -errno : 0;
}

FIXTURE_SETUP(memfile)
{
	self->page = sysconf(_SC_PAGESIZE);
	self->hpage = variant->hpage;
	self->hpage_pages = variant->hpage / self->page;
	self->fd = -1;
	self->dev = -1;
	if (!variant->pool) {
		self->free0 = shmem_pages();
		self->rsvd0 = 0;
	} else {
		self->free0 = pool_read(variant->pool, "free_hugepages");
		self->rsvd0 = pool_read(variant->pool, "resv_hugepages");
	}
	if (variant->pool && self->free0 < NR_HPAGES)
		SETUP_SKIP("needs %d free pages in %s, has %ld %s",
			   NR_HPAGES, variant->pool, self->free0,
			   "(reserve them on the kernel command line)");
	if (access(DEVICE, F_OK))
		SETUP_SKIP(DEVICE " missing: kernel without CONFIG_TEST_MEMFILE");

	self->fd = memfile_memfd(variant->mfd_flags | MFD_INACCESSIBLE | MFD_ALLOW_SEALING);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ftruncate(self->fd, NR_HPAGES * self->hpage));
	self->dev = open(DEVICE, O_RDWR);
	ASSERT_LE(0, self->dev);
	ASSERT_EQ(0, reg(self->dev, self->fd, TEST_MEMFILE_F_USER_INACCESSIBLE |
					       TEST_MEMFILE_F_UNMOVABLE));
}

FIXTURE_TEARDOWN(memfile)
{
	if (self->dev >= 0)
		close(self->dev);
	if (self->fd >= 0)
		close(self->fd);
}

/*
 * Allocate both huge pages and mark 64 bytes at the start (MARK_A) and end
 * (MARK_B) of each.
 */
#define FILL_FILE() do {							\
	int __i;								\
										\
	ASSERT_EQ(0, fallocate(self->fd, 0, 0, NR_HPAGES * self->hpage));	\
	EXPECT_POOL(NR_HPAGES, 0);						\
	for (__i = 0; __i < NR_HPAGES; __i++) {					\
		ASSERT_EQ(0, fill(self->dev, self->page,			\
				  __i * self->hpage, MARK_A, 64));		\
		ASSERT_EQ(0, fill(self->dev, self->page,			\
				  (__i + 1) * self->hpage - 64, MARK_B, 64));	\
	}									\
} while (0)

TEST_F(memfile, order_and_pfn)
{
	uint64_t head = 0, pfn = 0, k;
	uint32_t order = 0, want = __builtin_ctzl(self->hpage_pages);

	FILL_FILE();
	ASSERT_EQ(0, get_pfn(self->dev, 0, &head, &order));
	EXPECT_EQ(want, order);
	EXPECT_EQ(0, head % self->hpage_pages);

	/* Base page k of a huge page is the head PFN + k. */
	for (k = 1; k < self->hpage_pages; k += self->hpage_pages / 4 - 1) {
		ASSERT_EQ(0, get_pfn(self->dev, k, &pfn, &order));
		EXPECT_EQ(head + k, pfn);
		EXPECT_EQ(want, order);
		EXPECT_EQ(0, put_pfn(self->dev, pfn));
	}
	ASSERT_EQ(0, get_pfn(self->dev, self->hpage_pages - 1, &pfn, &order));
	EXPECT_EQ(head + self->hpage_pages - 1, pfn);
	EXPECT_EQ(0, put_pfn(self->dev, pfn));

	/* The second huge page is another, naturally aligned block. */
	ASSERT_EQ(0, get_pfn(self->dev, self->hpage_pages, &pfn, &order));
	EXPECT_EQ(0, pfn % self->hpage_pages);
	EXPECT_NE(head, pfn);
	EXPECT_EQ(want, order);
	EXPECT_EQ(2, refs(self->dev));
	EXPECT_EQ(0, put_pfn(self->dev, pfn));
	EXPECT_EQ(0, put_pfn(self->dev, head));
	EXPECT_EQ(0, refs(self->dev));
	EXPECT_POOL(NR_HPAGES, 0);
}

TEST_F(memfile, get_pfn_fills_hole)
{
	uint64_t pfn = 0, again = 0;

	uint64_t last = NR_HPAGES * self->hpage_pages - 1;

	EXPECT_POOL(0, 0);
	ASSERT_EQ(0, get_pfn(self->dev, last, &pfn, NULL));
	EXPECT_POOL(1, 0);
	/* Same page the second time, nothing more allocated. */
	ASSERT_EQ(0, get_pfn(self->dev, last, &again, NULL));
	EXPECT_EQ(pfn, again);
	EXPECT_POOL(1, 0);
	/* A new page is cleared. */
	EXPECT_TRUE(holds(self->dev, self->page, last * self->page, 0, 64));
	EXPECT_EQ(0, put_pfn(self->dev, pfn));
	EXPECT_EQ(0, put_pfn(self->dev, pfn));
	EXPECT_NO_INVALIDATION();
}

TEST_F(memfile, seal_keeps_holes)
{
	uint64_t pfn = 0;

	if (!variant->seal) {
		/* Refused, not accepted and ignored. */
		EXPECT_EQ(-1, fcntl(self->fd, F_ADD_SEALS, F_SEAL_AUTO_ALLOCATE));
		EXPECT_EQ(EINVAL, errno);
		return;
	}

	ASSERT_EQ(0, fcntl(self->fd, F_ADD_SEALS, F_SEAL_AUTO_ALLOCATE));
	EXPECT_EQ(F_SEAL_AUTO_ALLOCATE, fcntl(self->fd, F_GET_SEALS));
	EXPECT_EQ(-ENOENT, get_pfn(self->dev, 0, &pfn, NULL));
	EXPECT_POOL(0, 0);

	/* fallocate still allocates, and only what it is asked for. */
	ASSERT_EQ(0, fallocate(self->fd, 0, 0, self->hpage));
	EXPECT_POOL(1, 0);
	ASSERT_EQ(0, get_pfn(self->dev, 1, &pfn, NULL));
	EXPECT_EQ(0, put_pfn(self->dev, pfn));
	EXPECT_EQ(-ENOENT, get_pfn(self->dev, self->hpage_pages, &pfn, NULL));
	EXPECT_POOL(1, 0);
}

TEST_F(memfile, punch_aligned)
{
	uint64_t pfn = 0;

	FILL_FILE();
	if (variant->seal)
		ASSERT_EQ(0, fcntl(self->fd, F_ADD_SEALS, F_SEAL_AUTO_ALLOCATE));
	ASSERT_EQ(0, punch(self->fd, 0, self->hpage));
	EXPECT_ONE_INVALIDATION(0, self->hpage_pages);
	EXPECT_POOL(1, 0);
	/* The page is gone: a hole again. */
	if (variant->seal)
		EXPECT_EQ(-ENOENT, get_pfn(self->dev, 0, &pfn, NULL));
	/* The other page kept its data. */
	EXPECT_TRUE(holds(self->dev, self->page, self->hpage, MARK_A, 64));
	EXPECT_TRUE(holds(self->dev, self->page, 2 * self->hpage - 64, MARK_B, 64));
}

TEST_F(memfile, punch_unaligned_start)
{
	uint64_t half = self->hpage / 2;

	FILL_FILE();
	ASSERT_EQ(0, fill(self->dev, self->page, half - 64, MARK_B, 64));
	ASSERT_EQ(0, fill(self->dev, self->page, half, MARK_A, 64));
	ASSERT_EQ(0, punch(self->fd, half, 2 * self->hpage - half));
	/* Rounded out to both huge pages. */
	EXPECT_ONE_INVALIDATION(0, 2 * self->hpage_pages);
	/* The second page went back to the pool, the first stays ... */
	EXPECT_POOL(1, 0);
	/* ... with its first half intact and its second half zeroed. */
	EXPECT_TRUE(holds(self->dev, self->page, 0, MARK_A, 64));
	EXPECT_TRUE(holds(self->dev, self->page, half - 64, MARK_B, 64));
	EXPECT_TRUE(holds(self->dev, self->page, half, 0, 64));
	EXPECT_TRUE(holds(self->dev, self->page, self->hpage - 64, 0, 64));
}

TEST_F(memfile, punch_unaligned_end)
{
	uint64_t end = self->hpage + self->hpage / 2;

	FILL_FILE();
	ASSERT_EQ(0, fill(self->dev, self->page, end - 64, MARK_B, 64));
	ASSERT_EQ(0, fill(self->dev, self->page, end, MARK_A, 64));
	ASSERT_EQ(0, punch(self->fd, 0, end));
	EXPECT_ONE_INVALIDATION(0, 2 * self->hpage_pages);
	EXPECT_POOL(1, 0);
	/* Second page: zeroed up to the end of the hole, intact after it. */
	EXPECT_TRUE(holds(self->dev, self->page, self->hpage, 0, 64));
	EXPECT_TRUE(holds(self->dev, self->page, end - 64, 0, 64));
	EXPECT_TRUE(holds(self->dev, self->page, end, MARK_A, 64));
	EXPECT_TRUE(holds(self->dev, self->page, 2 * self->hpage - 64, MARK_B, 64));
}

TEST_F(memfile, punch_inside_one_page)
{
	uint64_t before = 0, after = 0, at = self->hpage / 4;

	FILL_FILE();
	ASSERT_EQ(0, fill(self->dev, self->page, at - 64, MARK_B, 64));
	ASSERT_EQ(0, fill(self->dev, self->page, at, MARK_B, 64));
	ASSERT_EQ(0, fill(self->dev, self->page, at + 64, MARK_B, 64));
	ASSERT_EQ(0, fill(self->dev, self->page, at + 128, MARK_B, 64));
	ASSERT_EQ(0, get_pfn(self->dev, 0, &before, NULL));
	ASSERT_EQ(0, punch(self->fd, at, 128));
	EXPECT_ONE_INVALIDATION(0, self->hpage_pages);
	/* Nothing freed, the page stays where it was, only the hole zeroed. */
	EXPECT_POOL(NR_HPAGES, 0);
	ASSERT_EQ(0, get_pfn(self->dev, 0, &after, NULL));
	EXPECT_EQ(before, after);
	EXPECT_TRUE(holds(self->dev, self->page, 0, MARK_A, 64));
	EXPECT_TRUE(holds(self->dev, self->page, at - 64, MARK_B, 64));
	EXPECT_TRUE(holds(self->dev, self->page, at, 0, 64));
	EXPECT_TRUE(holds(self->dev, self->page, at + 64, 0, 64));
	EXPECT_TRUE(holds(self->dev, self->page, at + 128, MARK_B, 64));
	EXPECT_EQ(0, put_pfn(self->dev, before));
	EXPECT_EQ(0, put_pfn(self->dev, after));
}

TEST_F(memfile, truncate_down)
{
	uint64_t pfn = 0;

	FILL_FILE();
	ASSERT_EQ(0, ftruncate(self->fd, self->hpage));
	EXPECT_ONE_INVALIDATION(self->hpage_pages, 2 * self->hpage_pages);
	EXPECT_POOL(1, 0);
	EXPECT_EQ(-ERANGE, get_pfn(self->dev, self->hpage_pages, &pfn, NULL));
	EXPECT_TRUE(holds(self->dev, self->page, 0, MARK_A, 64));
	EXPECT_TRUE(holds(self->dev, self->page, self->hpage - 64, MARK_B, 64));
	/* Growing again invalidates nothing and allocates nothing. */
	ASSERT_EQ(0, ftruncate(self->fd, 2 * self->hpage));
	EXPECT_NO_INVALIDATION();
	EXPECT_POOL(1, 0);
}

TEST_F(memfile, truncate_to_zero)
{
	FILL_FILE();
	ASSERT_EQ(0, ftruncate(self->fd, 0));
	EXPECT_ONE_INVALIDATION(0, 2 * self->hpage_pages);
	EXPECT_POOL(0, 0);
}

TEST_F(memfile, close_then_unregister)
{
	uint64_t pfn = 0;

	FILL_FILE();
	/* The registration keeps the file: closing the fd frees nothing. */
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_POOL(NR_HPAGES, 0);
	ASSERT_EQ(0, get_pfn(self->dev, 0, &pfn, NULL));
	EXPECT_TRUE(holds(self->dev, self->page, 0, MARK_A, 64));
	EXPECT_NO_INVALIDATION();

	/* Unregistering drops the last reference (and our PFN): all back. */
	ASSERT_EQ(0, ioctl(self->dev, TEST_MEMFILE_UNREGISTER));
	EXPECT_EQ(0, refs(self->dev));
	/* The final fput() ran as task work before the ioctl returned. */
	EXPECT_POOL(0, 0);
	EXPECT_EQ(-EINVAL, get_pfn(self->dev, 0, &pfn, NULL));
}

static int migrate(int dev, uint64_t pgoff, uint64_t *pfn)
{
	struct test_memfile_pfn p = { .pgoff = pgoff };

	if (ioctl(dev, TEST_MEMFILE_MIGRATE, &p))
		return -errno;
	*pfn = p.pfn;
	return 0;
}

TEST_F(memfile, unmovable_refuses_migration)
{
	uint64_t before = 0, after = 0;

	/* One page in use (and, for hugetlbfs, one free as the target). */
	ASSERT_EQ(0, fallocate(self->fd, 0, 0, self->hpage));
	ASSERT_EQ(0, get_pfn(self->dev, 0, &before, NULL));
	ASSERT_EQ(0, put_pfn(self->dev, before));
	EXPECT_EQ(-EBUSY, migrate(self->dev, 0, &after));
	ASSERT_EQ(0, get_pfn(self->dev, 0, &after, NULL));
	EXPECT_EQ(before, after);
	EXPECT_EQ(0, put_pfn(self->dev, after));
	EXPECT_POOL(1, 0);
}

TEST_F(memfile, movable_without_the_flag)
{
	uint64_t before = 0, after = 0;
	uint64_t k = self->hpage_pages - 1;	/* the last base page */
	int dev, fd;

	dev = open(DEVICE, O_RDWR);
	fd = memfile_memfd(variant->mfd_flags | MFD_INACCESSIBLE);
	ASSERT_LE(0, dev);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, self->hpage));
	ASSERT_EQ(0, fallocate(fd, 0, 0, self->hpage));
	ASSERT_EQ(0, reg(dev, fd, TEST_MEMFILE_F_USER_INACCESSIBLE));
	ASSERT_EQ(0, fill(dev, self->page, 0, MARK_A, 64));
	ASSERT_EQ(0, get_pfn(dev, k, &before, NULL));
	ASSERT_EQ(0, put_pfn(dev, before));

	ASSERT_EQ(0, migrate(dev, k, &after));
	EXPECT_NE(before, after);
	EXPECT_EQ(0, (after - k) % self->hpage_pages);
	EXPECT_TRUE(holds(dev, self->page, 0, MARK_A, 64));
	/* The old page went back to the pool, the new one came out of it. */
	EXPECT_POOL(1, 0);
	close(dev);
	close(fd);
	EXPECT_POOL(0, 0);
}

struct migrator {
	int dev, fd;
	atomic_int stop;
	long moved, refused, other;
};

/* Migrate the file's first page again and again, as compaction would. */
static void *migrate_loop(void *arg)
{
	struct test_memfile_file_page p;
	struct migrator *m = arg;

	p = (struct test_memfile_file_page){ .fd = m->fd };
	while (!atomic_load(&m->stop)) {
		if (!ioctl(m->dev, TEST_MEMFILE_MIGRATE_FILE, &p))
			m->moved++;
		else if (errno == EBUSY)
			m->refused++;
		else
			m->other++;
	}
	return NULL;
}

/*
 * A consumer registers with MEMFILE_F_UNMOVABLE while a migration of the
 * page may be past the store's check of that flag: the PFN get_pfn gives it
 * must stay that page's for as long as it is registered (a KVM mapping of
 * the old page would outlive its freeing).  Rounds for 10 s; the window is
 * a few instructions wide, so a run without the store's folio lock in
 * get_pfn is not sure to hit it.
 */
TEST_F_TIMEOUT(memfile, unmovable_registration_races_migration, 120)
{
	struct migrator m = { .dev = open(DEVICE, O_RDWR) };
	uint64_t first, pfn;
	long rounds, changed = 0;
	pthread_t thread;
	time_t deadline;
	int dev, i;

	dev = open(DEVICE, O_RDWR);
	m.fd = memfile_memfd(variant->mfd_flags | MFD_INACCESSIBLE);
	ASSERT_LE(0, m.dev);
	ASSERT_LE(0, dev);
	ASSERT_LE(0, m.fd);
	ASSERT_EQ(0, ftruncate(m.fd, self->hpage));
	ASSERT_EQ(0, fallocate(m.fd, 0, 0, self->hpage));
	ASSERT_EQ(0, pthread_create(&thread, NULL, migrate_loop, &m));

	deadline = time(NULL) + 10;
	for (rounds = 0; time(NULL) < deadline; rounds++) {
		ASSERT_EQ(0, reg(dev, m.fd, TEST_MEMFILE_F_USER_INACCESSIBLE |
					    TEST_MEMFILE_F_UNMOVABLE));
		ASSERT_EQ(0, get_pfn(dev, 0, &first, NULL));
		ASSERT_EQ(0, put_pfn(dev, first));
		/* Long enough for a migration in flight to finish. */
		for (i = 0; i < 20; i++) {
			ASSERT_EQ(0, get_pfn(dev, 0, &pfn, NULL));
			ASSERT_EQ(0, put_pfn(dev, pfn));
			if (pfn != first) {
				changed++;
				break;
			}
			sched_yield();
		}
		ASSERT_EQ(0, ioctl(dev, TEST_MEMFILE_UNREGISTER));
	}
	atomic_store(&m.stop, 1);
	ASSERT_EQ(0, pthread_join(thread, NULL));
	ksft_print_msg("%ld rounds; %ld migrations done, %ld refused, %ld failed otherwise\n",
		       rounds, m.moved, m.refused, m.other);
	EXPECT_EQ(0, changed);
	/* Both sides really ran: the page moved between registrations. */
	EXPECT_LT(0, m.moved);
	EXPECT_LT(0, m.refused);
	close(dev);
	close(m.dev);
	close(m.fd);
}

/* Host userspace cannot get at the bytes by any path. */
TEST_F(memfile, inaccessible_read)
{
	char buf[16];

	FILL_FILE();
	EXPECT_EQ(-1, read(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(EPERM, errno);
}

TEST_F(memfile, inaccessible_pread)
{
	char buf[16];

	FILL_FILE();
	EXPECT_EQ(-1, pread(self->fd, buf, sizeof(buf), self->hpage));
	EXPECT_EQ(EPERM, errno);
}

TEST_F(memfile, inaccessible_write)
{
	char buf[16] = { 1 };

	EXPECT_EQ(-1, write(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(variant->write_errno, errno);
	EXPECT_EQ(-1, pwrite(self->fd, buf, sizeof(buf), 0));
	EXPECT_EQ(variant->write_errno, errno);
	EXPECT_POOL(0, 0);
}

TEST_F(memfile, inaccessible_mmap_shared)
{
	void *p = mmap(NULL, self->hpage, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);

	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);
	p = mmap(NULL, self->hpage, PROT_NONE, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);
	EXPECT_POOL(0, 0);
}

TEST_F(memfile, inaccessible_mmap_private)
{
	void *p = mmap(NULL, self->hpage, PROT_READ, MAP_PRIVATE, self->fd, 0);

	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);
	EXPECT_POOL(0, 0);
}

/*
 * A refused MAP_FIXED mmap() leaves what it would have replaced: the file
 * is refused before mmap() unmaps the range or builds a VMA.  The old
 * mapping is anonymous memory at a huge-page aligned address, so that only
 * the file's inaccessibility can make the mmap() fail.
 */
TEST_F(memfile, inaccessible_mmap_fixed_keeps_old_mapping)
{
	unsigned char vec[1];
	char *area, *old;
	void *p;
	int shared;

	for (shared = 0; shared < 2; shared++) {
		area = mmap(NULL, 2 * self->hpage, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		ASSERT_NE(MAP_FAILED, area);
		old = (char *)(((uintptr_t)area + self->hpage - 1) &
			       ~(uintptr_t)(self->hpage - 1));
		ASSERT_EQ(0, mprotect(old, self->hpage, PROT_READ | PROT_WRITE));
		old[0] = 0x5a;
		old[self->hpage - 1] = 0x5b;

		p = mmap(old, self->hpage, PROT_READ, MAP_FIXED |
			 (shared ? MAP_SHARED : MAP_PRIVATE), self->fd, 0);
		EXPECT_EQ(MAP_FAILED, p);
		EXPECT_EQ(EPERM, errno);
		/* mincore() fails with ENOMEM where nothing is mapped. */
		ASSERT_EQ(0, mincore(old, getpagesize(), vec)) {
			TH_LOG("%s MAP_FIXED: the old mapping is gone",
			       shared ? "shared" : "private");
		}
		EXPECT_EQ(0x5a, old[0]);
		EXPECT_EQ(0x5b, old[self->hpage - 1]);
		munmap(area, 2 * self->hpage);
	}
	EXPECT_POOL(0, 0);
}

TEST_F(memfile, inaccessible_splice)
{
	int pipefd[2];
	loff_t off = 0;

	FILL_FILE();
	ASSERT_EQ(0, pipe(pipefd));
	EXPECT_EQ(-1, splice(self->fd, &off, pipefd[1], NULL, 4096, 0));
	EXPECT_EQ(variant->write_errno, errno);
	close(pipefd[0]);
	close(pipefd[1]);
}

TEST_F(memfile, inaccessible_sendfile)
{
	int pipefd[2];
	off_t off = 0;

	FILL_FILE();
	ASSERT_EQ(0, pipe(pipefd));
	EXPECT_EQ(-1, sendfile(pipefd[1], self->fd, &off, 4096));
	EXPECT_EQ(variant->write_errno, errno);
	close(pipefd[0]);
	close(pipefd[1]);
}

TEST_F(memfile, inaccessible_copy_file_range)
{
	int same_fs = memfile_memfd(variant->mfd_flags);
	int other_fs = memfd_create("memfile_copy_target", variant->other_fs);

	FILL_FILE();
	ASSERT_LE(0, same_fs);
	ASSERT_LE(0, other_fs);
	/* Within the file system the copy goes through splice_read ... */
	EXPECT_EQ(-1, copy_file_range(self->fd, NULL, same_fs, NULL, 4096, 0));
	EXPECT_EQ(variant->copy_errno, errno);
	/* ... and 6.1 refuses copies across file systems without the op. */
	EXPECT_EQ(-1, copy_file_range(self->fd, NULL, other_fs, NULL, 4096, 0));
	EXPECT_EQ(EXDEV, errno);
	close(same_fs);
	close(other_fs);
}

/* Bad input: a clear errno each, nothing registered, nothing allocated. */
TEST_F(memfile, bad_memfd_flags)
{
	EXPECT_EQ(-1, memfile_memfd(variant->mfd_flags | 0x0400));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, memfile_memfd(variant->mfd_flags | MFD_INACCESSIBLE | 0x0400));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_POOL(0, 0);
}

TEST_F(memfile, bad_notifier_flags)
{
	int dev = open(DEVICE, O_RDWR);

	ASSERT_LE(0, dev);
	EXPECT_EQ(-EINVAL, reg(dev, self->fd, 1ULL << 3));
	EXPECT_EQ(-EINVAL, reg(dev, self->fd, ~0ULL));
	/* Consumers of one file must agree on the flags. */
	EXPECT_EQ(-EBUSY, reg(dev, self->fd, TEST_MEMFILE_F_USER_INACCESSIBLE));
	close(dev);
}

TEST_F(memfile, register_twice)
{
	int other = memfile_memfd(variant->mfd_flags | MFD_INACCESSIBLE);

	ASSERT_LE(0, other);
	EXPECT_EQ(-EEXIST, reg(self->dev, self->fd, TEST_MEMFILE_F_UNMOVABLE));
	EXPECT_EQ(-EEXIST, reg(self->dev, other, 0));
	close(other);
}

TEST_F(memfile, register_accessible_as_inaccessible)
{
	int dev = open(DEVICE, O_RDWR);
	int plain = memfile_memfd(variant->mfd_flags);

	ASSERT_LE(0, dev);
	ASSERT_LE(0, plain);
	EXPECT_EQ(-EPERM, reg(dev, plain, TEST_MEMFILE_F_USER_INACCESSIBLE));
	/* Without the flag an ordinary hugetlb memfd is fine. */
	EXPECT_EQ(0, reg(dev, plain, 0));
	close(dev);
	close(plain);
}

TEST_F(memfile, register_not_a_memfile)
{
	int dev = open(DEVICE, O_RDWR);
	int null = open("/dev/null", O_RDWR);
	int proc = open("/proc/self/stat", O_RDONLY);
	int pipefd[2];

	ASSERT_LE(0, dev);
	ASSERT_LE(0, null);
	ASSERT_LE(0, proc);
	ASSERT_EQ(0, pipe(pipefd));
	EXPECT_EQ(-EOPNOTSUPP, reg(dev, pipefd[0], 0));
	EXPECT_EQ(-EOPNOTSUPP, reg(dev, null, 0));
	EXPECT_EQ(-EOPNOTSUPP, reg(dev, proc, 0));
	EXPECT_EQ(-EOPNOTSUPP, reg(dev, dev, 0));
	close(pipefd[0]);
	close(pipefd[1]);
	close(proc);
	close(null);
	close(dev);
}

TEST_F(memfile, register_closed_fd)
{
	int dev = open(DEVICE, O_RDWR);
	int fd = memfile_memfd(variant->mfd_flags | MFD_INACCESSIBLE);

	ASSERT_LE(0, dev);
	ASSERT_LE(0, fd);
	close(fd);
	EXPECT_EQ(-EBADF, reg(dev, fd, 0));
	EXPECT_EQ(-EBADF, reg(dev, -1, 0));
	close(dev);
}

TEST_F(memfile, offsets_past_eof)
{
	uint64_t pfn = 0;

	EXPECT_EQ(-ERANGE, get_pfn(self->dev, 2 * self->hpage_pages, &pfn, NULL));
	EXPECT_EQ(-ERANGE, get_pfn(self->dev, UINT64_MAX, &pfn, NULL));
	EXPECT_EQ(-ERANGE, get_pfn(self->dev, UINT64_MAX / self->page, &pfn, NULL));
	EXPECT_EQ(0, refs(self->dev));
	EXPECT_POOL(0, 0);
}

TEST_F(memfile, overflowing_ranges)
{
	char buf[8];

	/* fallocate and punch past the largest file size. */
	EXPECT_EQ(-1, fallocate(self->fd, 0, LLONG_MAX - 4096, 8192));
	EXPECT_EQ(EFBIG, errno);
	EXPECT_EQ(-EFBIG, punch(self->fd, LLONG_MAX - 4096, 8192));
	/* A punch far past EOF is fine and frees nothing. */
	EXPECT_EQ(0, punch(self->fd, LLONG_MAX - 2 * self->hpage, self->hpage));
	/* Access past the end of a base page. */
	EXPECT_EQ(-EINVAL, access_bytes(self->dev, self->page, self->page - 4, buf, 8, 0));
	EXPECT_EQ(-EINVAL, access_bytes(self->dev, self->page, 0, buf, UINT64_MAX, 0));
	EXPECT_POOL(0, 0);
	EXPECT_EQ(0, refs(self->dev));
}

TEST_F(memfile, put_pfn_not_held)
{
	uint64_t pfn = 0;

	EXPECT_EQ(-ENOENT, put_pfn(self->dev, 0x1234));
	ASSERT_EQ(0, get_pfn(self->dev, 0, &pfn, NULL));
	EXPECT_EQ(0, put_pfn(self->dev, pfn));
	EXPECT_EQ(-ENOENT, put_pfn(self->dev, pfn));
	EXPECT_EQ(0, refs(self->dev));
}

TEST_F(memfile, unregister_returns_pool)
{
	uint64_t pfn = 0;

	FILL_FILE();
	/* References the consumer forgot are dropped with it. */
	ASSERT_EQ(0, get_pfn(self->dev, 0, &pfn, NULL));
	ASSERT_EQ(0, get_pfn(self->dev, self->hpage_pages, &pfn, NULL));
	ASSERT_EQ(0, close(self->dev));
	self->dev = -1;
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_POOL(0, 0);
}

/*
 * memory_failure() on one base page: the store keeps the page, flagged, and
 * tells consumers to drop its whole huge page; get_pfn() refuses that huge
 * page with -EHWPOISON until a punch takes it out of the file, and the next
 * get_pfn() fills the hole with a new one.  The other huge page keeps its
 * data.  The 1G case loses a 1G page until reboot, which later cases need:
 * it runs alone (-r), in a boot of its own.  Filling 3G there takes the
 * debug kernel (KASAN) more than the harness's default 30 s on a busy host.
 */
TEST_F_TIMEOUT(memfile, poison_invalidates_huge_page, 300)
{
	struct test_memfile_file_page poison = {
		.fd = self->fd,
		.pgoff = self->hpage_pages + self->hpage_pages / 2,
	};
	uint64_t pfn = 0;

	if (self->hpage == 1UL << 30 && !harness_case_alone)
		SKIP(return, "loses a 1G page until reboot: run it alone (-r)");
	FILL_FILE();
	ASSERT_EQ(0, ioctl(self->dev, TEST_MEMFILE_POISON, &poison)) {
		TH_LOG("TEST_MEMFILE_POISON: %s", strerror(errno));
	}
	EXPECT_ONE_INVALIDATION(self->hpage_pages, 2 * self->hpage_pages);
	EXPECT_EQ(-EHWPOISON, get_pfn(self->dev, poison.pgoff, &pfn, NULL));
	EXPECT_EQ(-EHWPOISON, get_pfn(self->dev, self->hpage_pages, &pfn, NULL));
	EXPECT_EQ(0, refs(self->dev));
	EXPECT_TRUE(holds(self->dev, self->page, 0, MARK_A, 64));
	EXPECT_TRUE(holds(self->dev, self->page, self->hpage - 64, MARK_B, 64));

	/* Poisoning it again changes nothing. */
	EXPECT_NE(0, ioctl(self->dev, TEST_MEMFILE_POISON, &poison));
	EXPECT_NO_INVALIDATION();

	ASSERT_EQ(0, punch(self->fd, self->hpage, self->hpage));
	EXPECT_ONE_INVALIDATION(self->hpage_pages, 2 * self->hpage_pages);
	ASSERT_EQ(0, get_pfn(self->dev, poison.pgoff, &pfn, NULL));
	EXPECT_NE(0, pfn);
	EXPECT_EQ(0, put_pfn(self->dev, pfn));
	/* A poisoned huge page never goes back to the pool. */
	EXPECT_POOL(variant->pool ? NR_HPAGES + 1 : NR_HPAGES, 0);
}

/*
 * shmem with huge folios: get_pfn() reports the folio's order, and a punch
 * is rounded out to the huge folios that hold its first and last byte.
 */
#define THP_ENABLED	"/sys/kernel/mm/transparent_hugepage/shmem_enabled"
#define THP_SIZE	(2UL << 20)

FIXTURE(shmem_thp) {
	char saved[64];		/* shmem_enabled before the test */
	int fd, dev;
};

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	if (fputs(text, f) < 0) {
		fclose(f);
		return -EIO;
	}
	return fclose(f) ? -errno : 0;
}

FIXTURE_SETUP(shmem_thp)
{
	FILE *f;
	char *p, *q;

	self->fd = -1;
	self->dev = -1;
	self->saved[0] = 0;
	if (access(DEVICE, F_OK))
		SETUP_SKIP(DEVICE " missing: kernel without CONFIG_TEST_MEMFILE");
	f = fopen(THP_ENABLED, "r");
	if (!f)
		SETUP_SKIP(THP_ENABLED " missing: kernel without shmem THP");
	ASSERT_NE(NULL, fgets(self->saved, sizeof(self->saved), f));
	fclose(f);
	/* "always within_size advise [never] deny force": keep the chosen one. */
	p = strchr(self->saved, '[');
	q = p ? strchr(p, ']') : NULL;
	ASSERT_TRUE(p && q);
	*q = 0;
	memmove(self->saved, p + 1, strlen(p + 1) + 1);
	ASSERT_EQ(0, write_file(THP_ENABLED, "force"));

	self->fd = memfd_create("memfile_thp", MFD_INACCESSIBLE);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, ftruncate(self->fd, 2 * THP_SIZE));
	self->dev = open(DEVICE, O_RDWR);
	ASSERT_LE(0, self->dev);
	ASSERT_EQ(0, reg(self->dev, self->fd, TEST_MEMFILE_F_USER_INACCESSIBLE |
					       TEST_MEMFILE_F_UNMOVABLE));
}

FIXTURE_TEARDOWN(shmem_thp)
{
	if (self->dev >= 0)
		close(self->dev);
	if (self->fd >= 0)
		close(self->fd);
	if (self->saved[0])
		write_file(THP_ENABLED, self->saved);
}

TEST_F(shmem_thp, order_and_rounding)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t thp_pages = THP_SIZE / page, head = 0, pfn = 0;
	uint32_t order = 0;
	struct test_memfile_event ev[4];

	ASSERT_EQ(0, fallocate(self->fd, 0, 0, 2 * THP_SIZE));
	ASSERT_EQ(0, get_pfn(self->dev, 0, &head, &order));
	/* A huge folio needs 2M of contiguous free memory: ours has plenty. */
	EXPECT_EQ(__builtin_ctzl(thp_pages), order);
	EXPECT_EQ(0, head % thp_pages);
	ASSERT_EQ(0, get_pfn(self->dev, 7, &pfn, NULL));
	EXPECT_EQ(head + 7, pfn);
	EXPECT_EQ(0, put_pfn(self->dev, head));
	EXPECT_EQ(0, put_pfn(self->dev, pfn));

	/* Half of each huge folio: both are told, whole. */
	ASSERT_EQ(0, punch(self->fd, THP_SIZE / 2, THP_SIZE));
	ASSERT_EQ(2, read_log(self->dev, ev, 4));
	EXPECT_EQ(0, ev[0].start);
	EXPECT_EQ(2 * thp_pages, ev[0].end);
	EXPECT_EQ(0, ev[1].start);
	EXPECT_EQ(2 * thp_pages, ev[1].end);
}

int main(int argc, char **argv)
{
	return harness_select_main(argc, argv);
}
