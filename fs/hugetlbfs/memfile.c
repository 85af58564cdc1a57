// SPDX-License-Identifier: GPL-2.0-only
/*
 * hugetlbfs as a memfile_notifier backing store.
 *
 * A consumer gets the PFN of any base page of a hugetlbfs file together with
 * the order of the huge page that holds it, so it can map the file with 2M
 * or 1G entries.  Every invalidation covers whole huge pages.
 *
 * The one place where offsets change units: the memfile interface speaks
 * base pages (PAGE_SIZE), the hugetlbfs page cache is indexed in huge pages.
 */

#include <linux/fs.h>
#include <linux/hugetlb.h>
#include <linux/hugetlbfs_memfile.h>
#include <linux/memfile_notifier.h>
#include <linux/mm.h>
#include <linux/pagemap.h>

/*
 * NULL until the file becomes a memfile (see memfile_inode_node(), whose
 * cmpxchg_release() this pairs with by address dependency).
 */
static struct memfile_node *hugetlbfs_memfile_node(struct inode *inode)
{
	return READ_ONCE(HUGETLBFS_I(inode)->memfile_node);
}

/**
 * hugetlbfs_memfile_init_inode - a new inode is no memfile yet
 * @inode: a hugetlbfs inode being allocated
 *
 * Called by hugetlbfs_alloc_inode().  memfd_create(MFD_INACCESSIBLE) and the
 * first registration give the file its node.
 */
void hugetlbfs_memfile_init_inode(struct inode *inode)
{
	HUGETLBFS_I(inode)->memfile_node = NULL;
}

/**
 * hugetlbfs_memfile_destroy_inode - free the memfile node of an inode
 * @inode: a hugetlbfs inode being destroyed
 *
 * Called by hugetlbfs_destroy_inode().
 */
void hugetlbfs_memfile_destroy_inode(struct inode *inode)
{
	memfile_inode_node_free(HUGETLBFS_I(inode)->memfile_node);
}

/**
 * hugetlbfs_memfile_inaccessible - may host userspace read or map the file?
 * @inode: a hugetlbfs inode
 *
 * Called by hugetlbfs' read and mmap entry points.
 *
 * Return: true if the file was created with MFD_INACCESSIBLE.
 */
bool hugetlbfs_memfile_inaccessible(struct inode *inode)
{
	return memfile_node_flags(hugetlbfs_memfile_node(inode)) & MEMFILE_F_USER_INACCESSIBLE;
}

/**
 * hugetlbfs_memfile_unmovable - must the file's pages stay where they are?
 * @inode: a hugetlbfs inode
 *
 * Called by hugetlbfs_migrate_folio(), with the folio locked.
 *
 * Return: true while a consumer that asked for MEMFILE_F_UNMOVABLE is
 * registered: it may have the PFNs mapped where the kernel cannot follow a
 * migration (e.g. the TDP tables of a confidential guest).
 */
bool hugetlbfs_memfile_unmovable(struct inode *inode)
{
	return memfile_node_flags(hugetlbfs_memfile_node(inode)) & MEMFILE_F_UNMOVABLE;
}

/*
 * [lstart, lend) in bytes, rounded outward to huge pages, in base pages.  In
 * u64 so that a range ending near LLONG_MAX cannot overflow when rounded.
 */
static void hugetlbfs_memfile_range(struct inode *inode, loff_t lstart,
				    loff_t lend, pgoff_t *start, pgoff_t *end)
{
	u64 hpage_size = huge_page_size(hstate_inode(inode));

	*start = round_down((u64)lstart, hpage_size) >> PAGE_SHIFT;
	*end = round_up((u64)lend, hpage_size) >> PAGE_SHIFT;
}

