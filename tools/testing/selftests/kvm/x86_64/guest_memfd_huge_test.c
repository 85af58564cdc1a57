// SPDX-License-Identifier: GPL-2.0-only
/*
 * guest_memfd (KVM_CREATE_GUEST_MEMFD) as a file, for 4K shmem and 2M/1G
 * hugetlb memory: creation rules, no I/O, fstat(), fallocate() rules, the
 * huge page rounding of allocation and punch with exact pool counts, the
 * binding rules, and the lifetimes of the VM and of the file; then the host
 * mapping of upstream 6.18's GUEST_MEMFD_FLAG_MMAP and _INIT_SHARED: the
 * flags capability, private memory that maps but faults, shared memory
 * mapped at the file's page size, and a default VM whose memslot is only a
 * guest_memfd, mapped by KVM at that page size too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/falloc.h>

#include "kvm_util.h"
#include "numaif.h"
#include "processor.h"
#include "private_mem.h"

/* kvm_util's ASSERT_EQ() gives way to the harness's. */
#undef ASSERT_EQ
#include "kselftest_harness.h"
#include "harness_select.h"

#define PRIVATE_GPA	(4ULL << 30)
#define PRIVATE_SLOT	10
#define OTHER_GPA	(8ULL << 30)
#define OTHER_SLOT	11
#define SEED		0x6e6d656dULL
#define TIMEOUT		300

#define KEEP		FALLOC_FL_KEEP_SIZE
#define PUNCH		(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)

/* KVM_SET_USER_MEMORY_REGION2 of a guest_memfd range, without shared half. */
static int gmem_bind(struct kvm_vm *vm, uint32_t slot, uint64_t gpa,
		     uint64_t size, int fd, uint64_t offset)
{
	return __vm_set_user_memory_region2(vm, slot, KVM_MEM_GUEST_MEMFD, gpa,
					    size, NULL, fd, offset);
}

/* Guest: write, then check, one word per page of [gpa, +size). */
static void guest_code(uint64_t gpa, uint64_t size)
{
	uint64_t p;

	for (p = gpa; p < gpa + size; p += PAGE_SIZE)
		WRITE_ONCE(*(uint64_t *)p, p ^ SEED);
	GUEST_SYNC(0);
	for (p = gpa; p < gpa + size; p += PAGE_SIZE)
		GUEST_ASSERT_2(READ_ONCE(*(uint64_t *)p) == (p ^ SEED), p,
			       READ_ONCE(*(uint64_t *)p));
	GUEST_DONE();
}

FIXTURE(gmem) {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	uint64_t unit;		/* the page size of the memory */
	uint64_t size;		/* of the guest_memfd under test */
	uint64_t flags;
	int fd;
};

FIXTURE_VARIANT(gmem) {
	uint64_t page_size;	/* 0: shmem */
	uint64_t nr_units;
};

FIXTURE_VARIANT_ADD(gmem, shmem_4k) {
	.page_size = 0,
	.nr_units = 16,
};

FIXTURE_VARIANT_ADD(gmem, hugetlb_2m) {
	.page_size = PG_SIZE_2M,
	.nr_units = 4,
};

FIXTURE_VARIANT_ADD(gmem, hugetlb_1g) {
	.page_size = PG_SIZE_1G,
	.nr_units = 2,
};

FIXTURE_SETUP(gmem)
{
	self->unit = variant->page_size ? variant->page_size : PAGE_SIZE;
	self->size = self->unit * variant->nr_units;
	self->flags = guest_memfd_flags(variant->page_size);
	self->fd = -1;
	self->vm = NULL;
	if (variant->page_size &&
	    free_huge_pages(variant->page_size) < (long)variant->nr_units)
		SETUP_SKIP("needs %lu free %luM huge pages (boot with hugepages=)",
			   variant->nr_units, variant->page_size >> 20);

	self->vm = vm_create_sw_protected_with_one_vcpu(&self->vcpu, 64,
							guest_code);
	self->fd = vm_create_guest_memfd(self->vm, self->size, self->flags);
}

FIXTURE_TEARDOWN(gmem)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->vm)
		kvm_vm_free(self->vm);
}

/* Free huge pages of the variant's size; 0 for shmem, which has no pool. */
static long pool_free(uint64_t unit)
{
	return unit == PAGE_SIZE ? 0 : free_huge_pages(unit);
}

