// SPDX-License-Identifier: GPL-2.0-only
/*
 * shmem as a memfile_notifier backing store.
 *
 * The second store, which keeps the core honest: base pages, or a huge
 * folio when shmem gives one (huge= mount option, shmem_enabled), and
 * invalidations rounded to the folios that are actually dropped.
 */

#include <linux/fs.h>
#include <linux/memfile_notifier.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/shmem_fs.h>
#include <linux/shmem_memfile.h>
#include <linux/swap.h>

/*
 * NULL until the file becomes a memfile (see memfile_inode_node(), whose
 * cmpxchg_release() this pairs with by address dependency); shmem_get_inode()
 * zeroes it.
 */
static struct memfile_node *shmem_memfile_node(struct inode *inode)
{
	return READ_ONCE(SHMEM_I(inode)->memfile_node);
}

/**
 * shmem_memfile_destroy_inode - free the memfile node of an inode
 * @inode: a shmem inode being destroyed
 *
 * Called by shmem_destroy_inode().
 */
void shmem_memfile_destroy_inode(struct inode *inode)
{
	memfile_inode_node_free(SHMEM_I(inode)->memfile_node);
}

/**
 * shmem_memfile_inaccessible - may host userspace read, write or map it?
 * @inode: a shmem inode
 *
 * Called by shmem's read, write and mmap entry points.
 *
 * Return: true if the file was created with MFD_INACCESSIBLE.
 */
bool shmem_memfile_inaccessible(struct inode *inode)
{
	return memfile_node_flags(shmem_memfile_node(inode)) & MEMFILE_F_USER_INACCESSIBLE;
}

/**
 * shmem_memfile_unmovable - must the file's pages stay where they are?
 * @inode: a shmem inode
 *
 * Called by shmem_migrate_folio(), with the folio locked.
 *
 * Return: true while a consumer that asked for MEMFILE_F_UNMOVABLE is
 * registered.
 */
bool shmem_memfile_unmovable(struct inode *inode)
{
	return memfile_node_flags(shmem_memfile_node(inode)) & MEMFILE_F_UNMOVABLE;
}

/* Widen @index to the first (or past the last) page of its folio. */
static pgoff_t shmem_memfile_folio_edge(struct address_space *mapping,
					pgoff_t index, bool first)
{
	struct folio *folio = filemap_get_folio(mapping, index);
	pgoff_t edge = first ? index : index + 1;

	if (folio) {
		edge = first ? folio->index : folio->index + folio_nr_pages(folio);
		folio_put(folio);
	}
	return edge;
}

/**
 * shmem_memfile_invalidate_start - a byte range is going away
 * @inode:	the file's inode, locked (inode_lock)
 * @lstart:	first byte
 * @lend:	first byte after the range
 * @range:	out: the pages consumers are told about, for
 *		shmem_memfile_invalidate_end()
 *
 * Called by hole punch and truncation before anything in the range is
 * unmapped, zeroed or freed.  The range is rounded out to the folios that
 * hold its first and last byte, which are dropped or zeroed whole or in
 * part.  Does nothing for a file that is not a memfile: the inode lock,
 * held exclusive, keeps it from becoming one until
 * shmem_memfile_invalidate_end().
 */
void shmem_memfile_invalidate_start(struct inode *inode, loff_t lstart,
				    loff_t lend, struct memfile_range *range)
{
	struct address_space *mapping = inode->i_mapping;
	struct memfile_node *node = shmem_memfile_node(inode);
	pgoff_t last;

	lockdep_assert_held_write(&inode->i_rwsem);
	if (!node)
		return;
	last = (round_up((u64)lend, PAGE_SIZE) >> PAGE_SHIFT) - 1;
	range->start = shmem_memfile_folio_edge(mapping, lstart >> PAGE_SHIFT,
						true);
	range->end = shmem_memfile_folio_edge(mapping, last, false);
	memfile_notifier_invalidate_start(node, range->start, range->end);
}

