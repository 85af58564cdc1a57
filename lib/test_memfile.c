// SPDX-License-Identifier: GPL-2.0-only
/*
 * A memfile_notifier consumer for tests: /dev/test_memfile lets a selftest
 * register on a memory file, take and drop PFNs, read the log of the
 * invalidations the backing store sends, and read or write the file's pages
 * through the kernel.  Each open of the device is one consumer.
 *
 * It hands page frame numbers to userspace: root only, for testing only.
 */

#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/hugetlb.h>
#include <linux/memfile_notifier.h>
#include <linux/migrate.h>
#include <linux/miscdevice.h>
#include <linux/mm_inline.h>
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "../mm/internal.h"	/* folio_isolate_lru, migration_target_control */
#include "test_memfile_uapi.h"

#define TEST_MEMFILE_LOG_SIZE	64

struct test_memfile {
	struct mutex lock;		/* serialises ioctls and release */
	struct memfile_notifier notifier;
	struct xarray refs;		/* pfn -> references held, as xa value */
	u64 nr_refs;

	spinlock_t log_lock;		/* protects the fields below */
	struct test_memfile_event log[TEST_MEMFILE_LOG_SIZE];
	unsigned int log_len;
	unsigned int log_lost;
};

static struct test_memfile *to_test_memfile(struct memfile_notifier *notifier)
{
	return container_of(notifier, struct test_memfile, notifier);
}

static void test_memfile_log(struct memfile_notifier *notifier, u32 kind,
			     pgoff_t start, pgoff_t end)
{
	struct test_memfile *tm = to_test_memfile(notifier);

	spin_lock(&tm->log_lock);
	if (tm->log_len < TEST_MEMFILE_LOG_SIZE)
		tm->log[tm->log_len++] = (struct test_memfile_event){
			.kind = kind, .start = start, .end = end,
		};
	else
		tm->log_lost++;
	spin_unlock(&tm->log_lock);
}

static void test_memfile_invalidate_start(struct memfile_notifier *notifier,
					  pgoff_t start, pgoff_t end)
{
	test_memfile_log(notifier, TEST_MEMFILE_EVENT_START, start, end);
}

static void test_memfile_invalidate_end(struct memfile_notifier *notifier,
					pgoff_t start, pgoff_t end)
{
	test_memfile_log(notifier, TEST_MEMFILE_EVENT_END, start, end);
}

static const struct memfile_notifier_ops test_memfile_ops = {
	.invalidate_start = test_memfile_invalidate_start,
	.invalidate_end = test_memfile_invalidate_end,
};

static int test_memfile_open(struct inode *inode, struct file *file)
{
	struct test_memfile *tm;

	tm = kzalloc(sizeof(*tm), GFP_KERNEL);
	if (!tm)
		return -ENOMEM;
	mutex_init(&tm->lock);
	spin_lock_init(&tm->log_lock);
	xa_init(&tm->refs);
	tm->notifier.ops = &test_memfile_ops;
	file->private_data = tm;
	return 0;
}

/* Drop every reference userspace did not put, then the registration. */
static void test_memfile_unregister(struct test_memfile *tm)
{
	unsigned long pfn;
	void *entry;

	xa_for_each(&tm->refs, pfn, entry) {
		unsigned long n = xa_to_value(entry);

		while (n--)
			memfile_put_pfn(&tm->notifier, pfn);
		xa_erase(&tm->refs, pfn);
	}
	tm->nr_refs = 0;
	memfile_unregister_notifier(&tm->notifier);
}

static int test_memfile_release(struct inode *inode, struct file *file)
{
	struct test_memfile *tm = file->private_data;

	if (tm->notifier.node)
		test_memfile_unregister(tm);
	xa_destroy(&tm->refs);
	kfree(tm);
	return 0;
}

static int test_memfile_register(struct test_memfile *tm, void __user *uarg)
{
	struct test_memfile_register arg;
	struct file *file;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.pad)
		return -EINVAL;
	file = fget(arg.fd);
	if (!file)
		return -EBADF;
	/* The registration holds its own reference on the file. */
	ret = memfile_register_notifier(file, arg.flags, &tm->notifier);
	fput(file);
	return ret;
}

