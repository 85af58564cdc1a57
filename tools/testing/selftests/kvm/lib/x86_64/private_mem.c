// SPDX-License-Identifier: GPL-2.0-only
/*
 * Private memory of software-protected VMs: see include/x86_64/private_mem.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm_para.h>
#include <linux/memfd.h>

#include "kvm_util.h"
#include "processor.h"
#include "private_mem.h"

int memfd_private_create(uint64_t size, uint64_t page_size)
{
	unsigned int flags = MFD_INACCESSIBLE;
	int fd;

	switch (page_size) {
	case 0:
		break;
	case PG_SIZE_2M:
		flags |= MFD_HUGETLB | MFD_HUGE_2MB;
		break;
	case PG_SIZE_1G:
		flags |= MFD_HUGETLB | MFD_HUGE_1GB;
		break;
	default:
		TEST_FAIL("no private memfd of page size 0x%lx", page_size);
	}

	fd = memfd_create("kvm_private_mem", flags);
	TEST_ASSERT(fd >= 0, "memfd_create(MFD_INACCESSIBLE | 0x%x): %s",
		    flags & ~MFD_INACCESSIBLE, strerror(errno));
	TEST_ASSERT(!ftruncate(fd, size), "ftruncate(%lu): %s", size,
		    strerror(errno));
	return fd;
}

uint64_t guest_memfd_flags(uint64_t page_size)
{
	switch (page_size) {
	case 0:
		return 0;
	case PG_SIZE_2M:
		return GUEST_MEMFD_HUGETLB_2MB;
	case PG_SIZE_1G:
		return GUEST_MEMFD_HUGETLB_1GB;
	}
	TEST_FAIL("no guest_memfd of page size 0x%lx", page_size);
	return 0;
}

int __vm_create_guest_memfd(struct kvm_vm *vm, uint64_t size, uint64_t flags)
{
	struct kvm_create_guest_memfd args = {
		.size = size,
		.flags = flags,
	};

	return ioctl(vm->fd, KVM_CREATE_GUEST_MEMFD, &args);
}

int vm_create_guest_memfd(struct kvm_vm *vm, uint64_t size, uint64_t flags)
{
	int fd = __vm_create_guest_memfd(vm, size, flags);

	TEST_ASSERT(fd >= 0, "KVM_CREATE_GUEST_MEMFD(size 0x%lx, flags 0x%lx): %s",
		    size, flags, strerror(errno));
	return fd;
}

int private_file_create(struct kvm_vm *vm, bool guest_memfd, uint64_t size,
			uint64_t page_size)
{
	if (guest_memfd)
		return vm_create_guest_memfd(vm, size,
					     guest_memfd_flags(page_size));
	return memfd_private_create(size, page_size);
}

/* The sysfs file @what of the huge page pool of @page_size. */
static FILE *hugepage_pool_open(uint64_t page_size, const char *what,
				const char *mode)
{
	char path[112];

	snprintf(path, sizeof(path),
		 "/sys/kernel/mm/hugepages/hugepages-%lukB/%s",
		 page_size >> 10, what);
	return fopen(path, mode);
}

static long fread_long(FILE *f)
{
	long val = -1;

	if (f) {
		if (fscanf(f, "%ld", &val) != 1)
			val = -1;
		fclose(f);
	}
	return val;
}

long read_sysfs_long(const char *path)
{
	return fread_long(fopen(path, "r"));
}

uint64_t mapping_page_size(void *addr)
{
	unsigned long start, end, kb;
	uint64_t size = 0;
	bool in = false;
	char line[256];
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in = start <= (unsigned long)addr &&
			     (unsigned long)addr < end;
		else if (in && sscanf(line, "KernelPageSize: %lu kB", &kb) == 1)
			size = kb << 10;
	}
	fclose(f);
	return size;
}

long hugepage_pool_value(uint64_t page_size, const char *what)
{
	return fread_long(hugepage_pool_open(page_size, what, "r"));
}

void vcpu_run_to_ucall(struct kvm_vcpu *vcpu, uint64_t want)
{
	struct ucall uc;

	vcpu_run(vcpu);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT_2(uc, "gpa 0x%lx read 0x%lx");
		break;
	default:
		TEST_ASSERT(uc.cmd == want, "ucall %lu, want %lu, exit %u (%s)",
			    uc.cmd, want, vcpu->run->exit_reason,
			    exit_reason_str(vcpu->run->exit_reason));
	}
}