/* Every bad KVM_CREATE_GUEST_MEMFD fails with EINVAL; a default VM may create. */
TEST_F(gmem, create_rules)
{
	struct kvm_create_guest_memfd args = {
		.size = self->unit, .flags = self->flags,
	};
	static const unsigned int bad_logs[] = { 1, 12, 13, 20, 22, 29, 31, 63 };
	uint64_t u = self->unit, flags = self->flags, log;
	struct kvm_vm *default_vm;
	unsigned int i;
	int fd;

#define CREATE(_size, _flags)	__vm_create_guest_memfd(self->vm, _size, _flags)
	EXPECT_ERRNO(EINVAL, CREATE(0, flags));
	EXPECT_ERRNO(EINVAL, CREATE(PAGE_SIZE - 1, flags));
	EXPECT_ERRNO(EINVAL, CREATE(u + 1, flags));
	if (u > PAGE_SIZE) {
		/* Whole huge pages only. */
		EXPECT_ERRNO(EINVAL, CREATE(PAGE_SIZE, flags));
		EXPECT_ERRNO(EINVAL, CREATE(u + PAGE_SIZE, flags));
	}
	/* Below the page size field: only what the capability names. */
	for (i = 0; i < GUEST_MEMFD_HUGETLB_SHIFT; i++) {
		if (BIT_ULL(i) == GUEST_MEMFD_FLAG_MMAP)
			continue;
		EXPECT_ERRNO(EINVAL, CREATE(u, flags | BIT_ULL(i)));
	}
	/* Page sizes the host has no pool of. */
	for (i = 0; i < ARRAY_SIZE(bad_logs); i++) {
		log = bad_logs[i];
		EXPECT_ERRNO(EINVAL, CREATE(PG_SIZE_1G,
					    log << GUEST_MEMFD_HUGETLB_SHIFT));
	}
#undef CREATE
	for (i = 0; i < ARRAY_SIZE(args.reserved); i++) {
		args.reserved[i] = 1;
		EXPECT_ERRNO(EINVAL, ioctl(self->vm->fd, KVM_CREATE_GUEST_MEMFD,
					   &args));
		args.reserved[i] = 0;
	}

	/* Any VM type creates and binds, as upstream since 6.18. */
	default_vm = vm_create_barebones();
	fd = __vm_create_guest_memfd(default_vm, u, flags);
	EXPECT_LE(0, fd);
	EXPECT_EQ(0, gmem_bind(default_vm, PRIVATE_SLOT, PRIVATE_GPA, u, fd, 0));
	close(fd);
	EXPECT_EQ(1, ioctl(default_vm->fd, KVM_CHECK_EXTENSION,
			   KVM_CAP_GUEST_MEMFD));
	kvm_vm_free(default_vm);
	EXPECT_EQ(1, ioctl(self->vm->fd, KVM_CHECK_EXTENSION,
			   KVM_CAP_GUEST_MEMFD));
	EXPECT_EQ(1, kvm_check_cap(KVM_CAP_GUEST_MEMFD));
}

/* No read, write or map, no truncate: the memory is the guest's. */
TEST_F(gmem, no_io)
{
	char buf[64];
	void *map;

	EXPECT_ERRNO(EINVAL, read(self->fd, buf, sizeof(buf)));
	EXPECT_ERRNO(EINVAL, write(self->fd, buf, sizeof(buf)));
	/* Not even seekable, as upstream's. */
	EXPECT_ERRNO(ESPIPE, pread(self->fd, buf, sizeof(buf), 0));
	EXPECT_ERRNO(ESPIPE, pwrite(self->fd, buf, sizeof(buf), 0));
	map = mmap(NULL, self->unit, PROT_READ, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, map);
	EXPECT_EQ(ENODEV, errno);
	map = mmap(NULL, self->unit, PROT_READ, MAP_PRIVATE, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, map);
	EXPECT_EQ(ENODEV, errno);
	EXPECT_ERRNO(EINVAL, ftruncate(self->fd, 2 * self->size));
	EXPECT_ERRNO(EINVAL, ftruncate(self->fd, 0));
	/* Not a memfd either, whatever is behind it: no seals. */
	EXPECT_ERRNO(EINVAL, fcntl(self->fd, F_GET_SEALS));
	EXPECT_ERRNO(EINVAL, fcntl(self->fd, F_ADD_SEALS, F_SEAL_WRITE));
}