static int test_memfile_get_pfn(struct test_memfile *tm, void __user *uarg)
{
	struct test_memfile_pfn arg;
	unsigned long pfn, held;
	unsigned int order;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.pad)
		return -EINVAL;
	ret = memfile_get_pfn(&tm->notifier, arg.pgoff, &pfn, &order);
	if (ret)
		return ret;

	held = xa_to_value(xa_load(&tm->refs, pfn) ?: xa_mk_value(0));
	ret = xa_err(xa_store(&tm->refs, pfn, xa_mk_value(held + 1), GFP_KERNEL));
	if (ret) {
		memfile_put_pfn(&tm->notifier, pfn);
		return ret;
	}
	tm->nr_refs++;

	arg.pfn = pfn;
	arg.order = order;
	if (copy_to_user(uarg, &arg, sizeof(arg)))
		return -EFAULT;	/* the reference stays held until PUT or close */
	return 0;
}

static int test_memfile_put_pfn(struct test_memfile *tm, void __user *uarg)
{
	struct test_memfile_pfn arg;
	unsigned long held;
	void *entry;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (!tm->notifier.node)
		return -EINVAL;
	/* Only ever put what this consumer got: userspace picks the PFN. */
	entry = xa_load(&tm->refs, arg.pfn);
	if (!entry)
		return -ENOENT;
	held = xa_to_value(entry);
	if (held > 1)
		xa_store(&tm->refs, arg.pfn, xa_mk_value(held - 1), GFP_KERNEL);
	else
		xa_erase(&tm->refs, arg.pfn);
	tm->nr_refs--;
	memfile_put_pfn(&tm->notifier, arg.pfn);
	return 0;
}

static int test_memfile_read_log(struct test_memfile *tm, void __user *uarg)
{
	struct test_memfile_event *events;
	struct test_memfile_log arg;
	unsigned int n;
	int ret = 0;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.pad || arg.max > TEST_MEMFILE_LOG_SIZE)
		return -EINVAL;
	events = kmalloc_array(TEST_MEMFILE_LOG_SIZE, sizeof(*events), GFP_KERNEL);
	if (!events)
		return -ENOMEM;

	spin_lock(&tm->log_lock);
	n = min(tm->log_len, arg.max);
	memcpy(events, tm->log, n * sizeof(*events));
	memmove(tm->log, tm->log + n, (tm->log_len - n) * sizeof(*events));
	tm->log_len -= n;
	arg.lost = tm->log_lost;
	tm->log_lost = 0;
	spin_unlock(&tm->log_lock);

	arg.count = n;
	if (copy_to_user(u64_to_user_ptr(arg.events), events, n * sizeof(*events)) ||
	    copy_to_user(uarg, &arg, sizeof(arg)))
		ret = -EFAULT;
	kfree(events);
	return ret;
}

static int test_memfile_access(struct test_memfile *tm, void __user *uarg)
{
	struct test_memfile_access arg;
	unsigned long pfn;
	unsigned int order;
	void *buf, *vaddr;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.pad || arg.write > 1 || arg.offset >= PAGE_SIZE ||
	    arg.len > PAGE_SIZE - arg.offset)
		return -EINVAL;
	buf = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	if (arg.write && copy_from_user(buf, u64_to_user_ptr(arg.buf), arg.len)) {
		ret = -EFAULT;
		goto out;
	}

	ret = memfile_get_pfn(&tm->notifier, arg.pgoff, &pfn, &order);
	if (ret)
		goto out;
	vaddr = kmap_local_pfn(pfn);
	if (arg.write)
		memcpy(vaddr + arg.offset, buf, arg.len);
	else
		memcpy(buf, vaddr + arg.offset, arg.len);
	kunmap_local(vaddr);
	memfile_put_pfn(&tm->notifier, pfn);

	if (!arg.write && copy_to_user(u64_to_user_ptr(arg.buf), buf, arg.len))
		ret = -EFAULT;
