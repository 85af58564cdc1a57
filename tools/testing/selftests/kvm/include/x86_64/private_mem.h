/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers for tests of private memory in software-protected VMs:
 * KVM_SET_USER_MEMORY_REGION2 with KVM_MEM_PRIVATE, KVM_SET_MEMORY_ATTRIBUTES,
 * and the KVM_HC_MAP_GPA_RANGE conversion loop.
 */
#ifndef SELFTEST_KVM_PRIVATE_MEM_H
#define SELFTEST_KVM_PRIVATE_MEM_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm_util.h"

/* memfd_create() flag of an inaccessible memfd, if libc lacks it. */
#ifndef MFD_INACCESSIBLE
#define MFD_INACCESSIBLE	0x0020U
#endif

/*
 * A memfd whose memory host userspace cannot touch: @page_size 0 for shmem
 * (4K), else a hugetlb page size (2M, 1G).  Sized to @size bytes.
 */
int memfd_private_create(uint64_t size, uint64_t page_size);

/* KVM_CREATE_GUEST_MEMFD flags for memory of @page_size (0: 4K shmem). */
uint64_t guest_memfd_flags(uint64_t page_size);

/* KVM_CREATE_GUEST_MEMFD on @vm: the fd, or -1 with errno. */
int __vm_create_guest_memfd(struct kvm_vm *vm, uint64_t size, uint64_t flags);
int vm_create_guest_memfd(struct kvm_vm *vm, uint64_t size, uint64_t flags);

/*
 * The file of a private memslot of @vm: a guest_memfd if @guest_memfd, else
 * an inaccessible memfd; of @page_size as for memfd_private_create().
 */
int private_file_create(struct kvm_vm *vm, bool guest_memfd, uint64_t size,
			uint64_t page_size);

/* The number in the sysfs (or procfs) file at @path; -1 if unreadable. */
long read_sysfs_long(const char *path);

/*
 * The page size the host maps @addr of this process with (KernelPageSize
 * in /proc/self/smaps), in bytes; 0 if not mapped.
 */
uint64_t mapping_page_size(void *addr);

/*
 * Run @vcpu to its next ucall and fail unless it is @want; a failed guest
 * assertion is reported with its two values as "gpa 0x%lx read 0x%lx".
 */
void vcpu_run_to_ucall(struct kvm_vcpu *vcpu, uint64_t want);

/*
 * A counter of the huge page pool of @page_size (2M, 1G) from sysfs:
 * @what is "free_hugepages", "resv_hugepages", ...; -1 if unreadable.
 */
long hugepage_pool_value(uint64_t page_size, const char *what);

/* The vCPU statistic @name ("pf_fixed", "exits", ...); fails if unknown. */
uint64_t vcpu_stat(struct kvm_vcpu *vcpu, const char *name);

/* Write @value to the pool's sysfs file @what ("nr_hugepages"); 0 or -errno. */
int hugepage_pool_set(uint64_t page_size, const char *what, long value);

static inline long free_huge_pages(uint64_t page_size)
{
	return hugepage_pool_value(page_size, "free_hugepages");
}

/* KVM_CREATE_VM of type KVM_X86_SW_PROTECTED_VM, else as the non-'sw' ones. */
struct kvm_vm *vm_create_sw_protected_with_one_vcpu(struct kvm_vcpu **vcpu,
						    uint64_t extra_mem_pages,
						    void *guest_code);

int __vm_set_user_memory_region2(struct kvm_vm *vm, uint32_t slot,
				 uint32_t flags, uint64_t gpa, uint64_t size,
				 void *hva, uint32_t private_fd,
				 uint64_t private_offset);
void vm_set_user_memory_region2(struct kvm_vm *vm, uint32_t slot,
				uint32_t flags, uint64_t gpa, uint64_t size,
				void *hva, uint32_t private_fd,
				uint64_t private_offset);

/*
 * A private memslot whose shared half is fresh anonymous memory (returned)
 * and whose private half is [@private_offset, +@size) of @private_fd.  GVAs
 * equal to the GPAs map the 1G-aligned range around it in the guest, with
 * guest 1G pages.
 */
void *vm_add_private_memslot(struct kvm_vm *vm, uint32_t slot, uint64_t gpa,
			     uint64_t size, int private_fd,
			     uint64_t private_offset);

int __vm_set_memory_attributes(struct kvm_vm *vm, uint64_t gpa, uint64_t size,
			       uint64_t attributes, uint64_t flags);
void vm_set_memory_attributes(struct kvm_vm *vm, uint64_t gpa, uint64_t size,
			      uint64_t attributes);

static inline void vm_mem_set_private(struct kvm_vm *vm, uint64_t gpa,
				      uint64_t size)
{
	vm_set_memory_attributes(vm, gpa, size, KVM_MEMORY_ATTRIBUTE_PRIVATE);
}

static inline void vm_mem_set_shared(struct kvm_vm *vm, uint64_t gpa,
				     uint64_t size)
{
	vm_set_memory_attributes(vm, gpa, size, 0);
}

/* Guest: ask the host to make [gpa, +size) private or shared. */
void guest_map_private(uint64_t gpa, uint64_t size);
void guest_map_shared(uint64_t gpa, uint64_t size);

/*
 * Host: let the guest's KVM_HC_MAP_GPA_RANGE hypercalls exit to userspace
 * (needed once per VM before vcpu_run_serving_conversions()).
 */
void vm_enable_conversion_exits(struct kvm_vm *vm);

/*
 * Run @vcpu, serving its KVM_HC_MAP_GPA_RANGE requests with
 * KVM_SET_MEMORY_ATTRIBUTES, until any other exit; return KVM_RUN's result
 * (errno set when negative).  Counts conversions in *@nr_conversions if
 * not NULL.
 */
int vcpu_run_serving_conversions(struct kvm_vcpu *vcpu,
				 uint64_t *nr_conversions);

/* A VM statistic (pages_4k, pages_2m, pages_1g, ...) as a signed count. */
static inline int64_t vm_stat(struct kvm_vm *vm, const char *name)
{
	return (int64_t)vm_get_stat(vm, name);
}

/*
 * In a kselftest_harness.h test: @_call must fail (return -1) with errno
 * @_err.
 */
#define EXPECT_ERRNO(_err, _call)					\
	do {								\
		errno = 0;						\
		EXPECT_EQ(-1, _call);					\
		EXPECT_EQ(_err, errno);					\
	} while (0)

#endif /* SELFTEST_KVM_PRIVATE_MEM_H */
