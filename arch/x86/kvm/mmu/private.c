// SPDX-License-Identifier: GPL-2.0-only
/*
 * Faults on the private memory of software-protected VMs, and the mapping
 * levels memory attributes allow.
 *
 * A private GFN maps the page its memslot's file has at the GFN's index; the
 * TDP MMU maps it as large as three things allow: the block the file has
 * there (a 2M or 1G hugetlb page), the congruence of GFNs and file indexes,
 * and the attributes: a huge page whose GFNs are not all private, or not all
 * shared, is "mixed" and maps small.  Mixed is a flag in the lpage_info
 * counts, updated when attributes change.
 */

#include <linux/kvm_host.h>

#include "mmu.h"
#include "mmu_internal.h"

static struct kvm_lpage_info *lpage_info(const struct kvm_memory_slot *slot,
					 gfn_t gfn, int level)
{
	return &slot->arch.lpage_info[level - 2][gfn_to_index(gfn, slot->base_gfn,
							      level)];
}

static bool hugepage_test_mixed(const struct kvm_memory_slot *slot, gfn_t gfn,
				int level)
{
	return lpage_info(slot, gfn, level)->disallow_lpage & KVM_LPAGE_MIXED_FLAG;
}

static void hugepage_set_mixed(const struct kvm_memory_slot *slot, gfn_t gfn,
			       int level, bool mixed)
{
	struct kvm_lpage_info *linfo = lpage_info(slot, gfn, level);

	if (mixed)
		linfo->disallow_lpage |= KVM_LPAGE_MIXED_FLAG;
	else
		linfo->disallow_lpage &= ~KVM_LPAGE_MIXED_FLAG;
}

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

static int kvm_memory_fault_exit(struct kvm_vcpu *vcpu,
				 struct kvm_page_fault *fault, int err)
{
	struct kvm_run *run = vcpu->run;

	run->exit_reason = KVM_EXIT_MEMORY_FAULT;
	run->memory_fault.flags = fault->is_private ?
				  KVM_MEMORY_EXIT_FLAG_PRIVATE : 0;
	run->memory_fault.gpa = gfn_to_gpa(fault->gfn);
	run->memory_fault.size = PAGE_SIZE;
	return err;
}

/**
 * kvm_faultin_pfn_private - look up the PFN of a private GFN
 * @vcpu:	the faulting vCPU
 * @fault:	the fault; its GFN has KVM_MEMORY_ATTRIBUTE_PRIVATE
 *
 * Called by kvm_faultin_pfn() before mmu_lock is taken.  On success the
 * PFN holds a reference, dropped after mapping with kvm_private_mem_put_pfn().
 *
 * Return: RET_PF_CONTINUE, or a negative errno for KVM_RUN with the exit
 * reason set to KVM_EXIT_MEMORY_FAULT: -EFAULT if the GFN has no private
 * backing (its memslot is not private, or the fault is from a nested guest),
 * else the error of the backing store.  Never a retry: an empty huge page
 * pool must reach userspace, not spin the vCPU.
 */
int kvm_faultin_pfn_private(struct kvm_vcpu *vcpu, struct kvm_page_fault *fault)
{
	struct kvm_memory_slot *slot = fault->slot;
	int order, level, r;

	fault->is_private = true;
	if (!fault->is_tdp || !kvm_slot_can_be_private(slot))
		return kvm_memory_fault_exit(vcpu, fault, -EFAULT);

	r = kvm_private_mem_get_pfn(slot, fault->gfn, &fault->pfn, &order);
	if (r)
		return kvm_memory_fault_exit(vcpu, fault, r);

	level = min(level_for_order(order),
		    level_for_alignment(slot->base_gfn,
					kvm_private_mem_slot_pgoff(slot)));
	fault->max_level = min_t(int, fault->max_level, level);
	fault->map_writable = true;
	fault->hva = KVM_HVA_ERR_BAD;
	return RET_PF_CONTINUE;
}

/*
 * Whether all GFNs of the huge page at @gfn (aligned, inside @slot) have the
 * same attributes.  A 1G page is uniform when none of its 2M pages is mixed
 * and they all agree, so this must run for the lower level first.
 */
static bool hugepage_has_uniform_attrs(struct kvm *kvm,
				       const struct kvm_memory_slot *slot,
				       gfn_t gfn, int level)
{
	unsigned long attrs = kvm_get_memory_attributes(kvm, gfn);
	gfn_t nr_pages = KVM_PAGES_PER_HPAGE(level);
	gfn_t sub_pages, sub;

	if (level == PG_LEVEL_2M)
		return kvm_range_has_memory_attributes(kvm, gfn, gfn + nr_pages,
						       attrs);

	sub_pages = KVM_PAGES_PER_HPAGE(level - 1);
	for (sub = gfn; sub < gfn + nr_pages; sub += sub_pages)
		if (hugepage_test_mixed(slot, sub, level - 1) ||
		    kvm_get_memory_attributes(kvm, sub) != attrs)
			return false;
	return true;
}