out:
	kfree(buf);
	return ret;
}

#if defined(CONFIG_MIGRATION) || defined(CONFIG_MEMORY_FAILURE)
/*
 * The folio that holds base page @pgoff of a hugetlbfs or shmem file, with
 * a reference, and the PFN of that base page.  For errors and migrations
 * that come from outside any consumer: no registration needed.
 */
static struct folio *test_memfile_file_folio(struct file *file, pgoff_t pgoff,
					     unsigned long *pfn)
{
	pgoff_t index = pgoff;
	struct folio *folio;

	if (is_file_hugepages(file))
		index = pgoff >> huge_page_order(hstate_file(file));
	else if (!shmem_file(file))
		return ERR_PTR(-EOPNOTSUPP);

	folio = filemap_get_folio(file->f_mapping, index);
	if (!folio)
		return ERR_PTR(-ENOENT);
	if (folio_test_hugetlb(folio))
		*pfn = folio_pfn(folio) + (pgoff & (folio_nr_pages(folio) - 1));
	else
		*pfn = folio_pfn(folio) + (pgoff - folio->index);
	return folio;
}

/*
 * The folio named by a struct test_memfile_file_page at @uarg, with a
 * reference, and in *@filep the file, also with a reference, which keeps
 * the folio from being freed once the caller drops its own.
 */
static struct folio *test_memfile_user_folio(void __user *uarg,
					     struct file **filep,
					     unsigned long *pfn)
{
	struct test_memfile_file_page arg;
	struct folio *folio;
	struct file *file;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return ERR_PTR(-EFAULT);
	if (arg.pad)
		return ERR_PTR(-EINVAL);
	file = fget(arg.fd);
	if (!file)
		return ERR_PTR(-EBADF);
	folio = test_memfile_file_folio(file, arg.pgoff, pfn);
	if (IS_ERR(folio))
		fput(file);
	else
		*filep = file;
	return folio;
}
#endif

#ifdef CONFIG_MIGRATION
/* Isolate the folio as compaction would; it is ours on return 0. */
static int test_memfile_isolate(struct folio *folio, struct list_head *pages)
{
	int ret;

	if (folio_test_hugetlb(folio))
		return folio_isolate_hugetlb(&folio->page, pages);

	lru_add_drain_all();	/* a new folio may still sit in a pagevec */
	ret = folio_isolate_lru(folio);
	if (ret)
		return ret;
	list_add(&folio->lru, pages);
	node_stat_mod_folio(folio, NR_ISOLATED_ANON + folio_is_file_lru(folio),
			    folio_nr_pages(folio));
	return 0;
}

/* Migrate what test_memfile_isolate() took; -EBUSY if the store refused. */
static int test_memfile_migrate_isolated(struct list_head *pages)
{
	struct migration_target_control mtc = {
		.nid = NUMA_NO_NODE,
		.gfp_mask = GFP_HIGHUSER_MOVABLE,
	};
	int ret;

	ret = migrate_pages(pages, alloc_migration_target, NULL,
			    (unsigned long)&mtc, MIGRATE_SYNC, MR_SYSCALL, NULL);
	if (ret) {
		putback_movable_pages(pages);
		return ret < 0 ? ret : -EBUSY;
	}
	return 0;
}

static int test_memfile_migrate(struct test_memfile *tm, void __user *uarg)
{
	struct test_memfile_pfn arg;
	unsigned long pfn;
	unsigned int order;
	LIST_HEAD(pages);
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.pad)
		return -EINVAL;
	ret = memfile_get_pfn(&tm->notifier, arg.pgoff, &pfn, &order);
	if (ret)
		return ret;
	ret = test_memfile_isolate(page_folio(pfn_to_page(pfn)), &pages);
	/* Our reference would make the migration fail: drop it first. */
	memfile_put_pfn(&tm->notifier, pfn);
	if (ret)
		return ret;

	ret = test_memfile_migrate_isolated(&pages);
	if (ret)
		return ret;

	ret = memfile_get_pfn(&tm->notifier, arg.pgoff, &pfn, &order);
	if (ret)
		return ret;
	memfile_put_pfn(&tm->notifier, pfn);
	arg.pfn = pfn;
	arg.order = order;
	return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
}

