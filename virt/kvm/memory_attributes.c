// SPDX-License-Identifier: GPL-2.0-only
/*
 * Memory attributes of KVM guests: KVM_MEMORY_ATTRIBUTE_* per GFN, set with
 * KVM_SET_MEMORY_ATTRIBUTES and stored by range in a maple tree.
 *
 * See Documentation/virt/kvm/api.rst (KVM_SET_MEMORY_ATTRIBUTES).
 */

#include <linux/kvm_host.h>
#include <linux/maple_tree.h>

#include "kvm_mm.h"

/*
 * A fault and the mapping level it picks depend on the attributes of the
 * whole huge page around the GFN, so an attribute change invalidates the
 * largest huge page around the range it changes.
 */
#define KVM_ATTR_INVALIDATE_PAGES	KVM_PAGES_PER_HPAGE(KVM_MAX_HUGEPAGE_LEVEL)

/**
 * kvm_mem_attributes_init_vm - set up a new VM's attribute tree
 * @kvm:	the VM being created
 *
 * Called by kvm_create_vm().
 */
void kvm_mem_attributes_init_vm(struct kvm *kvm)
{
	/*
	 * Readers (every fault of the VM) walk it under RCU, without its
	 * spinlock, which only writers take; kvm_mem_attributes_destroy_vm()
	 * says why none is left when the tree goes.
	 */
	mt_init_flags(&kvm->mem_attr_tree, MT_FLAGS_USE_RCU);
}

/**
 * kvm_mem_attributes_destroy_vm - free a VM's attribute tree
 * @kvm:	the VM being destroyed
 *
 * Called by kvm_destroy_vm() before the MMU is torn down.  The tree's
 * readers hold no reference of their own, so each must be gone first:
 * vCPUs (faults, KVM's own accesses) and ioctls hold a reference to the
 * VM, as do async page fault workers; the MMU notifier, whose handlers
 * read attributes under mmu_lock, was unregistered just before, which
 * waits for handlers in flight; backing store callbacks never read
 * attributes.  The tree is still in RCU mode, so its nodes are freed
 * after a grace period all the same.
 */
void kvm_mem_attributes_destroy_vm(struct kvm *kvm)
{
	mtree_destroy(&kvm->mem_attr_tree);
}

/**
 * kvm_supported_mem_attributes - KVM_MEMORY_ATTRIBUTE_* a VM can set
 * @kvm:	the VM, or NULL for what the VM types with private memory support
 *
 * Return: the mask KVM_CHECK_EXTENSION(KVM_CAP_MEMORY_ATTRIBUTES) reports.
 */
unsigned long kvm_supported_mem_attributes(struct kvm *kvm)
{
	if (!kvm || kvm_arch_has_private_mem(kvm))
		return KVM_MEMORY_ATTRIBUTE_PRIVATE;
	return 0;
}

/**
 * kvm_get_memory_attributes - the attributes of one GFN
 * @kvm:	the VM
 * @gfn:	the GFN
 *
 * Lockless (RCU), from any context that may take rcu_read_lock(); the
 * caller orders the result against changes with mmu_invalidate_retry_gfn()
 * under mmu_lock, or holds slots_lock.
 *
 * Return: KVM_MEMORY_ATTRIBUTE_* of @gfn, 0 if none was set.
 */
unsigned long kvm_get_memory_attributes(struct kvm *kvm, gfn_t gfn)
{
	MA_STATE(mas, &kvm->mem_attr_tree, gfn, gfn);
	void *entry;

	rcu_read_lock();
	entry = mas_walk(&mas);
	rcu_read_unlock();
	return entry ? xa_to_value(entry) : 0;
}

/**
 * kvm_range_has_memory_attributes - do all GFNs of a range have @attrs?
 * @kvm:	the VM
 * @start:	first GFN
 * @end:	GFN after the last; greater than @start
 * @attrs:	the attributes every GFN must have, exactly
 *
 * Walks the ranges stored in the tree, not the GFNs, so the cost does not
 * grow with the size of the range.  Locking as kvm_get_memory_attributes().
 *
 * Return: true if every GFN in [@start, @end) has exactly @attrs.
 */
bool kvm_range_has_memory_attributes(struct kvm *kvm, gfn_t start, gfn_t end,
				     unsigned long attrs)
{
	MA_STATE(mas, &kvm->mem_attr_tree, start, start);
	void *want = attrs ? xa_mk_value(attrs) : NULL;
	bool uniform = false;

	rcu_read_lock();
	while (mas_walk(&mas) == want) {
		if (mas.last >= end - 1) {
			uniform = true;
			break;
		}
		mas_set(&mas, mas.last + 1);
	}
	rcu_read_unlock();
	return uniform;
}

/**
 * kvm_arch_post_set_memory_attributes - attributes of a range changed
 * @kvm:	the VM
 * @slot:	a memslot that [@start, @end) intersects
 * @start:	first GFN whose attributes changed
 * @end:	GFN after the last
 *
 * Called by KVM_SET_MEMORY_ATTRIBUTES with slots_lock and mmu_lock (write)
 * held, inside an invalidation of the huge pages around the range, after
 * the range's mappings were zapped and its attributes stored.  For
 * architectures whose mapping levels depend on attributes; the default
 * does nothing.
 */