/* fstat(): a regular file of the size asked, st_blksize the page size. */
TEST_F(gmem, fstat_and_inodes)
{
	struct stat st, st2;
	int fd2;

	ASSERT_EQ(0, fstat(self->fd, &st));
	EXPECT_TRUE(S_ISREG(st.st_mode));
	EXPECT_EQ(self->size, (uint64_t)st.st_size);
	EXPECT_EQ(self->unit, (uint64_t)st.st_blksize);

	/* Each guest_memfd is an inode of its own. */
	fd2 = vm_create_guest_memfd(self->vm, self->unit, self->flags);
	ASSERT_EQ(0, fstat(fd2, &st2));
	EXPECT_NE(st.st_ino, st2.st_ino);
	EXPECT_EQ(self->unit, (uint64_t)st2.st_size);
	ASSERT_EQ(0, fstat(self->fd, &st));
	EXPECT_EQ(self->size, (uint64_t)st.st_size);
	close(fd2);
}

/* fallocate(): KEEP_SIZE, PAGE_SIZE units, allocation inside the file. */
TEST_F(gmem, fallocate_rules)
{
	static const struct { uint64_t offset, len; } unaligned[] = {
		{ 0, 1 }, { 0, PAGE_SIZE - 1 }, { 0, PAGE_SIZE + 1 },
		{ 1, 1 }, { 1, PAGE_SIZE - 1 }, { 1, PAGE_SIZE },
		{ 1, PAGE_SIZE + 1 }, { PAGE_SIZE, 1 },
		{ PAGE_SIZE, PAGE_SIZE - 1 }, { PAGE_SIZE, PAGE_SIZE + 1 },
	};
	uint64_t size = self->size;
	unsigned int i;

	EXPECT_ERRNO(EOPNOTSUPP, fallocate(self->fd, 0, 0, PAGE_SIZE));
	EXPECT_ERRNO(EOPNOTSUPP, fallocate(self->fd, FALLOC_FL_KEEP_SIZE |
					   FALLOC_FL_ZERO_RANGE, 0, PAGE_SIZE));
	for (i = 0; i < ARRAY_SIZE(unaligned); i++) {
		EXPECT_ERRNO(EINVAL, fallocate(self->fd, PUNCH,
					       unaligned[i].offset,
					       unaligned[i].len));
		EXPECT_ERRNO(EINVAL, fallocate(self->fd, KEEP,
					       unaligned[i].offset,
					       unaligned[i].len));
	}

	EXPECT_EQ(0, fallocate(self->fd, KEEP, 0, size));
	EXPECT_ERRNO(EINVAL, fallocate(self->fd, KEEP, size, PAGE_SIZE));
	EXPECT_ERRNO(EINVAL, fallocate(self->fd, KEEP, size - PAGE_SIZE,
				       2 * PAGE_SIZE));
	EXPECT_ERRNO(EINVAL, fallocate(self->fd, KEEP, size + PAGE_SIZE,
				       PAGE_SIZE));
	EXPECT_EQ(0, fallocate(self->fd, PUNCH, size, PAGE_SIZE));
	EXPECT_EQ(0, fallocate(self->fd, PUNCH, size + PAGE_SIZE, PAGE_SIZE));
	EXPECT_EQ(0, fallocate(self->fd, PUNCH, PAGE_SIZE, PAGE_SIZE));
	EXPECT_EQ(0, fallocate(self->fd, KEEP, PAGE_SIZE, PAGE_SIZE));
	EXPECT_EQ(0, fallocate(self->fd, PUNCH, 0, size));
}

/*
 * Huge pages: allocating any 4K range allocates its whole huge page,
 * punching part of one keeps it, punching whole ones returns them to the
 * pool.  HugePages_Free is exact after every step.
 */
