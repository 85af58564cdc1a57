// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit tests for the memfile_notifier core, against a fake backing store
 * whose files are anonymous-inode files carrying a memfile_node.
 */

#include <kunit/test.h>
#include <linux/anon_inodes.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/memfile_notifier.h>
#include <linux/sched.h>
#include <linux/spinlock.h>

#define FAKE_FILE_PAGES		64
#define FAKE_PFN_BASE		0x100000UL
#define LOG_MAX			16
#define MAX_FILES		4
#define WAIT_TIMEOUT		(5 * HZ)
#define BLOCKED_GRACE_MS	100

/* A file of the fake store: its node, size and outstanding page references. */
struct fake_file {
	struct memfile_node node;
	pgoff_t nr_pages;
	atomic_t refs;
	int flags_calls;		/* calls of fake_flags_changed() */
	unsigned long flags_seen;	/* its last @flags */
};

/* The f_op of a file tells which store, if any, owns it. */
static const struct file_operations fake_store_fops;
static const struct file_operations movable_store_fops;
static const struct file_operations not_a_memfile_fops;

enum event_kind { EV_START, EV_END, EV_UNREGISTERED };

struct event {
	enum event_kind kind;
	int who;
	pgoff_t start, end;
};

/* Everything a test looks at: the ordered log of what consumers saw. */
struct test_ctx {
	spinlock_t lock;			/* protects log and nr_events */
	struct event log[LOG_MAX];
	int nr_events;
	struct fake_file *blocking_file;	/* invalidate_start of it blocks */
	struct completion blocked;		/* ... and says so here */
	struct completion unblock;		/* ... until this, for good */
	struct file *files[MAX_FILES];		/* put by memfile_test_exit() */
	int nr_files;
	struct completion *running[2];		/* kthreads to wait for */
	bool movable_store_registered;
};

struct test_consumer {
	struct memfile_notifier notifier;
	struct test_ctx *ctx;
	int id;
};

static void log_event(struct test_ctx *ctx, enum event_kind kind, int who,
		      pgoff_t start, pgoff_t end)
{
	spin_lock(&ctx->lock);
	if (ctx->nr_events < LOG_MAX)
		ctx->log[ctx->nr_events] = (struct event){ kind, who, start, end };
	ctx->nr_events++;
	spin_unlock(&ctx->lock);
}

static struct test_consumer *to_consumer(struct memfile_notifier *notifier)
{
	return container_of(notifier, struct test_consumer, notifier);
}

static void consumer_invalidate_start(struct memfile_notifier *notifier,
				      pgoff_t start, pgoff_t end)
{
	struct test_consumer *c = to_consumer(notifier);
	struct fake_file *ff = notifier->file->private_data;

	log_event(c->ctx, EV_START, c->id, start, end);
	if (ff == c->ctx->blocking_file) {
		complete(&c->ctx->blocked);
		wait_for_completion(&c->ctx->unblock);
	}
}

static void consumer_invalidate_end(struct memfile_notifier *notifier,
				    pgoff_t start, pgoff_t end)
{
	struct test_consumer *c = to_consumer(notifier);

	log_event(c->ctx, EV_END, c->id, start, end);
}

static const struct memfile_notifier_ops consumer_ops = {
	.invalidate_start = consumer_invalidate_start,
	.invalidate_end = consumer_invalidate_end,
};

static struct memfile_node *fake_node(struct file *file,
				      const struct file_operations *fops)
{
	struct fake_file *ff = file->private_data;

	return file->f_op == fops ? &ff->node : NULL;
}

static struct memfile_node *fake_lookup_memfile_node(struct file *file,
						     bool create)
{
	return fake_node(file, &fake_store_fops);
}

static struct memfile_node *movable_lookup_memfile_node(struct file *file,
							bool create)
{
	return fake_node(file, &movable_store_fops);
}

static int fake_get_pfn(struct file *file, pgoff_t pgoff, unsigned long *pfn,
			unsigned int *order)
{
	struct fake_file *ff = file->private_data;

	if (pgoff >= ff->nr_pages)
		return -ERANGE;
	atomic_inc(&ff->refs);
	*pfn = FAKE_PFN_BASE + pgoff;
	*order = 0;
	return 0;
}

static void fake_put_pfn(struct file *file, unsigned long pfn)
{
	struct fake_file *ff = file->private_data;

	atomic_dec(&ff->refs);
}

static void fake_flags_changed(struct file *file, unsigned long flags)
{
	struct fake_file *ff = file->private_data;

	ff->flags_calls++;
	ff->flags_seen = flags;
}

static struct memfile_backing_store fake_store = {
	.name = "kunit-fake",
	.supported_flags = MEMFILE_F_ALLOWED_MASK,
	.lookup_memfile_node = fake_lookup_memfile_node,
	.get_pfn = fake_get_pfn,
	.put_pfn = fake_put_pfn,
	.flags_changed = fake_flags_changed,
};

