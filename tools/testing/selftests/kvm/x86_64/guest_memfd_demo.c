// SPDX-License-Identifier: GPL-2.0-only
/*
 * guest_memfd_demo: one 1G guest_memfd through its life, as a VMM written
 * for upstream's guest_memfd ABI would use it, plus the one flag that asks
 * for 1G pages.  Prints each step with what the kernel reports (TDP
 * mappings per level, free 1G pages) and fails if a count is not the one
 * expected.  'make run' shows it; 'make check' runs it as a test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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
	return 0;
}