TEST_F(gmem, huge_page_rounding)
{
	long start = pool_free(self->unit);
	uint64_t u = self->unit;

	if (u == PAGE_SIZE)
		SKIP(return, "4K shmem pages: nothing to round, no pool to count");

	ASSERT_EQ(0, fallocate(self->fd, KEEP, u + 5 * PAGE_SIZE, PAGE_SIZE));
	EXPECT_EQ(start - 1, pool_free(u));
	/* The rest of that huge page is there already. */
	ASSERT_EQ(0, fallocate(self->fd, KEEP, u, u));
	EXPECT_EQ(start - 1, pool_free(u));
	/* A range across two huge pages takes both. */
	ASSERT_EQ(0, fallocate(self->fd, KEEP, u - PAGE_SIZE, 2 * PAGE_SIZE));
	EXPECT_EQ(start - 2, pool_free(u));

	/* Part of a huge page: zeroed, kept. */
	ASSERT_EQ(0, fallocate(self->fd, PUNCH, u + PAGE_SIZE, u - 2 * PAGE_SIZE));
	EXPECT_EQ(start - 2, pool_free(u));
	/* A whole one: back to the pool. */
	ASSERT_EQ(0, fallocate(self->fd, PUNCH, u, u));
	EXPECT_EQ(start - 1, pool_free(u));
	ASSERT_EQ(0, fallocate(self->fd, PUNCH, 0, self->size));
	EXPECT_EQ(start, pool_free(u));
	EXPECT_EQ(0, hugepage_pool_value(u, "resv_hugepages"));
}

/* Which files a private memslot binds, and which ranges of them. */
TEST_F(gmem, binding_rules)
{
	uint64_t u = self->unit, size = self->size;
	struct kvm_vcpu *other_vcpu;
	struct kvm_vm *other;
	int other_fd, fd = self->fd;

#define BIND_AT(_slot, _gpa, _size, _fd, _off)				\
	gmem_bind(self->vm, _slot, _gpa, _size, _fd, _off)

	other = vm_create_sw_protected_with_one_vcpu(&other_vcpu, 0, guest_code);
	other_fd = vm_create_guest_memfd(other, u, self->flags);
	/* Another VM's guest_memfd is no guest_memfd to this VM. */
	EXPECT_ERRNO(EINVAL, BIND_AT(PRIVATE_SLOT, PRIVATE_GPA, u, other_fd, 0));
	EXPECT_EQ(0, gmem_bind(other, PRIVATE_SLOT, PRIVATE_GPA, u, other_fd, 0));
	close(other_fd);
	kvm_vm_free(other);

	EXPECT_ERRNO(EINVAL, BIND_AT(PRIVATE_SLOT, PRIVATE_GPA, u, fd,
				     PAGE_SIZE / 2));
	EXPECT_ERRNO(EINVAL, BIND_AT(PRIVATE_SLOT, PRIVATE_GPA, size, fd,
				     PAGE_SIZE));
	EXPECT_ERRNO(EINVAL, BIND_AT(PRIVATE_SLOT, PRIVATE_GPA, size + u, fd, 0));

	/* Disjoint ranges bind; overlapping ones do not. */
	ASSERT_EQ(0, BIND_AT(PRIVATE_SLOT, PRIVATE_GPA, u, fd, 0));
	EXPECT_ERRNO(EEXIST, BIND_AT(OTHER_SLOT, OTHER_GPA, u, fd,
				     u - PAGE_SIZE));
	EXPECT_ERRNO(EEXIST, BIND_AT(OTHER_SLOT, OTHER_GPA, u, fd, 0));
	EXPECT_EQ(0, BIND_AT(OTHER_SLOT, OTHER_GPA, u, fd, u));
	/* A deleted slot frees its range. */
	EXPECT_EQ(0, BIND_AT(PRIVATE_SLOT, PRIVATE_GPA, 0, fd, 0));
	EXPECT_EQ(0, BIND_AT(PRIVATE_SLOT, PRIVATE_GPA, u, fd, 0));
#undef BIND_AT
}

/*
 * The guest_memfd keeps the VM's memory state: with the VM fd closed first,
 * fallocate() still allocates and punches; closing the guest_memfd then
 * ends the VM and gives every page back.
 */
TEST_F(gmem, vm_fd_closed_first)
{
	long start = pool_free(self->unit);

	vm_set_user_memory_region2(self->vm, PRIVATE_SLOT, KVM_MEM_GUEST_MEMFD,
				   PRIVATE_GPA, self->size, NULL, self->fd, 0);
	kvm_vm_free(self->vm);
	self->vm = NULL;

	EXPECT_EQ(0, fallocate(self->fd, KEEP, 0, self->size));
	if (self->unit > PAGE_SIZE)
		EXPECT_EQ(start - (long)(self->size / self->unit),
			  pool_free(self->unit));
	EXPECT_EQ(0, fallocate(self->fd, PUNCH, 0, self->unit));
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(start, pool_free(self->unit));
}

