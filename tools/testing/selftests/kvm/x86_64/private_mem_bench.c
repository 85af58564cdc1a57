// SPDX-License-Identifier: GPL-2.0-only
/*
 * private_mem_bench: what huge private mappings buy a guest.
 *
 * For each backing -- private memory of a software-protected VM on 1G and
 * 2M hugetlb pages and on 4K shmem pages (a guest_memfd, or with -m an
 * inaccessible memfd), and the shared memory of a
 * default VM on 2M hugetlb and 4K anonymous pages (what users have
 * today) -- the memory is allocated up front (and, when shared, mapped in
 * the VMM), then the guest's vCPUs touch it twice.  This reports the time
 * of the allocation and of each pass, the TDP faults taken, the mappings
 * per level, the page-table memory (SecPageTables), and what punching a
 * page (with the guest's refault of it) and converting a 4K page to shared
 * and back cost.  Two more rows pre-fault private 1G and 4K memory with
 * KVM_PRE_FAULT_MEMORY before the first pass: the time that takes, and a
 * first pass with no fault at all.  The first pass thus measures mapping,
 * not zeroing; with
 * -H the private memory starts as holes, and the first pass measures the
 * fault path's allocation too (with -v 2, the vCPUs fill different huge
 * pages of one file at once).
 *
 * Times are wall-clock and vary; counts are exact, and -c checks them.
 * With -r N each size is measured N times, the backings taking turns, and
 * the times reported are the medians; ratios of two backings are taken
 * run by run, so that both sides of one ratio met the same host load.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/memfd.h>

#include "kvm_util.h"
#include "processor.h"
#include "private_mem.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif

#define BENCH_GPA	(4ULL << 30)
#define BENCH_SLOT	10
#define SCRATCH_GPA	(12ULL << 30)
#define SCRATCH_SLOT	11
#define MAX_VCPUS	64
#define MAX_RUNS	15

enum bench_opcode {
	OP_NONE,
	OP_TOUCH_SLICES,	/* vCPU i writes each page of its slice */
	OP_TOUCH_RANGE,		/* vCPU 0 writes each page of [gpa, +size) */
	OP_MAP_SHARED,		/* vCPU 0 converts [gpa, +size) to shared */
	OP_MAP_PRIVATE,		/* ... and back */
};

struct bench_op {
	uint64_t opcode;
	uint64_t gpa;
	uint64_t size;
	uint64_t slice;
};

static struct bench_op bench_op;

static void guest_touch(uint64_t gpa, uint64_t size)
{
	uint64_t end = gpa + size;

	for (; gpa < end; gpa += PAGE_SIZE)
		WRITE_ONCE(*(uint64_t *)gpa, gpa);
}

static void guest_code(uint64_t idx)
{
	(void)READ_ONCE(bench_op.opcode);
	for (;;) {
		GUEST_SYNC(0);
		switch (READ_ONCE(bench_op.opcode)) {
		case OP_TOUCH_SLICES:
			guest_touch(bench_op.gpa + idx * bench_op.slice,
				    bench_op.slice);
			break;
		case OP_TOUCH_RANGE:
			guest_touch(bench_op.gpa, bench_op.size);
			break;
		case OP_MAP_SHARED:
			guest_map_shared(bench_op.gpa, bench_op.size);
			break;
		case OP_MAP_PRIVATE:
			guest_map_private(bench_op.gpa, bench_op.size);
			break;
		}
	}
}

struct backing {
	const char *name;	/* for people */
	const char *key;	/* for the CSV and the plot */
	bool private;
	uint64_t page_size;	/* 0: 4K shmem or anonymous memory */
	/* KVM_PRE_FAULT_MEMORY of all of it before the first pass. */
	bool pre_fault;
};

static const struct backing backings[] = {
	{ "private hugetlb 1G", "private-1g", true, PG_SIZE_1G },
	{ "private hugetlb 2M", "private-2m", true, PG_SIZE_2M },
	{ "private shmem 4K", "private-4k", true, 0 },
	{ "shared hugetlb 2M", "shared-2m", false, PG_SIZE_2M },
	{ "shared anon 4K", "shared-4k", false, 0 },
	{ "pre-faulted 1G", "prefault-1g", true, PG_SIZE_1G, true },
	{ "pre-faulted 4K", "prefault-4k", true, 0, true },
};