/*
 * Recompute the mixed flag of every huge page of @slot that [start, end)
 * touches.  Huge pages that stick out of the slot are skipped: lpage_info
 * forbids them anyway.
 *
 * Nothing needs zapping when a huge page stops being mixed: the change
 * zapped the GFNs that made it mixed, and the next fault on one of them
 * maps the whole huge page, replacing the small mappings of its peers.
 */
static void update_mixed(struct kvm *kvm, struct kvm_memory_slot *slot,
			 gfn_t start, gfn_t end)
{
	gfn_t slot_end = slot->base_gfn + slot->npages;
	int level;

	start = max(start, slot->base_gfn);
	end = min(end, slot_end);

	for (level = PG_LEVEL_2M; level <= KVM_MAX_HUGEPAGE_LEVEL; level++) {
		gfn_t nr_pages = KVM_PAGES_PER_HPAGE(level);
		gfn_t gfn;

		for (gfn = round_down(start, nr_pages); gfn < end;
		     gfn += nr_pages) {
			if (gfn < slot->base_gfn || gfn + nr_pages > slot_end)
				continue;
			hugepage_set_mixed(slot, gfn, level,
					   !hugepage_has_uniform_attrs(kvm, slot,
								       gfn, level));
		}
	}
}

/**
 * kvm_arch_post_set_memory_attributes - attributes of a range changed
 * @kvm:	the VM
 * @slot:	a memslot that [@start, @end) intersects
 * @start:	first GFN whose attributes changed
 * @end:	GFN after the last
 *
 * Called by KVM_SET_MEMORY_ATTRIBUTES with slots_lock and mmu_lock (write)
 * held, inside an invalidation of the huge pages around the range, after the
 * range's mappings were zapped and its attributes stored.
 */
void kvm_arch_post_set_memory_attributes(struct kvm *kvm,
					 struct kvm_memory_slot *slot,
					 gfn_t start, gfn_t end)
{
	lockdep_assert_held_write(&kvm->mmu_lock);
	update_mixed(kvm, slot, start, end);
}

/**
 * kvm_mmu_init_memslot_attributes - mixed flags of a new memslot
 * @kvm:	a VM with private memory
 * @slot:	the memslot, its lpage_info just allocated, not yet visible
 *
 * Called from kvm_arch_prepare_memory_region() with slots_lock held, which
 * keeps the attributes stable.
 */
void kvm_mmu_init_memslot_attributes(struct kvm *kvm,
				     struct kvm_memory_slot *slot)
{
	lockdep_assert_held(&kvm->slots_lock);
	update_mixed(kvm, slot, slot->base_gfn, slot->base_gfn + slot->npages);
}

/**
 * kvm_emulate_private_begin - watch an emulation for private pages
 * @vcpu:	the vCPU about to emulate an instruction
 *
 * Called by x86_emulate_instruction() first.  From here on, KVM's accesses
 * through the vCPU that find a private GFN are refused and recorded (see
 * kvm_vcpu_gfn_to_shared_memslot()).
 */
void kvm_emulate_private_begin(struct kvm_vcpu *vcpu)
{
	vcpu->private_access_refused = INVALID_GPA;
}

/**
 * kvm_emulate_private_end - end KVM_RUN if an emulation needed private memory
 * @vcpu:	the vCPU that emulated an instruction
 * @r:		what the emulation returned: 1 to enter the guest again, 0 to
 *		exit to userspace, or a negative errno
 *
 * Called by x86_emulate_instruction() last.  The emulator reaches guest
 * memory through userspace_addr (to fetch the instruction, walk the guest's
 * page tables, read and write operands), which for a private GFN is not the
 * guest's memory.  Those accesses were refused; on its own the emulator
 * would take a refused operand for MMIO (and hand userspace the GPA of
 * private memory as an MMIO exit), queue a page fault for the guest, or
 * fail.  Instead, as for a private fault that cannot be served, KVM_RUN
 * fails with -EFAULT and KVM_EXIT_MEMORY_FAULT, flags
 * KVM_MEMORY_EXIT_FLAG_PRIVATE and the page's GPA.  Whatever the emulation
 * had queued (an exception, an MMIO or port I/O exit) is dropped, and the
 * guest's registers are as before the instruction (for a repeated string
 * instruction, as after its last completed iteration), which runs again on
 * the next KVM_RUN.
 *
 * Return: @r, or -EFAULT if an access was refused.
 */
int kvm_emulate_private_end(struct kvm_vcpu *vcpu, int r)
{
	gpa_t gpa = vcpu->private_access_refused;
	struct kvm_run *run = vcpu->run;

	if (likely(gpa == INVALID_GPA))
		return r;

	kvm_clear_exception_queue(vcpu);
	vcpu->mmio_needed = 0;
	vcpu->mmio_nr_fragments = 0;
	vcpu->arch.pio.count = 0;
	vcpu->arch.complete_userspace_io = NULL;

	run->exit_reason = KVM_EXIT_MEMORY_FAULT;
	run->memory_fault.flags = KVM_MEMORY_EXIT_FLAG_PRIVATE;
	run->memory_fault.gpa = gpa;
	run->memory_fault.size = PAGE_SIZE;
	return -EFAULT;
}