/*
 * Closing the guest_memfd takes nothing from a running guest: it keeps its
 * data; deleting the memslot then gives the pages back.
 */
TEST_F_TIMEOUT(gmem, fd_closed_first, TIMEOUT)
{
	long start = pool_free(self->unit);

	vm_add_private_memslot(self->vm, PRIVATE_SLOT, PRIVATE_GPA, self->size,
			       self->fd, 0);
	vm_mem_set_private(self->vm, PRIVATE_GPA, self->size);
	vcpu_args_set(self->vcpu, 2, PRIVATE_GPA, self->size);
	vcpu_run_to_ucall(self->vcpu, UCALL_SYNC);
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	vcpu_run_to_ucall(self->vcpu, UCALL_DONE);

	vm_set_user_memory_region2(self->vm, PRIVATE_SLOT, KVM_MEM_GUEST_MEMFD,
				   PRIVATE_GPA, 0, NULL, 0, 0);
	EXPECT_EQ(start, pool_free(self->unit));
}

/* Many guest_memfds on one VM, each bound to a slot, each its own inode. */
TEST_F(gmem, many_per_vm)
{
	struct stat st[8];
	int fds[8], i, j;

	for (i = 0; i < 8; i++) {
		fds[i] = vm_create_guest_memfd(self->vm, self->unit, 0);
		ASSERT_EQ(0, fstat(fds[i], &st[i]));
		for (j = 0; j < i; j++)
			EXPECT_NE(st[j].st_ino, st[i].st_ino);
		EXPECT_EQ(0, gmem_bind(self->vm, PRIVATE_SLOT + i,
				       PRIVATE_GPA + i * self->unit,
				       self->unit, fds[i], 0));
	}
	for (i = 0; i < 8; i++)
		close(fds[i]);
}

#define SHARED_FLAGS	(GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED)

static sigjmp_buf sigbus_jmp;

static void on_sigbus(int sig)
{
	siglongjmp(sigbus_jmp, 1);
}

/* Does reading (or writing, if @write) the byte at @p raise SIGBUS? */
static bool access_sigbus(char *p, bool write)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	bool bus = false;

	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(sigbus_jmp, 1))
		bus = true;
	else if (write)
		WRITE_ONCE(*p, 1);
	else
		(void)READ_ONCE(*p);
	sigaction(SIGBUS, &old, NULL);
	return bus;
}

/*
 * KVM_CAP_GUEST_MEMFD_FLAGS: MMAP for every VM type, INIT_SHARED only for
 * VMs without private memory; nothing of the page size field.
 */
TEST_F(gmem, flags_capability)
{
	const uint64_t both = SHARED_FLAGS;
	struct kvm_vm *default_vm = vm_create_barebones();
	int fd;

	EXPECT_EQ(both, kvm_check_cap(KVM_CAP_GUEST_MEMFD_FLAGS));
	EXPECT_EQ(both, vm_check_cap(default_vm, KVM_CAP_GUEST_MEMFD_FLAGS));
	EXPECT_EQ(GUEST_MEMFD_FLAG_MMAP,
		  vm_check_cap(self->vm, KVM_CAP_GUEST_MEMFD_FLAGS));

	EXPECT_ERRNO(EINVAL,
		     __vm_create_guest_memfd(self->vm, self->size, self->flags |
					     GUEST_MEMFD_FLAG_INIT_SHARED));
	fd = __vm_create_guest_memfd(self->vm, self->size,
				     self->flags | GUEST_MEMFD_FLAG_MMAP);
	EXPECT_LE(0, fd);
	close(fd);
	fd = __vm_create_guest_memfd(default_vm, self->size, self->flags | both);
	EXPECT_LE(0, fd);
	close(fd);
	kvm_vm_free(default_vm);
}

/*
 * Private memory that the host may map: the mapping is made (shared only),
 * and every access to it gets SIGBUS, while the guest uses the memory.
 */