#define NR_BACKINGS ARRAY_SIZE(backings)

struct counts {
	int64_t pages_4k, pages_2m, pages_1g;
	int64_t faults;		/* pf_fixed of all vCPUs */
	int64_t secpt_kib;
};

struct result {
	const struct backing *backing;
	uint64_t size;
	int nr_vcpus;
	bool skipped;
	char why[96];
	double alloc_ms, pass1_ms, pass2_ms;
	double pre_fault_ms;	/* KVM_PRE_FAULT_MEMORY, for pre_fault rows */
	struct counts first;	/* added by the pre-fault and first pass */
	int64_t faults2;	/* taken by the second */
	double punch_us, refault_us, convert_us;
	bool convert_done;
	int check_failures;
};

static struct {
	int nr_vcpus;
	uint64_t size;
	bool sweep, check, csv;
	bool memfd;		/* private memory from a memfd, not a guest_memfd */
	bool holes;		/* private memory not allocated up front */
	unsigned int only;	/* bitmask of backings, 0: all */
	int runs;		/* measurements of each backing and size */
} opt = {
	.nr_vcpus = 1,
	.size = 1024ULL << 20,
	.runs = 1,
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int64_t meminfo_kib(const char *key)
{
	char line[128];
	int64_t val = -1;
	size_t len = strlen(key);
	FILE *f;

	/* Fold the per-CPU counter deltas first, or they lag by pages. */
	f = fopen("/proc/sys/vm/stat_refresh", "w");
	if (f) {
		fputs("1\n", f);
		fclose(f);
	}
	f = fopen("/proc/meminfo", "r");
	TEST_ASSERT(f, "/proc/meminfo: %s", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) && line[len] == ':')
			val = strtoll(line + len + 1, NULL, 10);
	fclose(f);
	return val;
}

struct bench_vm {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpus[MAX_VCPUS];
	int nr_vcpus;
	bool private;
	double alloc_ms;
	int fd;			/* the backing file, -1 for anonymous memory */
	void *mem;		/* the shared half or the shared memory */
	uint64_t size;
	uint64_t unit;		/* bytes per backing page */
};

static struct counts read_counts(struct bench_vm *b)
{
	struct counts c = {
		.pages_4k = vm_get_stat(b->vm, "pages_4k"),
		.pages_2m = vm_get_stat(b->vm, "pages_2m"),
		.pages_1g = vm_get_stat(b->vm, "pages_1g"),
		.secpt_kib = meminfo_kib("SecPageTables"),
	};
	int i;

	for (i = 0; i < b->nr_vcpus; i++)
		c.faults += vcpu_stat(b->vcpus[i], "pf_fixed");
	return c;
}

static struct counts counts_sub(struct counts a, struct counts b)
{
	return (struct counts){
		.pages_4k = a.pages_4k - b.pages_4k,
		.pages_2m = a.pages_2m - b.pages_2m,
		.pages_1g = a.pages_1g - b.pages_1g,
		.faults = a.faults - b.faults,
		.secpt_kib = a.secpt_kib - b.secpt_kib,
	};
}

static void run_to_sync(struct kvm_vcpu *vcpu)
{
	struct ucall uc;
	int r;

	r = vcpu_run_serving_conversions(vcpu, NULL);
	TEST_ASSERT(!r, "KVM_RUN: %d errno %d (%s), exit reason %u", r, errno,
		    strerror(errno), vcpu->run->exit_reason);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_SYNC:
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT_1(uc, "value 0x%lx");
		break;
	default:
		TEST_FAIL("unexpected exit %u (%s)", vcpu->run->exit_reason,
			  exit_reason_str(vcpu->run->exit_reason));
	}
}

static void *vcpu_thread(void *arg)
{
	run_to_sync(arg);
	return NULL;
}

