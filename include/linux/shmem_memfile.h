/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shmem as a memfile_notifier backing store: the hooks mm/shmem.c calls.
 * See Documentation/mm/memfile_notifier.rst.
 */
#ifndef _LINUX_SHMEM_MEMFILE_H
#define _LINUX_SHMEM_MEMFILE_H

#include <linux/types.h>

struct inode;
struct page;

#ifdef CONFIG_SHMEM_MEMFILE

void shmem_memfile_destroy_inode(struct inode *inode);
bool shmem_memfile_inaccessible(struct inode *inode);
bool shmem_memfile_unmovable(struct inode *inode);
void shmem_memfile_invalidate_start(struct inode *inode, loff_t lstart,
				    loff_t lend, struct memfile_range *range);
void shmem_memfile_invalidate_end(struct inode *inode,
				  const struct memfile_range *range);
int shmem_memfile_error_page(struct inode *inode, struct page *page);
void shmem_memfile_fallocated(struct inode *inode, pgoff_t start, pgoff_t end);

#else /* !CONFIG_SHMEM_MEMFILE */

static inline void shmem_memfile_destroy_inode(struct inode *inode)
{
}

static inline bool shmem_memfile_inaccessible(struct inode *inode)
{
	return false;
}

static inline bool shmem_memfile_unmovable(struct inode *inode)
{
	return false;
}

static inline void
shmem_memfile_invalidate_start(struct inode *inode, loff_t lstart, loff_t lend,
			       struct memfile_range *range)
{
}

static inline void
shmem_memfile_invalidate_end(struct inode *inode,
			     const struct memfile_range *range)
{
}

static inline int shmem_memfile_error_page(struct inode *inode,
					   struct page *page)
{
	return 0;
}

static inline void shmem_memfile_fallocated(struct inode *inode,
					    pgoff_t start, pgoff_t end)
{
}

#endif /* CONFIG_SHMEM_MEMFILE */

#endif /* _LINUX_SHMEM_MEMFILE_H */
