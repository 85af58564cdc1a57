/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memfile_notifier: let a kernel consumer (KVM) take memory from a file whose
 * pages are owned by a backing store (hugetlbfs, shmem), and learn when a
 * range of that file goes away.
 *
 * See Documentation/mm/memfile_notifier.rst for the contract.
 */
#ifndef _LINUX_MEMFILE_NOTIFIER_H
#define _LINUX_MEMFILE_NOTIFIER_H

#include <linux/bits.h>
#include <linux/errno.h>
#include <linux/list.h>
#include <linux/rwsem.h>
#include <linux/types.h>

struct file;
struct inode;
struct vm_area_struct;
struct memfile_notifier;

/*
 * Host userspace may not read, write or map the memory of the file.  A
 * property of the file, fixed by the store when it creates the file (e.g.
 * memfd_create(MFD_INACCESSIBLE)); a consumer can require it, not set it.
 */
#define MEMFILE_F_USER_INACCESSIBLE	BIT(0)
/* The store must not migrate the file's pages while a consumer is registered. */
#define MEMFILE_F_UNMOVABLE		BIT(1)
/* The store must not reclaim the file's pages while a consumer is registered. */
#define MEMFILE_F_UNRECLAIMABLE		BIT(2)

#define MEMFILE_F_ALLOWED_MASK		(MEMFILE_F_USER_INACCESSIBLE | \
					 MEMFILE_F_UNMOVABLE | \
					 MEMFILE_F_UNRECLAIMABLE)

/**
 * struct memfile_node - per-file state of a memfile, kept by its store
 * @notifiers:		registered &struct memfile_notifier, linked by ->list.
 * @rwsem:		held for read from memfile_notifier_invalidate_start()
 *			to memfile_notifier_invalidate_end(), for write while
 *			@notifiers or @consumer_flags change.  This is what
 *			makes every notifier see either both halves of an
 *			invalidation or neither.
 * @file_flags:		MEMFILE_F_* that describe the file itself; set by the
 *			store in memfile_node_init() or, before the file is
 *			visible, by memfile_make_inaccessible().
 * @consumer_flags:	MEMFILE_F_* the registered consumers asked for; 0 when
 *			none is registered.  Written under @rwsem (write).
 * @owner:		0, or the &memfile_notifier.owner of the consumers
 *			that may use the file: set by the first registration
 *			with an owner, and reset when the last registration of
 *			that owner ends unless @owner_took_memory.  Written
 *			under @rwsem (write).
 * @owner_took_memory:	a registration of @owner got a page from
 *			memfile_get_pfn(): the file's memory then belongs to
 *			@owner for the file's life.  Set without @rwsem (from
 *			the consumer's fault path), read under it.
 *
 * A store either embeds the node in its inode info and initialises it with
 * memfile_node_init() when it creates the inode, or keeps a pointer there and
 * lets memfile_inode_node() allocate the node when the file becomes a
 * memfile.  It never frees the node while a notifier is registered:
 * registration holds a reference on the file, so that cannot happen.
 */
struct memfile_node {
	struct list_head	notifiers;
	struct rw_semaphore	rwsem;
	unsigned long		file_flags;
	unsigned long		consumer_flags;
	u64			owner;
	bool			owner_took_memory;
};

/**
 * struct memfile_range - a range of a file consumers are told about
 * @start:	first page, in PAGE_SIZE units of file offset
 * @end:	first page after the range
 *
 * What a store's invalidate_start helper computed from a byte range, for
 * its invalidate_end helper to tell consumers the same range.
 */
struct memfile_range {
	pgoff_t start;
	pgoff_t end;
};

/**
 * struct memfile_backing_store - a file system that can back memfiles
 * @name:		for messages.
 * @supported_flags:	the MEMFILE_F_* flags this store honours.
 * @lookup_memfile_node: return the node of @file if the store owns it and
 *			the file can be used as a memfile, else NULL.  A store
 *			that allocates nodes only for memfiles (see
 *			memfile_inode_node()) allocates it when @create is set
 *			(registration, memfile_make_inaccessible()), and may
 *			return ERR_PTR(-ENOMEM); without @create it returns
 *			NULL for a file that has none.  Called in process
 *			context under SRCU; may sleep with @create.
 * @get_pfn:		see memfile_get_pfn().  Must return the PFN of the
 *			base page at @pgoff with a reference held and the order
 *			of the naturally aligned block that contains it.
 * @put_pfn:		drop the reference that @get_pfn took.
 * @mmap:		optional: make @vma, a new shared VMA, a mapping of @file
 *			whose page faults the store fills; see memfile_mmap().
 *			Called with the mmap lock held for write; may sleep.
 * @flags_changed:	optional: the consumers' flags of @file became @flags
 *			(the first consumer registered, or 0 when the last one
 *			left).  Called in process context under the node's
 *			rwsem (write); may sleep.
 * @list:		private to the core.
 *
 * A store registers itself with memfile_register_backing_store() before any
 * of its files can be registered on, typically from an initcall.
 */
struct memfile_backing_store {
	const char *name;
	unsigned long supported_flags;
	struct memfile_node *(*lookup_memfile_node)(struct file *file,
						    bool create);
	int (*get_pfn)(struct file *file, pgoff_t pgoff, unsigned long *pfn,
		       unsigned int *order);
	void (*put_pfn)(struct file *file, unsigned long pfn);
	int (*mmap)(struct file *file, struct vm_area_struct *vma);
	void (*flags_changed)(struct file *file, unsigned long flags);
	struct list_head list;
};