/* A second store, whose pages cannot be pinned against migration. */
static struct memfile_backing_store movable_store = {
	.name = "kunit-movable",
	.supported_flags = MEMFILE_F_USER_INACCESSIBLE,
	.lookup_memfile_node = movable_lookup_memfile_node,
	.get_pfn = fake_get_pfn,
	.put_pfn = fake_put_pfn,
};

static struct file *new_file(struct kunit *test,
			     const struct file_operations *fops,
			     unsigned long file_flags)
{
	struct test_ctx *ctx = test->priv;
	struct fake_file *ff;
	struct file *file;

	KUNIT_ASSERT_LT(test, ctx->nr_files, MAX_FILES);
	ff = kunit_kzalloc(test, sizeof(*ff), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, ff);
	memfile_node_init(&ff->node, file_flags);
	ff->nr_pages = FAKE_FILE_PAGES;
	atomic_set(&ff->refs, 0);

	file = anon_inode_getfile("memfile-kunit", fops, ff, O_RDWR);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, file);
	ctx->files[ctx->nr_files++] = file;
	return file;
}

static struct file *new_memfile(struct kunit *test, unsigned long file_flags)
{
	return new_file(test, &fake_store_fops, file_flags);
}

static struct fake_file *fake(struct file *file)
{
	return file->private_data;
}

static struct test_consumer *new_consumer(struct kunit *test, int id)
{
	struct test_consumer *c;

	c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, c);
	c->notifier.ops = &consumer_ops;
	c->ctx = test->priv;
	c->id = id;
	return c;
}

static void expect_event(struct kunit *test, int i, enum event_kind kind,
			 int who, pgoff_t start, pgoff_t end)
{
	struct test_ctx *ctx = test->priv;

	KUNIT_ASSERT_LT(test, i, min(ctx->nr_events, LOG_MAX));
	KUNIT_EXPECT_EQ_MSG(test, ctx->log[i].kind, kind, "event %d", i);
	KUNIT_EXPECT_EQ_MSG(test, ctx->log[i].who, who, "event %d", i);
	if (kind != EV_UNREGISTERED) {
		KUNIT_EXPECT_EQ_MSG(test, ctx->log[i].start, start, "event %d", i);
		KUNIT_EXPECT_EQ_MSG(test, ctx->log[i].end, end, "event %d", i);
	}
}

static void invalidate(struct file *file, pgoff_t start, pgoff_t end)
{
	memfile_notifier_invalidate_start(&fake(file)->node, start, end);
	memfile_notifier_invalidate_end(&fake(file)->node, start, end);
}

static void test_register_unregister(struct kunit *test)
{
	struct file *file = new_memfile(test, 0);
	struct test_consumer *c = new_consumer(test, 1);
	long count = file_count(file);

	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file, MEMFILE_F_UNMOVABLE,
							&c->notifier), 0);
	KUNIT_EXPECT_PTR_EQ(test, c->notifier.node, &fake(file)->node);
	KUNIT_EXPECT_PTR_EQ(test, c->notifier.file, file);
	KUNIT_EXPECT_EQ(test, file_count(file), count + 1);
	KUNIT_EXPECT_EQ(test, memfile_node_flags(&fake(file)->node),
			MEMFILE_F_UNMOVABLE);

	memfile_unregister_notifier(&c->notifier);
	KUNIT_EXPECT_NULL(test, c->notifier.node);
	KUNIT_EXPECT_EQ(test, file_count(file), count);
	KUNIT_EXPECT_EQ(test, memfile_node_flags(&fake(file)->node), 0UL);
	KUNIT_EXPECT_TRUE(test, list_empty(&fake(file)->node.notifiers));

	/* Registering again, with other flags, works once the file is free. */
	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file, MEMFILE_F_UNRECLAIMABLE,
							&c->notifier), 0);
	KUNIT_EXPECT_EQ(test, memfile_node_flags(&fake(file)->node),
			MEMFILE_F_UNRECLAIMABLE);
	memfile_unregister_notifier(&c->notifier);
}

static void test_unknown_flags(struct kunit *test)
{
	struct file *file = new_memfile(test, 0);
	struct test_consumer *c = new_consumer(test, 1);

	KUNIT_EXPECT_EQ(test, memfile_register_notifier(file, BIT(3), &c->notifier),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, memfile_register_notifier(file, ~0UL, &c->notifier),
			-EINVAL);
	KUNIT_EXPECT_NULL(test, c->notifier.node);
	KUNIT_EXPECT_TRUE(test, list_empty(&fake(file)->node.notifiers));
}