TEST_F(gmem, mmap_private_faults)
{
	uint64_t size = self->size;
	char *map;
	int fd;

	close(self->fd);
	self->fd = -1;
	fd = vm_create_guest_memfd(self->vm, size,
				   self->flags | GUEST_MEMFD_FLAG_MMAP);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	EXPECT_EQ(MAP_FAILED, map);
	EXPECT_EQ(EINVAL, errno);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);

	/* The guest's memory is there, and still out of the host's reach. */
	vm_add_private_memslot(self->vm, PRIVATE_SLOT, PRIVATE_GPA, size, fd, 0);
	vm_mem_set_private(self->vm, PRIVATE_GPA, size);
	vcpu_args_set(self->vcpu, 2, PRIVATE_GPA, size);
	vcpu_run_to_ucall(self->vcpu, UCALL_SYNC);
	vcpu_run_to_ucall(self->vcpu, UCALL_DONE);
	EXPECT_TRUE(access_sigbus(map, false));
	EXPECT_TRUE(access_sigbus(map + size - 1, true));
	munmap(map, size);
	close(fd);
}

/*
 * Shared memory maps at the file's page size (one PMD or PUD entry per
 * huge page, as smaps says), reads what was written, and a punched page
 * reads zero; hugetlb maps whole pages within the file, 4K gets SIGBUS
 * past its end.  The pool counts follow exactly.
 */
TEST_F(gmem, mmap_shared)
{
	uint64_t u = self->unit, size = self->size, i;
	struct kvm_vm *vm = vm_create_barebones();
	long start = pool_free(u);
	char *map;
	int fd;

	fd = vm_create_guest_memfd(vm, size, self->flags | SHARED_FLAGS);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	EXPECT_EQ(MAP_FAILED, map);
	if (u > PAGE_SIZE) {
		/* Whole huge pages within the file only. */
		map = mmap(NULL, size + u, PROT_READ | PROT_WRITE, MAP_SHARED,
			   fd, 0);
		EXPECT_EQ(MAP_FAILED, map);
		EXPECT_EQ(EINVAL, errno);
		map = mmap(NULL, u + PAGE_SIZE, PROT_READ | PROT_WRITE,
			   MAP_SHARED, fd, 0);
		EXPECT_EQ(MAP_FAILED, map);
		EXPECT_EQ(EINVAL, errno);
		map = mmap(NULL, u, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			   PAGE_SIZE);
		EXPECT_EQ(MAP_FAILED, map);
		EXPECT_EQ(EINVAL, errno);
	} else {
		map = mmap(NULL, 2 * size, PROT_READ | PROT_WRITE, MAP_SHARED,
			   fd, 0);
		ASSERT_NE(MAP_FAILED, map);
		EXPECT_TRUE(access_sigbus(map + size, false));
		EXPECT_FALSE(access_sigbus(map + size - 1, false));
		munmap(map, 2 * size);
	}

	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(0, (uintptr_t)map % u);
	for (i = 0; i < size; i += PAGE_SIZE)
		*(uint64_t *)(map + i) = i ^ SEED;
	EXPECT_EQ(u, mapping_page_size(map));
	if (u > PAGE_SIZE)
		EXPECT_EQ(start - (long)(size / u), pool_free(u));
	for (i = 0; i < size; i += PAGE_SIZE)
		ASSERT_EQ(i ^ SEED, *(uint64_t *)(map + i));

	/* A punched page reads zero; the rest keep their data. */
	ASSERT_EQ(0, fallocate(fd, PUNCH, 0, u));
	EXPECT_EQ(0, *(uint64_t *)map);
	EXPECT_EQ(u ^ SEED, *(uint64_t *)(map + u));
	if (u > PAGE_SIZE)
		EXPECT_EQ(start - (long)(size / u), pool_free(u));

	munmap(map, size);
	close(fd);
	kvm_vm_free(vm);
	if (u > PAGE_SIZE)
		EXPECT_EQ(start, pool_free(u));
}

/* Guest: check what the host wrote, one word per page, then answer. */
static void guest_check_and_answer(uint64_t gpa, uint64_t size)
{
	uint64_t p;

	for (p = gpa; p < gpa + size; p += PAGE_SIZE) {
		GUEST_ASSERT_2(READ_ONCE(*(uint64_t *)p) == (p ^ SEED), p,
			       READ_ONCE(*(uint64_t *)p));
		WRITE_ONCE(*(uint64_t *)p, ~(p ^ SEED));
	}
	GUEST_DONE();
}

/*
 * A default VM whose memory is only an INIT_SHARED guest_memfd (no
 * userspace_addr): what the VMM writes through its mapping the guest
 * reads and the other way round, KVM maps one TDP entry per page of the
 * file, and a punch reaches both sides.
 */
