// SPDX-License-Identifier: GPL-2.0
/*
 * 'make run': walk an inaccessible 1G and 2M hugetlb memfd through its life
 * as KVM would use it, through the test consumer /dev/test_memfile, and say
 * what happens in plain words.  Exits non-zero if anything is not as the
 * documentation says.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/falloc.h>
#include <linux/memfd.h>

#include "test_memfile_uapi.h"

static int failures;

#define CHECK(cond, ...) do {					\
	if (!(cond)) {						\
		printf("    UNEXPECTED: " __VA_ARGS__);		\
		printf("\n");					\
		failures++;					\
	}							\
} while (0)

static long pool(const char *kb, const char *what)
{
	char path[128];
	long val = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%skB/%s", kb, what);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &val) != 1)
			val = -1;
		fclose(f);
	}
	return val;
}

static const char *size_str(uint64_t bytes, char *buf)
{
	if (bytes && !(bytes % (1ULL << 30)))
		sprintf(buf, "%llu GiB", (unsigned long long)(bytes >> 30));
	else
		sprintf(buf, "%llu MiB", (unsigned long long)(bytes >> 20));
	if (!bytes)
		strcpy(buf, "0");
	return buf;
}

static void demo(const char *name, unsigned int mfd_size, uint64_t hpage, const char *kb)
{
	uint64_t pages = hpage / 4096, size = 2 * hpage;
	struct test_memfile_register reg = { .flags = TEST_MEMFILE_F_USER_INACCESSIBLE |
						      TEST_MEMFILE_F_UNMOVABLE };
	struct test_memfile_pfn p0 = { .pgoff = 0 }, pk = { .pgoff = pages / 2 + 3 };
	struct test_memfile_event ev[8];
	struct test_memfile_log log = { .events = (uintptr_t)ev, .max = 8 };
	long free0 = pool(kb, "free_hugepages");
	char a[32], b[32], c[32], d[32];
	int fd, dev;
	char byte;

	printf("\n%s pages: an inaccessible hugetlb memfd of %s\n", name, size_str(size, a));
	if (free0 < 2) {
		printf("    skipped: needs 2 free %s pages, the pool has %ld\n", name, free0);
		return;
	}
	fd = memfd_create("demo", MFD_HUGETLB | mfd_size | MFD_INACCESSIBLE);
	dev = open("/dev/test_memfile", O_RDWR);
	if (fd < 0 || dev < 0 || ftruncate(fd, size)) {
		printf("    UNEXPECTED: cannot set up (%s)\n", strerror(errno));
		failures++;
		return;
	}
	reg.fd = fd;
	CHECK(!ioctl(dev, TEST_MEMFILE_REGISTER, &reg), "register: %s", strerror(errno));

	CHECK(read(fd, &byte, 1) < 0 && errno == EPERM, "read() was allowed");
	CHECK(mmap(NULL, hpage, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED && errno == EPERM,
	      "mmap() was allowed");
	printf("    host userspace: read() and mmap() refused with EPERM\n");

	CHECK(!fallocate(fd, 0, 0, size), "fallocate: %s", strerror(errno));
	printf("    fallocate %s: free %s pages %ld -> %ld\n", size_str(size, a), name, free0,
	       pool(kb, "free_hugepages"));
	CHECK(pool(kb, "free_hugepages") == free0 - 2, "pool did not shrink by 2");

	CHECK(!ioctl(dev, TEST_MEMFILE_GET_PFN, &p0) && !ioctl(dev, TEST_MEMFILE_GET_PFN, &pk),
	      "get_pfn: %s", strerror(errno));
	printf("    get_pfn(page 0)     = pfn %#llx, order %u: one %s mapping covers it\n",
	       (unsigned long long)p0.pfn, p0.order, name);
	printf("    get_pfn(page %llu) = pfn %#llx = first pfn + %llu, same huge page\n",
	       (unsigned long long)pk.pgoff, (unsigned long long)pk.pfn,
	       (unsigned long long)(pk.pfn - p0.pfn));
	CHECK(p0.order == (unsigned int)__builtin_ctzll(pages), "order %u", p0.order);
	CHECK(pk.pfn == p0.pfn + pk.pgoff, "pfn not head + offset");
	ioctl(dev, TEST_MEMFILE_PUT_PFN, &p0);
	ioctl(dev, TEST_MEMFILE_PUT_PFN, &pk);

	/* Punch from the middle of the first page to the end of the second. */
	CHECK(!fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, hpage / 2,
			 size - hpage / 2), "punch: %s", strerror(errno));
	CHECK(!ioctl(dev, TEST_MEMFILE_READ_LOG, &log) && log.count == 2, "log");
	printf("    punch [%s, %s): the consumer is told [%s, %s) before and after,\n",
	       size_str(hpage / 2, a), size_str(size, b), size_str(ev[0].start * 4096, c),
	       size_str(ev[0].end * 4096, d));
	printf("      rounded out to whole %s pages (pages %llu..%llu)\n", name,
	       (unsigned long long)ev[0].start, (unsigned long long)ev[0].end);
	CHECK(ev[0].start == 0 && ev[0].end == 2 * pages, "range");
	printf("    the second page went back to the pool (free %ld), the first was\n"
	       "      zeroed from %s on and kept\n", pool(kb, "free_hugepages"), size_str(hpage / 2, a));
	CHECK(pool(kb, "free_hugepages") == free0 - 1, "pool");

	close(fd);
	close(dev);
	printf("    closed: free %s pages %ld, reserved %ld (as before)\n", name,
	       pool(kb, "free_hugepages"), pool(kb, "resv_hugepages"));
	CHECK(pool(kb, "free_hugepages") == free0, "pool not back");
}

int main(void)
{
	if (access("/dev/test_memfile", F_OK)) {
		printf("\n/dev/test_memfile is missing: kernel without CONFIG_TEST_MEMFILE\n");
		return 1;
	}
	demo("1G", MFD_HUGE_1GB, 1ULL << 30, "1048576");
	demo("2M", MFD_HUGE_2MB, 2ULL << 20, "2048");
	printf("\n%s\n", failures ? "Something was not as documented (UNEXPECTED above)." :
	       "All as documented in Documentation/mm/memfile_notifier.rst.");
	return failures ? 1 : 0;
}
