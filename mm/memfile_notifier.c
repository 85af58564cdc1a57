// SPDX-License-Identifier: GPL-2.0-only
/*
 * memfile_notifier: hand out the pages of a memory file to an in-kernel
 * consumer and tell it when a range of the file is invalidated.
 *
 * Three parties meet here:
 *  - backing stores (hugetlbfs, shmem) own the files and their pages; they
 *    register once and call invalidate_start/end around anything that
 *    unmaps, zeroes or frees a range of a file;
 *  - consumers (KVM) register a notifier on a file, take PFNs through it
 *    and drop their mappings when told;
 *  - this core, which finds the store of a file, checks flags, and makes sure
 *    that each notifier sees both halves of an invalidation or neither.
 */

#include <linux/debugfs.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/lockdep.h>
#include <linux/memfile_notifier.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/rculist.h>
#include <linux/seq_file.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/srcu.h>
#include <linux/task_work.h>
#include <linux/workqueue.h>

/*
 * Registered stores: written under memfile_stores_lock, read under SRCU so
 * that a store's lookup may allocate the node of a file that becomes a
 * memfile.
 */
static LIST_HEAD(memfile_stores);
static DEFINE_MUTEX(memfile_stores_lock);
DEFINE_STATIC_SRCU(memfile_stores_srcu);

/**
 * memfile_node_init - initialise the memfile state of a new file
 * @node:	the node embedded in the store's inode info
 * @file_flags:	MEMFILE_F_* that describe the file (only
 *		MEMFILE_F_USER_INACCESSIBLE is meaningful here)
 *
 * Called by a backing store when it creates the inode, before the file can
 * be seen by anyone else.
 */
void memfile_node_init(struct memfile_node *node, unsigned long file_flags)
{
	INIT_LIST_HEAD(&node->notifiers);
	init_rwsem(&node->rwsem);
	node->file_flags = file_flags & MEMFILE_F_ALLOWED_MASK;
	node->consumer_flags = 0;
	node->owner = 0;
	node->owner_took_memory = false;
}
EXPORT_SYMBOL_GPL(memfile_node_init);

/**
 * memfile_inode_node - the node a store keeps behind a pointer in its inode
 * @slot:	the pointer, in the store's inode info; NULL until the file
 *		becomes a memfile, then set once for the inode's life
 * @inode:	the inode
 * @create:	allocate the node if the file has none yet
 *
 * Called by a store's @lookup_memfile_node, so that only files that are
 * created as memfiles or registered on pay for a node: other files cost one
 * pointer, and their hole punch, truncation and error paths see NULL and do
 * nothing more.  With @create the node is installed under the inode lock
 * (shared): the store's hole punch and truncation hold it exclusive and read
 * @slot once, so each of them runs either wholly before the node exists (and
 * no consumer can have a page yet) or wholly with it.  May sleep then.
 *
 * Return: the node; NULL if there is none and !@create; ERR_PTR(-ENOMEM).
 */
struct memfile_node *memfile_inode_node(struct memfile_node **slot,
					struct inode *inode, bool create)
{
	/* Pairs with the cmpxchg_release() below, by address dependency. */
	struct memfile_node *node = READ_ONCE(*slot);
	struct memfile_node *old;

	if (node || !create)
		return node;

	node = kmalloc(sizeof(*node), GFP_KERNEL_ACCOUNT);
	if (!node)
		return ERR_PTR(-ENOMEM);
	memfile_node_init(node, 0);

	inode_lock_shared(inode);
	/* Release: the node is initialised before anyone can see it. */
	old = cmpxchg_release(slot, NULL, node);
	inode_unlock_shared(inode);
	if (old) {
		kfree(node);
		node = old;
	}
	return node;
}
EXPORT_SYMBOL_GPL(memfile_inode_node);

/**
 * memfile_inode_node_free - free what memfile_inode_node() allocated
 * @node:	the node, or NULL
 *
 * Called by the store when it destroys the inode: no file of it is open, so no
 * notifier is registered and no memory error report holds it.
 */
void memfile_inode_node_free(struct memfile_node *node)
{
	if (node)
		WARN_ON_ONCE(!list_empty(&node->notifiers));
	kfree(node);
}
EXPORT_SYMBOL_GPL(memfile_inode_node_free);