static void test_flag_unsupported_by_store(struct kunit *test)
{
	struct test_ctx *ctx = test->priv;
	struct file *file;
	struct test_consumer *c = new_consumer(test, 1);
	struct test_consumer *d = new_consumer(test, 2);
	struct file *pinned = new_memfile(test, 0);

	KUNIT_ASSERT_EQ(test, memfile_register_backing_store(&movable_store), 0);
	ctx->movable_store_registered = true;
	file = new_file(test, &movable_store_fops, MEMFILE_F_USER_INACCESSIBLE);

	/* Each file is looked up in its own store. */
	KUNIT_EXPECT_EQ(test, memfile_register_notifier(pinned, MEMFILE_F_UNMOVABLE,
							&d->notifier), 0);
	KUNIT_EXPECT_PTR_EQ(test, d->notifier.bs, &fake_store);
	KUNIT_EXPECT_EQ(test, memfile_register_notifier(file, MEMFILE_F_UNMOVABLE,
							&c->notifier), -EOPNOTSUPP);
	KUNIT_EXPECT_NULL(test, c->notifier.node);
	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file,
							MEMFILE_F_USER_INACCESSIBLE,
							&c->notifier), 0);
	KUNIT_EXPECT_PTR_EQ(test, c->notifier.bs, &movable_store);
	memfile_unregister_notifier(&c->notifier);
	memfile_unregister_notifier(&d->notifier);
}

static void test_inaccessible_is_a_file_property(struct kunit *test)
{
	struct file *accessible = new_memfile(test, 0);
	struct file *inaccessible = new_memfile(test, MEMFILE_F_USER_INACCESSIBLE);
	struct test_consumer *c = new_consumer(test, 1);

	KUNIT_EXPECT_EQ(test, memfile_register_notifier(accessible,
							MEMFILE_F_USER_INACCESSIBLE,
							&c->notifier), -EPERM);
	KUNIT_EXPECT_EQ(test, memfile_node_flags(&fake(accessible)->node), 0UL);

	/* A consumer that does not ask for it cannot clear it either. */
	KUNIT_ASSERT_EQ(test, memfile_register_notifier(inaccessible, 0,
							&c->notifier), 0);
	KUNIT_EXPECT_EQ(test, memfile_node_flags(&fake(inaccessible)->node),
			MEMFILE_F_USER_INACCESSIBLE);
	memfile_unregister_notifier(&c->notifier);
	KUNIT_EXPECT_EQ(test, memfile_node_flags(&fake(inaccessible)->node),
			MEMFILE_F_USER_INACCESSIBLE);
}

static void test_flag_mismatch_between_consumers(struct kunit *test)
{
	struct file *file = new_memfile(test, MEMFILE_F_USER_INACCESSIBLE);
	struct test_consumer *a = new_consumer(test, 1);
	struct test_consumer *b = new_consumer(test, 2);
	struct test_consumer *c = new_consumer(test, 3);
	const unsigned long flags = MEMFILE_F_USER_INACCESSIBLE | MEMFILE_F_UNMOVABLE;

	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file, flags, &a->notifier), 0);
	KUNIT_EXPECT_EQ(test, memfile_register_notifier(file, MEMFILE_F_UNMOVABLE,
							&b->notifier), -EBUSY);
	KUNIT_EXPECT_NULL(test, b->notifier.node);
	KUNIT_EXPECT_EQ(test, memfile_register_notifier(file, flags, &c->notifier), 0);

	/* The flags stay while any consumer is left. */
	memfile_unregister_notifier(&a->notifier);
	KUNIT_EXPECT_EQ(test, memfile_node_flags(&fake(file)->node), flags);
	memfile_unregister_notifier(&c->notifier);
	KUNIT_EXPECT_EQ(test, memfile_node_flags(&fake(file)->node),
			MEMFILE_F_USER_INACCESSIBLE);
}

static void test_owner_is_for_life(struct kunit *test)
{
	struct file *file = new_memfile(test, MEMFILE_F_USER_INACCESSIBLE);
	struct test_consumer *a = new_consumer(test, 1);
	struct test_consumer *b = new_consumer(test, 2);
	struct test_consumer *c = new_consumer(test, 3);
	struct test_consumer *anyone = new_consumer(test, 4);
	unsigned int order;
	unsigned long pfn;

	a->notifier.owner = 1;
	b->notifier.owner = 2;
	c->notifier.owner = 1;
	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file, 0, &a->notifier), 0);
	KUNIT_EXPECT_EQ(test, memfile_register_notifier(file, 0, &b->notifier), -EPERM);
	KUNIT_EXPECT_NULL(test, b->notifier.node);
	/* The same owner may register more notifiers; no other, not even none. */
	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file, 0, &c->notifier), 0);
	KUNIT_EXPECT_EQ(test, memfile_register_notifier(file, 0, &anyone->notifier), -EPERM);
	KUNIT_EXPECT_NULL(test, anyone->notifier.node);
	/* Owner 1 takes a page: the memory is its own from now on. */
	KUNIT_ASSERT_EQ(test, memfile_get_pfn(&c->notifier, 0, &pfn, &order), 0);
	memfile_put_pfn(&c->notifier, pfn);
	memfile_unregister_notifier(&c->notifier);
	memfile_unregister_notifier(&a->notifier);

	/* With no consumer left, the memory still belongs to owner 1. */
	KUNIT_EXPECT_EQ(test, memfile_register_notifier(file, 0, &b->notifier), -EPERM);
	KUNIT_EXPECT_EQ(test, memfile_register_notifier(file, 0, &anyone->notifier), -EPERM);
	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file, 0, &a->notifier), 0);
	memfile_unregister_notifier(&a->notifier);
}

