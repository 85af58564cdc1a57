/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Interface of the memfile_notifier test driver (lib/test_memfile.c), shared
 * with tools/testing/selftests/memfile.  Not a stable ABI.
 */
#ifndef _LIB_TEST_MEMFILE_UAPI_H
#define _LIB_TEST_MEMFILE_UAPI_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

/* Register this open of /dev/test_memfile as a consumer of the file @fd. */
struct test_memfile_register {
	__s32 fd;
	__u32 pad;
	__u64 flags;		/* MEMFILE_F_* */
};

/* MEMFILE_F_* as the kernel defines them. */
#define TEST_MEMFILE_F_USER_INACCESSIBLE	_BITULL(0)
#define TEST_MEMFILE_F_UNMOVABLE		_BITULL(1)
#define TEST_MEMFILE_F_UNRECLAIMABLE		_BITULL(2)

/* memfile_get_pfn() at @pgoff (base pages); PUT_PFN drops one such @pfn. */
struct test_memfile_pfn {
	__u64 pgoff;
	__u64 pfn;		/* out for GET_PFN, in for PUT_PFN */
	__u32 order;		/* out */
	__u32 pad;
};

#define TEST_MEMFILE_EVENT_START	1
#define TEST_MEMFILE_EVENT_END		2

struct test_memfile_event {
	__u32 kind;		/* TEST_MEMFILE_EVENT_* */
	__u32 pad;
	__u64 start;		/* base pages, [start, end) */
	__u64 end;
};

/* Take the invalidations seen since the last call, oldest first. */
struct test_memfile_log {
	__u64 events;		/* user pointer to @max struct test_memfile_event */
	__u32 max;
	__u32 count;		/* out: events copied */
	__u32 lost;		/* out: events dropped because the log was full */
	__u32 pad;
};

/* Read or write bytes of the page at @pgoff through the kernel. */
struct test_memfile_access {
	__u64 pgoff;		/* base page of the file */
	__u64 offset;		/* within that base page */
	__u64 len;		/* offset + len <= page size */
	__u64 buf;		/* user pointer */
	__u32 write;		/* 0: page to buf, 1: buf to page */
	__u32 pad;
};

/*
 * A base page of a memory file named by its fd, for the ioctls that act on
 * a file without registering on it, so the file may be another consumer's
 * (a VM's):
 *
 * POISON poisons base page @pgoff as a hardware memory error would
 * (memory_failure()) and returns once the file's consumers were told.
 *
 * MIGRATE_FILE tries to migrate the page holding base page @pgoff, as
 * compaction would, to race another consumer's registration; -EBUSY if the
 * store refused.
 */
struct test_memfile_file_page {
	__s32 fd;
	__u32 pad;
	__u64 pgoff;
};

#define TEST_MEMFILE_IOC		'M'
#define TEST_MEMFILE_REGISTER		_IOW(TEST_MEMFILE_IOC, 0xa0, struct test_memfile_register)
#define TEST_MEMFILE_UNREGISTER		_IO(TEST_MEMFILE_IOC, 0xa1)
#define TEST_MEMFILE_GET_PFN		_IOWR(TEST_MEMFILE_IOC, 0xa2, struct test_memfile_pfn)
#define TEST_MEMFILE_PUT_PFN		_IOW(TEST_MEMFILE_IOC, 0xa3, struct test_memfile_pfn)
#define TEST_MEMFILE_READ_LOG		_IOWR(TEST_MEMFILE_IOC, 0xa4, struct test_memfile_log)
#define TEST_MEMFILE_ACCESS		_IOW(TEST_MEMFILE_IOC, 0xa5, struct test_memfile_access)
/* Page references taken with GET_PFN and not yet put. */
#define TEST_MEMFILE_REFS		_IOR(TEST_MEMFILE_IOC, 0xa6, __u64)
/*
 * Try to migrate the huge page holding @pgoff, as compaction or memory
 * offlining would; on success @pfn is where base page @pgoff went.
 */
#define TEST_MEMFILE_MIGRATE		_IOWR(TEST_MEMFILE_IOC, 0xa7, struct test_memfile_pfn)
#define TEST_MEMFILE_POISON		_IOW(TEST_MEMFILE_IOC, 0xa8, struct test_memfile_file_page)
#define TEST_MEMFILE_MIGRATE_FILE	_IOW(TEST_MEMFILE_IOC, 0xa9, struct test_memfile_file_page)

#endif /* _LIB_TEST_MEMFILE_UAPI_H */
