// SPDX-License-Identifier: GPL-2.0-only
/*
 * Faults on the private memory of software-protected VMs.
 *
 * A private GFN maps the page its memslot's file has at the GFN's index; the
 * TDP MMU maps it as large as three things allow: the block the file has
 * there (a 2M or 1G hugetlb page), the congruence of GFNs and file indexes,
 * and the attributes (see mixed_hugepages.c).
 */

#include <linux/kvm_host.h>

#include "mmu.h"
#include "mmu_internal.h"

/* The largest level at which @gfn and @index are congruent. */
static int level_for_alignment(gfn_t gfn, u64 index)
{
	int level;

	for (level = KVM_MAX_HUGEPAGE_LEVEL; level > PG_LEVEL_4K; level--)
		if (!((gfn ^ index) & (KVM_PAGES_PER_HPAGE(level) - 1)))
			break;
	return level;
}

/* The largest level a block of 2^@order pages can be mapped at. */
static int level_for_order(int order)
{
	int level;

	for (level = KVM_MAX_HUGEPAGE_LEVEL; level > PG_LEVEL_4K; level--)
		if (order >= KVM_HPAGE_GFN_SHIFT(level))
			break;
	return level;
}

/**
 * kvm_mmu_limit_shared_level - cap a shared fault in a private memslot
 * @fault:	a fault on a shared GFN of a KVM_MEM_PRIVATE memslot
 *
 * The lpage_info of a private memslot does not forbid huge pages when
 * userspace_addr is not congruent with the GFNs, since that does not matter
 * to private GFNs; shared GFNs honour it here instead.
 */
void kvm_mmu_limit_shared_level(struct kvm_page_fault *fault)
{
	const struct kvm_memory_slot *slot = fault->slot;
	int level = level_for_alignment(slot->base_gfn,
					slot->userspace_addr >> PAGE_SHIFT);

	fault->max_level = min_t(int, fault->max_level, level);
}

/**
 * kvm_faultin_pfn_private - look up the PFN of a GFN that maps its memslot's file
 * @vcpu:	the faulting vCPU
 * @fault:	the fault; its GFN has KVM_MEMORY_ATTRIBUTE_PRIVATE, or its
 *		memslot is gmem-only (every GFN shared and backed by the file)
 *
 * Called by kvm_faultin_pfn() before mmu_lock is taken.  On success the
 * PFN holds a reference, dropped after mapping with kvm_private_mem_put_pfn().
 *
 * Return: RET_PF_CONTINUE, or a negative errno for KVM_RUN with the exit
 * reason set to KVM_EXIT_MEMORY_FAULT (private for a private GFN): -EFAULT
 * if a private GFN has no private backing (its memslot is not private, or
 * the fault is from a nested guest), else the error of the backing store.
 * Never a retry: an empty huge page pool must reach userspace, not spin the
 * vCPU.
 */
int kvm_faultin_pfn_private(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	struct kvm_memory_slot *slot = fault->slot;
	bool gmem_only = kvm_slot_is_gmem_only(slot);
	int order, level, r;

	fault->from_memfile = true;
	/*
	 * Shared memory may reach a nested guest as any other does; private
	 * memory only through the TDP MMU, which tracks mixed attributes.
	 */
	r = -EFAULT;
	if (!gmem_only && (!fault->is_tdp || !kvm_slot_can_be_private(slot)))
		goto out_memory_fault;

	r = kvm_private_mem_get_pfn(slot, fault->gfn, &fault->pfn, &order);
	if (r)
		goto out_memory_fault;

	level = min(level_for_order(order),
		    level_for_alignment(slot->base_gfn,
					kvm_private_mem_slot_pgoff(slot)));
	fault->max_level = min_t(int, fault->max_level, level);
	fault->map_writable = true;
	fault->hva = KVM_HVA_ERR_BAD;
	return RET_PF_CONTINUE;

out_memory_fault:
	kvm_prepare_memory_fault_exit(vcpu, gfn_to_gpa(fault->gfn), PAGE_SIZE,
				      !gmem_only);
	return r;
}