/**
 * shmem_memfile_invalidate_end - a byte range is gone
 * @inode:	as for shmem_memfile_invalidate_start()
 * @range:	as shmem_memfile_invalidate_start() set it
 *
 * Called by the same task, still holding the inode lock.
 */
void shmem_memfile_invalidate_end(struct inode *inode,
				  const struct memfile_range *range)
{
	struct memfile_node *node = shmem_memfile_node(inode);

	lockdep_assert_held_write(&inode->i_rwsem);
	if (node)
		memfile_notifier_invalidate_end(node, range->start, range->end);
}

/**
 * shmem_memfile_error_page - memory_failure() poisoned a page of a file
 * @inode:	the file's inode
 * @page:	the poisoned page, locked, kept in the page cache
 *
 * Called by shmem_error_remove_page().  From now on get_pfn refuses the page
 * (-EHWPOISON); consumers that took it are told to drop its folio, shortly
 * after (see memfile_notifier_report_error()).
 *
 * Return: as memfile_notifier_report_error().
 */
int shmem_memfile_error_page(struct inode *inode, struct page *page)
{
	struct memfile_node *node = shmem_memfile_node(inode);
	struct folio *folio = page_folio(page);

	/*
	 * A node that appears after this read cannot get the page: its
	 * poison flag is set already, and get_pfn checks it.
	 */
	if (!node)
		return 0;
	return memfile_notifier_report_error(node, inode, folio->index,
					     folio->index + folio_nr_pages(folio));
}

/**
 * shmem_memfile_fallocated - make a memfile's fallocated pages ready
 * @inode:	a shmem inode, locked by fallocate()
 * @start:	first page of the range fallocate() allocated
 * @end:	page after the last
 *
 * Called by shmem_fallocate() once the whole range is allocated.  shmem
 * leaves fallocated folios !uptodate, so that a failed fallocate() can tell
 * them from older ones and free them, and zeroes them on first use.  A
 * memfile's first use is its consumer's fault (get_pfn), which would then
 * pay for the zeroing; zero them here instead, as hugetlbfs does, so that
 * fallocate() is where a memfile's memory is prepared.  Other shmem files
 * keep zeroing on first use.
 */
void shmem_memfile_fallocated(struct inode *inode, pgoff_t start, pgoff_t end)
{
	struct address_space *mapping = inode->i_mapping;
	pgoff_t index = start;

	if (!shmem_memfile_node(inode))
		return;

	while (index < end) {
		struct folio *folio = filemap_lock_folio(mapping, index);
		long i, n;

		if (!folio) {
			index++;
			continue;
		}
		if (!folio_test_uptodate(folio)) {
			n = folio_nr_pages(folio);
			for (i = 0; i < n; i++)
				clear_highpage(folio_page(folio, i));
			flush_dcache_folio(folio);
			folio_mark_uptodate(folio);
		}
		index = folio_next_index(folio);
		folio_unlock(folio);
		folio_put(folio);
		cond_resched();
	}
}

static struct memfile_node *shmem_lookup_memfile_node(struct file *file,
						      bool create)
{
	struct inode *inode = file_inode(file);

	/*
	 * Only files opened through shmem's own operations: not SysV shm,
	 * which wraps shmem files in its own and has SHM_LOCK.
	 */
	if (!shmem_file(file) || !S_ISREG(inode->i_mode) ||
	    file->f_op != inode->i_fop)
		return NULL;
	return memfile_inode_node(&SHMEM_I(inode)->memfile_node, inode, create);
}