/*
 * An owner that never took a page has nothing in the file to protect: its
 * claim ends with its last registration (KVM: a bind that failed after
 * registering, or a memslot deleted before any fault).
 */
static void test_unused_owner_claim_lapses(struct kunit *test)
{
	struct file *file = new_memfile(test, MEMFILE_F_USER_INACCESSIBLE);
	struct test_consumer *a = new_consumer(test, 1);
	struct test_consumer *a2 = new_consumer(test, 2);
	struct test_consumer *b = new_consumer(test, 3);
	unsigned int order;
	unsigned long pfn;

	a->notifier.owner = 1;
	a2->notifier.owner = 1;
	b->notifier.owner = 2;
	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file, 0, &a->notifier), 0);
	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file, 0, &a2->notifier), 0);

	/* The claim lasts while any registration of owner 1 does. */
	memfile_unregister_notifier(&a->notifier);
	KUNIT_EXPECT_EQ(test, memfile_register_notifier(file, 0, &b->notifier), -EPERM);
	memfile_unregister_notifier(&a2->notifier);
	KUNIT_EXPECT_EQ(test, fake(file)->node.owner, 0ULL);

	/* Owner 2 may have the file now, and once it takes a page, keeps it. */
	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file, 0, &b->notifier), 0);
	KUNIT_ASSERT_EQ(test, memfile_get_pfn(&b->notifier, 1, &pfn, &order), 0);
	memfile_put_pfn(&b->notifier, pfn);
	memfile_unregister_notifier(&b->notifier);
	KUNIT_EXPECT_EQ(test, memfile_register_notifier(file, 0, &a->notifier), -EPERM);
	KUNIT_EXPECT_EQ(test, fake(file)->node.owner, 2ULL);
}

/*
 * Consumers without an owner share a file that has none, and what they take
 * claims nothing; but an owner cannot join them, since they would see its
 * data, and while an owner is registered they cannot register.
 */
static void test_ownerless_consumers_exclude_owners(struct kunit *test)
{
	struct file *file = new_memfile(test, MEMFILE_F_USER_INACCESSIBLE);
	struct test_consumer *anyone = new_consumer(test, 1);
	struct test_consumer *anyone2 = new_consumer(test, 2);
	struct test_consumer *a = new_consumer(test, 3);
	unsigned int order;
	unsigned long pfn;

	a->notifier.owner = 1;
	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file, 0, &anyone->notifier), 0);
	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file, 0, &anyone2->notifier), 0);
	KUNIT_ASSERT_EQ(test, memfile_get_pfn(&anyone->notifier, 0, &pfn, &order), 0);
	memfile_put_pfn(&anyone->notifier, pfn);
	KUNIT_EXPECT_EQ(test, fake(file)->node.owner, 0ULL);

	KUNIT_EXPECT_EQ(test, memfile_register_notifier(file, 0, &a->notifier), -EPERM);
	memfile_unregister_notifier(&anyone->notifier);
	KUNIT_EXPECT_EQ(test, memfile_register_notifier(file, 0, &a->notifier), -EPERM);
	memfile_unregister_notifier(&anyone2->notifier);

	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file, 0, &a->notifier), 0);
	KUNIT_EXPECT_EQ(test, memfile_register_notifier(file, 0, &anyone->notifier), -EPERM);
	KUNIT_EXPECT_NULL(test, anyone->notifier.node);
	/* Owner 1 took nothing: once it is gone, the file has no owner again. */
	memfile_unregister_notifier(&a->notifier);
	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file, 0, &anyone->notifier), 0);
	memfile_unregister_notifier(&anyone->notifier);
}

static void test_file_without_store(struct kunit *test)
{
	struct file *file = new_file(test, &not_a_memfile_fops, 0);
	struct test_consumer *c = new_consumer(test, 1);
	long count = file_count(file);

	KUNIT_EXPECT_EQ(test, memfile_register_notifier(file, 0, &c->notifier),
			-EOPNOTSUPP);
	KUNIT_EXPECT_NULL(test, c->notifier.node);
	KUNIT_EXPECT_EQ(test, file_count(file), count);
}

static void test_register_twice(struct kunit *test)
{
	struct file *file = new_memfile(test, 0);
	struct file *other = new_memfile(test, 0);
	struct test_consumer *c = new_consumer(test, 1);

	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file, 0, &c->notifier), 0);
	KUNIT_EXPECT_EQ(test, memfile_register_notifier(file, 0, &c->notifier), -EEXIST);
	KUNIT_EXPECT_EQ(test, memfile_register_notifier(other, 0, &c->notifier), -EEXIST);
	KUNIT_EXPECT_PTR_EQ(test, c->notifier.file, file);
	KUNIT_EXPECT_TRUE(test, list_empty(&fake(other)->node.notifiers));
	memfile_unregister_notifier(&c->notifier);
	KUNIT_EXPECT_TRUE(test, list_empty(&fake(file)->node.notifiers));
}

