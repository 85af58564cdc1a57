// SPDX-License-Identifier: GPL-2.0-only
/*
 * Private memslots: the private half of a KVM_MEM_PRIVATE memslot is a range
 * of a memfile (an inaccessible hugetlbfs or shmem memfd) that KVM consumes
 * through memfile_notifier.
 *
 * See Documentation/virt/kvm/api.rst (KVM_SET_USER_MEMORY_REGION2) and
 * Documentation/mm/memfile_notifier.rst.
 */

#include <linux/fs.h>
#include <linux/kvm_host.h>
#include <linux/maple_tree.h>
#include <linux/memfile_notifier.h>
#include <linux/slab.h>

#include "kvm_mm.h"

/*
 * What a private memslot consumes: a registration on the file, and where
 * the slot's first GFN lies in it.
 */
struct kvm_private_memslot {
	struct memfile_notifier notifier;
	struct kvm *kvm;
	/* The slot created with the binding; freed only after unbinding. */
	struct kvm_memory_slot *slot;
	/* The memfile; the registration holds it. */
	struct file *file;
	/* File index (PAGE_SIZE units) of slot->base_gfn. */
	pgoff_t pgoff;
	/*
	 * The slot has its arch metadata (rmaps, lpage_info), so its GFNs can
	 * be zapped.  Set under mmu_lock before the slot becomes visible;
	 * until then nothing can be mapped from it.
	 */
	bool prepared;
};

/* Owner identities of memfile registrations: one per VM, never reused. */
static atomic64_t kvm_private_mem_last_owner = ATOMIC64_INIT(0);

/**
 * kvm_private_mem_init_vm - give a new VM its owner identity
 * @kvm:	the VM being created
 *
 * Called by kvm_create_vm().
 */
void kvm_private_mem_init_vm(struct kvm *kvm)
{
	kvm->private_mem_owner = atomic64_inc_return(&kvm_private_mem_last_owner);
}

/**
 * kvm_private_mem_destroy_vm - unbind every private memslot of a VM
 * @kvm:	the VM being destroyed
 *
 * Called by kvm_destroy_vm() before the MMU is torn down: from here on no
 * backing store calls into this VM.  The memslots are freed later.
 */
void kvm_private_mem_destroy_vm(struct kvm *kvm)
{
	struct kvm_memory_slot *slot;
	int i, bkt;

	for (i = 0; i < KVM_ADDRESS_SPACE_NUM; i++)
		kvm_for_each_memslot(slot, bkt, __kvm_memslots(kvm, i))
			kvm_private_memslot_unbind(slot);
}

/**
 * kvm_handle_shared_gfn_range - run an MMU-notifier handler on shared GFNs
 * @kvm:	the VM
 * @range:	GFNs of a private memslot whose HVAs the primary MMU changes
 * @handler:	what the event does to their mappings (unmap, change_pte, age)
 *
 * The host's MMU notifier speaks of the shared half of a private memslot,
 * its userspace_addr; a private GFN maps the memslot's file instead, which
 * no such event concerns.  Letting it through would zap private mappings
 * that the private fault path, which ignores HVA invalidations, may be
 * installing again meanwhile, and change_pte would then point one at a
 * KSM page of the shared half.  So @handler sees only the runs of @range
 * without KVM_MEMORY_ATTRIBUTE_PRIVATE, and nothing of a gmem-only memslot,
 * whose GFNs all map the file.
 *
 * Called by __kvm_handle_hva_range() with mmu_lock held.  Attributes may
 * be changing, but harmlessly: a conversion zaps its range and holds faults
 * off by GFN under mmu_lock before it stores the new attributes, so
 * whichever it reads, nothing in a range being converted is mapped.
 *
 * Return: the results of @handler, ORed.
 */
bool kvm_handle_shared_gfn_range(struct kvm *kvm, struct kvm_gfn_range *range,
				 bool (*handler)(struct kvm *kvm,
						 struct kvm_gfn_range *range))
{
	struct kvm_gfn_range shared = *range;
	gfn_t gfn = range->start, next;
	bool ret = false;
	void *entry;

	if (kvm_slot_is_gmem_only(range->slot))
		return false;

	while (gfn < range->end) {
		MA_STATE(mas, &kvm->mem_attr_tree, gfn, gfn);

		rcu_read_lock();
		entry = mas_walk(&mas);
		rcu_read_unlock();
		/* mas.last ends the run of equal attributes around @gfn. */
		next = min_t(gfn_t, mas.last, range->end - 1) + 1;
		if (!entry ||
		    !(xa_to_value(entry) & KVM_MEMORY_ATTRIBUTE_PRIVATE)) {
			shared.start = gfn;
			shared.end = next;
			ret |= handler(kvm, &shared);
		}
		gfn = next;
	}
	return ret;
}

static inline struct kvm_private_memslot *
to_private_memslot(struct memfile_notifier *notifier)
{
	return container_of(notifier, struct kvm_private_memslot, notifier);
}