/**
 * memfile_node_flags - the MEMFILE_F_* flags in force on a file
 * @node: the file's node, or NULL for a file that never became a memfile
 *
 * A store calls this where a flag matters (its migration or reclaim paths,
 * its read/write/mmap entry points).  The value can change as consumers come
 * and go; a store that needs it stable holds a lock that excludes
 * registration, e.g. by being inside an invalidate_start/end window.
 *
 * Return: the file's own flags together with those its consumers asked for;
 * 0 for a file without a node.
 */
unsigned long memfile_node_flags(struct memfile_node *node)
{
	if (!node)
		return 0;
	return READ_ONCE(node->file_flags) | READ_ONCE(node->consumer_flags);
}
EXPORT_SYMBOL_GPL(memfile_node_flags);

/**
 * memfile_register_backing_store - make a store's files usable as memfiles
 * @bs: the store, with @lookup_memfile_node, @get_pfn and @put_pfn set
 *
 * Called once per store, from process context, typically at boot.
 *
 * Return: 0; -EINVAL if a callback is missing or @supported_flags has unknown
 * bits; -EEXIST if @bs is registered already.
 */
int memfile_register_backing_store(struct memfile_backing_store *bs)
{
	struct memfile_backing_store *iter;
	int ret = 0;

	if (!bs || !bs->lookup_memfile_node || !bs->get_pfn || !bs->put_pfn ||
	    bs->supported_flags & ~MEMFILE_F_ALLOWED_MASK)
		return -EINVAL;

	mutex_lock(&memfile_stores_lock);
	list_for_each_entry(iter, &memfile_stores, list) {
		if (iter == bs) {
			ret = -EEXIST;
			goto out;
		}
	}
	list_add_tail_rcu(&bs->list, &memfile_stores);
out:
	mutex_unlock(&memfile_stores_lock);
	return ret;
}
EXPORT_SYMBOL_GPL(memfile_register_backing_store);

/**
 * memfile_unregister_backing_store - undo memfile_register_backing_store()
 * @bs: a registered store
 *
 * The caller guarantees that no notifier is registered on any file of @bs.
 * Returns after no lookup can see @bs any more.  May sleep.
 */
void memfile_unregister_backing_store(struct memfile_backing_store *bs)
{
	mutex_lock(&memfile_stores_lock);
	list_del_rcu(&bs->list);
	mutex_unlock(&memfile_stores_lock);
	synchronize_srcu(&memfile_stores_srcu);
}
EXPORT_SYMBOL_GPL(memfile_unregister_backing_store);

/*
 * The node of @file and its store in *@bsp; NULL if no store owns the file
 * (or, without @create, the file is not a memfile yet); ERR_PTR(-ENOMEM).
 */
static struct memfile_node *memfile_lookup(struct file *file, bool create,
					   struct memfile_backing_store **bsp)
{
	struct memfile_backing_store *bs;
	struct memfile_node *node = NULL;
	int idx;

	idx = srcu_read_lock(&memfile_stores_srcu);
	list_for_each_entry_srcu(bs, &memfile_stores, list,
				 srcu_read_lock_held(&memfile_stores_srcu)) {
		node = bs->lookup_memfile_node(file, create);
		if (node) {
			*bsp = bs;
			break;
		}
	}
	srcu_read_unlock(&memfile_stores_srcu, idx);
	return node;
}

/**
 * memfile_make_inaccessible - make a new memory file inaccessible to userspace
 * @file: a file its backing store just created, not visible to anyone else
 *
 * Called by memfd_create(MFD_INACCESSIBLE) and KVM_CREATE_GUEST_MEMFD before
 * the file gets a descriptor, so no mapping of it can exist.  There is no way
 * back.
 *
 * Return: 0, -ENOMEM, or -EOPNOTSUPP if no backing store owns @file or its
 * store cannot keep userspace out.
 */
int memfile_make_inaccessible(struct file *file)
{
	struct memfile_backing_store *bs;
	struct memfile_node *node;

	node = memfile_lookup(file, true, &bs);
	if (IS_ERR(node))
		return PTR_ERR(node);
	if (!node || !(bs->supported_flags & MEMFILE_F_USER_INACCESSIBLE))
		return -EOPNOTSUPP;
	WRITE_ONCE(node->file_flags,
		   node->file_flags | MEMFILE_F_USER_INACCESSIBLE);
	return 0;
}
EXPORT_SYMBOL_GPL(memfile_make_inaccessible);

/**
 * memfile_file_inaccessible - is @file a memfile host userspace cannot touch?
 * @file: any file
 *
 * Called by a consumer before it registers, to tell a file it must refuse
 * (not a memfile, or one that userspace can read) from one it could use but
 * for another reason (owner, flags) memfile_register_notifier() gives.
 *
 * Return: true if a backing store owns @file and the file was created
 * inaccessible.
 */