static void test_bad_arguments(struct kunit *test)
{
	static const struct memfile_notifier_ops no_end = {
		.invalidate_start = consumer_invalidate_start,
	};
	static const struct memfile_notifier_ops no_start = {
		.invalidate_end = consumer_invalidate_end,
	};
	struct file *file = new_memfile(test, 0);
	struct test_consumer *c = new_consumer(test, 1);
	struct memfile_backing_store incomplete = fake_store;
	unsigned long pfn = 0;
	unsigned int order = 0;

	KUNIT_EXPECT_EQ(test, memfile_register_notifier(NULL, 0, &c->notifier), -EINVAL);
	KUNIT_EXPECT_EQ(test, memfile_register_notifier(file, 0, NULL), -EINVAL);
	c->notifier.ops = NULL;
	KUNIT_EXPECT_EQ(test, memfile_register_notifier(file, 0, &c->notifier), -EINVAL);
	c->notifier.ops = &no_end;
	KUNIT_EXPECT_EQ(test, memfile_register_notifier(file, 0, &c->notifier), -EINVAL);
	c->notifier.ops = &no_start;
	KUNIT_EXPECT_EQ(test, memfile_register_notifier(file, 0, &c->notifier), -EINVAL);
	KUNIT_EXPECT_TRUE(test, list_empty(&fake(file)->node.notifiers));

	/* Not registered: no PFN, and the store is not asked. */
	c->notifier.ops = &consumer_ops;
	KUNIT_EXPECT_EQ(test, memfile_get_pfn(&c->notifier, 0, &pfn, &order), -EINVAL);
	KUNIT_EXPECT_EQ(test, atomic_read(&fake(file)->refs), 0);

	/* Stores must be complete and registered once. */
	KUNIT_EXPECT_EQ(test, memfile_register_backing_store(NULL), -EINVAL);
	incomplete.put_pfn = NULL;
	KUNIT_EXPECT_EQ(test, memfile_register_backing_store(&incomplete), -EINVAL);
	incomplete = fake_store;
	incomplete.supported_flags = BIT(5);
	KUNIT_EXPECT_EQ(test, memfile_register_backing_store(&incomplete), -EINVAL);
	KUNIT_EXPECT_EQ(test, memfile_register_backing_store(&fake_store), -EEXIST);
}

static void test_invalidate_ranges_in_order(struct kunit *test)
{
	struct file *file = new_memfile(test, 0);
	struct test_consumer *a = new_consumer(test, 1);
	struct test_consumer *b = new_consumer(test, 2);

	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file, 0, &a->notifier), 0);
	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file, 0, &b->notifier), 0);

	invalidate(file, 0, 512);
	invalidate(file, 1024, 1536);

	KUNIT_EXPECT_EQ(test, ((struct test_ctx *)test->priv)->nr_events, 8);
	/* Every consumer hears of the start before any hears of the end. */
	expect_event(test, 0, EV_START, 1, 0, 512);
	expect_event(test, 1, EV_START, 2, 0, 512);
	expect_event(test, 2, EV_END, 1, 0, 512);
	expect_event(test, 3, EV_END, 2, 0, 512);
	expect_event(test, 4, EV_START, 1, 1024, 1536);
	expect_event(test, 5, EV_START, 2, 1024, 1536);
	expect_event(test, 6, EV_END, 1, 1024, 1536);
	expect_event(test, 7, EV_END, 2, 1024, 1536);

	memfile_unregister_notifier(&a->notifier);
	memfile_unregister_notifier(&b->notifier);
}

static void test_invalidate_only_that_file(struct kunit *test)
{
	struct file *file = new_memfile(test, 0);
	struct file *other = new_memfile(test, 0);
	struct test_consumer *a = new_consumer(test, 1);
	struct test_consumer *b = new_consumer(test, 2);
	struct test_ctx *ctx = test->priv;

	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file, 0, &a->notifier), 0);
	KUNIT_ASSERT_EQ(test, memfile_register_notifier(other, 0, &b->notifier), 0);

	invalidate(other, 8, 16);
	KUNIT_EXPECT_EQ(test, ctx->nr_events, 2);
	expect_event(test, 0, EV_START, 2, 8, 16);
	expect_event(test, 1, EV_END, 2, 8, 16);

	memfile_unregister_notifier(&a->notifier);
	memfile_unregister_notifier(&b->notifier);

	/* Nobody is told once nobody is registered. */
	invalidate(file, 0, 1);
	KUNIT_EXPECT_EQ(test, ctx->nr_events, 2);
}

/* Runs one invalidation of a file from another task. */
struct invalidator {
	struct file *file;
	pgoff_t start, end;
	struct completion done;
};

static int invalidator_fn(void *data)
{
	struct invalidator *inv = data;

	invalidate(inv->file, inv->start, inv->end);
	complete(&inv->done);
	return 0;
}