/* The GFNs of the slot that file range [start, end) backs, if any. */
static bool kvm_private_range_to_gfns(struct kvm_private_memslot *priv,
				      pgoff_t start, pgoff_t end,
				      struct kvm_gfn_range *range)
{
	const struct kvm_memory_slot *slot = priv->slot;
	pgoff_t first = max(start, priv->pgoff);
	pgoff_t last = min_t(pgoff_t, end, priv->pgoff + slot->npages);

	if (first >= last)
		return false;
	range->start = slot->base_gfn + (first - priv->pgoff);
	range->end = slot->base_gfn + (last - priv->pgoff);
	return true;
}

/*
 * The store is about to free or zero [start, end) of the file: zap what the
 * slot maps of it and hold off faults until kvm_private_invalidate_end().
 * Runs under the store's locks; takes only mmu_lock.
 */
static void kvm_private_invalidate_start(struct memfile_notifier *notifier,
					 pgoff_t start, pgoff_t end)
{
	struct kvm_private_memslot *priv = to_private_memslot(notifier);
	struct kvm *kvm = priv->kvm;
	struct kvm_gfn_range range = {
		.slot = priv->slot,
		.pte = __pte(0),
		.may_block = true,
	};

	if (!kvm_private_range_to_gfns(priv, start, end, &range))
		return;

	KVM_MMU_LOCK(kvm);
	kvm_mmu_invalidate_begin_gfn(kvm, range.start, range.end);
	/*
	 * A slot still being created maps nothing yet and may lack the rmaps
	 * a zap walks; faults that find it once it is live retry until
	 * kvm_private_invalidate_end().
	 */
	if (priv->prepared && kvm_unmap_gfn_range(kvm, &range))
		kvm_flush_remote_tlbs(kvm);
	KVM_MMU_UNLOCK(kvm);
}

static void kvm_private_invalidate_end(struct memfile_notifier *notifier,
				       pgoff_t start, pgoff_t end)
{
	struct kvm_private_memslot *priv = to_private_memslot(notifier);
	struct kvm *kvm = priv->kvm;
	struct kvm_gfn_range range;

	/* The same computation as at start: both see the same slot. */
	if (!kvm_private_range_to_gfns(priv, start, end, &range))
		return;

	KVM_MMU_LOCK(kvm);
	kvm_mmu_invalidate_end_gfn(kvm);
	KVM_MMU_UNLOCK(kvm);
}

static const struct memfile_notifier_ops kvm_private_notifier_ops = {
	.invalidate_start = kvm_private_invalidate_start,
	.invalidate_end = kvm_private_invalidate_end,
};

/* Does a memslot of @kvm bind [@start, @end) of @file, or part of it? */
static bool kvm_private_range_bound(struct kvm *kvm, struct file *file,
				    pgoff_t start, pgoff_t end)
{
	struct kvm_memory_slot *slot;
	int i, bkt;

	lockdep_assert_held(&kvm->slots_lock);
	for (i = 0; i < KVM_ADDRESS_SPACE_NUM; i++) {
		kvm_for_each_memslot(slot, bkt, __kvm_memslots(kvm, i)) {
			struct kvm_private_memslot *priv = slot->private;

			if (priv && priv->file == file && start <
			    priv->pgoff + slot->npages && priv->pgoff < end)
				return true;
		}
	}
	return false;
}

/**
 * kvm_private_memslot_bind - give a new memslot its private half
 * @kvm:	the VM
 * @slot:	the memslot being created, not yet visible
 * @file:	the memfile: the inaccessible memfd of private_fd, or the
 *		memfile behind a guest_memfd of this VM
 * @offset:	private_offset, in bytes, of the slot's first GFN in the file
 *
 * Called by __kvm_set_memory_region2() with slots_lock held, before
 * kvm_set_memslot() prepares the slot: store callbacks that come in between
 * hold faults off but zap nothing (see kvm_private_memslot_prepared()).
 * Registers on the file as a consumer that keeps PFNs mapped: the file must be
 * inaccessible to userspace if the VM has private memory (a VM without
 * binds only guest_memfds, whose memory is shared), and its pages may be
 * neither migrated nor reclaimed while the slot lives.  While the slot is bound no other VM can
 * bind the file, and once the guest has faulted a page in, no other VM ever
 * can (memfile_notifier's owner); a bind that fails claims nothing.  The
 * registration holds the file, so closing the fd does not take the memory
 * from the guest.
 *
 * Return: 0, or -EINVAL (@offset unaligned, @file not an inaccessible
 * memfile, or the slot does not fit in it), -EEXIST (another memslot binds
 * part of the same range of @file), -EPERM (another VM's guest used the
 * file), -EBUSY (another consumer uses it with other flags), -ENOMEM.
 */