static int shmem_memfile_get_pfn(struct file *file, pgoff_t pgoff,
				 unsigned long *pfn, unsigned int *order)
{
	struct inode *inode = file_inode(file);
	struct folio *folio = NULL;
	int ret;

	/* Under the inode lock, as for hugetlbfs: nothing past EOF. */
	inode_lock_shared(inode);
	if (pgoff >= i_size_read(inode) >> PAGE_SHIFT)
		ret = -ERANGE;
	else
		ret = shmem_get_folio(inode, pgoff, &folio, SGP_CACHE);
	inode_unlock_shared(inode);
	if (ret)
		return ret == -EIO ? -EHWPOISON : ret;

	/*
	 * shmem_get_folio() hands out poisoned pages (its callers check), and
	 * a consumer may map the whole folio: refuse it if any page is bad.
	 */
	if (folio_test_hwpoison(folio) ||
	    (folio_test_large(folio) && folio_test_has_hwpoisoned(folio))) {
		folio_unlock(folio);
		folio_put(folio);
		return -EHWPOISON;
	}

	/* The consumer may write through its mapping: never drop it clean. */
	folio_mark_dirty(folio);
	folio_unlock(folio);
	*pfn = folio_pfn(folio) + (pgoff - folio->index);
	*order = folio_order(folio);
	return 0;
}

static void shmem_memfile_put_pfn(struct file *file, unsigned long pfn)
{
	folio_put(page_folio(pfn_to_page(pfn)));
}

/*
 * A host fault on a memfile's mapping: the page memfile_get_pfn() hands out
 * at that index, allocated and zeroed if it is a hole.  Not shmem_fault():
 * shmem's own VMAs are candidates for khugepaged and MADV_COLLAPSE, which
 * would replace pages under a consumer that maps them; a memfile's pages
 * change only with an invalidation.
 */
static vm_fault_t shmem_memfile_fault(struct vm_fault *vmf)
{
	struct inode *inode = file_inode(vmf->vma->vm_file);
	struct folio *folio = NULL;
	int err;

	/* shmem_get_folio() refuses an index past EOF with -EINVAL. */
	err = shmem_get_folio(inode, vmf->pgoff, &folio, SGP_CACHE);
	if (err)
		return vmf_error(err);
	if (folio_test_hwpoison(folio) ||
	    (folio_test_large(folio) && folio_test_has_hwpoisoned(folio))) {
		folio_unlock(folio);
		folio_put(folio);
		return VM_FAULT_HWPOISON;
	}
	vmf->page = folio_file_page(folio, vmf->pgoff);
	return VM_FAULT_LOCKED;
}

/*
 * mbind() of a mapping sets the file's own policy for the range, as for
 * shmem's own mappings: every allocation of its pages follows it, the
 * consumer's get_pfn and fallocate() as much as host faults.
 */
static const struct vm_operations_struct shmem_memfile_vm_ops = {
	.fault		= shmem_memfile_fault,
#ifdef CONFIG_NUMA
	.set_policy	= shmem_set_policy,
	.get_policy	= shmem_get_policy,
#endif
};

/* Called by memfile_mmap() for a memfile the store owns. */
static int shmem_memfile_mmap(struct file *file, struct vm_area_struct *vma)
{
	vma_set_file(vma, file);
	file_accessed(file);
	/* VM_DONTEXPAND: no mremap() growth, and no THP collapse (above). */
	vma->vm_flags |= VM_DONTEXPAND;
	vma->vm_ops = &shmem_memfile_vm_ops;
	return 0;
}

/*
 * Registered pages stay off the evictable LRU, as with SHM_LOCK; when the
 * last such consumer goes they are made evictable again.
 */
static void shmem_memfile_flags_changed(struct file *file, unsigned long flags)
{
	struct address_space *mapping = file->f_mapping;

	if (flags & MEMFILE_F_UNRECLAIMABLE) {
		mapping_set_unevictable(mapping);
	} else if (mapping_unevictable(mapping)) {
		mapping_clear_unevictable(mapping);
		shmem_unlock_mapping(mapping);
	}
}

static struct memfile_backing_store shmem_memfile_store = {
	.name = "shmem",
	.supported_flags = MEMFILE_F_ALLOWED_MASK,
	.lookup_memfile_node = shmem_lookup_memfile_node,
	.get_pfn = shmem_memfile_get_pfn,
	.put_pfn = shmem_memfile_put_pfn,
	.mmap = shmem_memfile_mmap,
	.flags_changed = shmem_memfile_flags_changed,
};

static int __init shmem_memfile_register(void)
{
	return memfile_register_backing_store(&shmem_memfile_store);
}
fs_initcall(shmem_memfile_register);