bool memfile_file_inaccessible(struct file *file)
{
	struct memfile_backing_store *bs;
	struct memfile_node *node = memfile_lookup(file, false, &bs);

	return !IS_ERR_OR_NULL(node) &&
	       (READ_ONCE(node->file_flags) & MEMFILE_F_USER_INACCESSIBLE);
}
EXPORT_SYMBOL_GPL(memfile_file_inaccessible);

/**
 * memfile_mmap - map a memfile into host userspace for the file in front of it
 * @file:	an accessible memfile that the caller created and keeps to itself
 * @vma:	a new shared VMA of the caller's own file, as its ->mmap() got it
 *
 * Called from the ->mmap() of a file that stands for @file before
 * userspace (a guest_memfd whose memory starts shared), with the mmap lock
 * held for write.  @vma becomes a mapping of @file: its vm_file is replaced
 * by @file, so that the store's hole punch, truncation and rmap walks find
 * it as they find any other mapping of @file's pages, and the store's own
 * fault handler fills it.  Consumers see no difference: a page that a host
 * mapping faults in is the page memfile_get_pfn() returns.
 *
 * Return: 0, -EINVAL if @vma is not shared, -EACCES if @file is
 * inaccessible, -ENODEV if no store owns @file or its store cannot map,
 * -ENOMEM, or the store's error.
 */
int memfile_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct memfile_backing_store *bs;
	struct memfile_node *node;

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	node = memfile_lookup(file, true, &bs);
	if (IS_ERR(node))
		return PTR_ERR(node);
	if (!node || !bs->mmap)
		return -ENODEV;
	if (READ_ONCE(node->file_flags) & MEMFILE_F_USER_INACCESSIBLE)
		return -EACCES;
	return bs->mmap(file, vma);
}
EXPORT_SYMBOL_GPL(memfile_mmap);

#ifdef CONFIG_LOCKDEP
/*
 * Held, as lockdep sees it, wherever consumers' invalidate callbacks may run,
 * whether a consumer is registered or not, and briefly on registration: the
 * locks a store holds around an invalidation and the locks a consumer takes
 * in its callbacks or holds around registering are ordered from the first
 * run on, so an inversion shows as a lockdep report, not as a deadlock
 * later.  As mm/mmu_notifier.c does for invalidate_range_start.
 */
static struct lockdep_map memfile_invalidate_map = {
	.name = "memfile_notifier_invalidate",
};
#endif

/**
 * memfile_notifier_invalidate_start - tell consumers a range is going away
 * @node:	the file's node
 * @start:	first page of the range, in PAGE_SIZE units of file offset
 * @end:	first page after the range
 *
 * Called by a backing store before it unmaps, zeroes or frees any page in
 * [@start, @end), with its locks for the range held, in process context.
 * Calls every registered notifier's invalidate_start().  The store must call
 * memfile_notifier_invalidate_end() with the same range once it is done, from
 * the same task, and must not nest another invalidation of the same file in
 * between.  Registration and unregistration on this file wait until then.
 */
void memfile_notifier_invalidate_start(struct memfile_node *node,
				       pgoff_t start, pgoff_t end)
{
	struct memfile_notifier *notifier;

	might_sleep();
	if (WARN_ON_ONCE(start >= end))
		return;

	down_read(&node->rwsem);
	lock_map_acquire(&memfile_invalidate_map);
	list_for_each_entry(notifier, &node->notifiers, list)
		notifier->ops->invalidate_start(notifier, start, end);
	lock_map_release(&memfile_invalidate_map);
}
EXPORT_SYMBOL_GPL(memfile_notifier_invalidate_start);

/**
 * memfile_notifier_invalidate_end - tell consumers a range is gone
 * @node:	the file's node
 * @start:	as passed to memfile_notifier_invalidate_start()
 * @end:	as passed to memfile_notifier_invalidate_start()
 *
 * Called by a backing store after the pages of the range are gone (or
 * zeroed), by the task that called memfile_notifier_invalidate_start().
 */
void memfile_notifier_invalidate_end(struct memfile_node *node,
				     pgoff_t start, pgoff_t end)
{
	struct memfile_notifier *notifier;

	might_sleep();
	if (WARN_ON_ONCE(start >= end))
		return;

	lock_map_acquire(&memfile_invalidate_map);
	list_for_each_entry(notifier, &node->notifiers, list)
		notifier->ops->invalidate_end(notifier, start, end);
	lock_map_release(&memfile_invalidate_map);
	up_read(&node->rwsem);
}
EXPORT_SYMBOL_GPL(memfile_notifier_invalidate_end);