static void set_op(struct bench_vm *b, uint64_t opcode, uint64_t gpa,
		   uint64_t size)
{
	bench_op = (struct bench_op){
		.opcode = opcode,
		.gpa = gpa,
		.size = size,
		.slice = b->size / b->nr_vcpus,
	};
	sync_global_to_guest(b->vm, bench_op);
}

/* All vCPUs touch their slice; returns the wall time in milliseconds. */
static double touch_pass(struct bench_vm *b)
{
	pthread_t threads[MAX_VCPUS];
	double start;
	int i;

	set_op(b, OP_TOUCH_SLICES, BENCH_GPA, b->size);
	start = now_us();
	for (i = 0; i < b->nr_vcpus; i++)
		pthread_create(&threads[i], NULL, vcpu_thread, b->vcpus[i]);
	for (i = 0; i < b->nr_vcpus; i++)
		pthread_join(threads[i], NULL);
	return (now_us() - start) / 1e3;
}

/* vCPU 0 runs one op; returns its wall time in microseconds. */
static double vcpu0_op(struct bench_vm *b, uint64_t opcode, uint64_t gpa,
		       uint64_t size)
{
	double start;

	set_op(b, opcode, gpa, size);
	start = now_us();
	run_to_sync(b->vcpus[0]);
	return now_us() - start;
}

/*
 * KVM_PRE_FAULT_MEMORY of the whole memory on vCPU 0, asserting that it
 * mapped all of it; the time it took, in microseconds.
 */
static double pre_fault_all(struct bench_vm *b)
{
	struct kvm_pre_fault_memory range = {
		.gpa = BENCH_GPA, .size = b->size,
	};
	double start = now_us();

	TEST_ASSERT(!ioctl(b->vcpus[0]->fd, KVM_PRE_FAULT_MEMORY, &range) &&
		    !range.size, "KVM_PRE_FAULT_MEMORY: %s, %llu bytes left",
		    strerror(errno), range.size);
	return now_us() - start;
}

