// SPDX-License-Identifier: GPL-2.0-only
/*
 * guest_memfd_demo: one 1G guest_memfd through its life, as a VMM written
 * for upstream's guest_memfd ABI would use it, plus the one flag that asks
 * for 1G pages; then a default VM whose memory is only a shared 1G
 * guest_memfd, as a VMM written for upstream 7.3 would run it: written
 * through the VMM's mapping, pre-faulted, read by the guest.  Prints each
 * step with what the kernel reports (TDP mappings per level, the host's
 * page size, free 1G pages) and fails if a count is not the one expected.
 * 'make run' shows it; 'make check' runs it as a test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/falloc.h>

#include "kvm_util.h"
#include "processor.h"
#include "private_mem.h"

#define GPA		(4ULL << 30)
#define SLOT		10
#define SIZE		PG_SIZE_1G
#define HOLE		(SIZE / 2)
#define SEED		0x1671dea5ULL

/*
 * Guest: sync once its own code and stack are mapped; write one word per
 * 4K page; sync; check them, the hole reads 0.
 */
static void guest_code(void)
{
	uint64_t p, want;

	GUEST_SYNC(0);
	for (p = GPA; p < GPA + SIZE; p += PAGE_SIZE)
		WRITE_ONCE(*(uint64_t *)p, p ^ SEED);
	GUEST_SYNC(1);
	for (p = GPA; p < GPA + SIZE; p += PAGE_SIZE) {
		want = p == GPA + HOLE ? 0 : p ^ SEED;
		GUEST_ASSERT_2(READ_ONCE(*(uint64_t *)p) == want, p,
			       READ_ONCE(*(uint64_t *)p));
	}
	GUEST_DONE();
}

/* What the guest's memory is mapped with beyond its code, data and stack. */
static int64_t base_4k, base_2m;

/*
 * Map all of memslot 0 (the guest's code, data, stack and page tables)
 * before the guest runs, so that the counts of each step are those of the
 * guest_memfd alone, wherever the guest's code happens to cross a page.
 */
static void pre_fault_guest_itself(struct kvm_vm *vm, struct kvm_vcpu *vcpu)
{
	struct kvm_pre_fault_memory range = {
		.size = memslot2region(vm, 0)->region.memory_size,
	};

	TEST_ASSERT(!ioctl(vcpu->fd, KVM_PRE_FAULT_MEMORY, &range) && !range.size,
		    "KVM_PRE_FAULT_MEMORY(memslot 0): %s, %llu left",
		    strerror(errno), range.size);
}

/* The step's TDP faults and the mappings now; fail unless as expected. */
static void show(struct kvm_vm *vm, struct kvm_vcpu *vcpu, uint64_t faults0,
		 uint64_t want_faults, int64_t want_1g)
{
	uint64_t faults = vcpu_stat(vcpu, "pf_fixed") - faults0;
	int64_t n4k = vm_stat(vm, "pages_4k") - base_4k;
	int64_t n2m = vm_stat(vm, "pages_2m") - base_2m;
	int64_t n1g = vm_stat(vm, "pages_1g");

	printf("TDP faults %lu; mappings 4K %ld, 2M %ld, 1G %ld; free 1G pages %ld\n",
	       faults, n4k, n2m, n1g, free_huge_pages(PG_SIZE_1G));
	TEST_ASSERT(faults == want_faults && !n4k && !n2m && n1g == want_1g,
		    "want %lu fault(s) and %ld 1G mapping(s), nothing smaller",
		    want_faults, want_1g);
}

#define SHARED_SIZE	(2 * PG_SIZE_1G)

/* Guest of the second walk: sync once mapped, then check the VMM's data. */
static void guest_check_code(void)
{
	uint64_t p;

	GUEST_SYNC(0);
	for (p = GPA; p < GPA + SHARED_SIZE; p += PAGE_SIZE)
		GUEST_ASSERT_2(READ_ONCE(*(uint64_t *)p) == (p ^ SEED), p,
			       READ_ONCE(*(uint64_t *)p));
	GUEST_DONE();
}

/*
 * A default VM whose 2 GiB come from one INIT_SHARED 1G guest_memfd and
 * nothing else: the VMM writes through its mapping (two PUD entries), the
 * memory is pre-faulted (two 1G TDP entries, no fault), the guest checks it.
 */