int kvm_private_memslot_bind(struct kvm *kvm, struct kvm_memory_slot *slot,
			     struct file *file, u64 offset)
{
	unsigned long flags = MEMFILE_F_UNMOVABLE | MEMFILE_F_UNRECLAIMABLE;
	u64 size = (u64)slot->npages << PAGE_SHIFT;
	struct kvm_private_memslot *priv;
	pgoff_t pgoff;
	int r;

	if (!PAGE_ALIGNED(offset) || offset + size < offset)
		return -EINVAL;
	/* A VM without private memory binds only its own guest_memfds. */
	if (kvm_arch_has_private_mem(kvm)) {
		if (!memfile_file_inaccessible(file))
			return -EINVAL;
		flags |= MEMFILE_F_USER_INACCESSIBLE;
	}
	if (offset + size > i_size_read(file_inode(file)))
		return -EINVAL;
	pgoff = offset >> PAGE_SHIFT;
	if (kvm_private_range_bound(kvm, file, pgoff, pgoff + slot->npages))
		return -EEXIST;

	priv = kzalloc(sizeof(*priv), GFP_KERNEL_ACCOUNT);
	if (!priv)
		return -ENOMEM;

	priv->kvm = kvm;
	priv->slot = slot;
	priv->file = file;
	priv->pgoff = pgoff;
	priv->notifier.ops = &kvm_private_notifier_ops;
	priv->notifier.owner = kvm->private_mem_owner;
	r = memfile_register_notifier(file, flags, &priv->notifier);
	if (r) {
		kfree(priv);
		return r;
	}

	slot->private = priv;
	return 0;
}

/**
 * kvm_private_memslot_prepared - a new private memslot can be zapped
 * @kvm:	the VM
 * @slot:	the memslot being created, its arch metadata allocated
 *
 * Called by kvm_prepare_memory_region() with slots_lock held, after
 * kvm_arch_prepare_memory_region() succeeded and before the slot is
 * visible.  From here on the store's invalidations zap the slot's GFNs.
 */
void kvm_private_memslot_prepared(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	if (!slot->private)
		return;

	/* Orders against kvm_private_invalidate_start(). */
	KVM_MMU_LOCK(kvm);
	slot->private->prepared = true;
	KVM_MMU_UNLOCK(kvm);
}

/**
 * kvm_private_memslot_unbind - end a memslot's use of its file
 * @slot:	the memslot; nothing happens if it has no private half
 *
 * Called when the memslot is freed, after no vCPU can see it any more, and
 * from kvm_private_mem_destroy_vm().  Waits for an invalidation of the file
 * in progress to end, then drops the file.
 */
void kvm_private_memslot_unbind(struct kvm_memory_slot *slot)
{
	struct kvm_private_memslot *priv = slot->private;

	if (!priv)
		return;

	memfile_unregister_notifier(&priv->notifier);
	slot->private = NULL;
	kfree(priv);
}

/**
 * kvm_private_mem_slot_pgoff - where a private memslot starts in its file
 * @slot:	a memslot with KVM_MEM_PRIVATE
 *
 * Return: the file index, in PAGE_SIZE units, of @slot->base_gfn.
 */
pgoff_t kvm_private_mem_slot_pgoff(const struct kvm_memory_slot *slot)
{
	return slot->private->pgoff;
}

/**
 * kvm_private_mem_get_pfn - the private PFN of a GFN
 * @slot:	the memslot of @gfn, with KVM_MEM_PRIVATE
 * @gfn:	the GFN
 * @pfn:	set to the PFN, which holds a reference until
 *		kvm_private_mem_put_pfn()
 * @order:	set to the order of the naturally aligned block of the file
 *		that contains it (9 for a 2M hugetlb page, 18 for 1G)
 *
 * Called by the arch fault handler with the memslots' SRCU held, before it
 * takes mmu_lock; it must then check mmu_invalidate_retry_gfn().
 *
 * Return: 0 or the store's error (e.g. -ENOSPC: no free huge page to fill a
 * hole, -ENOENT: a hole under F_SEAL_AUTO_ALLOCATE, -EHWPOISON, -ERANGE:
 * past the end of the file).
 */
int kvm_private_mem_get_pfn(const struct kvm_memory_slot *slot, gfn_t gfn,
			    kvm_pfn_t *pfn, int *order)
{
	struct kvm_private_memslot *priv = slot->private;
	unsigned long file_pfn;
	unsigned int file_order;
	int r;

	r = memfile_get_pfn(&priv->notifier,
			    priv->pgoff + (gfn - slot->base_gfn),
			    &file_pfn, &file_order);
	if (r)
		return r;

	*pfn = file_pfn;
	*order = file_order;
	return 0;
}

/**
 * kvm_private_mem_put_pfn - drop the reference kvm_private_mem_get_pfn() took
 * @slot:	the memslot passed to kvm_private_mem_get_pfn()
 * @pfn:	any PFN of the block it returned
 */
void kvm_private_mem_put_pfn(const struct kvm_memory_slot *slot, kvm_pfn_t pfn)
{
	memfile_put_pfn(&slot->private->notifier, pfn);
}