/**
 * struct memfile_notifier_ops - what a consumer is told
 * @invalidate_start:	[@start, @end) (in PAGE_SIZE units of file offset) is
 *			about to be unmapped, zeroed or freed.  From now until
 *			the matching @invalidate_end the consumer must drop any
 *			mapping of the range and must not establish a new one
 *			from a PFN it looked up before or during the window.
 * @invalidate_end:	the store is done with [@start, @end); PFNs looked up
 *			from now on are valid.
 *
 * Both are called in process context, may sleep, and are called with the
 * store's own locks for the range held (for hugetlbfs: the inode lock).  They
 * must not register or unregister notifiers, and must not take a lock that a
 * consumer holds around memfile_register_notifier() or
 * memfile_unregister_notifier().  Every call to @invalidate_start is followed
 * by exactly one call to @invalidate_end with the same range.
 */
struct memfile_notifier_ops {
	void (*invalidate_start)(struct memfile_notifier *notifier,
				 pgoff_t start, pgoff_t end);
	void (*invalidate_end)(struct memfile_notifier *notifier,
			       pgoff_t start, pgoff_t end);
};

/**
 * struct memfile_notifier - a consumer's registration on one file
 * @ops:	set by the consumer before memfile_register_notifier().
 * @owner:	set by the consumer before memfile_register_notifier(): 0, or
 *		a nonzero identity (KVM: one per VM, never reused).  While it
 *		is registered, registrations of any other owner fail, 0
 *		included; once it has taken a page with memfile_get_pfn(),
 *		they fail for the file's life, so that the data one owner left
 *		in the file reaches no other consumer.  An owner that took no
 *		page claims nothing after its last registration ends.  An
 *		owner cannot register while consumers without one are.
 * @list:	entry in &memfile_node.notifiers; private to the core.
 * @file:	the file, referenced while registered; private to the core.
 * @node:	the file's node, NULL when not registered; private to the core.
 * @bs:		the file's store; private to the core.
 *
 * Embed it in the consumer's own structure and use container_of() in the
 * callbacks.
 */
struct memfile_notifier {
	const struct memfile_notifier_ops *ops;
	u64 owner;
	struct list_head list;
	struct file *file;
	struct memfile_node *node;
	struct memfile_backing_store *bs;
};

#ifdef CONFIG_MEMFILE_NOTIFIER

/* For backing stores. */
void memfile_node_init(struct memfile_node *node, unsigned long file_flags);
struct memfile_node *memfile_inode_node(struct memfile_node **slot,
					struct inode *inode, bool create);
void memfile_inode_node_free(struct memfile_node *node);
unsigned long memfile_node_flags(struct memfile_node *node);
int memfile_make_inaccessible(struct file *file);
int memfile_register_backing_store(struct memfile_backing_store *bs);
void memfile_unregister_backing_store(struct memfile_backing_store *bs);
void memfile_notifier_invalidate_start(struct memfile_node *node,
				       pgoff_t start, pgoff_t end);
void memfile_notifier_invalidate_end(struct memfile_node *node,
				     pgoff_t start, pgoff_t end);
int memfile_notifier_report_error(struct memfile_node *node,
				  struct inode *inode, pgoff_t start,
				  pgoff_t end);
void memfile_notifier_flush_errors(void);

/* For consumers. */
bool memfile_file_inaccessible(struct file *file);
int memfile_mmap(struct file *file, struct vm_area_struct *vma);
int memfile_register_notifier(struct file *file, unsigned long flags,
			      struct memfile_notifier *notifier);
void memfile_unregister_notifier(struct memfile_notifier *notifier);
int memfile_get_pfn(struct memfile_notifier *notifier, pgoff_t pgoff,
		    unsigned long *pfn, unsigned int *order);
void memfile_put_pfn(struct memfile_notifier *notifier, unsigned long pfn);

#else /* !CONFIG_MEMFILE_NOTIFIER */

static inline void memfile_node_init(struct memfile_node *node,
				     unsigned long file_flags)
{
}

static inline unsigned long memfile_node_flags(struct memfile_node *node)
{
	return 0;
}

static inline int memfile_make_inaccessible(struct file *file)
{
	return -EOPNOTSUPP;
}

static inline int memfile_register_backing_store(struct memfile_backing_store *bs)
{
	return -EOPNOTSUPP;
}

static inline void memfile_unregister_backing_store(struct memfile_backing_store *bs)
{
}

static inline void memfile_notifier_invalidate_start(struct memfile_node *node,
						     pgoff_t start, pgoff_t end)
{
}

static inline void memfile_notifier_invalidate_end(struct memfile_node *node,
						   pgoff_t start, pgoff_t end)
{
}

static inline int memfile_notifier_report_error(struct memfile_node *node,
						struct inode *inode,
						pgoff_t start, pgoff_t end)
{
	return 0;
}

static inline void memfile_notifier_flush_errors(void)
{
}

static inline bool memfile_file_inaccessible(struct file *file)
{
	return false;
}

static inline int memfile_register_notifier(struct file *file,
					    unsigned long flags,
					    struct memfile_notifier *notifier)
{
	return -EOPNOTSUPP;
}

static inline void memfile_unregister_notifier(struct memfile_notifier *notifier)
{
}

static inline int memfile_get_pfn(struct memfile_notifier *notifier,
				  pgoff_t pgoff, unsigned long *pfn,
				  unsigned int *order)
{
	return -EOPNOTSUPP;
}

static inline void memfile_put_pfn(struct memfile_notifier *notifier,
				   unsigned long pfn)
{
}

static inline int memfile_mmap(struct file *file, struct vm_area_struct *vma)
{
	return -ENODEV;
}

#endif /* CONFIG_MEMFILE_NOTIFIER */

#endif /* _LINUX_MEMFILE_NOTIFIER_H */