static int test_memfile_migrate_file(void __user *uarg)
{
	struct folio *folio;
	unsigned long pfn;
	struct file *file;
	LIST_HEAD(pages);
	int ret;

	folio = test_memfile_user_folio(uarg, &file, &pfn);
	if (IS_ERR(folio))
		return PTR_ERR(folio);
	ret = test_memfile_isolate(folio, &pages);
	folio_put(folio);
	if (!ret)
		ret = test_memfile_migrate_isolated(&pages);
	fput(file);
	return ret;
}
#else
static int test_memfile_migrate(struct test_memfile *tm, void __user *uarg)
{
	return -EOPNOTSUPP;
}

static int test_memfile_migrate_file(void __user *uarg)
{
	return -EOPNOTSUPP;
}
#endif

#ifdef CONFIG_MEMORY_FAILURE
static int test_memfile_poison(void __user *uarg)
{
	struct folio *folio;
	unsigned long pfn;
	struct file *file;
	int ret;

	folio = test_memfile_user_folio(uarg, &file, &pfn);
	if (IS_ERR(folio))
		return PTR_ERR(folio);
	/* An extra reference would make the recovery fail. */
	folio_put(folio);
	/*
	 * As an error found by a memory scrubber: nobody is signalled.
	 * Consumers are invalidated as our task work, before this ioctl
	 * returns to user mode.
	 */
	ret = memory_failure(pfn, 0);
	fput(file);
	return ret;
}
#else
static int test_memfile_poison(void __user *uarg)
{
	return -EOPNOTSUPP;
}
#endif

static long test_memfile_ioctl(struct file *file, unsigned int cmd,
			       unsigned long arg)
{
	struct test_memfile *tm = file->private_data;
	void __user *uarg = (void __user *)arg;
	long ret;

	mutex_lock(&tm->lock);
	switch (cmd) {
	case TEST_MEMFILE_REGISTER:
		ret = test_memfile_register(tm, uarg);
		break;
	case TEST_MEMFILE_UNREGISTER:
		ret = -EINVAL;
		if (tm->notifier.node) {
			test_memfile_unregister(tm);
			ret = 0;
		}
		break;
	case TEST_MEMFILE_GET_PFN:
		ret = test_memfile_get_pfn(tm, uarg);
		break;
	case TEST_MEMFILE_PUT_PFN:
		ret = test_memfile_put_pfn(tm, uarg);
		break;
	case TEST_MEMFILE_READ_LOG:
		ret = test_memfile_read_log(tm, uarg);
		break;
	case TEST_MEMFILE_ACCESS:
		ret = test_memfile_access(tm, uarg);
		break;
	case TEST_MEMFILE_MIGRATE:
		ret = test_memfile_migrate(tm, uarg);
		break;
	case TEST_MEMFILE_POISON:
		ret = test_memfile_poison(uarg);
		break;
	case TEST_MEMFILE_MIGRATE_FILE:
		ret = test_memfile_migrate_file(uarg);
		break;
	case TEST_MEMFILE_REFS:
		ret = put_user(tm->nr_refs, (u64 __user *)uarg);
		break;
	default:
		ret = -ENOTTY;
	}
	mutex_unlock(&tm->lock);
	return ret;
}

static const struct file_operations test_memfile_fops = {
	.owner = THIS_MODULE,
	.open = test_memfile_open,
	.release = test_memfile_release,
	.unlocked_ioctl = test_memfile_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice test_memfile_device = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "test_memfile",
	.fops = &test_memfile_fops,
	.mode = 0600,
};

module_misc_device(test_memfile_device);

MODULE_DESCRIPTION("memfile_notifier test consumer");
MODULE_LICENSE("GPL");
