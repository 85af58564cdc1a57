// SPDX-License-Identifier: GPL-2.0-only
/*
 * The mapping levels memory attributes allow: a huge page whose GFNs are
 * not all private, or not all shared, is "mixed" and maps small.  Mixed is
 * a flag in the lpage_info counts, set when a memslot is created and
 * updated when attributes change.
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
 * kvm_arch_post_set_memory_attributes - recompute mixed huge pages
 * @kvm:	the VM
 * @slot:	a memslot that [@start, @end) intersects
 * @start:	first GFN whose attributes changed
 * @end:	GFN after the last
 *
 * x86's version of the hook in virt/kvm/memory_attributes.c, with the same
 * context: slots_lock and mmu_lock (write) held, inside an invalidation of
 * the huge pages around the range.
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