static const char *bench_vm_create(struct bench_vm *b,
				   const struct backing *backing,
				   uint64_t size, int nr_vcpus)
{
	static char why[96];
	uint64_t gpa;
	double start;
	long nr_free;

	memset(b, 0, sizeof(*b));
	b->fd = -1;
	b->size = size;
	b->nr_vcpus = nr_vcpus;
	b->unit = backing->page_size ? backing->page_size : PAGE_SIZE;

	if (backing->page_size) {
		nr_free = free_huge_pages(backing->page_size);
		if (nr_free < (long)(DIV_ROUND_UP(size, backing->page_size))) {
			snprintf(why, sizeof(why),
				 "needs %lu free %luM huge pages, has %ld",
				 DIV_ROUND_UP(size, backing->page_size),
				 backing->page_size >> 20, nr_free);
			return why;
		}
	}
	if (backing->private &&
	    !(kvm_check_cap(KVM_CAP_VM_TYPES) & BIT(KVM_X86_SW_PROTECTED_VM)))
		return "KVM has no software-protected VMs";

	vm_type_default = backing->private ? KVM_X86_SW_PROTECTED_VM :
					     KVM_X86_DEFAULT_VM;
	b->vm = __vm_create_with_vcpus(VM_MODE_DEFAULT, nr_vcpus, 0,
				       guest_code, b->vcpus);
	vm_type_default = KVM_X86_DEFAULT_VM;
	for (int i = 0; i < nr_vcpus; i++)
		vcpu_args_set(b->vcpus[i], 1, i);

	/* The file is as large as the memory, rounded to its pages. */
	/*
	 * Allocate all of the memory first: the private file by fallocate(),
	 * the shared memory by populating the VMM's mapping of it.
	 */
	b->private = backing->private;
	start = now_us();
	if (backing->private) {
		b->fd = private_file_create(b->vm, !opt.memfd,
					    round_up(size, b->unit),
					    backing->page_size);
		/* With -H, the first pass fills the holes as it faults. */
		TEST_ASSERT(opt.holes ||
			    !fallocate(b->fd, FALLOC_FL_KEEP_SIZE, 0,
				       round_up(size, b->unit)),
			    "fallocate(%lu): %s", size, strerror(errno));
		b->alloc_ms = (now_us() - start) / 1e3;
		b->mem = vm_add_private_memslot(b->vm, BENCH_SLOT, BENCH_GPA,
						size, b->fd, 0);
		vm_mem_set_private(b->vm, BENCH_GPA, size);
		vm_enable_conversion_exits(b->vm);
	} else {
		if (backing->page_size) {
			b->fd = memfd_create("bench", MFD_HUGETLB |
					     (backing->page_size == PG_SIZE_1G ?
					      MFD_HUGE_1GB : MFD_HUGE_2MB));
			TEST_ASSERT(b->fd >= 0, "memfd_create: %s",
				    strerror(errno));
			TEST_ASSERT(!ftruncate(b->fd, round_up(size, b->unit)),
				    "ftruncate: %s", strerror(errno));
			b->mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_POPULATE, b->fd, 0);
		} else {
			b->mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				      -1, 0);
			TEST_ASSERT(b->mem != MAP_FAILED, "mmap(%lu): %s",
				    size, strerror(errno));
			/* 4K means 4K: no transparent huge pages. */
			madvise(b->mem, size, MADV_NOHUGEPAGE);
			TEST_ASSERT(!madvise(b->mem, size, MADV_POPULATE_WRITE),
				    "MADV_POPULATE_WRITE: %s", strerror(errno));
		}
		TEST_ASSERT(b->mem != MAP_FAILED, "mmap(%lu): %s", size,
			    strerror(errno));
		b->alloc_ms = (now_us() - start) / 1e3;
		vm_set_user_memory_region(b->vm, BENCH_SLOT, 0, BENCH_GPA, size,
					  b->mem);
		for (gpa = BENCH_GPA; gpa < BENCH_GPA + size; gpa += PG_SIZE_1G)
			__virt_pg_map(b->vm, gpa, gpa, PG_LEVEL_1G);
	}

	/*
	 * Warm up: every vCPU to its first sync and once through the touch
	 * loop, and (private) a conversion of a scratch page, so that the
	 * guest's own code and data are mapped before anything is counted.
	 */
	vm_userspace_mem_region_add(b->vm, VM_MEM_SRC_ANONYMOUS, SCRATCH_GPA,
				    SCRATCH_SLOT, 1, 0);
	__virt_pg_map(b->vm, SCRATCH_GPA, SCRATCH_GPA, PG_LEVEL_1G);
	for (int i = 0; i < nr_vcpus; i++)
		run_to_sync(b->vcpus[i]);
	set_op(b, OP_TOUCH_SLICES, SCRATCH_GPA, 0);
	bench_op.slice = 0;
	sync_global_to_guest(b->vm, bench_op);
	for (int i = 0; i < nr_vcpus; i++)
		run_to_sync(b->vcpus[i]);
	vcpu0_op(b, OP_TOUCH_RANGE, SCRATCH_GPA, PAGE_SIZE);
	if (backing->private) {
		vcpu0_op(b, OP_MAP_PRIVATE, SCRATCH_GPA, PAGE_SIZE);
		vcpu0_op(b, OP_MAP_SHARED, SCRATCH_GPA, PAGE_SIZE);
	}
	return NULL;
}

static void bench_vm_free(struct bench_vm *b)
{
	kvm_vm_free(b->vm);
	if (b->mem)
		munmap(b->mem, b->size);
	if (b->fd >= 0)
		close(b->fd);
}

static void expect(struct result *r, const char *what, int64_t got,
		   int64_t want)
{
	if (got == want)
		return;
	r->check_failures++;
	printf("  check failed: %s: %s is %ld, want %ld\n", r->backing->name,
	       what, got, want);
}

/*
 * The counts the physical limit dictates: one mapping per backing page,
 * and where the memory ends inside a backing page, the largest pages that
 * fit in what is left.
 */