/* A poisoned range of a file whose consumers have yet to drop it. */
struct memfile_error {
	union {
		struct callback_head task_work;	/* on the reporting task */
		struct work_struct work;	/* or on memfile_error_wq */
	};
	struct memfile_node *node;
	struct inode *inode;	/* holds @node */
	pgoff_t start;
	pgoff_t end;
};

static struct workqueue_struct *memfile_error_wq;

static void memfile_error_invalidate(struct memfile_error *err)
{
	/* The lock a store's hole punch holds around its invalidation. */
	inode_lock(err->inode);
	memfile_notifier_invalidate_start(err->node, err->start, err->end);
	memfile_notifier_invalidate_end(err->node, err->start, err->end);
	inode_unlock(err->inode);
	iput(err->inode);
	kfree(err);
}

static void memfile_error_task_work(struct callback_head *head)
{
	memfile_error_invalidate(container_of(head, struct memfile_error,
					      task_work));
}

static void memfile_error_work(struct work_struct *work)
{
	memfile_error_invalidate(container_of(work, struct memfile_error,
					      work));
}

/**
 * memfile_notifier_report_error - a range of a file holds poisoned memory
 * @node:	the file's node
 * @inode:	the file's inode, whose lock the store's invalidations run under
 * @start:	first page of the block holding the poisoned page, in PAGE_SIZE
 *		units of file offset
 * @end:	first page after it
 *
 * Called by a backing store's ->error_remove_page() when memory_failure()
 * finds a page of the file poisoned, with the page locked.  The page stays
 * in the file, flagged, and the store's get_pfn refuses it with -EHWPOISON
 * from then on.  Consumers that took it before are invalidated later, with
 * no lock held: not here, because a hole punch takes page locks inside an
 * invalidation, so waiting for @node's rwsem with a page locked could
 * deadlock behind a consumer waiting to register.
 *
 * When a user task reports the error (madvise(MADV_HWPOISON), a machine
 * check's kill_me_maybe(), a VMM's vCPU thread), the invalidation is task
 * work: it is done before that task returns to user mode or enters a guest,
 * so the task's next guest access to the range faults and sees -EHWPOISON,
 * whatever the timing.  Kernel threads (the memory_failure_queue() worker,
 * KUnit) queue it on a workqueue instead; memfile_notifier_flush_errors()
 * waits for that.
 *
 * Nothing is allocated or queued for a file without consumers.
 *
 * Return: 0, or -ENOMEM if the invalidation could not be queued (the page
 * is then reported as not recovered).
 */
int memfile_notifier_report_error(struct memfile_node *node,
				  struct inode *inode, pgoff_t start,
				  pgoff_t end)
{
	struct memfile_error *err;

	/*
	 * A file nobody consumes has nobody to tell, and must not turn a
	 * recovered error into a failed one for want of memory.  A consumer
	 * that registers from now on cannot take the page: the store set its
	 * poison flag before calling here (a full barrier, as an atomic
	 * test-and-set), and get_pfn checks it.
	 */
	if (list_empty_careful(&node->notifiers))
		return 0;
	if (!memfile_error_wq)
		return -ENOMEM;

	err = kmalloc(sizeof(*err), GFP_NOFS);
	if (!err)
		return -ENOMEM;

	/* Consumers hold the file, so an inode being freed has none left. */
	err->inode = igrab(inode);
	if (!err->inode) {
		kfree(err);
		return 0;
	}
	err->node = node;
	err->start = start;
	err->end = end;

	/* task_work_add() fails once the task is past exit_task_work(). */
	if (!(current->flags & (PF_KTHREAD | PF_EXITING))) {
		init_task_work(&err->task_work, memfile_error_task_work);
		if (!task_work_add(current, &err->task_work, TWA_RESUME))
			return 0;
	}
	INIT_WORK(&err->work, memfile_error_work);
	queue_work(memfile_error_wq, &err->work);
	return 0;
}
EXPORT_SYMBOL_GPL(memfile_notifier_report_error);

/**
 * memfile_notifier_flush_errors - wait until poisoned ranges are invalidated
 *
 * For kernel threads that called memory_failure() and must know that the
 * consumers of every poisoned range they reported were told, such as KUnit
 * tests (a user task's reports are done before it returns to user mode, see
 * memfile_notifier_report_error()).  Must not be called with an inode lock
 * held.
 */