void __weak kvm_arch_post_set_memory_attributes(struct kvm *kvm,
						struct kvm_memory_slot *slot,
						gfn_t start, gfn_t end)
{
}

/*
 * Run @handler on the part of [start, end) in each memslot, of every address
 * space, that the range intersects; OR what it returns.  Called with
 * slots_lock held, which keeps the memslots stable.
 */
static bool kvm_handle_gfn_range_all_slots(struct kvm *kvm, gfn_t start,
					   gfn_t end,
					   bool (*handler)(struct kvm *kvm,
							   struct kvm_gfn_range *range))
{
	struct kvm_memslot_iter iter;
	bool ret = false;
	int i;

	lockdep_assert_held(&kvm->slots_lock);
	for (i = 0; i < KVM_ADDRESS_SPACE_NUM; i++) {
		kvm_for_each_memslot_in_gfn_range(&iter, __kvm_memslots(kvm, i),
						  start, end) {
			struct kvm_memory_slot *slot = iter.slot;
			struct kvm_gfn_range range = {
				.slot = slot,
				.start = max(start, slot->base_gfn),
				.end = min(end, slot->base_gfn + slot->npages),
				.pte = __pte(0),
				.may_block = true,
			};

			ret |= handler(kvm, &range);
		}
	}
	return ret;
}

static bool kvm_post_set_memory_attributes(struct kvm *kvm,
					   struct kvm_gfn_range *range)
{
	kvm_arch_post_set_memory_attributes(kvm, range->slot, range->start,
					    range->end);
	return false;
}

/*
 * gfn-to-pfn caches (kvmclock, ...) map their page through userspace_addr,
 * which stops or starts being the guest's memory when a GFN is converted:
 * those on converted GFNs must look their page up again.  Runs without
 * mmu_lock: it takes the caches' locks.
 */
static bool kvm_invalidate_pfn_caches(struct kvm *kvm,
				      struct kvm_gfn_range *range)
{
	unsigned long hva = __gfn_to_hva_memslot(range->slot, range->start);

	gfn_to_pfn_cache_invalidate_start(kvm, hva,
					  hva + ((range->end - range->start) << PAGE_SHIFT),
					  true);
	return false;
}

static int kvm_set_memory_attributes(struct kvm *kvm, gfn_t start, gfn_t end,
				     unsigned long attrs)
{
	gfn_t inval_start = round_down(start, KVM_ATTR_INVALIDATE_PAGES);
	gfn_t inval_end = round_up(end, KVM_ATTR_INVALIDATE_PAGES);
	void *entry = attrs ? xa_mk_value(attrs) : NULL;
	int r = 0;

	mutex_lock(&kvm->slots_lock);
	if (kvm_range_has_memory_attributes(kvm, start, end, attrs))
		goto out_unlock;

	/*
	 * Faults around the range retry from here until the new attributes
	 * and the mapping levels they allow are in place.
	 */
	KVM_MMU_LOCK(kvm);
	kvm_mmu_invalidate_begin_gfn(kvm, inval_start, inval_end);
	if (kvm_handle_gfn_range_all_slots(kvm, start, end,
					   kvm_unmap_gfn_range))
		kvm_flush_remote_tlbs(kvm);
	KVM_MMU_UNLOCK(kvm);

	/* One range store: the attributes change all at once or not at all. */
	r = mtree_store_range(&kvm->mem_attr_tree, start, end - 1, entry,
			      GFP_KERNEL_ACCOUNT);
	if (!r)
		kvm_handle_gfn_range_all_slots(kvm, start, end,
					       kvm_invalidate_pfn_caches);

	KVM_MMU_LOCK(kvm);
	if (!r)
		kvm_handle_gfn_range_all_slots(kvm, start, end,
					       kvm_post_set_memory_attributes);
	kvm_mmu_invalidate_end_gfn(kvm);
	KVM_MMU_UNLOCK(kvm);

out_unlock:
	mutex_unlock(&kvm->slots_lock);
	return r;
}

/**
 * kvm_vm_ioctl_set_memory_attributes - KVM_SET_MEMORY_ATTRIBUTES
 * @kvm:	the VM
 * @attrs:	the range and the attributes it gets, copied from userspace
 *
 * Return: 0 when every GFN of the range has the attributes, -EINVAL for
 * nonzero flags, unsupported attributes, or an empty, unaligned or wrapping
 * range, -ENOMEM when the attributes could not be stored (then none
 * changed).
 */
int kvm_vm_ioctl_set_memory_attributes(struct kvm *kvm,
				       const struct kvm_memory_attributes *attrs)
{
	BUILD_BUG_ON(sizeof(attrs->address) != sizeof(unsigned long));

	if (attrs->flags)
		return -EINVAL;
	if (attrs->attributes & ~kvm_supported_mem_attributes(kvm))
		return -EINVAL;
	if (!attrs->size || !PAGE_ALIGNED(attrs->address) ||
	    !PAGE_ALIGNED(attrs->size))
		return -EINVAL;
	if (attrs->address + attrs->size < attrs->address)
		return -EINVAL;

	return kvm_set_memory_attributes(kvm, gpa_to_gfn(attrs->address),
					 gpa_to_gfn(attrs->address + attrs->size),
					 attrs->attributes);
}