static void check_counts(struct result *r, const char *when, struct counts c)
{
	uint64_t page_size = r->backing->page_size ?: PAGE_SIZE;
	uint64_t left = r->size, want_1g = 0, want_2m = 0;
	char what[64];

	if (page_size >= PG_SIZE_1G) {
		want_1g = left / PG_SIZE_1G;
		left %= PG_SIZE_1G;
	}
	if (page_size >= PG_SIZE_2M) {
		want_2m = left / PG_SIZE_2M;
		left %= PG_SIZE_2M;
	}
	snprintf(what, sizeof(what), "%s pages_4k", when);
	expect(r, what, c.pages_4k, left / PAGE_SIZE);
	snprintf(what, sizeof(what), "%s pages_2m", when);
	expect(r, what, c.pages_2m, want_2m);
	snprintf(what, sizeof(what), "%s pages_1g", when);
	expect(r, what, c.pages_1g, want_1g);
}

static void run_backing(struct result *r, const struct backing *backing,
			uint64_t size, int nr_vcpus)
{
	struct counts base, after;
	struct bench_vm b;
	uint64_t victim, page;
	const char *why;
	double start;

	memset(r, 0, sizeof(*r));
	r->backing = backing;
	r->size = size;
	r->nr_vcpus = nr_vcpus;

	why = bench_vm_create(&b, backing, size, nr_vcpus);
	if (why) {
		r->skipped = true;
		snprintf(r->why, sizeof(r->why), "%s", why);
		return;
	}

	r->alloc_ms = b.alloc_ms;
	base = read_counts(&b);
	if (backing->pre_fault)
		r->pre_fault_ms = pre_fault_all(&b) / 1e3;
	r->pass1_ms = touch_pass(&b);
	after = read_counts(&b);
	r->first = counts_sub(after, base);
	r->pass2_ms = touch_pass(&b);
	r->faults2 = read_counts(&b).faults - after.faults;
	if (opt.check) {
		/* Pre-faulted memory maps the same, with no fault at all. */
		check_counts(r, "first pass:", r->first);
		expect(r, "first pass: TDP faults", r->first.faults,
		       backing->pre_fault ? 0 : r->first.pages_4k +
			r->first.pages_2m + r->first.pages_1g);
		expect(r, "second pass: TDP faults", r->faults2, 0);
	}

	/* Punch the last backing page, and let the guest fault it back. */
	victim = (DIV_ROUND_UP(size, b.unit) - 1) * b.unit;
	start = now_us();
	if (b.fd >= 0)
		TEST_ASSERT(!fallocate(b.fd, FALLOC_FL_PUNCH_HOLE |
				       FALLOC_FL_KEEP_SIZE, victim, b.unit),
			    "punch: %s", strerror(errno));
	else
		TEST_ASSERT(!madvise((char *)b.mem + victim, b.unit,
				     MADV_DONTNEED), "madvise: %s",
			    strerror(errno));
	r->punch_us = now_us() - start;
	r->refault_us = vcpu0_op(&b, OP_TOUCH_RANGE, BENCH_GPA + victim,
				 min(b.unit, size - victim));
	if (opt.check)
		check_counts(r, "after punch and refault:",
			     counts_sub(read_counts(&b), base));

	/*
	 * A 4K page inside the first backing page goes shared and back, and
	 * the guest touches it each time: the last touch maps the whole huge
	 * page again.
	 */
	if (backing->private) {
		page = BENCH_GPA + (b.unit > PAGE_SIZE ? 5 * PAGE_SIZE : 0);
		start = now_us();
		vcpu0_op(&b, OP_MAP_SHARED, page, PAGE_SIZE);
		vcpu0_op(&b, OP_TOUCH_RANGE, page, PAGE_SIZE);
		vcpu0_op(&b, OP_MAP_PRIVATE, page, PAGE_SIZE);
		vcpu0_op(&b, OP_TOUCH_RANGE, page, PAGE_SIZE);
		r->convert_us = now_us() - start;
		r->convert_done = true;
		if (opt.check)
			check_counts(r, "after conversion:",
				     counts_sub(read_counts(&b), base));
	}

	bench_vm_free(&b);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The times of struct result, which runs are combined by their median. */
static const size_t result_times[] = {
	offsetof(struct result, alloc_ms),
	offsetof(struct result, pass1_ms),
	offsetof(struct result, pass2_ms),
	offsetof(struct result, punch_us),
	offsetof(struct result, refault_us),
	offsetof(struct result, convert_us),
	offsetof(struct result, pre_fault_ms),
};

static double *result_time(struct result *r, size_t offset)
{
	return (double *)((char *)r + offset);
}

/*
 * One row from @n runs of a backing: the counts of the first run (they are
 * exact, and -c checked every run), the median of each time.
 */
static void combine_runs(struct result *out, struct result *runs, int n)
{
	double v[MAX_RUNS];
	size_t t;
	int i;

	*out = runs[0];
	for (i = 0; i < n; i++) {
		if (runs[i].skipped) {
			*out = runs[i];
			return;
		}
	}
	for (i = 1; i < n; i++)
		out->check_failures += runs[i].check_failures;
	for (t = 0; t < ARRAY_SIZE(result_times); t++) {
		for (i = 0; i < n; i++)
			v[i] = *result_time(&runs[i], result_times[t]);
		*result_time(out, result_times[t]) = median(v, n);
	}
}

static void print_header(void)
{
	printf("%-19s %6s %4s %9s %9s %9s %7s %7s %4s %4s %9s %8s %10s %10s %11s\n",
	       "backing", "MiB", "vCPU", "alloc ms", "pass1 ms", "pass2 ms",
	       "faults", "4K", "2M", "1G", "SecPT KiB", "punch us",
	       "refault us", "convert us", "prefault ms");
}

static void print_result(const struct result *r)
{
	char convert[16] = "-", pre_fault[16] = "-";

	if (r->skipped) {
		printf("%-19s %6lu %4d  skipped: %s\n", r->backing->name,
		       r->size >> 20, r->nr_vcpus, r->why);
		return;
	}
	if (r->convert_done)
		snprintf(convert, sizeof(convert), "%.0f", r->convert_us);
	if (r->backing->pre_fault)
		snprintf(pre_fault, sizeof(pre_fault), "%.1f", r->pre_fault_ms);
	printf("%-19s %6lu %4d %9.1f %9.1f %9.1f %7ld %7ld %4ld %4ld %9ld %8.0f %10.0f %10s %11s\n",
	       r->backing->name, r->size >> 20, r->nr_vcpus, r->alloc_ms,
	       r->pass1_ms, r->pass2_ms, r->first.faults, r->first.pages_4k,
	       r->first.pages_2m, r->first.pages_1g, r->first.secpt_kib,
	       r->punch_us, r->refault_us, convert, pre_fault);
}

static void print_csv(const struct result *r)
{
	char convert[16] = "", pre_fault[16] = "";

	if (!opt.csv || r->skipped)
		return;
	if (r->convert_done)
		snprintf(convert, sizeof(convert), "%.1f", r->convert_us);
	if (r->backing->pre_fault)
		snprintf(pre_fault, sizeof(pre_fault), "%.3f", r->pre_fault_ms);
	printf("bench-csv: %s,%lu,%d,%.3f,%.3f,%.3f,%ld,%ld,%ld,%ld,%ld,%.1f,%.1f,%s,%s\n",
	       r->backing->key, r->size >> 20, r->nr_vcpus, r->alloc_ms,
	       r->pass1_ms, r->pass2_ms, r->first.faults, r->first.pages_4k,
	       r->first.pages_2m, r->first.pages_1g, r->first.secpt_kib,
	       r->punch_us, r->refault_us, convert, pre_fault);
}

static const struct result *find(const struct result *res, int n,
				 const char *key)
{
	for (int i = 0; i < n; i++)
		if (!res[i].skipped && !strcmp(res[i].backing->key, key))
			return &res[i];
	return NULL;
}

/*
 * First-pass time of backing @num over backing @den, run by run, with the
 * median: the two ran back to back in each run, under the same host load.
 */
static void print_paired_ratio(struct result runs[][NR_BACKINGS], int nr_runs,
			       int n, const char *num, const char *den,
			       const char *what)
{
	const struct result *a, *b;
	double v[MAX_RUNS];
	int i;

	for (i = 0; i < nr_runs; i++) {
		a = find(runs[i], n, num);
		b = find(runs[i], n, den);
		if (!a || !b || b->pass1_ms <= 0)
			return;
		v[i] = a->pass1_ms / b->pass1_ms;
	}
	printf("First pass: %s", what);
	if (nr_runs > 1) {
		printf(", by run:");
		for (i = 0; i < nr_runs; i++)
			printf(" %.2f", v[i]);
		printf("; median");
	}
	printf(" %.2fx.\n", median(v, nr_runs));
}

/* What the run shows, in words, for one size. */
static void summarize(const struct result *res, int n)
{
	const struct result *p1g = find(res, n, "private-1g");
	const struct result *p2m = find(res, n, "private-2m");
	const struct result *p4k = find(res, n, "private-4k");
	const struct result *s2m = find(res, n, "shared-2m");

	printf("\n");
	for (int i = 0; i < n; i++) {
		const struct result *r = &res[i];

		if (r->skipped || !r->backing->private)
			continue;
		printf("%s: %lu MiB of private memory mapped by ",
		       r->backing->name, r->size >> 20);
		printf("%ld 1G, %ld 2M and %ld 4K pages after %ld TDP faults.\n",
		       r->first.pages_1g, r->first.pages_2m, r->first.pages_4k,
		       r->first.faults);
	}
	if (p4k && p1g && p1g->first.faults)
		printf("Faults: private 1G takes %.0fx fewer than private 4K",
		       (double)p4k->first.faults / p1g->first.faults);
	if (p4k && p2m && p2m->first.faults)
		printf("%sprivate 2M %.0fx fewer",
		       p1g ? ", " : "Faults: ",
		       (double)p4k->first.faults / p2m->first.faults);
	if (p4k && (p1g || p2m))
		printf(".\n");
	if (p2m && s2m && s2m->pass1_ms > 0)
		printf("First pass: private 2M takes %.2fx the time of shared hugetlb 2M.\n",
		       p2m->pass1_ms / s2m->pass1_ms);
	if (p1g && p1g->pass2_ms > 0)
		printf("Private 1G: first pass %.2fx its second pass.\n",
		       p1g->pass1_ms / p1g->pass2_ms);
	if (p1g && p4k)
		printf("SecPageTables grew by %ld KiB for private 4K, %ld KiB for private 1G.\n",
		       p4k->first.secpt_kib, p1g->first.secpt_kib);
}

static void help(const char *name)
{
	printf("usage: %s [-b MiB] [-v vCPUs] [-s] [-c] [-o list] [-m] [-H] [-C]\n"
	       " -b MiB   guest memory each vCPU set touches (default 1024)\n"
	       " -v n     vCPUs (default 1), each touching its share\n"
	       " -s       sweep: 64 MiB doubling up to -b\n"
	       " -c       check the exact counts (faults, mappings per level)\n"
	       " -o list  only these backings (comma separated: private-1g,\n"
	       "          private-2m, private-4k, shared-2m, shared-4k,\n"
	       "          prefault-1g, prefault-4k)\n"
	       " -m       private memory from an MFD_INACCESSIBLE memfd (default:\n"
	       "          a guest_memfd, KVM_CREATE_GUEST_MEMFD)\n"
	       " -H       private memory starts as holes: the first pass\n"
	       "          allocates and zeroes it in the fault path\n"
	       " -C       also print each row as 'bench-csv: ...'\n"
	       " -r n     measure each size n times (default 1, at most %d),\n"
	       "          the backings taking turns; report median times\n",
	       name, MAX_RUNS);
}

static unsigned int parse_only(const char *list)
{
	unsigned int mask = 0;
	char *copy = strdup(list), *key, *save;

	for (key = strtok_r(copy, ",", &save); key;
	     key = strtok_r(NULL, ",", &save)) {
		unsigned int i;

		for (i = 0; i < NR_BACKINGS; i++)
			if (!strcmp(key, backings[i].key))
				break;
		TEST_ASSERT(i < NR_BACKINGS, "unknown backing '%s'", key);
		mask |= 1u << i;
	}
	free(copy);
	return mask;
}

int main(int argc, char **argv)
{
	static struct result runs[MAX_RUNS][NR_BACKINGS];
	struct result res[NR_BACKINGS];
	int c, failures = 0;
	uint64_t size;

	while ((c = getopt(argc, argv, "b:v:sco:mHCr:h")) != -1) {
		switch (c) {
		case 'b':
			opt.size = strtoull(optarg, NULL, 0) << 20;
			break;
		case 'v':
			opt.nr_vcpus = atoi(optarg);
			break;
		case 's':
			opt.sweep = true;
			break;
		case 'c':
			opt.check = true;
			break;
		case 'o':
			opt.only = parse_only(optarg);
			break;
		case 'm':
			opt.memfd = true;
			break;
		case 'H':
			opt.holes = true;
			break;
		case 'C':
			opt.csv = true;
			break;
		case 'r':
			opt.runs = atoi(optarg);
			break;
		default:
			help(argv[0]);
			exit(c == 'h' ? 0 : KSFT_FAIL);
		}
	}
	TEST_ASSERT(opt.nr_vcpus >= 1 && opt.nr_vcpus <= MAX_VCPUS,
		    "-v: 1 to %d vCPUs", MAX_VCPUS);
	TEST_ASSERT(opt.size >= PG_SIZE_2M && !(opt.size % PG_SIZE_2M) &&
		    !((opt.size / opt.nr_vcpus) % PAGE_SIZE),
		    "-b: a multiple of 2 MiB that the vCPUs can share in pages");
	TEST_ASSERT(opt.runs >= 1 && opt.runs <= MAX_RUNS,
		    "-r: 1 to %d runs", MAX_RUNS);

	size = opt.sweep ? min_t(uint64_t, 64ULL << 20, opt.size) : opt.size;
	for (; size <= opt.size; size *= 2) {
		unsigned int i, n = 0;
		int run;

		printf("\n== %lu MiB, %d vCPU(s), private memory from a%s%s",
		       size >> 20, opt.nr_vcpus,
		       opt.memfd ? "n inaccessible memfd" : " guest_memfd",
		       opt.holes ? ", filled by faults" : "");
		if (opt.runs > 1)
			printf(", median of %d runs", opt.runs);
		printf(" ==\n");
		for (run = 0; run < opt.runs; run++) {
			n = 0;
			for (i = 0; i < NR_BACKINGS; i++) {
				struct result *r = &runs[run][n];

				if (opt.only && !(opt.only & (1u << i)))
					continue;
				fprintf(stderr, "  [%u/%zu] %s, %lu MiB, run %d/%d ...\n",
					i + 1, NR_BACKINGS, backings[i].name,
					size >> 20, run + 1, opt.runs);
				run_backing(r, &backings[i], size, opt.nr_vcpus);
				if (opt.check && r->skipped) {
					printf("  check failed: %s skipped: %s\n",
					       backings[i].name, r->why);
					failures++;
				}
				n++;
			}
		}
		for (i = 0; i < n; i++) {
			struct result column[MAX_RUNS];

			for (run = 0; run < opt.runs; run++)
				column[run] = runs[run][i];
			combine_runs(&res[i], column, opt.runs);
			failures += res[i].check_failures;
		}
		print_header();
		for (i = 0; i < n; i++)
			print_result(&res[i]);
		for (i = 0; i < n; i++)
			print_csv(&res[i]);
		summarize(res, n);
		print_paired_ratio(runs, opt.runs, n, "private-4k", "shared-4k",
				   "private 4K over shared anonymous 4K");
		if (!opt.sweep)
			break;
	}

	if (opt.check)
		printf("\n%s: %d count check(s) failed\n",
		       failures ? "FAIL" : "PASS", failures);
	return failures ? KSFT_FAIL : 0;
}