void memfile_notifier_flush_errors(void)
{
	if (memfile_error_wq)
		flush_workqueue(memfile_error_wq);
}
EXPORT_SYMBOL_GPL(memfile_notifier_flush_errors);

/*
 * All consumers of a file are of one owner, or of none: @node->owner is set
 * while an owner is registered or once it took memory, and then only that
 * owner may register.  A consumer without an owner could otherwise read what
 * an owner left (the test driver's ACCESS ioctl does), and an owner's data
 * would reach the ownerless consumers registered before it.  Called under
 * @node->rwsem.
 */
static bool memfile_owner_may_register(struct memfile_node *node, u64 owner)
{
	lockdep_assert_held(&node->rwsem);
	if (node->owner)
		return owner == node->owner;
	return !owner || list_empty(&node->notifiers);
}

/**
 * memfile_register_notifier - start consuming a memory file
 * @file:	the file; a reference is taken and held until unregistration
 * @flags:	MEMFILE_F_* the consumer needs
 * @notifier:	the consumer's notifier with @ops set; not registered yet
 *
 * Called by a consumer (e.g. KVM when a private memslot is created) in process
 * context.  May sleep: waits for invalidations of @file in progress to end.
 * All consumers of one file must ask for the same @flags.
 *
 * Return: 0 on success, else
 *  -EINVAL	@file, @notifier or a callback is missing, or @flags has unknown
 *		bits;
 *  -EEXIST	@notifier is registered already;
 *  -EOPNOTSUPP	no backing store owns @file, or the store does not support one
 *		of @flags;
 *  -EPERM	MEMFILE_F_USER_INACCESSIBLE asked for, but the file was not
 *		created inaccessible; or the file's memory belongs to another
 *		owner than @notifier->owner (0 included), or consumers without
 *		an owner are registered and @notifier->owner is set;
 *  -EBUSY	other consumers of @file registered with different @flags;
 *  -ENOMEM	the store could not allocate the file's node.
 */
int memfile_register_notifier(struct file *file, unsigned long flags,
			      struct memfile_notifier *notifier)
{
	struct memfile_backing_store *bs;
	struct memfile_node *node;
	int ret = 0;

	if (!file || !notifier || !notifier->ops ||
	    !notifier->ops->invalidate_start || !notifier->ops->invalidate_end ||
	    flags & ~MEMFILE_F_ALLOWED_MASK)
		return -EINVAL;
	if (notifier->node)
		return -EEXIST;

	/* The consumer's locks held here come before its callbacks'. */
	lock_map_acquire(&memfile_invalidate_map);
	lock_map_release(&memfile_invalidate_map);

	node = memfile_lookup(file, true, &bs);
	if (IS_ERR(node))
		return PTR_ERR(node);
	if (!node)
		return -EOPNOTSUPP;
	if (flags & ~bs->supported_flags)
		return -EOPNOTSUPP;
	if (flags & MEMFILE_F_USER_INACCESSIBLE &&
	    !(node->file_flags & MEMFILE_F_USER_INACCESSIBLE))
		return -EPERM;

	down_write(&node->rwsem);
	if (!memfile_owner_may_register(node, notifier->owner)) {
		ret = -EPERM;
		goto out;
	}
	if (!list_empty(&node->notifiers) && node->consumer_flags != flags) {
		ret = -EBUSY;
		goto out;
	}
	if (notifier->owner)
		node->owner = notifier->owner;
	notifier->file = get_file(file);
	notifier->node = node;
	notifier->bs = bs;
	if (list_empty(&node->notifiers)) {
		WRITE_ONCE(node->consumer_flags, flags);
		if (bs->flags_changed)
			bs->flags_changed(file, flags);
	}
	list_add_tail(&notifier->list, &node->notifiers);
out:
	up_write(&node->rwsem);
	return ret;
}
EXPORT_SYMBOL_GPL(memfile_register_notifier);

/* Is a notifier of @owner registered on @node?  Called under its rwsem. */
static bool memfile_owner_registered(struct memfile_node *node, u64 owner)
{
	struct memfile_notifier *notifier;

	lockdep_assert_held(&node->rwsem);
	list_for_each_entry(notifier, &node->notifiers, list)
		if (notifier->owner == owner)
			return true;
	return false;
}

/**
 * memfile_unregister_notifier - stop consuming a memory file
 * @notifier: a registered notifier
 *
 * Called by the consumer in process context; may sleep.  Waits for an
 * invalidation of the file in progress to end, so once this returns no
 * callback of @notifier runs or will run, and every invalidate_start() it got
 * was followed by its invalidate_end().  Then drops the file reference, which
 * may free the file and its pages.
 */
