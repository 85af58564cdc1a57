/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hugetlbfs as a memfile_notifier backing store: the hooks hugetlbfs and the
 * hugetlb fault path call.  See Documentation/mm/memfile_notifier.rst.
 */
#ifndef _LINUX_HUGETLBFS_MEMFILE_H
#define _LINUX_HUGETLBFS_MEMFILE_H

#include <linux/memfile_notifier.h>
#include <linux/types.h>

struct inode;
struct page;

#ifdef CONFIG_HUGETLBFS_MEMFILE

void hugetlbfs_memfile_init_inode(struct inode *inode);
void hugetlbfs_memfile_destroy_inode(struct inode *inode);
bool hugetlbfs_memfile_inaccessible(struct inode *inode);
bool hugetlbfs_memfile_unmovable(struct inode *inode);
void hugetlbfs_memfile_invalidate_start(struct inode *inode, loff_t lstart,
					loff_t lend, struct memfile_range *range);
void hugetlbfs_memfile_invalidate_end(struct inode *inode,
				      const struct memfile_range *range);
int hugetlbfs_memfile_error_page(struct inode *inode, struct page *page);

#else /* !CONFIG_HUGETLBFS_MEMFILE */

static inline void hugetlbfs_memfile_init_inode(struct inode *inode)
{
}

static inline void hugetlbfs_memfile_destroy_inode(struct inode *inode)
{
}

static inline bool hugetlbfs_memfile_inaccessible(struct inode *inode)
{
	return false;
}

static inline bool hugetlbfs_memfile_unmovable(struct inode *inode)
{
	return false;
}

static inline void
hugetlbfs_memfile_invalidate_start(struct inode *inode, loff_t lstart,
				   loff_t lend, struct memfile_range *range)
{
}

static inline void
hugetlbfs_memfile_invalidate_end(struct inode *inode,
				 const struct memfile_range *range)
{
}

static inline int hugetlbfs_memfile_error_page(struct inode *inode,
					       struct page *page)
{
	return 0;
}

#endif /* CONFIG_HUGETLBFS_MEMFILE */

#endif /* _LINUX_HUGETLBFS_MEMFILE_H */