TEST_F(gmem, gmem_only_memslot)
{
	uint64_t u = self->unit, size = self->size, i, gpa;
	const char *stat = u == PG_SIZE_1G ? "pages_1g" :
			   u == PG_SIZE_2M ? "pages_2m" : "pages_4k";
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int64_t mapped;
	char *map;
	int fd;

	vm = vm_create_with_one_vcpu(&vcpu, guest_check_and_answer);
	fd = vm_create_guest_memfd(vm, size, self->flags | SHARED_FLAGS);
	vm_set_user_memory_region2(vm, PRIVATE_SLOT, KVM_MEM_GUEST_MEMFD,
				   PRIVATE_GPA, size, NULL, fd, 0);
	for (gpa = PRIVATE_GPA; gpa < PRIVATE_GPA + size; gpa += PG_SIZE_1G)
		__virt_pg_map(vm, gpa, gpa, PG_LEVEL_1G);

	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	for (i = 0; i < size; i += PAGE_SIZE)
		*(uint64_t *)(map + i) = (PRIVATE_GPA + i) ^ SEED;

	vcpu_args_set(vcpu, 2, PRIVATE_GPA, size);
	vcpu_run_to_ucall(vcpu, UCALL_DONE);
	for (i = 0; i < size; i += PAGE_SIZE)
		ASSERT_EQ(~((PRIVATE_GPA + i) ^ SEED), *(uint64_t *)(map + i));
	/* One entry per page of the file; 4K: plus the guest's own pages. */
	mapped = vm_stat(vm, stat);
	EXPECT_TRUE(u > PAGE_SIZE ? mapped == (int64_t)(size / u) :
				    mapped >= (int64_t)(size / u));

	/* A punch zaps KVM's mapping and the VMM's, and reads zero in both. */
	ASSERT_EQ(0, fallocate(fd, PUNCH, 0, u));
	EXPECT_EQ(0, *(uint64_t *)map);
	if (u > PAGE_SIZE)
		EXPECT_EQ((int64_t)(size / u) - 1, vm_stat(vm, stat));

	munmap(map, size);
	close(fd);
	kvm_vm_free(vm);
}

static int pre_fault(struct kvm_vcpu *vcpu, struct kvm_pre_fault_memory *range)
{
	return ioctl(vcpu->fd, KVM_PRE_FAULT_MEMORY, range);
}

/*
 * KVM_PRE_FAULT_MEMORY of private memory: one step per page of the file
 * (a 1G page is one step however little of it is asked for), exact
 * mapping counts before the guest runs, and the guest then finds its
 * memory mapped, no new mapping made.  Bad ranges and holes fail with
 * the range untouched.
 */
TEST_F(gmem, pre_fault_private)
{
	uint64_t u = self->unit, size = self->size;
	const char *stat = u == PG_SIZE_1G ? "pages_1g" :
			   u == PG_SIZE_2M ? "pages_2m" : "pages_4k";
	struct kvm_pre_fault_memory range = { .gpa = PRIVATE_GPA, .size = size };
	int64_t before;

	ASSERT_EQ(1, kvm_check_cap(KVM_CAP_PRE_FAULT_MEMORY));
	vm_add_private_memslot(self->vm, PRIVATE_SLOT, PRIVATE_GPA, size,
			       self->fd, 0);
	vm_mem_set_private(self->vm, PRIVATE_GPA, size);

	/* Bad ranges: EINVAL, nothing consumed. */
	range.flags = 1;
	EXPECT_ERRNO(EINVAL, pre_fault(self->vcpu, &range));
	range.flags = 0;
	range.size = PAGE_SIZE / 2;
	EXPECT_ERRNO(EINVAL, pre_fault(self->vcpu, &range));
	range.size = 0;
	EXPECT_ERRNO(EINVAL, pre_fault(self->vcpu, &range));
	range.gpa = PRIVATE_GPA + 1;
	range.size = PAGE_SIZE;
	EXPECT_ERRNO(EINVAL, pre_fault(self->vcpu, &range));
	/* No memslot there: emulated MMIO, ENOENT, the range as it was. */
	range.gpa = OTHER_GPA;
	EXPECT_ERRNO(ENOENT, pre_fault(self->vcpu, &range));
	EXPECT_EQ(OTHER_GPA, range.gpa);
	EXPECT_EQ(PAGE_SIZE, range.size);

	/*
	 * Two pages into the first page of the file: the range is consumed,
	 * and maps that page whole (one 2M or 1G entry; two 4K ones).
	 */
	before = vm_stat(self->vm, stat);
	range.gpa = PRIVATE_GPA + PAGE_SIZE;
	range.size = 2 * PAGE_SIZE;
	ASSERT_EQ(0, pre_fault(self->vcpu, &range));
	EXPECT_EQ(0, range.size);
	EXPECT_EQ(PRIVATE_GPA + 3 * PAGE_SIZE, range.gpa);
	EXPECT_EQ(before + (u > PAGE_SIZE ? 1 : 2), vm_stat(self->vm, stat));

	/* All of it: one entry per page of the file. */
	range.gpa = PRIVATE_GPA;
	range.size = size;
	ASSERT_EQ(0, pre_fault(self->vcpu, &range));
	EXPECT_EQ(0, range.size);
	EXPECT_EQ(PRIVATE_GPA + size, range.gpa);
	EXPECT_EQ(before + (int64_t)(size / u), vm_stat(self->vm, stat));

	/* The guest's accesses find it mapped: no entry more. */
	vcpu_args_set(self->vcpu, 2, PRIVATE_GPA, size);
	vcpu_run_to_ucall(self->vcpu, UCALL_SYNC);
	vcpu_run_to_ucall(self->vcpu, UCALL_DONE);
	if (u > PAGE_SIZE)
		EXPECT_EQ(before + (int64_t)(size / u), vm_stat(self->vm, stat));
}