/**
 * hugetlbfs_memfile_invalidate_start - a byte range is going away
 * @inode:	the file's inode, locked (inode_lock)
 * @lstart:	first byte
 * @lend:	first byte after the range
 * @range:	out: the pages consumers are told about, for
 *		hugetlbfs_memfile_invalidate_end()
 *
 * Called by hole punch and truncation before anything in the range is
 * unmapped, zeroed or freed.  Consumers are told about every huge page the
 * range touches, including partially covered ones, which get zeroed.
 *
 * Takes mapping->invalidate_lock until hugetlbfs_memfile_invalidate_end():
 * consumers' get_pfn, which fills holes without the inode lock, holds it
 * shared, so no page is filled or handed out in the range meanwhile.
 *
 * Does nothing for a file that is not a memfile: no get_pfn can run on it,
 * and the inode lock, held exclusive, keeps it from becoming one until
 * hugetlbfs_memfile_invalidate_end().
 */
void hugetlbfs_memfile_invalidate_start(struct inode *inode, loff_t lstart,
					loff_t lend, struct memfile_range *range)
{
	struct memfile_node *node = hugetlbfs_memfile_node(inode);

	lockdep_assert_held_write(&inode->i_rwsem);
	if (!node)
		return;
	filemap_invalidate_lock(inode->i_mapping);
	hugetlbfs_memfile_range(inode, lstart, lend, &range->start, &range->end);
	memfile_notifier_invalidate_start(node, range->start, range->end);
}

/**
 * hugetlbfs_memfile_invalidate_end - a byte range is gone
 * @inode:	as for hugetlbfs_memfile_invalidate_start()
 * @range:	as hugetlbfs_memfile_invalidate_start() set it
 *
 * Called by the same task, still holding the inode lock, once the pages are
 * freed or zeroed.
 */
void hugetlbfs_memfile_invalidate_end(struct inode *inode,
				      const struct memfile_range *range)
{
	struct memfile_node *node = hugetlbfs_memfile_node(inode);

	lockdep_assert_held_write(&inode->i_rwsem);
	if (!node)
		return;
	memfile_notifier_invalidate_end(node, range->start, range->end);
	filemap_invalidate_unlock(inode->i_mapping);
}

/**
 * hugetlbfs_memfile_error_page - memory_failure() poisoned a page of a file
 * @inode:	the file's inode
 * @page:	the poisoned huge page, locked, kept in the page cache
 *
 * Called by hugetlbfs_error_remove_page().  From now on get_pfn refuses the
 * huge page (-EHWPOISON); consumers that took it are told to drop the whole
 * huge page, shortly after (see memfile_notifier_report_error()).
 *
 * Return: as memfile_notifier_report_error().
 */
int hugetlbfs_memfile_error_page(struct inode *inode, struct page *page)
{
	struct memfile_node *node = hugetlbfs_memfile_node(inode);
	struct hstate *h = hstate_inode(inode);
	pgoff_t start = page_folio(page)->index << huge_page_order(h);

	/*
	 * A node that appears after this read cannot get the page: its
	 * poison flag is set already, and get_pfn checks it.
	 */
	if (!node)
		return 0;
	return memfile_notifier_report_error(node, inode, start,
					     start + pages_per_huge_page(h));
}

static struct memfile_node *hugetlbfs_lookup_memfile_node(struct file *file,
							  bool create)
{
	struct inode *inode = file_inode(file);

	/* Not SysV shm, which shares hugetlbfs inodes but not their rules. */
	if (file->f_op != &hugetlbfs_file_operations || !S_ISREG(inode->i_mode))
		return NULL;
	return memfile_inode_node(&HUGETLBFS_I(inode)->memfile_node, inode,
				  create);
}