int hugepage_pool_set(uint64_t page_size, const char *what, long value)
{
	FILE *f = hugepage_pool_open(page_size, what, "w");
	int ret = 0;

	if (!f)
		return -errno;
	if (fprintf(f, "%ld", value) < 0)
		ret = -errno;
	/* sysfs reports a refused write when the buffer is flushed. */
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

uint64_t vcpu_stat(struct kvm_vcpu *vcpu, const char *name)
{
	struct kvm_stats_desc *descs, *desc;
	struct kvm_stats_header header;
	int fd = vcpu_get_stats_fd(vcpu);
	bool found = false;
	uint64_t val = 0;
	int i;

	read_stats_header(fd, &header);
	descs = read_stats_descriptors(fd, &header);
	for (i = 0; i < header.num_desc && !found; i++) {
		desc = get_stats_descriptor(descs, i, &header);
		found = !strcmp(desc->name, name);
		if (found)
			read_stat_data(fd, &header, desc, &val, 1);
	}
	free(descs);
	close(fd);
	TEST_ASSERT(found, "no vCPU statistic %s", name);
	return val;
}

struct kvm_vm *vm_create_sw_protected_with_one_vcpu(struct kvm_vcpu **vcpu,
						    uint64_t extra_mem_pages,
						    void *guest_code)
{
	struct kvm_vm *vm;

	TEST_REQUIRE(kvm_check_cap(KVM_CAP_VM_TYPES) &
		     BIT(KVM_X86_SW_PROTECTED_VM));

	vm_type_default = KVM_X86_SW_PROTECTED_VM;
	vm = __vm_create_with_one_vcpu(vcpu, extra_mem_pages, guest_code);
	vm_type_default = KVM_X86_DEFAULT_VM;
	return vm;
}

int __vm_set_user_memory_region2(struct kvm_vm *vm, uint32_t slot,
				 uint32_t flags, uint64_t gpa, uint64_t size,
				 void *hva, uint32_t private_fd,
				 uint64_t private_offset)
{
	struct kvm_userspace_memory_region2 region = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
		.private_fd = private_fd,
		.private_offset = private_offset,
	};

	return ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION2, &region);
}

void vm_set_user_memory_region2(struct kvm_vm *vm, uint32_t slot,
				uint32_t flags, uint64_t gpa, uint64_t size,
				void *hva, uint32_t private_fd,
				uint64_t private_offset)
{
	int r = __vm_set_user_memory_region2(vm, slot, flags, gpa, size, hva,
					     private_fd, private_offset);

	TEST_ASSERT(!r, KVM_IOCTL_ERROR(KVM_SET_USER_MEMORY_REGION2, r));
}

void *vm_add_private_memslot(struct kvm_vm *vm, uint32_t slot, uint64_t gpa,
			     uint64_t size, int private_fd,
			     uint64_t private_offset)
{
	uint64_t offset;
	void *shared;

	shared = mmap(NULL, size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	TEST_ASSERT(shared != MAP_FAILED, "mmap(%lu): %s", size,
		    strerror(errno));

	vm_set_user_memory_region2(vm, slot, KVM_MEM_PRIVATE, gpa, size,
				   shared, private_fd, private_offset);

	/*
	 * Identity GVA == GPA with guest 1G pages: their entries live in the
	 * page-table page that already maps low memory, so the first private
	 * access adds no guest page-table page (and no 4K mapping of one).
	 */
	for (offset = round_down(gpa, PG_SIZE_1G); offset < gpa + size;
	     offset += PG_SIZE_1G)
		__virt_pg_map(vm, offset, offset, PG_LEVEL_1G);
	return shared;
}

int __vm_set_memory_attributes(struct kvm_vm *vm, uint64_t gpa, uint64_t size,
			       uint64_t attributes, uint64_t flags)
{
	struct kvm_memory_attributes attrs = {
		.address = gpa,
		.size = size,
		.attributes = attributes,
		.flags = flags,
	};

	return ioctl(vm->fd, KVM_SET_MEMORY_ATTRIBUTES, &attrs);
}

void vm_set_memory_attributes(struct kvm_vm *vm, uint64_t gpa, uint64_t size,
			      uint64_t attributes)
{
	int r = __vm_set_memory_attributes(vm, gpa, size, attributes, 0);

	TEST_ASSERT(!r, KVM_IOCTL_ERROR(KVM_SET_MEMORY_ATTRIBUTES, r));
}

static void guest_map_gpa_range(uint64_t gpa, uint64_t size, uint64_t attrs)
{
	uint64_t r = kvm_hypercall(KVM_HC_MAP_GPA_RANGE, gpa, size / PAGE_SIZE,
				   attrs | KVM_MAP_GPA_RANGE_PAGE_SZ_4K, 0);

	GUEST_ASSERT_1(!r, r);
}

void guest_map_private(uint64_t gpa, uint64_t size)
{
	guest_map_gpa_range(gpa, size, KVM_MAP_GPA_RANGE_ENCRYPTED);
}

void guest_map_shared(uint64_t gpa, uint64_t size)
{
	guest_map_gpa_range(gpa, size, KVM_MAP_GPA_RANGE_DECRYPTED);
}

void vm_enable_conversion_exits(struct kvm_vm *vm)
{
	TEST_REQUIRE(kvm_check_cap(KVM_CAP_EXIT_HYPERCALL) &
		     BIT(KVM_HC_MAP_GPA_RANGE));
	vm_enable_cap(vm, KVM_CAP_EXIT_HYPERCALL, BIT(KVM_HC_MAP_GPA_RANGE));
}

int vcpu_run_serving_conversions(struct kvm_vcpu *vcpu,
				 uint64_t *nr_conversions)
{
	struct kvm_run *run = vcpu->run;
	int r;

	for (;;) {
		uint64_t gpa, size, attrs;

		r = __vcpu_run(vcpu);
		if (r || run->exit_reason != KVM_EXIT_HYPERCALL ||
		    run->hypercall.nr != KVM_HC_MAP_GPA_RANGE)
			return r;

		gpa = run->hypercall.args[0];
		size = run->hypercall.args[1] * PAGE_SIZE;
		attrs = run->hypercall.args[2] & KVM_MAP_GPA_RANGE_ENCRYPTED ?
			KVM_MEMORY_ATTRIBUTE_PRIVATE : 0;
		run->hypercall.ret = __vm_set_memory_attributes(vcpu->vm, gpa,
								size, attrs,
								0) ? -errno : 0;
		if (nr_conversions)
			(*nr_conversions)++;
	}
}