/* The NUMA node of the page at @p (move_pages() asked, nothing moved). */
static int page_node(void *p)
{
	int status = -1;

	if (syscall(SYS_move_pages, 0, 1, &p, NULL, &status, 0))
		return -errno;
	return status;
}

/* Free huge pages of @unit bytes on @node. */
static long node_free_huge_pages(int node, uint64_t unit)
{
	char path[128];

	snprintf(path, sizeof(path),
		 "/sys/devices/system/node/node%d/hugepages/hugepages-%lukB/free_hugepages",
		 node, unit >> 10);
	return read_sysfs_long(path);
}

static long bind_to(void *addr, uint64_t len, int node)
{
	unsigned long mask = 1UL << node;

	return syscall(SYS_mbind, addr, len, MPOL_BIND, &mask, 8, 0);
}

/*
 * mbind() of a shared mapping: get_mempolicy() reports the policy, each
 * range's page comes from the node it names (move_pages() tells), and after
 * a punch the new page follows a new policy.  4K memory takes the file's
 * own policy (which the guest's allocations follow too), hugetlb the
 * mapping's, for the VMM's faults through it.
 */
TEST_F(gmem, mbind_shared)
{
	uint64_t u = self->unit;
	unsigned long mask = 0;
	struct kvm_vm *vm;
	int policy = -1;
	char *map;
	int fd;

	if (access("/sys/devices/system/node/node1", F_OK))
		SKIP(return, "one NUMA node (the test machine boots with numa=fake=2)");
	if (u > PAGE_SIZE && (node_free_huge_pages(0, u) < 1 ||
			      node_free_huge_pages(1, u) < 1))
		SKIP(return, "needs a free %luM page on each of nodes 0 and 1",
		     u >> 20);

	vm = vm_create_barebones();
	fd = vm_create_guest_memfd(vm, 2 * u, self->flags | SHARED_FLAGS);
	map = mmap(NULL, 2 * u, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, bind_to(map, u, 1));
	ASSERT_EQ(0, bind_to(map + u, u, 0));
	ASSERT_EQ(0, get_mempolicy(&policy, &mask, 8, map, MPOL_F_ADDR));
	EXPECT_EQ(MPOL_BIND, policy);
	EXPECT_EQ(2, mask);

	WRITE_ONCE(map[0], 1);
	WRITE_ONCE(map[u], 1);
	EXPECT_EQ(1, page_node(map));
	EXPECT_EQ(0, page_node(map + u));

	/* A punched page comes back from where the policy says now. */
	ASSERT_EQ(0, fallocate(fd, PUNCH, 0, u));
	ASSERT_EQ(0, bind_to(map, u, 0));
	WRITE_ONCE(map[0], 1);
	EXPECT_EQ(0, page_node(map));

	munmap(map, 2 * u);
	close(fd);
	kvm_vm_free(vm);
}

int main(int argc, char **argv)
{
	return harness_select_main(argc, argv);
}