/*
 * The PFN of base page @pgoff and the order of the huge page that holds it,
 * which a hole is filled with first, as fallocate() would fill it (with its
 * accounting: -ENOSPC when the pool is empty) but without the inode lock:
 * vCPUs faulting on different huge pages of one file fill them in parallel,
 * serialised per huge page by the hugetlb fault mutex.
 *
 * mapping->invalidate_lock, held shared, excludes hole punch and truncation
 * (see hugetlbfs_memfile_invalidate_start()), so a page we fill cannot be
 * punched before we hand it out, and i_size cannot shrink under us: a page
 * at or past EOF is never handed out, so truncation need not tell consumers
 * about pages beyond the old EOF.
 *
 * The folio is locked while we take its PFN, which excludes
 * hugetlbfs_migrate_folio(): a migration that checked MEMFILE_F_UNMOVABLE
 * before a consumer registered either fails on the reference we hold or
 * moves the page before we see it, never in between with our PFN handed
 * out and the old page freed.
 */
static int hugetlbfs_memfile_get_pfn(struct file *file, pgoff_t pgoff,
				     unsigned long *pfn, unsigned int *order)
{
	struct inode *inode = file_inode(file);
	struct address_space *mapping = inode->i_mapping;
	struct hstate *h = hstate_inode(inode);
	pgoff_t index = pgoff >> huge_page_order(h);
	struct folio *folio;
	int ret = 0;

	filemap_invalidate_lock_shared(mapping);
	if (pgoff >= i_size_read(inode) >> PAGE_SHIFT) {
		ret = -ERANGE;
		goto out;
	}
	/* Nothing takes a filled page out while we hold invalidate_lock. */
	for (;;) {
		folio = filemap_lock_folio(mapping, index);
		if (folio)
			break;
		if (READ_ONCE(HUGETLBFS_I(inode)->seals) & F_SEAL_AUTO_ALLOCATE) {
			ret = -ENOENT;
			goto out;
		}
		/* Filling a hole writes the file, as fallocate() would. */
		if (!(file->f_mode & FMODE_WRITE)) {
			ret = -EBADF;
			goto out;
		}
		/* Not interruptible: a 1G page is zeroed whole, signal or not. */
		ret = hugetlbfs_fill_range(file, index, index + 1, false);
		if (ret)
			goto out;
	}

	if (folio_test_hwpoison(folio)) {
		folio_unlock(folio);
		folio_put(folio);
		ret = -EHWPOISON;
		goto out;
	}
	*pfn = folio_pfn(folio) + (pgoff & (pages_per_huge_page(h) - 1));
	*order = huge_page_order(h);
	folio_unlock(folio);
out:
	filemap_invalidate_unlock_shared(mapping);
	return ret;
}

static void hugetlbfs_memfile_put_pfn(struct file *file, unsigned long pfn)
{
	folio_put(page_folio(pfn_to_page(pfn)));
}

/*
 * Called by memfile_mmap() for a memfile the store owns: a hugetlb VMA of the
 * file, which hugetlbfs' own fault path fills with whole huge pages.  The
 * address and length were checked by hugetlbfs' get_unmapped_area, which the
 * front end's must call.  hugetlbfs grows a file to the end of a writable
 * mapping; a memfile's size is its front end's, so a mapping past EOF is
 * refused instead.
 */
static int hugetlbfs_memfile_mmap(struct file *file, struct vm_area_struct *vma)
{
	loff_t end = ((loff_t)vma->vm_pgoff << PAGE_SHIFT) +
		     (vma->vm_end - vma->vm_start);

	if (end > i_size_read(file_inode(file)))
		return -EINVAL;
	vma_set_file(vma, file);
	return file->f_op->mmap(file, vma);
}

static struct memfile_backing_store hugetlbfs_memfile_store = {
	.name = "hugetlbfs",
	/* Huge pages are never reclaimed; migration is refused on request. */
	.supported_flags = MEMFILE_F_ALLOWED_MASK,
	.lookup_memfile_node = hugetlbfs_lookup_memfile_node,
	.get_pfn = hugetlbfs_memfile_get_pfn,
	.put_pfn = hugetlbfs_memfile_put_pfn,
	.mmap = hugetlbfs_memfile_mmap,
};

static int __init hugetlbfs_memfile_register(void)
{
	return memfile_register_backing_store(&hugetlbfs_memfile_store);
}
fs_initcall(hugetlbfs_memfile_register);