/* Registers or unregisters a consumer from another task. */
struct registrar {
	struct test_consumer *consumer;
	struct file *file;		/* NULL: unregister */
	int ret;
	struct completion done;
};

static int registrar_fn(void *data)
{
	struct registrar *reg = data;
	struct test_consumer *c = reg->consumer;

	if (reg->file) {
		reg->ret = memfile_register_notifier(reg->file, 0, &c->notifier);
	} else {
		memfile_unregister_notifier(&c->notifier);
		log_event(c->ctx, EV_UNREGISTERED, c->id, 0, 0);
	}
	complete(&reg->done);
	return 0;
}

/*
 * Start an invalidation of @file [0, 512) from a kthread whose first
 * consumer's invalidate_start() blocks until ctx->unblock is completed.
 */
static struct invalidator *start_blocked_invalidation(struct kunit *test,
						      struct file *file)
{
	struct test_ctx *ctx = test->priv;
	struct invalidator *inv;
	struct task_struct *task;

	inv = kunit_kzalloc(test, sizeof(*inv), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, inv);
	inv->file = file;
	inv->start = 0;
	inv->end = 512;
	init_completion(&inv->done);
	ctx->blocking_file = fake(file);

	ctx->running[0] = &inv->done;
	task = kthread_run(invalidator_fn, inv, "memfile-kunit-inv");
	KUNIT_ASSERT_FALSE(test, IS_ERR(task));
	KUNIT_ASSERT_GT(test, wait_for_completion_timeout(&ctx->blocked, WAIT_TIMEOUT), 0UL);
	return inv;
}

static struct registrar *run_registrar(struct kunit *test,
				       struct test_consumer *c,
				       struct file *file)
{
	struct test_ctx *ctx = test->priv;
	struct registrar *reg;
	struct task_struct *task;

	reg = kunit_kzalloc(test, sizeof(*reg), GFP_KERNEL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, reg);
	reg->consumer = c;
	reg->file = file;
	init_completion(&reg->done);
	ctx->running[1] = &reg->done;
	task = kthread_run(registrar_fn, reg, "memfile-kunit-reg");
	KUNIT_ASSERT_FALSE(test, IS_ERR(task));
	return reg;
}

/* For a task that must stay blocked: give it a while to (wrongly) finish. */
static bool finishes_soon(struct completion *done)
{
	return wait_for_completion_timeout(done, msecs_to_jiffies(BLOCKED_GRACE_MS));
}

static void test_unregister_waits_for_invalidation(struct kunit *test)
{
	struct file *file = new_memfile(test, 0);
	struct test_consumer *a = new_consumer(test, 1);
	struct test_consumer *b = new_consumer(test, 2);
	struct test_ctx *ctx = test->priv;
	struct invalidator *inv;
	struct registrar *reg;

	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file, 0, &a->notifier), 0);
	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file, 0, &b->notifier), 0);

	inv = start_blocked_invalidation(test, file);
	reg = run_registrar(test, b, NULL);

	/* b must not be gone while a's invalidate_start() is still running. */
	KUNIT_EXPECT_FALSE(test, finishes_soon(&reg->done));
	complete_all(&ctx->unblock);
	KUNIT_ASSERT_GT(test, wait_for_completion_timeout(&inv->done, WAIT_TIMEOUT), 0UL);
	KUNIT_ASSERT_GT(test, wait_for_completion_timeout(&reg->done, WAIT_TIMEOUT), 0UL);

	/* b saw the whole invalidation, then went away. */
	KUNIT_EXPECT_EQ(test, ctx->nr_events, 5);
	expect_event(test, 0, EV_START, 1, 0, 512);
	expect_event(test, 1, EV_START, 2, 0, 512);
	expect_event(test, 2, EV_END, 1, 0, 512);
	expect_event(test, 3, EV_END, 2, 0, 512);
	expect_event(test, 4, EV_UNREGISTERED, 2, 0, 0);

	memfile_unregister_notifier(&a->notifier);
}

static void test_register_waits_for_invalidation(struct kunit *test)
{
	struct file *file = new_memfile(test, 0);
	struct test_consumer *a = new_consumer(test, 1);
	struct test_consumer *b = new_consumer(test, 2);
	struct test_ctx *ctx = test->priv;
	struct invalidator *inv;
	struct registrar *reg;

	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file, 0, &a->notifier), 0);

	inv = start_blocked_invalidation(test, file);
	reg = run_registrar(test, b, file);
	KUNIT_EXPECT_FALSE(test, finishes_soon(&reg->done));
	complete_all(&ctx->unblock);
	KUNIT_ASSERT_GT(test, wait_for_completion_timeout(&inv->done, WAIT_TIMEOUT), 0UL);
	KUNIT_ASSERT_GT(test, wait_for_completion_timeout(&reg->done, WAIT_TIMEOUT), 0UL);
	KUNIT_ASSERT_EQ(test, reg->ret, 0);

	/* b joined after the window: no end without a start. */
	KUNIT_EXPECT_EQ(test, ctx->nr_events, 2);
	expect_event(test, 0, EV_START, 1, 0, 512);
	expect_event(test, 1, EV_END, 1, 0, 512);

	ctx->blocking_file = NULL;
	invalidate(file, 512, 1024);
	KUNIT_EXPECT_EQ(test, ctx->nr_events, 6);
	expect_event(test, 3, EV_START, 2, 512, 1024);
	expect_event(test, 5, EV_END, 2, 512, 1024);

	memfile_unregister_notifier(&a->notifier);
	memfile_unregister_notifier(&b->notifier);
}