static void walk_shared(void)
{
	struct kvm_pre_fault_memory range = { .gpa = GPA, .size = SHARED_SIZE };
	long free0 = free_huge_pages(PG_SIZE_1G);
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint64_t faults0, p;
	char *map;
	int fd;

	printf("\nA guest_memfd-only guest on 1G pages, as an upstream 7.3 VMM plus one flag:\n");
	vm = vm_create_with_one_vcpu(&vcpu, guest_check_code);
	fd = vm_create_guest_memfd(vm, SHARED_SIZE, GUEST_MEMFD_HUGETLB_1GB |
				   GUEST_MEMFD_FLAG_MMAP |
				   GUEST_MEMFD_FLAG_INIT_SHARED);
	vm_set_user_memory_region2(vm, SLOT, KVM_MEM_GUEST_MEMFD, GPA,
				   SHARED_SIZE, NULL, fd, 0);
	for (p = GPA; p < GPA + SHARED_SIZE; p += PG_SIZE_1G)
		__virt_pg_map(vm, p, p, PG_LEVEL_1G);
	printf("    KVM_CREATE_GUEST_MEMFD(2 GiB, 1GB | MMAP | INIT_SHARED) on a default VM,\n"
	       "    KVM_SET_USER_MEMORY_REGION2(KVM_MEM_GUEST_MEMFD, gpa 4 GiB,\n"
	       "                                no userspace_addr)\n");

	map = mmap(NULL, SHARED_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	TEST_ASSERT(map != MAP_FAILED, "mmap: %s", strerror(errno));
	for (p = 0; p < SHARED_SIZE; p += PAGE_SIZE)
		*(uint64_t *)(map + p) = (GPA + p) ^ SEED;
	printf("    VMM writes 2 GiB through mmap():   host page size %lu MiB; ",
	       mapping_page_size(map) >> 20);
	printf("free 1G pages %ld -> %ld\n", free0, free_huge_pages(PG_SIZE_1G));
	TEST_ASSERT(mapping_page_size(map) == PG_SIZE_1G, "host mapping");
	TEST_ASSERT(free_huge_pages(PG_SIZE_1G) == free0 - 2, "pool");

	pre_fault_guest_itself(vm, vcpu);
	vcpu_run_to_ucall(vcpu, UCALL_SYNC);
	base_4k = vm_stat(vm, "pages_4k");
	base_2m = vm_stat(vm, "pages_2m");
	faults0 = vcpu_stat(vcpu, "pf_fixed");
	TEST_ASSERT(!ioctl(vcpu->fd, KVM_PRE_FAULT_MEMORY, &range) && !range.size,
		    "KVM_PRE_FAULT_MEMORY: %s, %llu left", strerror(errno),
		    range.size);
	printf("    KVM_PRE_FAULT_MEMORY(2 GiB):       ");
	show(vm, vcpu, faults0, 0, 2);

	faults0 = vcpu_stat(vcpu, "pf_fixed");
	vcpu_run_to_ucall(vcpu, UCALL_DONE);
	printf("    guest reads the VMM's 2 GiB:       ");
	show(vm, vcpu, faults0, 0, 2);
	printf("    every page as the VMM wrote it; free 1G pages %ld: nothing else allocated\n",
	       free_huge_pages(PG_SIZE_1G));
	TEST_ASSERT(free_huge_pages(PG_SIZE_1G) == free0 - 2, "pool");

	munmap(map, SHARED_SIZE);
	close(fd);
	kvm_vm_free(vm);
	TEST_ASSERT(free_huge_pages(PG_SIZE_1G) == free0, "pool after close");
	printf("    close: free 1G pages back to %ld\n", free_huge_pages(PG_SIZE_1G));
}

int main(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	long free0;
	uint64_t faults0;
	struct stat st;
	int fd;

	TEST_REQUIRE(kvm_check_cap(KVM_CAP_GUEST_MEMFD));
	free0 = free_huge_pages(PG_SIZE_1G);
	TEST_REQUIRE(free0 >= 1);

	printf("1G pages through guest_memfd, as an upstream VMM plus one flag:\n");
	vm = vm_create_sw_protected_with_one_vcpu(&vcpu, 64, guest_code);
	fd = vm_create_guest_memfd(vm, SIZE, GUEST_MEMFD_HUGETLB_1GB);
	TEST_ASSERT(!fstat(fd, &st), "fstat: %s", strerror(errno));
	printf("    KVM_CREATE_GUEST_MEMFD(1 GiB, GUEST_MEMFD_HUGETLB_1GB):\n");
	printf("        st_blksize %ld MiB, nothing allocated (free 1G pages %ld)\n",
	       (long)st.st_blksize >> 20, free_huge_pages(PG_SIZE_1G));
	vm_add_private_memslot(vm, SLOT, GPA, SIZE, fd, 0);
	vm_mem_set_private(vm, GPA, SIZE);
	printf("    KVM_SET_USER_MEMORY_REGION2(KVM_MEM_GUEST_MEMFD, gpa 4 GiB),\n");
	printf("    KVM_SET_MEMORY_ATTRIBUTES(PRIVATE)\n");

	pre_fault_guest_itself(vm, vcpu);
	vcpu_run_to_ucall(vcpu, UCALL_SYNC);
	base_4k = vm_stat(vm, "pages_4k");
	base_2m = vm_stat(vm, "pages_2m");

	/* The guest's first touch fills the hole: one 1G page, one mapping. */
	faults0 = vcpu_stat(vcpu, "pf_fixed");
	vcpu_run_to_ucall(vcpu, UCALL_SYNC);
	printf("    guest writes 1 GiB:                ");
	show(vm, vcpu, faults0, 1, 1);
	TEST_ASSERT(free_huge_pages(PG_SIZE_1G) == free0 - 1, "pool");

	faults0 = vcpu_stat(vcpu, "pf_fixed");
	TEST_ASSERT(!fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
			       HOLE, PAGE_SIZE), "punch: %s", strerror(errno));
	printf("    punch 4K at +512 MiB:              ");
	show(vm, vcpu, faults0, 0, 0);
	TEST_ASSERT(free_huge_pages(PG_SIZE_1G) == free0 - 1,
		    "a 4K punch keeps the 1G page");

	faults0 = vcpu_stat(vcpu, "pf_fixed");
	vcpu_run_to_ucall(vcpu, UCALL_DONE);
	printf("    guest reads it all back:           ");
	show(vm, vcpu, faults0, 1, 1);
	printf("    the punched 4K read zeros, every other page its data; mapped huge again\n");

	close(fd);
	kvm_vm_free(vm);
	TEST_ASSERT(free_huge_pages(PG_SIZE_1G) == free0, "pool after close");
	printf("    close: free 1G pages back to %ld\n", free_huge_pages(PG_SIZE_1G));

	if (free_huge_pages(PG_SIZE_1G) < 2) {
		printf("\n(the guest_memfd-only walk needs two free 1G pages)\n");
		return KSFT_SKIP;
	}
	walk_shared();
	return 0;
}