void memfile_unregister_notifier(struct memfile_notifier *notifier)
{
	struct memfile_node *node = notifier->node;
	struct file *file = notifier->file;

	if (WARN_ON_ONCE(!node))
		return;

	down_write(&node->rwsem);
	list_del(&notifier->list);
	if (notifier->owner && !node->owner_took_memory &&
	    !memfile_owner_registered(node, notifier->owner))
		node->owner = 0;
	if (list_empty(&node->notifiers)) {
		WRITE_ONCE(node->consumer_flags, 0);
		if (notifier->bs->flags_changed)
			notifier->bs->flags_changed(file, 0);
	}
	up_write(&node->rwsem);

	notifier->node = NULL;
	notifier->file = NULL;
	notifier->bs = NULL;
	fput(file);
}
EXPORT_SYMBOL_GPL(memfile_unregister_notifier);

/**
 * memfile_get_pfn - get the page at an offset of a registered file
 * @notifier:	a registered notifier
 * @pgoff:	file offset in PAGE_SIZE units, whatever the store's page size
 * @pfn:	the PFN of the base page at @pgoff
 * @order:	the order of the naturally aligned, physically contiguous block
 *		of the store that holds @pfn (0 for a base page, 9 for 2M, 18
 *		for 1G on x86)
 *
 * Called by the consumer in process context, without holding any lock its
 * invalidate callbacks take: the store may take the file's own locks here,
 * and holds them around the callbacks.  May sleep and allocate.  On success
 * the page is referenced; drop it with memfile_put_pfn().  The result
 * can be stale as soon as an invalidation of @pgoff starts: a consumer that
 * maps it must detect that (e.g. a sequence count bumped in its
 * invalidate_start()) and retry.
 *
 * Return: 0 on success, -EINVAL if @notifier is not registered, else the
 * store's error (see Documentation/mm/memfile_notifier.rst).
 */
int memfile_get_pfn(struct memfile_notifier *notifier, pgoff_t pgoff,
		    unsigned long *pfn, unsigned int *order)
{
	struct memfile_node *node = notifier->node;
	int ret;

	if (!node)
		return -EINVAL;
	ret = notifier->bs->get_pfn(notifier->file, pgoff, pfn, order);
	/*
	 * The owner's data can be in the file from now on.  The write is
	 * ordered before the unregistration that reads it by whatever stops
	 * the consumer's lookups first (KVM: SRCU, on memslot deletion).
	 */
	if (!ret && notifier->owner && !READ_ONCE(node->owner_took_memory))
		WRITE_ONCE(node->owner_took_memory, true);
	return ret;
}
EXPORT_SYMBOL_GPL(memfile_get_pfn);

/**
 * memfile_put_pfn - drop a reference from memfile_get_pfn()
 * @notifier:	the notifier @pfn was obtained through, still registered
 * @pfn:	the PFN memfile_get_pfn() returned
 */
void memfile_put_pfn(struct memfile_notifier *notifier, unsigned long pfn)
{
	if (WARN_ON_ONCE(!notifier->node))
		return;
	notifier->bs->put_pfn(notifier->file, pfn);
}
EXPORT_SYMBOL_GPL(memfile_put_pfn);

#ifdef CONFIG_DEBUG_FS
/* /sys/kernel/debug/memfile_notifier/stores: one registered store a line. */
static int memfile_stores_show(struct seq_file *m, void *unused)
{
	struct memfile_backing_store *bs;

	mutex_lock(&memfile_stores_lock);
	list_for_each_entry(bs, &memfile_stores, list)
		seq_printf(m, "%s flags=%#lx\n", bs->name, bs->supported_flags);
	mutex_unlock(&memfile_stores_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(memfile_stores);

static int __init memfile_debugfs_init(void)
{
	struct dentry *dir = debugfs_create_dir("memfile_notifier", NULL);

	debugfs_create_file("stores", 0444, dir, NULL, &memfile_stores_fops);
	return 0;
}
late_initcall(memfile_debugfs_init);
#endif

/* Memory errors reach consumers through this workqueue, on every config. */
static int __init memfile_error_init(void)
{
	memfile_error_wq = alloc_workqueue("memfile_error", WQ_UNBOUND, 0);
	return memfile_error_wq ? 0 : -ENOMEM;
}
subsys_initcall(memfile_error_init);