static void test_get_put_pfn_balance(struct kunit *test)
{
	struct file *file = new_memfile(test, 0);
	struct test_consumer *c = new_consumer(test, 1);
	unsigned long pfn[3];
	unsigned int order = 99;
	int i;

	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file, 0, &c->notifier), 0);

	for (i = 0; i < ARRAY_SIZE(pfn); i++) {
		KUNIT_ASSERT_EQ(test, memfile_get_pfn(&c->notifier, 7 * i, &pfn[i],
						      &order), 0);
		KUNIT_EXPECT_EQ(test, pfn[i], FAKE_PFN_BASE + 7 * i);
		KUNIT_EXPECT_EQ(test, order, 0U);
	}
	KUNIT_EXPECT_EQ(test, atomic_read(&fake(file)->refs), 3);

	/* A failing lookup takes no reference and reports the store's error. */
	KUNIT_EXPECT_EQ(test, memfile_get_pfn(&c->notifier, FAKE_FILE_PAGES,
					      &pfn[0], &order), -ERANGE);
	KUNIT_EXPECT_EQ(test, atomic_read(&fake(file)->refs), 3);

	for (i = 0; i < ARRAY_SIZE(pfn); i++)
		memfile_put_pfn(&c->notifier, pfn[i]);
	KUNIT_EXPECT_EQ(test, atomic_read(&fake(file)->refs), 0);

	memfile_unregister_notifier(&c->notifier);
}

static void test_store_told_of_flag_changes(struct kunit *test)
{
	struct file *file = new_memfile(test, 0);
	struct test_consumer *a = new_consumer(test, 1);
	struct test_consumer *b = new_consumer(test, 2);
	const unsigned long flags = MEMFILE_F_UNMOVABLE | MEMFILE_F_UNRECLAIMABLE;

	/* Only the first consumer in and the last one out change the flags. */
	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file, flags, &a->notifier), 0);
	KUNIT_EXPECT_EQ(test, fake(file)->flags_calls, 1);
	KUNIT_EXPECT_EQ(test, fake(file)->flags_seen, flags);
	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file, flags, &b->notifier), 0);
	/* A refused registration changes nothing either. */
	KUNIT_EXPECT_EQ(test, memfile_register_notifier(file, 0, &a->notifier), -EEXIST);
	memfile_unregister_notifier(&a->notifier);
	KUNIT_EXPECT_EQ(test, fake(file)->flags_calls, 1);
	memfile_unregister_notifier(&b->notifier);
	KUNIT_EXPECT_EQ(test, fake(file)->flags_calls, 2);
	KUNIT_EXPECT_EQ(test, fake(file)->flags_seen, 0UL);
}

static void test_no_callback_after_unregister(struct kunit *test)
{
	struct file *file = new_memfile(test, 0);
	struct test_consumer *a = new_consumer(test, 1);
	struct test_consumer *b = new_consumer(test, 2);
	struct test_ctx *ctx = test->priv;

	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file, 0, &a->notifier), 0);
	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file, 0, &b->notifier), 0);
	memfile_unregister_notifier(&a->notifier);

	invalidate(file, 3, 4);
	KUNIT_EXPECT_EQ(test, ctx->nr_events, 2);
	expect_event(test, 0, EV_START, 2, 3, 4);
	expect_event(test, 1, EV_END, 2, 3, 4);

	memfile_unregister_notifier(&b->notifier);
}

/*
 * A store reports a poisoned page with the page locked, so the consumers are
 * told later, under the inode lock, of the range reported; the report itself
 * does not wait for them.  KUnit runs in a kernel thread: a workqueue tells
 * them.
 */
static void test_error_invalidates_later(struct kunit *test)
{
	struct file *file = new_memfile(test, 0);
	struct test_consumer *c = new_consumer(test, 1);
	struct inode *inode = file_inode(file);
	struct test_ctx *ctx = test->priv;

	KUNIT_ASSERT_EQ(test, memfile_register_notifier(file, 0, &c->notifier), 0);

	inode_lock(inode);
	KUNIT_EXPECT_EQ(test, memfile_notifier_report_error(&fake(file)->node,
							    inode, 512, 1024), 0);
	msleep(BLOCKED_GRACE_MS);
	KUNIT_EXPECT_EQ(test, ctx->nr_events, 0);
	inode_unlock(inode);

	memfile_notifier_flush_errors();
	KUNIT_EXPECT_EQ(test, ctx->nr_events, 2);
	expect_event(test, 0, EV_START, 1, 512, 1024);
	expect_event(test, 1, EV_END, 1, 512, 1024);

	memfile_unregister_notifier(&c->notifier);
}

/*
 * A file without consumers pays nothing for a memory error: nothing is
 * allocated or queued (queued work would hold the inode until it ran, and
 * it cannot run while we hold the inode lock).
 */
static void test_error_without_consumer_costs_nothing(struct kunit *test)
{
	struct file *file = new_memfile(test, 0);
	struct inode *inode = file_inode(file);
	int count;

	inode_lock(inode);
	count = atomic_read(&inode->i_count);
	KUNIT_EXPECT_EQ(test, memfile_notifier_report_error(&fake(file)->node,
							    inode, 0, 512), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&inode->i_count), count);
	inode_unlock(inode);
	memfile_notifier_flush_errors();
}

/*
 * A store that keeps a pointer in its inodes: a file gets a node only when
 * a caller needs one (registration, memfile_make_inaccessible()), and once.
 */
static void test_node_allocated_once_on_demand(struct kunit *test)
{
	struct inode *inode = file_inode(new_memfile(test, 0));
	struct memfile_node *slot = NULL, *node;

	KUNIT_EXPECT_NULL(test, memfile_inode_node(&slot, inode, false));
	KUNIT_EXPECT_NULL(test, slot);
	KUNIT_EXPECT_EQ(test, memfile_node_flags(slot), 0UL);
	node = memfile_inode_node(&slot, inode, true);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, node);
	KUNIT_EXPECT_PTR_EQ(test, slot, node);
	KUNIT_EXPECT_PTR_EQ(test, memfile_inode_node(&slot, inode, true), node);
	KUNIT_EXPECT_PTR_EQ(test, memfile_inode_node(&slot, inode, false), node);
	KUNIT_EXPECT_EQ(test, memfile_node_flags(node), 0UL);
	KUNIT_EXPECT_TRUE(test, list_empty(&node->notifiers));
	memfile_inode_node_free(node);
}

static int memfile_test_init(struct kunit *test)
{
	struct test_ctx *ctx;

	ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	spin_lock_init(&ctx->lock);
	init_completion(&ctx->blocked);
	init_completion(&ctx->unblock);
	test->priv = ctx;
	return memfile_register_backing_store(&fake_store);
}

static void memfile_test_exit(struct kunit *test)
{
	struct test_ctx *ctx = test->priv;
	int i;

	/*
	 * After a failed assertion a kthread may still be blocked in a
	 * callback or waiting for one: let it finish before its memory goes.
	 */
	complete_all(&ctx->unblock);
	for (i = 0; i < ARRAY_SIZE(ctx->running); i++)
		if (ctx->running[i])
			wait_for_completion_timeout(ctx->running[i], WAIT_TIMEOUT);
	for (i = 0; i < ctx->nr_files; i++)
		fput(ctx->files[i]);
	if (ctx->movable_store_registered)
		memfile_unregister_backing_store(&movable_store);
	memfile_unregister_backing_store(&fake_store);
}

static struct kunit_case memfile_notifier_cases[] = {
	KUNIT_CASE(test_register_unregister),
	KUNIT_CASE(test_unknown_flags),
	KUNIT_CASE(test_flag_unsupported_by_store),
	KUNIT_CASE(test_inaccessible_is_a_file_property),
	KUNIT_CASE(test_flag_mismatch_between_consumers),
	KUNIT_CASE(test_owner_is_for_life),
	KUNIT_CASE(test_unused_owner_claim_lapses),
	KUNIT_CASE(test_ownerless_consumers_exclude_owners),
	KUNIT_CASE(test_file_without_store),
	KUNIT_CASE(test_register_twice),
	KUNIT_CASE(test_bad_arguments),
	KUNIT_CASE(test_invalidate_ranges_in_order),
	KUNIT_CASE(test_invalidate_only_that_file),
	KUNIT_CASE(test_error_invalidates_later),
	KUNIT_CASE(test_error_without_consumer_costs_nothing),
	KUNIT_CASE(test_unregister_waits_for_invalidation),
	KUNIT_CASE(test_register_waits_for_invalidation),
	KUNIT_CASE(test_get_put_pfn_balance),
	KUNIT_CASE(test_no_callback_after_unregister),
	KUNIT_CASE(test_store_told_of_flag_changes),
	KUNIT_CASE(test_node_allocated_once_on_demand),
	{}
};

static struct kunit_suite memfile_notifier_suite = {
	.name = "memfile_notifier",
	.init = memfile_test_init,
	.exit = memfile_test_exit,
	.test_cases = memfile_notifier_cases,
};

kunit_test_suite(memfile_notifier_suite);

MODULE_DESCRIPTION("KUnit tests for the memfile_notifier core");
MODULE_LICENSE("GPL");
