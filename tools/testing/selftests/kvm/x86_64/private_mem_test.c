// SPDX-License-Identifier: GPL-2.0-only
/*
 * Private memory of software-protected VMs, backed by hugetlb (2M, 1G) and
 * shmem (4K) memory through either front end, an inaccessible memfd or a
 * guest_memfd: data, mapping levels (pages_4k/2m/1g), conversions, punch
 * hole, misaligned offsets, host MM events, errors and bad input.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/memfd.h>
#include <asm/kvm_para.h>

#include "kvm_util.h"
#include "processor.h"
#include "private_mem.h"
#include "svm_util.h"
#include "../../../../../lib/test_memfile_uapi.h"

/* kvm_util's ASSERT_EQ() gives way to the harness's. */
#undef ASSERT_EQ
#include "kselftest_harness.h"
#include "harness_select.h"

#define PRIVATE_GPA	(4ULL << 30)
#define PRIVATE_SLOT	10
#define OTHER_GPA	(8ULL << 30)
#define OTHER_SLOT	11
#define SCRATCH_GPA	(12ULL << 30)
#define SCRATCH_SLOT	12
#define TIMEOUT		300
/* What the shared and the private half of a test page hold. */
#define SHARED_FILL	0x5a
#define PRIVATE_FILL	0xa5

enum guest_opcode {
	OP_WRITE,	/* write the pattern of seed at each page of [gpa, +size) */
	OP_CHECK,	/* check it; [alt_gpa, +alt_size) holds alt_seed or 0 */
	OP_MAP_SHARED,	/* KVM_HC_MAP_GPA_RANGE [gpa, +size) to shared */
	OP_MAP_PRIVATE,	/* ... and back to private */
};

struct guest_op {
	uint64_t opcode;
	uint64_t gpa;
	uint64_t size;
	uint64_t seed;
	uint64_t alt_gpa;
	uint64_t alt_size;
	uint64_t alt_seed;	/* 0: alt pages read zero */
};

static struct guest_op guest_op;

static uint64_t pattern(uint64_t gpa, uint64_t seed)
{
	return seed ? gpa ^ seed : 0;
}

static void guest_do_op(const struct guest_op *op)
{
	uint64_t gpa, want;

	switch (op->opcode) {
	case OP_WRITE:
		for (gpa = op->gpa; gpa < op->gpa + op->size; gpa += PAGE_SIZE)
			WRITE_ONCE(*(uint64_t *)gpa, pattern(gpa, op->seed));
		break;
	case OP_CHECK:
		for (gpa = op->gpa; gpa < op->gpa + op->size; gpa += PAGE_SIZE) {
			want = pattern(gpa, op->seed);
			if (gpa >= op->alt_gpa && gpa < op->alt_gpa + op->alt_size)
				want = pattern(gpa, op->alt_seed);
			GUEST_ASSERT_2(READ_ONCE(*(uint64_t *)gpa) == want, gpa,
				       READ_ONCE(*(uint64_t *)gpa));
		}
		break;
	case OP_MAP_SHARED:
		guest_map_shared(op->gpa, op->size);
		break;
	case OP_MAP_PRIVATE:
		guest_map_private(op->gpa, op->size);
		break;
	default:
		GUEST_ASSERT_1(0, op->opcode);
	}
}

static void guest_code(void)
{
	/* Touch the op before the first sync so it maps nothing new later. */
	(void)READ_ONCE(guest_op.opcode);
	for (;;) {
		GUEST_SYNC(0);
		guest_do_op(&guest_op);
	}
}

/* Run the vCPU to its next sync, failing on anything else. */
static void run_to_sync(struct kvm_vcpu *vcpu)
{
	struct ucall uc;
	int r;

	r = vcpu_run_serving_conversions(vcpu, NULL);
	TEST_ASSERT(!r, "KVM_RUN: %d errno %d (%s), exit reason %u",
		    r, errno, strerror(errno), vcpu->run->exit_reason);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_SYNC:
		return;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT_2(uc, "gpa 0x%lx read 0x%lx");
		break;
	default:
		TEST_FAIL("unexpected exit %u (%s)", vcpu->run->exit_reason,
			  exit_reason_str(vcpu->run->exit_reason));
	}
}

static void set_op(struct kvm_vm *vm, uint64_t opcode, uint64_t gpa,
		   uint64_t size, uint64_t seed)
{
	guest_op = (struct guest_op){
		.opcode = opcode, .gpa = gpa, .size = size, .seed = seed,
	};
	sync_global_to_guest(vm, guest_op);
}

static void do_op(struct kvm_vcpu *vcpu, uint64_t opcode, uint64_t gpa,
		  uint64_t size, uint64_t seed)
{
	set_op(vcpu->vm, opcode, gpa, size, seed);
	run_to_sync(vcpu);
}

static void do_check_alt(struct kvm_vcpu *vcpu, uint64_t gpa, uint64_t size,
			 uint64_t seed, uint64_t alt_gpa, uint64_t alt_size,
			 uint64_t alt_seed)
{
	guest_op = (struct guest_op){
		.opcode = OP_CHECK, .gpa = gpa, .size = size, .seed = seed,
		.alt_gpa = alt_gpa, .alt_size = alt_size, .alt_seed = alt_seed,
	};
	sync_global_to_guest(vcpu->vm, guest_op);
	run_to_sync(vcpu);
}

/* Expect KVM_RUN to stop on a memory fault with @err at @gpa. */
static void run_expect_memory_fault(struct kvm_vcpu *vcpu, int err,
				    uint64_t gpa, uint64_t flags)
{
	struct kvm_run *run = vcpu->run;
	int r;

	r = vcpu_run_serving_conversions(vcpu, NULL);
	TEST_ASSERT(r == -1 && errno == err,
		    "KVM_RUN: want -1 errno %d (%s), got %d errno %d (%s)",
		    err, strerror(err), r, errno, strerror(errno));
	TEST_ASSERT(run->exit_reason == KVM_EXIT_MEMORY_FAULT,
		    "exit reason %u, want KVM_EXIT_MEMORY_FAULT",
		    run->exit_reason);
	TEST_ASSERT(run->memory_fault.gpa == gpa &&
		    run->memory_fault.size == PAGE_SIZE &&
		    run->memory_fault.flags == flags,
		    "memory_fault gpa 0x%llx size 0x%llx flags 0x%llx, want 0x%lx 0x%lx 0x%lx",
		    run->memory_fault.gpa, run->memory_fault.size,
		    run->memory_fault.flags, gpa, (uint64_t)PAGE_SIZE, flags);
}

struct mapping_counts {
	int64_t pages_4k, pages_2m, pages_1g;
};

static struct mapping_counts read_counts(struct kvm_vm *vm)
{
	return (struct mapping_counts){
		.pages_4k = vm_stat(vm, "pages_4k"),
		.pages_2m = vm_stat(vm, "pages_2m"),
		.pages_1g = vm_stat(vm, "pages_1g"),
	};
}

/*
 * Run every op once on scratch memory, so that the guest's code, data and
 * stack are mapped, then count the mappings: what private accesses add to
 * this is theirs alone.
 */
static struct mapping_counts warm_up_and_count(struct kvm_vcpu *vcpu)
{
	do_op(vcpu, OP_WRITE, SCRATCH_GPA, PAGE_SIZE, 1);
	do_check_alt(vcpu, SCRATCH_GPA, PAGE_SIZE, 1, SCRATCH_GPA, 0, 0);
	do_op(vcpu, OP_MAP_PRIVATE, SCRATCH_GPA, PAGE_SIZE, 0);
	do_op(vcpu, OP_MAP_SHARED, SCRATCH_GPA, PAGE_SIZE, 0);
	return read_counts(vcpu->vm);
}

FIXTURE(private_mem) {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	int fd;
	void *shared;
	uint64_t unit;		/* size of one backing page */
	uint64_t size;		/* of the private memslot */
	uint64_t nr_units;
	struct mapping_counts base;
	/* How the file refuses host userspace: read(), mmap(), another VM. */
	int read_errno, mmap_errno, foreign_bind_errno;
};

FIXTURE_VARIANT(private_mem) {
	uint64_t page_size;	/* 0: shmem */
	uint64_t nr_units;
	bool guest_memfd;	/* KVM_CREATE_GUEST_MEMFD, else a memfd */
};

FIXTURE_VARIANT_ADD(private_mem, hugetlb_2m) {
	.page_size = PG_SIZE_2M,
	.nr_units = 8,
};

FIXTURE_VARIANT_ADD(private_mem, hugetlb_1g) {
	.page_size = PG_SIZE_1G,
	.nr_units = 2,
};

FIXTURE_VARIANT_ADD(private_mem, shmem_4k) {
	.page_size = 0,
	.nr_units = 1024,
};

FIXTURE_VARIANT_ADD(private_mem, guest_memfd_2m) {
	.page_size = PG_SIZE_2M,
	.nr_units = 8,
	.guest_memfd = true,
};

FIXTURE_VARIANT_ADD(private_mem, guest_memfd_1g) {
	.page_size = PG_SIZE_1G,
	.nr_units = 2,
	.guest_memfd = true,
};

FIXTURE_VARIANT_ADD(private_mem, guest_memfd_4k) {
	.page_size = 0,
	.nr_units = 1024,
	.guest_memfd = true,
};

FIXTURE_SETUP(private_mem)
{
	self->unit = variant->page_size ? variant->page_size : PAGE_SIZE;
	self->nr_units = variant->nr_units;
	self->size = self->unit * self->nr_units;
	self->fd = -1;
	self->vm = NULL;

	if (variant->page_size &&
	    free_huge_pages(variant->page_size) < (long)variant->nr_units)
		SETUP_SKIP("needs %lu free %luM huge pages (boot with hugepages=)",
			   variant->nr_units, variant->page_size >> 20);

	self->vm = vm_create_sw_protected_with_one_vcpu(&self->vcpu, 64,
							guest_code);
	vm_enable_conversion_exits(self->vm);
	self->fd = private_file_create(self->vm, variant->guest_memfd,
				       self->size, variant->page_size);
	/* A guest_memfd has no read or mmap at all; a memfd refuses them. */
	self->read_errno = variant->guest_memfd ? EINVAL : EPERM;
	self->mmap_errno = variant->guest_memfd ? ENODEV : EPERM;
	/* Another VM's guest_memfd is no guest_memfd to a VM. */
	self->foreign_bind_errno = variant->guest_memfd ? EINVAL : EPERM;
	self->shared = vm_add_private_memslot(self->vm, PRIVATE_SLOT,
					      PRIVATE_GPA, self->size,
					      self->fd, 0);
	vm_mem_set_private(self->vm, PRIVATE_GPA, self->size);

	vm_userspace_mem_region_add(self->vm, VM_MEM_SRC_ANONYMOUS, SCRATCH_GPA,
				    SCRATCH_SLOT, 1, 0);
	__virt_pg_map(self->vm, SCRATCH_GPA, SCRATCH_GPA, PG_LEVEL_1G);
	run_to_sync(self->vcpu);
	self->base = warm_up_and_count(self->vcpu);
}

FIXTURE_TEARDOWN(private_mem)
{
	if (self->vm)
		kvm_vm_free(self->vm);
	if (self->fd >= 0)
		close(self->fd);
}

/* How many mappings of each level the private range adds to @base. */
static void __expect_counts(struct __test_metadata *_metadata,
			    struct kvm_vm *vm, const struct mapping_counts *base,
			    int64_t d4k, int64_t d2m, int64_t d1g)
{
	struct mapping_counts now = read_counts(vm);

	EXPECT_EQ(d4k, now.pages_4k - base->pages_4k);
	EXPECT_EQ(d2m, now.pages_2m - base->pages_2m);
	EXPECT_EQ(d1g, now.pages_1g - base->pages_1g);
}

#define expect_counts(d4k, d2m, d1g) \
	__expect_counts(_metadata, self->vm, &self->base, d4k, d2m, d1g)

/* Mappings of @nr backing pages of @unit bytes, at their natural level. */
static void __expect_units_mapped(struct __test_metadata *_metadata,
				  struct kvm_vm *vm,
				  const struct mapping_counts *base,
				  uint64_t unit, int64_t nr)
{
	switch (unit) {
	case PG_SIZE_1G:
		__expect_counts(_metadata, vm, base, 0, 0, nr);
		break;
	case PG_SIZE_2M:
		__expect_counts(_metadata, vm, base, 0, nr, 0);
		break;
	default:
		__expect_counts(_metadata, vm, base, nr, 0, 0);
	}
}

#define expect_units_mapped(nr) \
	__expect_units_mapped(_metadata, self->vm, &self->base, self->unit, nr)

/*
 * The guest's data lives in private memory at the backing page size; host
 * userspace can read it neither through the fd nor through the shared half.
 */
TEST_F_TIMEOUT(private_mem, data_and_huge_mappings, TIMEOUT)
{
	uint64_t buf, off;

	do_op(self->vcpu, OP_WRITE, PRIVATE_GPA, self->size, 0xa5a5);
	expect_units_mapped(self->nr_units);
	do_op(self->vcpu, OP_CHECK, PRIVATE_GPA, self->size, 0xa5a5);
	expect_units_mapped(self->nr_units);

	EXPECT_EQ(-1, read(self->fd, &buf, sizeof(buf)));
	EXPECT_EQ(self->read_errno, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, self->unit, PROT_READ, MAP_SHARED,
				   self->fd, 0));
	EXPECT_EQ(self->mmap_errno, errno);
	for (off = 0; off < self->size; off += PAGE_SIZE)
		ASSERT_EQ(0, *(uint64_t *)((char *)self->shared + off));
}

/* Does @buf hold any word of the guest's pattern of @seed? */
static bool holds_pattern(const void *buf, size_t len, uint64_t seed,
			  uint64_t size)
{
	const uint64_t *word = buf;
	size_t i;

	for (i = 0; i < len / sizeof(*word); i++) {
		uint64_t gpa = word[i] ^ seed;

		if (word[i] && gpa >= PRIVATE_GPA && gpa < PRIVATE_GPA + size &&
		    !(gpa % PAGE_SIZE))
			return true;
	}
	return false;
}

/*
 * One row of the security matrix: how host userspace tried to reach the
 * private bytes, and what it got.  Either the call fails, or what it
 * returns holds none of the guest's data.
 */
static void matrix_row(struct __test_metadata *_metadata, const char *path,
		       ssize_t ret, int err, const void *buf, size_t len,
		       uint64_t seed, uint64_t size)
{
	if (ret < 0) {
		ksft_print_msg("  %-38s refused: %s\n", path, strerror(err));
		return;
	}
	ksft_print_msg("  %-38s returned %zd bytes, none private\n", path, ret);
	EXPECT_FALSE(holds_pattern(buf, len, seed, size)) {
		TH_LOG("%s leaked the guest's data", path);
	}
}

#define SECRET	0x5ec7e75ec7e75ec7ULL

static ssize_t read_proc_mem(void *addr, void *buf, size_t len)
{
	int fd = open("/proc/self/mem", O_RDONLY);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = pread(fd, buf, len, (off_t)(uintptr_t)addr);
	close(fd);
	return r;
}

/* Map @fd and copy what the mapping shows; -1 with errno if mmap() fails. */
static ssize_t map_and_copy(int fd, int flags, size_t map_len, void *buf,
			    size_t len)
{
	void *map = mmap(NULL, map_len, PROT_READ, flags, fd, 0);

	if (map == MAP_FAILED)
		return -1;
	memcpy(buf, map, len);
	munmap(map, map_len);
	return len;
}

/*
 * Every path by which host userspace reads a file or a process's memory,
 * against the private memory of a live guest: none yields a private byte.
 */
TEST_F_TIMEOUT(private_mem, security_matrix, TIMEOUT)
{
	size_t len = 4 * PAGE_SIZE;
	char *buf = malloc(len);
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = self->shared, .iov_len = len };
	int pipe_fds[2], tmp_fd;
	ssize_t r;

	ASSERT_NE(NULL, buf);
	do_op(self->vcpu, OP_WRITE, PRIVATE_GPA, self->size, SECRET);
	ASSERT_EQ(0, pipe(pipe_fds));
	tmp_fd = open("/tmp", O_TMPFILE | O_RDWR, 0600);
	ASSERT_LE(0, tmp_fd);

	ksft_print_msg("security matrix (%s backing, %s):\n",
		       self->unit == PAGE_SIZE ? "shmem 4K" :
		       self->unit == PG_SIZE_2M ? "hugetlb 2M" : "hugetlb 1G",
		       variant->guest_memfd ? "guest_memfd" : "memfd");

#define ROW(_path, _call)						\
	do {								\
		memset(buf, 0, len);					\
		errno = 0;						\
		r = (_call);						\
		matrix_row(_metadata, _path, r, errno, buf, len, SECRET, \
			   self->size);					\
	} while (0)

	ROW("read(fd)", read(self->fd, buf, len));
	ROW("pread(fd)", pread(self->fd, buf, len, 0));
	ROW("readv(fd)", readv(self->fd, &iov, 1));
	ROW("write(fd)", write(self->fd, buf, len));
	ROW("read(fd) after write", pread(self->fd, buf, len, 0));

	ROW("mmap(fd, MAP_SHARED)",
	    map_and_copy(self->fd, MAP_SHARED, self->unit, buf, len));
	ROW("mmap(fd, MAP_PRIVATE)",
	    map_and_copy(self->fd, MAP_PRIVATE, self->unit, buf, len));

	ROW("splice(fd -> pipe)",
	    splice(self->fd, NULL, pipe_fds[1], NULL, len, 0) < 0 ? -1 :
	    read(pipe_fds[0], buf, len));
	ROW("sendfile(fd -> pipe)",
	    sendfile(pipe_fds[1], self->fd, NULL, len) < 0 ? -1 :
	    read(pipe_fds[0], buf, len));
	ROW("copy_file_range(fd -> tmpfile)",
	    copy_file_range(self->fd, NULL, tmp_fd, NULL, len, 0) < 0 ? -1 :
	    pread(tmp_fd, buf, len, 0));
	/* The only host virtual addresses are the shared half's. */
	ROW("/proc/self/mem at the shared half",
	    read_proc_mem(self->shared, buf, len));
	ROW("process_vm_readv of the shared half",
	    process_vm_readv(getpid(), &iov, 1, &remote, 1, 0));
	ROW("the shared half itself", (memcpy(buf, self->shared, len),
				       (ssize_t)len));
#undef ROW

	close(tmp_fd);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
	free(buf);
}

/*
 * Pages punched out of, or truncated off, private memory are zeroed before
 * anyone can have them again: take every free huge page of the pool into
 * an ordinary memfd and look for the guest's data (hugetlb backings; a 4K
 * shmem page goes back to the page allocator, which zeroes user pages).
 */
TEST_F_TIMEOUT(private_mem, punched_pages_come_back_zeroed, TIMEOUT)
{
	uint64_t off, nr_free, len;
	char *map;
	int fd;

	if (self->unit == PAGE_SIZE)
		SKIP(return, "shmem pages go back to the page allocator, not a pool");

	do_op(self->vcpu, OP_WRITE, PRIVATE_GPA, self->size, SECRET);
	/* Half punched, the rest truncated away (a guest_memfd: punched). */
	ASSERT_EQ(0, fallocate(self->fd, FALLOC_FL_PUNCH_HOLE |
			       FALLOC_FL_KEEP_SIZE, 0, self->unit));
	if (variant->guest_memfd) {
		ASSERT_EQ(0, fallocate(self->fd, FALLOC_FL_PUNCH_HOLE |
				       FALLOC_FL_KEEP_SIZE, self->unit,
				       self->size - self->unit));
	} else {
		ASSERT_EQ(0, ftruncate(self->fd, self->unit));
	}

	nr_free = free_huge_pages(self->unit);
	ASSERT_LE(self->nr_units - 1, nr_free);
	len = nr_free * self->unit;
	fd = memfd_create("drain", MFD_HUGETLB | (self->unit == PG_SIZE_1G ?
						  MFD_HUGE_1GB : MFD_HUGE_2MB));
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, len));
	map = mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	EXPECT_EQ(0, free_huge_pages(self->unit));
	for (off = 0; off < len; off += PAGE_SIZE)
		if (holds_pattern(map + off, PAGE_SIZE, SECRET, self->size))
			break;
	EXPECT_EQ(len, off) {
		TH_LOG("guest data found at offset 0x%lx of a fresh huge page", off);
	}
	ksft_print_msg("%lu MiB of freed huge pages scanned: no guest data\n",
		       len >> 20);
	munmap(map, len);
	close(fd);
}

/*
 * The memfd passed to another process (SCM_RIGHTS) gives it no more than it
 * gave its sender: no read, no map, and no binding into a VM of its own.
 */
TEST_F_TIMEOUT(private_mem, fd_passed_grants_nothing, TIMEOUT)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {};
	struct msghdr msg = { .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cmsg;
	int sv[2], status;
	pid_t pid;

	do_op(self->vcpu, OP_WRITE, PRIVATE_GPA, self->size, SECRET);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct kvm_vcpu *vcpu;
		struct kvm_vm *vm;
		char data, buf[64];
		struct iovec iov = { .iov_base = &data, .iov_len = 1 };
		struct msghdr rmsg = { .msg_iov = &iov, .msg_iovlen = 1,
				       .msg_control = cbuf,
				       .msg_controllen = sizeof(cbuf) };
		int fd, r;

		if (recvmsg(sv[1], &rmsg, 0) != 1)
			_exit(10);
		cmsg = CMSG_FIRSTHDR(&rmsg);
		if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS)
			_exit(11);
		memcpy(&fd, CMSG_DATA(cmsg), sizeof(fd));
		if (read(fd, buf, sizeof(buf)) != -1 || errno != self->read_errno)
			_exit(12);
		if (mmap(NULL, self->unit, PROT_READ, MAP_SHARED, fd, 0) !=
		    MAP_FAILED || errno != self->mmap_errno)
			_exit(13);
		/* Its own VM cannot bind the memory another VM owns. */
		vm = vm_create_sw_protected_with_one_vcpu(&vcpu, 0, guest_code);
		r = __vm_set_user_memory_region2(vm, PRIVATE_SLOT,
						 KVM_MEM_PRIVATE, PRIVATE_GPA,
						 self->size, self->shared, fd, 0);
		if (r != -1 || errno != self->foreign_bind_errno)
			_exit(14);
		kvm_vm_free(vm);
		_exit(0);
	}

	{
		char data = 'x';
		struct iovec iov = { .iov_base = &data, .iov_len = 1 };

		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &self->fd, sizeof(int));
		ASSERT_EQ(1, sendmsg(sv[0], &msg, 0));
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	close(sv[0]);
	close(sv[1]);
}

/*
 * One 4K page inside a huge page goes shared and back: only the huge page
 * around it maps small meanwhile, then it is huge again.
 */
TEST_F_TIMEOUT(private_mem, convert_4k_inside_huge_page, TIMEOUT)
{
	uint64_t unit_gpa = PRIVATE_GPA + (self->nr_units - 1) * self->unit;
	uint64_t page = unit_gpa + (self->unit > PAGE_SIZE ? 5 * PAGE_SIZE : 0);
	uint64_t page_off = page - PRIVATE_GPA;

	do_op(self->vcpu, OP_WRITE, PRIVATE_GPA, self->size, 0x1111);
	expect_units_mapped(self->nr_units);

	do_op(self->vcpu, OP_MAP_SHARED, page, PAGE_SIZE, 0);
	do_op(self->vcpu, OP_WRITE, page, PAGE_SIZE, 0x2222);
	/* The guest's shared write lands in the shared half. */
	ASSERT_EQ(pattern(page, 0x2222),
		  *(uint64_t *)((char *)self->shared + page_off));
	do_check_alt(self->vcpu, PRIVATE_GPA, self->size, 0x1111, page,
		     PAGE_SIZE, 0x2222);

	switch (self->unit) {
	case PG_SIZE_1G:
		/* The 2M page of the shared one maps 4K, its 511 peers 2M. */
		expect_counts(512, 511, self->nr_units - 1);
		break;
	case PG_SIZE_2M:
		expect_counts(512, self->nr_units - 1, 0);
		break;
	default:
		expect_counts(self->nr_units, 0, 0);
	}

	/* Back to private: the private page kept its data. */
	do_op(self->vcpu, OP_MAP_PRIVATE, page, PAGE_SIZE, 0);
	do_op(self->vcpu, OP_CHECK, PRIVATE_GPA, self->size, 0x1111);
	expect_units_mapped(self->nr_units);
}

/*
 * Punching one backing page zaps exactly its mapping; the guest re-faults
 * it as zeros at the same level, and the rest keeps data and mappings.
 */
TEST_F_TIMEOUT(private_mem, punch_one_page, TIMEOUT)
{
	uint64_t victim = self->nr_units - 1;
	uint64_t victim_gpa = PRIVATE_GPA + victim * self->unit;
	long free_before = 0;

	do_op(self->vcpu, OP_WRITE, PRIVATE_GPA, self->size, 0x3333);
	expect_units_mapped(self->nr_units);

	if (self->unit != PAGE_SIZE)
		free_before = free_huge_pages(self->unit);
	ASSERT_EQ(0, fallocate(self->fd, FALLOC_FL_PUNCH_HOLE |
			       FALLOC_FL_KEEP_SIZE, victim * self->unit,
			       self->unit));
	expect_units_mapped(self->nr_units - 1);
	if (self->unit != PAGE_SIZE)
		EXPECT_EQ(free_before + 1, free_huge_pages(self->unit));

	do_check_alt(self->vcpu, PRIVATE_GPA, self->size, 0x3333, victim_gpa,
		     self->unit, 0);
	expect_units_mapped(self->nr_units);
	if (self->unit != PAGE_SIZE)
		EXPECT_EQ(free_before, free_huge_pages(self->unit));
}

/*
 * Punching one 4K page inside a huge page zeroes exactly that page: the
 * store invalidates the huge page around it, whose mapping goes, and keeps
 * the page (nothing returns to the pool); the guest then reads zeros at the
 * punched page and its data everywhere else, and the huge page maps huge
 * again.
 */
TEST_F_TIMEOUT(private_mem, punch_4k_inside_huge_page, TIMEOUT)
{
	uint64_t unit_gpa = PRIVATE_GPA + (self->nr_units - 1) * self->unit;
	uint64_t page = unit_gpa + round_down(self->unit / 2, PAGE_SIZE);
	long free_before = 0;

	do_op(self->vcpu, OP_WRITE, PRIVATE_GPA, self->size, 0x9999);
	expect_units_mapped(self->nr_units);
	if (self->unit != PAGE_SIZE)
		free_before = free_huge_pages(self->unit);

	ASSERT_EQ(0, fallocate(self->fd, FALLOC_FL_PUNCH_HOLE |
			       FALLOC_FL_KEEP_SIZE, page - PRIVATE_GPA,
			       PAGE_SIZE));
	expect_units_mapped(self->nr_units - 1);
	if (self->unit != PAGE_SIZE)
		EXPECT_EQ(free_before, free_huge_pages(self->unit));

	do_check_alt(self->vcpu, PRIVATE_GPA, self->size, 0x9999, page,
		     PAGE_SIZE, 0);
	expect_units_mapped(self->nr_units);
}

/*
 * A slot whose private_offset is not congruent with its GFNs at the
 * backing page size still works, mapped one level smaller (4K for 2M
 * pages, 2M for 1G pages).
 */
TEST_F_TIMEOUT(private_mem, misaligned_offset, TIMEOUT)
{
	uint64_t offset = self->unit == PG_SIZE_1G ? PG_SIZE_2M : PAGE_SIZE;
	uint64_t size = self->size - self->unit;
	void *shared;

	vm_set_user_memory_region2(self->vm, PRIVATE_SLOT, KVM_MEM_PRIVATE,
				   PRIVATE_GPA, 0, NULL, 0, 0);
	shared = mmap(NULL, size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, shared);
	vm_set_user_memory_region2(self->vm, PRIVATE_SLOT, KVM_MEM_PRIVATE,
				   PRIVATE_GPA, size, shared, self->fd, offset);
	/* Deleting the old slot zapped every mapping: count afresh. */
	self->base = warm_up_and_count(self->vcpu);

	do_op(self->vcpu, OP_WRITE, PRIVATE_GPA, size, 0x4444);
	do_op(self->vcpu, OP_CHECK, PRIVATE_GPA, size, 0x4444);
	if (self->unit == PG_SIZE_1G)
		expect_counts(0, size / PG_SIZE_2M, 0);
	else
		expect_counts(size / PAGE_SIZE, 0, 0);
	munmap(shared, size);
}

/*
 * A backing store that cannot give a page stops KVM_RUN with the store's
 * errno and a private memory fault exit, once, instead of spinning: a file
 * truncated below the slot (shmem), a 2M pool shrunk by its administrator
 * to the pages in use, an empty 1G pool (taken by another file: 1G pages
 * freed from the pool cannot be had again after boot).
 */
TEST_F_TIMEOUT(private_mem, store_error_exits, TIMEOUT)
{
	uint64_t gpa = PRIVATE_GPA + self->unit;
	long nr_free, nr_total;
	int hog = -1;

	if (self->unit == PAGE_SIZE && variant->guest_memfd) {
		ASSERT_EQ(-1, ftruncate(self->fd, self->size / 2));
		ASSERT_EQ(EINVAL, errno);
		SKIP(return, "fixed size, no pool: no store error for a 4K guest_memfd");
	}
	if (self->unit == PAGE_SIZE) {
		ASSERT_EQ(0, ftruncate(self->fd, self->size / 2));
		gpa = PRIVATE_GPA + self->size / 2;
		set_op(self->vm, OP_WRITE, gpa, PAGE_SIZE, 0x5555);
		run_expect_memory_fault(self->vcpu, ERANGE, gpa,
					KVM_MEMORY_EXIT_FLAG_PRIVATE);
		ASSERT_EQ(0, ftruncate(self->fd, self->size));
		run_to_sync(self->vcpu);
		return;
	}

	nr_free = free_huge_pages(self->unit);
	nr_total = hugepage_pool_value(self->unit, "nr_hugepages");
	if (self->unit == PG_SIZE_2M) {
		ASSERT_EQ(0, hugepage_pool_set(self->unit, "nr_hugepages",
					       nr_total - nr_free));
	} else {
		hog = memfd_create("hog", MFD_HUGETLB | MFD_HUGE_1GB);
		ASSERT_LE(0, hog);
		ASSERT_EQ(0, fallocate(hog, 0, 0, nr_free * self->unit));
	}
	ASSERT_EQ(0, free_huge_pages(self->unit));

	set_op(self->vm, OP_WRITE, gpa, PAGE_SIZE, 0x5555);
	run_expect_memory_fault(self->vcpu, ENOSPC, gpa,
				KVM_MEMORY_EXIT_FLAG_PRIVATE);

	/* With the pool back, the same access completes. */
	if (hog >= 0)
		close(hog);
	else
		ASSERT_EQ(0, hugepage_pool_set(self->unit, "nr_hugepages",
					       nr_total));
	ASSERT_EQ(nr_total, hugepage_pool_value(self->unit, "nr_hugepages"));
	ASSERT_EQ(nr_free, free_huge_pages(self->unit));
	run_to_sync(self->vcpu);
	do_op(self->vcpu, OP_CHECK, gpa, PAGE_SIZE, 0x5555);
}

#define KSM_SYSFS	"/sys/kernel/mm/ksm/"

static long ksm_read(const char *knob)
{
	char path[64];

	snprintf(path, sizeof(path), KSM_SYSFS "%s", knob);
	return read_sysfs_long(path);
}

static void ksm_write(const char *knob, long val)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), KSM_SYSFS "%s", knob);
	f = fopen(path, "w");
	TEST_ASSERT(f, "%s: %s", path, strerror(errno));
	fprintf(f, "%ld", val);
	TEST_ASSERT(!fclose(f), "%s <- %ld: %s", path, val, strerror(errno));
}

/* The guest checks its private data around @hole, a shared page. */
static void check_private_around(struct kvm_vcpu *vcpu, uint64_t gpa,
				 uint64_t size, uint64_t seed, uint64_t hole)
{
	if (hole > gpa)
		do_op(vcpu, OP_CHECK, gpa, hole - gpa, seed);
	if (hole + PAGE_SIZE < gpa + size)
		do_op(vcpu, OP_CHECK, hole + PAGE_SIZE,
		      gpa + size - hole - PAGE_SIZE, seed);
}

/* The mappings are still @mapped, and the guest's data around @hole intact. */
static void expect_private_kept(struct __test_metadata *_metadata,
				struct kvm_vcpu *vcpu,
				const struct mapping_counts *mapped,
				const char *event, uint64_t gpa, uint64_t size,
				uint64_t hole)
{
	struct mapping_counts now = read_counts(vcpu->vm);

	EXPECT_EQ(mapped->pages_4k, now.pages_4k) {
		TH_LOG("%s zapped private 4K mappings", event);
	}
	EXPECT_EQ(mapped->pages_2m, now.pages_2m) {
		TH_LOG("%s zapped private 2M mappings", event);
	}
	EXPECT_EQ(mapped->pages_1g, now.pages_1g) {
		TH_LOG("%s zapped private 1G mappings", event);
	}
	check_private_around(vcpu, gpa, size, 0x8888, hole);
}

/*
 * The host's own memory management acts on the shared half of a private
 * memslot, through the MMU notifier: zapping it (MADV_DONTNEED), changing
 * its protection (mprotect), and KSM merging its identical pages (which
 * replaces PTEs with change_pte).  None of it may touch what the private
 * GFNs map: their mappings stay, at every level, and not one private byte
 * changes.  One page of the last huge page is shared, so the private GFNs
 * around it are mapped at 4K, the level change_pte rewrites.
 */
TEST_F_TIMEOUT(private_mem, host_mm_events_spare_private, TIMEOUT)
{
	uint64_t window = self->size < 2 * PG_SIZE_2M ? self->size : 2 * PG_SIZE_2M;
	uint64_t win_gpa = PRIVATE_GPA + self->size - window;
	char *win_hva = (char *)self->shared + (win_gpa - PRIVATE_GPA);
	uint64_t hole = PRIVATE_GPA + self->size - self->unit +
			(self->unit > PAGE_SIZE ? 5 * PAGE_SIZE : 0);
	long sharing = 0, scans, old_run;
	struct mapping_counts mapped;
	time_t deadline;
	int i;

	do_op(self->vcpu, OP_WRITE, PRIVATE_GPA, self->size, 0x8888);
	do_op(self->vcpu, OP_MAP_SHARED, hole, PAGE_SIZE, 0);
	check_private_around(self->vcpu, PRIVATE_GPA, self->size, 0x8888, hole);
	mapped = read_counts(self->vm);
	/* 511 or more private 4K mappings next to the shared page. */
	ASSERT_LE(self->unit > PAGE_SIZE ? 511 : (int64_t)self->nr_units - 1,
		  mapped.pages_4k - self->base.pages_4k);

#define EXPECT_PRIVATE_KEPT(_event)					\
	expect_private_kept(_metadata, self->vcpu, &mapped, _event,	\
			    PRIVATE_GPA, self->size, hole)

	/* Populating the shared half faults host pages in: no notifier. */
	memset(win_hva, 0x5a, window);
	EXPECT_PRIVATE_KEPT("populating the shared half");

	ASSERT_EQ(0, madvise(win_hva, window, MADV_DONTNEED));
	EXPECT_PRIVATE_KEPT("MADV_DONTNEED of the shared half");

	memset(win_hva, 0x5a, window);
	ASSERT_EQ(0, mprotect(win_hva, window, PROT_READ));
	EXPECT_PRIVATE_KEPT("mprotect(PROT_READ) of the shared half");
	ASSERT_EQ(0, mprotect(win_hva, window, PROT_READ | PROT_WRITE));
	EXPECT_PRIVATE_KEPT("mprotect(PROT_READ | PROT_WRITE)");

	ASSERT_LE(0, ksm_read("run")) {
		TH_LOG("no " KSM_SYSFS ": the test kernel needs CONFIG_KSM");
	}
	/* Identical pages: ksmd merges them and rewrites their PTEs. */
	memset(win_hva, 0x5a, window);
	ASSERT_EQ(0, madvise(win_hva, window, MADV_MERGEABLE));
	old_run = ksm_read("run");
	ksm_write("pages_to_scan", 4096);
	ksm_write("sleep_millisecs", 0);
	scans = ksm_read("full_scans");
	ksm_write("run", 1);
	/* The guest keeps checking while ksmd works, for 60 s at most. */
	deadline = time(NULL) + 60;
	for (i = 0; time(NULL) < deadline; i++) {
		check_private_around(self->vcpu, win_gpa, window, 0x8888, hole);
		sharing = ksm_read("pages_sharing");
		if (ksm_read("full_scans") >= scans + 2 &&
		    sharing >= (long)(window / PAGE_SIZE) / 2)
			break;
	}
	ksft_print_msg("KSM: %ld shared-half pages merged, %ld full scans, %d guest checks\n",
		       sharing, ksm_read("full_scans") - scans, i + 1);
	EXPECT_LE((long)(window / PAGE_SIZE) / 2, sharing);
	EXPECT_PRIVATE_KEPT("KSM merging the shared half");

	/* Unmerging breaks the shared pages again: more notifier events. */
	ksm_write("run", 2);
	EXPECT_PRIVATE_KEPT("KSM unmerging the shared half");
	ksm_write("run", old_run);
#undef EXPECT_PRIVATE_KEPT
}

#define TEST_MEMFILE_DEVICE	"/dev/test_memfile"

/*
 * Set up a memory-failure case: the guest writes @seed over all its private
 * memory, which then sits in one mapping per backing page.  Returns the test
 * driver's fd, with the pool's free count before any poisoning in
 * *@free_before, or -1 once the case was skipped.  The struct names are
 * what FIXTURE_DATA() and FIXTURE_VARIANT() expand to, as net/tls.c uses.
 */
static int __poison_setup(struct __test_metadata *_metadata,
			  struct _test_data_private_mem *self,
			  const struct _fixture_variant_private_mem *variant,
			  uint64_t seed, long *free_before)
{
	int dev;

	if (variant->guest_memfd)
		SKIP(return -1, "the test driver needs a memfd: a guest_memfd's memfile has no fd");
	dev = open(TEST_MEMFILE_DEVICE, O_RDWR);
	if (dev < 0)
		SKIP(return -1, TEST_MEMFILE_DEVICE " missing: kernel without CONFIG_TEST_MEMFILE");

	do_op(self->vcpu, OP_WRITE, PRIVATE_GPA, self->size, seed);
	expect_units_mapped(self->nr_units);
	*free_before = self->unit == PAGE_SIZE ? 0 : free_huge_pages(self->unit);
	return dev;
}

#define poison_setup(seed, free_before) \
	__poison_setup(_metadata, self, variant, seed, free_before)

/*
 * The test driver, a consumer without an owner, must not register on @fd:
 * its ACCESS ioctl would read the guest's memory.  It asks for KVM's flags,
 * so that only the owner can be the reason.
 */
static void __expect_driver_refused(struct __test_metadata *_metadata,
				    int dev, int fd)
{
	struct test_memfile_register reg = {
		.fd = fd,
		.flags = TEST_MEMFILE_F_USER_INACCESSIBLE |
			 TEST_MEMFILE_F_UNMOVABLE | TEST_MEMFILE_F_UNRECLAIMABLE,
	};
	uint64_t word = 0;
	struct test_memfile_access access = {
		.len = sizeof(word), .buf = (uintptr_t)&word,
	};

	EXPECT_ERRNO(EPERM, ioctl(dev, TEST_MEMFILE_REGISTER, &reg));
	if (!ioctl(dev, TEST_MEMFILE_ACCESS, &access)) {
		TH_LOG("registered: the driver read %#lx, the guest's",
		       (unsigned long)word);
		ioctl(dev, TEST_MEMFILE_UNREGISTER);
	}
}

/*
 * A consumer without an owner gets nothing of a VM's memory: not while the
 * VM is bound to the file, nor once the VM is gone, the guest having used
 * the memory.
 */
TEST_F_TIMEOUT(private_mem, ownerless_consumer_reads_nothing, TIMEOUT)
{
	int dev;

	if (variant->guest_memfd)
		SKIP(return, "the test driver needs a memfd: a guest_memfd's memfile has no fd");
	dev = open(TEST_MEMFILE_DEVICE, O_RDWR);
	if (dev < 0)
		SKIP(return, TEST_MEMFILE_DEVICE " missing: kernel without CONFIG_TEST_MEMFILE");

	do_op(self->vcpu, OP_WRITE, PRIVATE_GPA, self->size, SECRET);
	__expect_driver_refused(_metadata, dev, self->fd);
	kvm_vm_free(self->vm);
	self->vm = NULL;
	__expect_driver_refused(_metadata, dev, self->fd);
	close(dev);
}

/*
 * A hardware error in private memory: memory_failure() (through the test
 * driver) leaves the page in the file, flagged.  KVM drops its mapping of the
 * backing page that holds it, and every access there exits with EHWPOISON
 * until the VMM punches the page out; the guest then reads zeros there, and
 * the rest of its memory kept its data.  The 1G case loses a 1G page until
 * reboot, which later cases need: it runs alone (-r), in a boot of its own.
 */
TEST_F_TIMEOUT(private_mem, poisoned_page_exits, TIMEOUT)
{
	struct test_memfile_file_page poison = { .fd = self->fd };
	uint64_t bad_gpa = PRIVATE_GPA + self->unit;
	long free_before;
	int dev, i;

	if (self->unit == PG_SIZE_1G && !harness_case_alone)
		SKIP(return, "loses a 1G page until reboot: run it alone (-r)");
	dev = poison_setup(0x7777, &free_before);
	if (dev < 0)
		return;

	/* A base page in the middle of the second backing page. */
	poison.pgoff = (self->unit + self->unit / 2) / PAGE_SIZE;
	EXPECT_EQ(0, ioctl(dev, TEST_MEMFILE_POISON, &poison)) {
		TH_LOG("TEST_MEMFILE_POISON: %s", strerror(errno));
	}
	close(dev);
	expect_units_mapped(self->nr_units - 1);

	guest_op = (struct guest_op){
		.opcode = OP_CHECK, .gpa = PRIVATE_GPA, .size = self->size,
		.seed = 0x7777, .alt_gpa = bad_gpa, .alt_size = self->unit,
	};
	sync_global_to_guest(self->vm, guest_op);
	for (i = 0; i < 2; i++)
		run_expect_memory_fault(self->vcpu, EHWPOISON, bad_gpa,
					KVM_MEMORY_EXIT_FLAG_PRIVATE);

	ASSERT_EQ(0, fallocate(self->fd, FALLOC_FL_PUNCH_HOLE |
			       FALLOC_FL_KEEP_SIZE, self->unit, self->unit));
	run_to_sync(self->vcpu);
	expect_units_mapped(self->nr_units);
	/* The poisoned huge page is lost to the pool; its hole got a new one. */
	if (self->unit != PAGE_SIZE)
		EXPECT_EQ(free_before - 1, free_huge_pages(self->unit));
}

/*
 * The guest touches a page right after it is poisoned, with no wait in
 * between: the invalidation is done before the poisoning ioctl returns to
 * user mode, so KVM_RUN always finds the mapping gone and exits with
 * EHWPOISON (a workqueue left it to chance).  4K: 100 rounds on distinct
 * pages.  2M: 10 rounds, each punching the huge page out and writing it
 * again, so each loses one page to the pool.  1G would lose ten 1G pages:
 * poisoned_page_exits covers 1G, in a boot of its own.
 */
TEST_F_TIMEOUT(private_mem, poison_then_touch_at_once, TIMEOUT)
{
	struct test_memfile_file_page poison = { .fd = self->fd };
	int rounds = self->unit == PAGE_SIZE ? 100 : 10;
	long free_before;
	uint64_t gpa, off;
	int dev, i;

	if (self->unit == PG_SIZE_1G)
		SKIP(return, "would lose ten 1G pages: poisoned_page_exits covers 1G");
	dev = poison_setup(0x5555, &free_before);
	if (dev < 0)
		return;

	for (i = 0; i < rounds; i++) {
		off = (i % self->nr_units) * self->unit;
		gpa = PRIVATE_GPA + off;
		/* After the punch, the page reads zero: alt covers it all. */
		guest_op = (struct guest_op){
			.opcode = OP_CHECK, .gpa = gpa, .size = self->unit,
			.seed = 0x5555, .alt_gpa = gpa, .alt_size = self->unit,
		};
		sync_global_to_guest(self->vm, guest_op);

		/* A different base page of the backing page each round. */
		poison.pgoff = (off + (i * 37 * PAGE_SIZE) % self->unit) /
			       PAGE_SIZE;
		ASSERT_EQ(0, ioctl(dev, TEST_MEMFILE_POISON, &poison)) {
			TH_LOG("round %d: TEST_MEMFILE_POISON: %s", i,
			       strerror(errno));
		}
		run_expect_memory_fault(self->vcpu, EHWPOISON, gpa,
					KVM_MEMORY_EXIT_FLAG_PRIVATE);
		expect_units_mapped(self->nr_units - 1);

		ASSERT_EQ(0, fallocate(self->fd, FALLOC_FL_PUNCH_HOLE |
				       FALLOC_FL_KEEP_SIZE, off, self->unit));
		run_to_sync(self->vcpu);
		do_op(self->vcpu, OP_WRITE, gpa, self->unit, 0x5555);
		expect_units_mapped(self->nr_units);
	}
	close(dev);
	if (self->unit != PAGE_SIZE)
		EXPECT_EQ(free_before - rounds, free_huge_pages(self->unit));
}

struct signaller {
	pthread_t target;
	bool stop;
};

/* SIGUSR1 to the vCPU thread every 5 ms until told to stop. */
static void *signal_loop(void *arg)
{
	struct signaller *sig = arg;

	while (!READ_ONCE(sig->stop)) {
		pthread_kill(sig->target, SIGUSR1);
		usleep(5000);
	}
	return NULL;
}

static void ignore_signal(int sig)
{
}

/*
 * Signals while the guest's first touch fills a hole (a 1G page takes
 * long to zero): the fill is never cut short nor reported as a memory
 * fault.  KVM_RUN returns -EINTR with KVM_EXIT_INTR, as for any signal, and
 * the next KVM_RUN goes on with the page filled: one page taken from the
 * pool, holding what the guest wrote.
 */
TEST_F_TIMEOUT(private_mem, signal_during_hole_fill, TIMEOUT)
{
	struct sigaction sa = { .sa_handler = ignore_signal };
	struct signaller sig = { .target = pthread_self() };
	struct kvm_run *run = self->vcpu->run;
	long free_before = 0, interrupted = 0;
	pthread_t thread;
	struct ucall uc;
	int r;

	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	if (self->unit != PAGE_SIZE)
		free_before = free_huge_pages(self->unit);
	set_op(self->vm, OP_WRITE, PRIVATE_GPA, self->unit, 0x4444);

	ASSERT_EQ(0, pthread_create(&thread, NULL, signal_loop, &sig));
	for (;;) {
		r = vcpu_run_serving_conversions(self->vcpu, NULL);
		if (!r || errno != EINTR || run->exit_reason != KVM_EXIT_INTR)
			break;
		interrupted++;
	}
	WRITE_ONCE(sig.stop, true);
	ASSERT_EQ(0, pthread_join(thread, NULL));
	signal(SIGUSR1, SIG_DFL);
	/* A memory fault exit (EINTR included) fails here. */
	ASSERT_EQ(0, r) {
		TH_LOG("KVM_RUN: errno %d (%s), exit %u (%s), after %ld signal exits",
		       errno, strerror(errno), run->exit_reason,
		       exit_reason_str(run->exit_reason), interrupted);
	}
	ASSERT_EQ(UCALL_SYNC, get_ucall(self->vcpu, &uc));
	ksft_print_msg("%ld signal exits while the guest filled a %lu KiB hole\n",
		       interrupted, self->unit >> 10);
	/* Zeroing 1G takes far longer than the 5 ms between signals. */
	if (self->unit == PG_SIZE_1G)
		EXPECT_LT(0, interrupted);
	if (self->unit != PAGE_SIZE)
		EXPECT_EQ(free_before - 1, free_huge_pages(self->unit));
	do_op(self->vcpu, OP_CHECK, PRIVATE_GPA, self->unit, 0x4444);
	expect_units_mapped(1);
}

/*
 * Closing the memfd leaves the guest its memory; deleting the slot gives
 * the pages back to the pool, and a private access there then exits.
 */
TEST_F_TIMEOUT(private_mem, close_fd_then_delete_slot, TIMEOUT)
{
	long free_before = 0;

	do_op(self->vcpu, OP_WRITE, PRIVATE_GPA, self->size, 0x6666);
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	do_op(self->vcpu, OP_CHECK, PRIVATE_GPA, self->size, 0x6666);

	if (self->unit != PAGE_SIZE)
		free_before = free_huge_pages(self->unit);
	/* Deleting a slot zaps all mappings: count the pool, not them. */
	vm_set_user_memory_region2(self->vm, PRIVATE_SLOT, KVM_MEM_PRIVATE,
				   PRIVATE_GPA, 0, NULL, 0, 0);
	if (self->unit != PAGE_SIZE)
		EXPECT_EQ(free_before + (long)self->nr_units,
			  free_huge_pages(self->unit));

	set_op(self->vm, OP_CHECK, PRIVATE_GPA, PAGE_SIZE, 0x6666);
	run_expect_memory_fault(self->vcpu, EFAULT, PRIVATE_GPA,
				KVM_MEMORY_EXIT_FLAG_PRIVATE);
}

/*
 * A GFN set private in a memslot without a private half cannot be mapped:
 * the access exits with a private memory fault for that page.
 */
TEST_F_TIMEOUT(private_mem, private_gfn_without_private_slot, TIMEOUT)
{
	uint64_t page = OTHER_GPA + 3 * PAGE_SIZE;

	vm_userspace_mem_region_add(self->vm, VM_MEM_SRC_ANONYMOUS, OTHER_GPA,
				    OTHER_SLOT, 16, 0);
	virt_map(self->vm, OTHER_GPA, OTHER_GPA, 16);
	do_op(self->vcpu, OP_WRITE, OTHER_GPA, 16 * PAGE_SIZE, 0x7777);

	vm_mem_set_private(self->vm, page, PAGE_SIZE);
	set_op(self->vm, OP_CHECK, OTHER_GPA, 16 * PAGE_SIZE, 0x7777);
	run_expect_memory_fault(self->vcpu, EFAULT, page,
				KVM_MEMORY_EXIT_FLAG_PRIVATE);

	/* Shared again, the same check runs to the end. */
	vm_mem_set_shared(self->vm, page, PAGE_SIZE);
	run_to_sync(self->vcpu);
}

/* Every bad KVM_SET_USER_MEMORY_REGION2 fails with its errno. */
TEST(bad_private_memslots)
{
	struct kvm_userspace_memory_region2 region = {};
	struct kvm_userspace_memory_region v1 = {};
	uint64_t size = 4 * PG_SIZE_2M;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm, *default_vm;
	int fd, plain_fd, pipe_fds[2];
	void *shared;

	vm = vm_create_sw_protected_with_one_vcpu(&vcpu, 0, guest_code);
	fd = memfd_private_create(size, 0);
	plain_fd = memfd_create("accessible", 0);
	ASSERT_LE(0, plain_fd);
	ASSERT_EQ(0, ftruncate(plain_fd, size));
	ASSERT_EQ(0, pipe(pipe_fds));
	shared = mmap(NULL, size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, shared);

#define SET2(_vm, _flags, _size, _fd, _offset)				\
	__vm_set_user_memory_region2(_vm, PRIVATE_SLOT, _flags, PRIVATE_GPA, \
				     _size, shared, _fd, _offset)
	/*
	 * The private half must be a whole range of an inaccessible memfile
	 * (or of a guest_memfd of this VM): any other file is EINVAL.
	 */
	EXPECT_ERRNO(EBADF, SET2(vm, KVM_MEM_PRIVATE, size, 1000, 0));
	EXPECT_ERRNO(EINVAL, SET2(vm, KVM_MEM_PRIVATE, size, pipe_fds[0], 0));
	EXPECT_ERRNO(EINVAL, SET2(vm, KVM_MEM_PRIVATE, size, plain_fd, 0));
	EXPECT_ERRNO(EINVAL, SET2(vm, KVM_MEM_PRIVATE, size, vm->fd, 0));
	EXPECT_ERRNO(EINVAL, SET2(vm, KVM_MEM_PRIVATE, size, vm->kvm_fd, 0));
	EXPECT_ERRNO(EINVAL, SET2(vm, KVM_MEM_PRIVATE, size, fd, 1));
	EXPECT_ERRNO(EINVAL, SET2(vm, KVM_MEM_PRIVATE, size, fd, PAGE_SIZE));
	EXPECT_ERRNO(EINVAL, SET2(vm, KVM_MEM_PRIVATE, size, fd, -PAGE_SIZE));
	EXPECT_ERRNO(EINVAL, SET2(vm, KVM_MEM_PRIVATE | KVM_MEM_LOG_DIRTY_PAGES,
				  size, fd, 0));
	EXPECT_ERRNO(EINVAL, SET2(vm, KVM_MEM_PRIVATE | KVM_MEM_READONLY,
				  size, fd, 0));
	EXPECT_ERRNO(EINVAL, SET2(vm, 1u << 15, size, fd, 0));

	/* Padding must be zero. */
	region = (struct kvm_userspace_memory_region2){
		.slot = PRIVATE_SLOT, .flags = KVM_MEM_PRIVATE,
		.guest_phys_addr = PRIVATE_GPA, .memory_size = size,
		.userspace_addr = (uintptr_t)shared, .private_fd = fd,
	};
	region.pad2[13] = 1;
	EXPECT_ERRNO(EINVAL, ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION2,
				   &region));
	region.pad2[13] = 0;
	region.pad1 = 1;
	EXPECT_ERRNO(EINVAL, ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION2,
				   &region));

	/* The old ioctl has no private_fd. */
	v1 = (struct kvm_userspace_memory_region){
		.slot = PRIVATE_SLOT, .flags = KVM_MEM_PRIVATE,
		.guest_phys_addr = PRIVATE_GPA, .memory_size = size,
		.userspace_addr = (uintptr_t)shared,
	};
	EXPECT_ERRNO(EINVAL, ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &v1));

	/* None of the failures left a registration: the file still binds. */
	ASSERT_EQ(0, SET2(vm, KVM_MEM_PRIVATE, size, fd, 0));

	/* Two memslots may not bind overlapping ranges of one file. */
#define SET2_OTHER(_size, _offset)					\
	__vm_set_user_memory_region2(vm, OTHER_SLOT, KVM_MEM_PRIVATE,	\
				     OTHER_GPA, _size, shared, fd, _offset)
	EXPECT_ERRNO(EEXIST, SET2_OTHER(PG_SIZE_2M, size - PG_SIZE_2M));
	EXPECT_EQ(0, ftruncate(fd, 2 * size));
	EXPECT_EQ(0, SET2_OTHER(PG_SIZE_2M, size));
	EXPECT_EQ(0, SET2_OTHER(0, 0));
#undef SET2_OTHER

	/* A private slot can be neither moved nor changed, only deleted. */
	region.pad1 = 0;
	region.guest_phys_addr = PRIVATE_GPA + size;
	EXPECT_ERRNO(EINVAL, ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION2,
				   &region));
	EXPECT_ERRNO(EINVAL, SET2(vm, KVM_MEM_PRIVATE | KVM_MEM_LOG_DIRTY_PAGES,
				  size, fd, 0));
	EXPECT_ERRNO(EINVAL, SET2(vm, 0, size, fd, 0));
	/* Deleting it twice: the second finds no slot. */
	EXPECT_EQ(0, SET2(vm, KVM_MEM_PRIVATE, 0, fd, 0));
	EXPECT_ERRNO(EINVAL, SET2(vm, KVM_MEM_PRIVATE, 0, fd, 0));

	/* A default VM has no private memory at all. */
	default_vm = vm_create_barebones();
	EXPECT_ERRNO(EINVAL, SET2(default_vm, KVM_MEM_PRIVATE, size, fd, 0));
	/* ... but takes the new ioctl for shared slots. */
	EXPECT_EQ(0, SET2(default_vm, 0, size, 0, 0));
	kvm_vm_free(default_vm);

	kvm_vm_free(vm);
	munmap(shared, size);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
	close(plain_fd);
	close(fd);
}

/*
 * A bind that fails claims nothing: the file stays free for another VM.  A
 * VM that bound the file but never took a page from it leaves it free
 * too; once its guest has used the memory, the memory is that VM's.
 */
TEST(failed_bind_claims_nothing)
{
	uint64_t size = 4 * PG_SIZE_2M;
	struct kvm_vcpu *vcpu_a, *vcpu_b;
	struct kvm_vm *vm_a, *vm_b;
	void *shared;
	int fd;

	vm_a = vm_create_sw_protected_with_one_vcpu(&vcpu_a, 0, guest_code);
	vm_b = vm_create_sw_protected_with_one_vcpu(&vcpu_b, 64, guest_code);
	vm_enable_conversion_exits(vm_b);
	fd = memfd_private_create(size, 0);
	shared = mmap(NULL, 2 * size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, shared);

	/* Larger than the file: refused after registering on it. */
	EXPECT_ERRNO(EINVAL, __vm_set_user_memory_region2(vm_a, PRIVATE_SLOT,
							  KVM_MEM_PRIVATE,
							  PRIVATE_GPA, 2 * size,
							  shared, fd, 0));
	/* Another VM binds the file; while it does, the first cannot. */
	ASSERT_EQ(0, __vm_set_user_memory_region2(vm_b, PRIVATE_SLOT,
						  KVM_MEM_PRIVATE, PRIVATE_GPA,
						  size, shared, fd, 0));
	EXPECT_ERRNO(EPERM, __vm_set_user_memory_region2(vm_a, PRIVATE_SLOT,
							 KVM_MEM_PRIVATE,
							 PRIVATE_GPA, size,
							 shared, fd, 0));
	/* Unbound unused, the file is free again. */
	vm_set_user_memory_region2(vm_b, PRIVATE_SLOT, KVM_MEM_PRIVATE,
				   PRIVATE_GPA, 0, NULL, 0, 0);
	ASSERT_EQ(0, __vm_set_user_memory_region2(vm_a, PRIVATE_SLOT,
						  KVM_MEM_PRIVATE, PRIVATE_GPA,
						  size, shared, fd, 0));
	vm_set_user_memory_region2(vm_a, PRIVATE_SLOT, KVM_MEM_PRIVATE,
				   PRIVATE_GPA, 0, NULL, 0, 0);

	/* B's guest writes its memory: from then on it is B's for good. */
	vm_add_private_memslot(vm_b, PRIVATE_SLOT, PRIVATE_GPA, size, fd, 0);
	vm_mem_set_private(vm_b, PRIVATE_GPA, size);
	run_to_sync(vcpu_b);
	do_op(vcpu_b, OP_WRITE, PRIVATE_GPA, size, SECRET);
	vm_set_user_memory_region2(vm_b, PRIVATE_SLOT, KVM_MEM_PRIVATE,
				   PRIVATE_GPA, 0, NULL, 0, 0);
	EXPECT_ERRNO(EPERM, __vm_set_user_memory_region2(vm_a, PRIVATE_SLOT,
							 KVM_MEM_PRIVATE,
							 PRIVATE_GPA, size,
							 shared, fd, 0));

	kvm_vm_free(vm_b);
	kvm_vm_free(vm_a);
	munmap(shared, 2 * size);
	close(fd);
}

/*
 * Identity nested page tables for L2: 1G pages over the low 4 GiB, and 4K
 * pages over the first @nr_4k pages from PRIVATE_GPA (4 GiB), marked
 * accessed so that KVM may prefetch them.
 */
static uint64_t npt_identity_create(struct kvm_vm *vm, int nr_4k)
{
	vm_vaddr_t pml4 = vm_vaddr_alloc_page(vm), pdpt = vm_vaddr_alloc_page(vm);
	uint64_t *pml4_hva = addr_gva2hva(vm, pml4);
	uint64_t *pdpt_hva = addr_gva2hva(vm, pdpt);
	uint64_t *pd_hva, *pt_hva;
	vm_vaddr_t pd, pt;
	int i;

	/* Present, writable, user (NPT walks are user accesses), 1G leaf. */
	pml4_hva[0] = addr_gva2gpa(vm, pdpt) | 0x7;
	for (i = 0; i < 4; i++)
		pdpt_hva[i] = ((uint64_t)i << 30) | 0x87;
	if (!nr_4k)
		return addr_gva2gpa(vm, pml4);

	pd = vm_vaddr_alloc_page(vm);
	pt = vm_vaddr_alloc_page(vm);
	pd_hva = addr_gva2hva(vm, pd);
	pt_hva = addr_gva2hva(vm, pt);
	pdpt_hva[PRIVATE_GPA >> 30] = addr_gva2gpa(vm, pd) | 0x7;
	pd_hva[0] = addr_gva2gpa(vm, pt) | 0x7;
	for (i = 0; i < nr_4k; i++)
		pt_hva[i] = (PRIVATE_GPA + i * PAGE_SIZE) | 0x27;
	return addr_gva2gpa(vm, pml4);
}

static void l2_guest_code(void)
{
	__asm__ __volatile__("vmmcall");
}

/* L1: run @l2_code once under nested paging, so KVM shadows L1's NPT. */
static void l1_guest_code(struct svm_test_data *svm, uint64_t npt_gpa,
			  void *l2_code)
{
	unsigned long l2_stack[64];
	struct vmcb *vmcb = svm->vmcb;

	generic_svm_setup(svm, l2_code, &l2_stack[64]);
	vmcb->control.nested_ctl = SVM_NESTED_CTL_NP_ENABLE;
	vmcb->control.nested_cr3 = npt_gpa;
	run_guest(vmcb, svm->vmcb_gpa);
	GUEST_ASSERT_1(vmcb->control.exit_code == SVM_EXIT_VMMCALL,
		       vmcb->control.exit_code);
	GUEST_DONE();
}

/* Run L1 until L2 and L1 are done. */
static void run_l1(struct kvm_vcpu *vcpu)
{
	struct ucall uc;

	vcpu_run(vcpu);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_DONE:
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT_1(uc, "L2 exit code 0x%lx");
		break;
	default:
		TEST_FAIL("L1 exit %u (%s)", vcpu->run->exit_reason,
			  exit_reason_str(vcpu->run->exit_reason));
	}
}

#define PREFETCH_PAGES		8
#define PREFETCH_PRIVATE_PAGE	5

static uint64_t l2_read;

/*
 * A fault on the first page maps it and prefetches its neighbours, which
 * L1's nested page tables map to L1's private memory slot; one of them is
 * private.
 */
static void l2_prefetch_code(void)
{
	(void)READ_ONCE(*(uint64_t *)PRIVATE_GPA);
	WRITE_ONCE(l2_read,
		   READ_ONCE(*(uint64_t *)(PRIVATE_GPA +
					   PREFETCH_PRIVATE_PAGE * PAGE_SIZE)));
	__asm__ __volatile__("vmmcall");
}

/*
 * Private memory is not mapped into L2, and KVM's prefetch of nested page
 * table entries, which goes through userspace_addr, must not map the
 * shared half of a private GFN in its place: L2's access to it exits with
 * a private memory fault, it does not read the shared half.
 */
TEST(nested_prefetch_skips_private_gfns)
{
	uint64_t size = PREFETCH_PAGES * PAGE_SIZE, npt_gpa;
	uint64_t page = PRIVATE_GPA + PREFETCH_PRIVATE_PAGE * PAGE_SIZE;
	struct kvm_vcpu *vcpu;
	vm_vaddr_t svm_gva;
	struct kvm_vm *vm;
	void *shared;
	int fd;

	if (!kvm_cpu_has(X86_FEATURE_SVM))
		SKIP(return, "nested SVM not offered to guests (the test machine is AMD SVM)");
	vm = vm_create_sw_protected_with_one_vcpu(&vcpu, 0, l1_guest_code);
	vcpu_alloc_svm(vm, &svm_gva);
	fd = private_file_create(vm, true, size, 0);
	shared = vm_add_private_memslot(vm, PRIVATE_SLOT, PRIVATE_GPA, size,
					fd, 0);
	/* Present in the host's page tables, as prefetch needs. */
	memset(shared, SHARED_FILL, size);
	vm_mem_set_private(vm, page, PAGE_SIZE);
	npt_gpa = npt_identity_create(vm, PREFETCH_PAGES);
	vcpu_args_set(vcpu, 3, svm_gva, npt_gpa, l2_prefetch_code);

	run_expect_memory_fault(vcpu, EFAULT, page,
				KVM_MEMORY_EXIT_FLAG_PRIVATE);
	/* L2 never got to read it. */
	sync_global_from_guest(vm, l2_read);
	EXPECT_EQ(0, l2_read);

	kvm_vm_free(vm);
	close(fd);
}

struct punch_loop {
	int fd;
	uint64_t size;
	bool stop;		/* READ_ONCE()/WRITE_ONCE() */
	unsigned long nr_punches;
	int err;
};

/* Punch 4K pages in the middle of the file until told to stop. */
static void *punch_loop(void *arg)
{
	struct punch_loop *p = arg;
	uint64_t off = p->size / 2;

	while (!READ_ONCE(p->stop)) {
		if (fallocate(p->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      off, PAGE_SIZE)) {
			p->err = errno;
			break;
		}
		p->nr_punches++;
		off = off + PAGE_SIZE < p->size ? off + PAGE_SIZE : p->size / 2;
	}
	return NULL;
}

/*
 * Punches racing the creation of private memslots, once an L2 guest has run
 * with nested paging: KVM then keeps rmaps for shadow pages, which a new
 * memslot gets only when it is prepared.  A store callback that reached the
 * slot before that would walk missing rmaps.
 */
TEST(punch_races_memslot_creation_after_l2)
{
	struct punch_loop punch = { .size = 16 << 20 };
	uint64_t npt_gpa, i;
	time_t deadline;
	struct kvm_vcpu *vcpu;
	vm_vaddr_t svm_gva;
	struct kvm_vm *vm;
	pthread_t thread;
	void *shared;

	if (!kvm_cpu_has(X86_FEATURE_SVM))
		SKIP(return, "nested SVM not offered to guests (the test machine is AMD SVM)");
	vm = vm_create_sw_protected_with_one_vcpu(&vcpu, 0, l1_guest_code);
	vcpu_alloc_svm(vm, &svm_gva);
	npt_gpa = npt_identity_create(vm, 0);
	vcpu_args_set(vcpu, 3, svm_gva, npt_gpa, l2_guest_code);
	run_l1(vcpu);

	punch.fd = memfd_private_create(punch.size, 0);
	shared = mmap(NULL, punch.size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, shared);
	ASSERT_EQ(0, pthread_create(&thread, NULL, punch_loop, &punch));
	/* 2000 creations, or 15 s (the harness allows a test 30 s). */
	deadline = time(NULL) + 15;
	for (i = 0; i < 2000 && time(NULL) < deadline; i++) {
		vm_set_user_memory_region2(vm, OTHER_SLOT, KVM_MEM_PRIVATE,
					   OTHER_GPA, punch.size, shared,
					   punch.fd, 0);
		vm_set_user_memory_region2(vm, OTHER_SLOT, KVM_MEM_PRIVATE,
					   OTHER_GPA, 0, NULL, 0, 0);
	}
	WRITE_ONCE(punch.stop, true);
	ASSERT_EQ(0, pthread_join(thread, NULL));
	EXPECT_EQ(0, punch.err);
	EXPECT_LT(0, punch.nr_punches);
	ksft_print_msg("%lu private memslots created against %lu punches\n",
		       i, punch.nr_punches);
	EXPECT_LT(100, i);

	kvm_vm_free(vm);
	munmap(shared, punch.size);
	close(punch.fd);
}

#define PRIVATE	KVM_MEMORY_ATTRIBUTE_PRIVATE
#define EXPECT_ATTRS_EINVAL(_vm, _gpa, _size, _attrs, _flags)		\
	EXPECT_ERRNO(EINVAL, __vm_set_memory_attributes(_vm, _gpa, _size,	\
							_attrs, _flags))

/* Every bad KVM_SET_MEMORY_ATTRIBUTES fails with EINVAL. */
TEST(bad_memory_attributes)
{
	struct kvm_vm *vm, *default_vm;
	struct kvm_vcpu *vcpu;

	vm = vm_create_sw_protected_with_one_vcpu(&vcpu, 0, guest_code);
	EXPECT_ATTRS_EINVAL(vm, PRIVATE_GPA, PAGE_SIZE, PRIVATE, 1);
	EXPECT_ATTRS_EINVAL(vm, PRIVATE_GPA, PAGE_SIZE, 1ULL << 0, 0);
	EXPECT_ATTRS_EINVAL(vm, PRIVATE_GPA + 1, PAGE_SIZE, PRIVATE, 0);
	EXPECT_ATTRS_EINVAL(vm, PRIVATE_GPA, PAGE_SIZE + 1, PRIVATE, 0);
	EXPECT_ATTRS_EINVAL(vm, PRIVATE_GPA, 0, PRIVATE, 0);
	EXPECT_ATTRS_EINVAL(vm, -PAGE_SIZE, 2 * PAGE_SIZE, PRIVATE, 0);
	/* Any GFN may be private, with or without a memslot. */
	EXPECT_EQ(0, __vm_set_memory_attributes(vm, 1ULL << 40, 1ULL << 30,
						PRIVATE, 0));
	EXPECT_EQ(KVM_MEMORY_ATTRIBUTE_PRIVATE,
		  ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_MEMORY_ATTRIBUTES));
	kvm_vm_free(vm);

	default_vm = vm_create_barebones();
	EXPECT_EQ(0, ioctl(default_vm->fd, KVM_CHECK_EXTENSION,
			   KVM_CAP_MEMORY_ATTRIBUTES));
	EXPECT_ATTRS_EINVAL(default_vm, PRIVATE_GPA, PAGE_SIZE, PRIVATE, 0);
	kvm_vm_free(default_vm);
}

/*
 * VMs whose attributes are split into many ranges go away cleanly.  Every
 * other page private gives the attribute tree one entry per page; over
 * this sweep its root node fills up and splits more than once.  Without
 * the maple_tree fix in this series, 6.1's maple tree, destroyed in RCU
 * mode, corrupts a full root node (mt_clear_meta() after mte_dead_leaves()
 * has rewritten its slots), and the RCU callback that frees the nodes then
 * follows a bad pointer (KASAN, first seen at the end of a 30-minute
 * private_mem_stress_test).
 */
FIXTURE(attribute_tree) {
};

FIXTURE_SETUP(attribute_tree)
{
}

FIXTURE_TEARDOWN(attribute_tree)
{
}

TEST_F_TIMEOUT(attribute_tree, many_ranges_teardown, TIMEOUT)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int nr, r;

	for (nr = 64; nr <= 4096; nr += 64) {
		vm = vm_create_sw_protected_with_one_vcpu(&vcpu, 0, guest_code);
		for (r = 0; r < nr; r++)
			vm_mem_set_private(vm, OTHER_GPA + 2 * r * PAGE_SIZE,
					   PAGE_SIZE);
		kvm_vm_free(vm);
	}
	/* The trees' nodes are freed by RCU callbacks: let them run. */
	usleep(200 * 1000);
}

static void write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);

	if (fd >= 0) {
		if (write(fd, val, strlen(val)) < 0)
			perror(path);
		close(fd);
	}
}

/* Arm fail-nth: the @nth allocation of this task from now on fails. */
static void fail_nth_arm(int fd, int nth)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%d", nth);
	TEST_ASSERT(pwrite(fd, buf, strlen(buf), 0) > 0, "fail-nth: %s",
		    strerror(errno));
}

/* Disarm it; true if the failure was injected. */
static bool fail_nth_fired(int fd)
{
	char buf[16] = "";
	bool fired;

	TEST_ASSERT(pread(fd, buf, sizeof(buf) - 1, 0) > 0, "fail-nth: %s",
		    strerror(errno));
	fired = atoi(buf) == 0;
	fail_nth_arm(fd, 0);
	return fired;
}

/*
 * Binding a private memslot and setting attributes with the n-th slab or
 * page allocation failing, for n = 1, 2, ... until the call no longer
 * allocates that often: each failure is a clean ENOMEM, and a retry then
 * works, so nothing was left half done (a leaked registration would make
 * the retry fail with EBUSY or EEXIST).
 */
TEST(allocation_failures)
{
	uint64_t size = 4 * PG_SIZE_2M;
	int fail_fd, mem_fd, nth, injected = 0, r, err;
	struct kvm_vcpu *vcpu, *other_vcpu;
	struct kvm_vm *vm, *other;
	char path[64];
	void *shared;

	snprintf(path, sizeof(path), "/proc/self/task/%d/fail-nth",
		 (int)syscall(SYS_gettid));
	fail_fd = open(path, O_RDWR);
	if (fail_fd < 0)
		SKIP(return, "no %s: needs CONFIG_FAULT_INJECTION (the debug kernel has it)",
		     path);
	/*
	 * Fail sleeping allocations too, of any order, and quietly: an
	 * injected failure is not a kernel report.
	 */
	write_file("/sys/kernel/debug/failslab/verbose", "0");
	write_file("/sys/kernel/debug/fail_page_alloc/verbose", "0");
	write_file("/sys/kernel/debug/failslab/ignore-gfp-wait", "N");
	write_file("/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "N");
	write_file("/sys/kernel/debug/fail_page_alloc/min-order", "0");

	vm = vm_create_sw_protected_with_one_vcpu(&vcpu, 0, guest_code);
	other = vm_create_sw_protected_with_one_vcpu(&other_vcpu, 0, guest_code);
	mem_fd = memfd_private_create(size, 0);
	shared = mmap(NULL, size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, shared);

	for (nth = 1; nth < 200; nth++) {
		fail_nth_arm(fail_fd, nth);
		r = __vm_set_user_memory_region2(vm, PRIVATE_SLOT,
						 KVM_MEM_PRIVATE, PRIVATE_GPA,
						 size, shared, mem_fd, 0);
		err = errno;
		if (!fail_nth_fired(fail_fd)) {
			ASSERT_EQ(0, r);
			break;
		}
		injected++;
		if (r) {
			EXPECT_EQ(ENOMEM, err);
			/* The failed bind claimed nothing: another VM binds. */
			r = __vm_set_user_memory_region2(other, PRIVATE_SLOT,
							 KVM_MEM_PRIVATE,
							 PRIVATE_GPA, size,
							 shared, mem_fd, 0);
			EXPECT_EQ(0, r) {
				TH_LOG("failure %d left the file claimed: %s",
				       nth, strerror(errno));
			}
			vm_set_user_memory_region2(other, PRIVATE_SLOT,
						   KVM_MEM_PRIVATE, PRIVATE_GPA,
						   0, NULL, 0, 0);
			continue;
		}
		/* The allocation that failed had a fallback: fine too. */
		vm_set_user_memory_region2(vm, PRIVATE_SLOT, KVM_MEM_PRIVATE,
					   PRIVATE_GPA, 0, NULL, 0, 0);
	}
	ksft_print_msg("%s: %d allocation failures injected, all clean\n",
		       "KVM_SET_USER_MEMORY_REGION2", injected);

	injected = 0;
	for (nth = 1; nth < 200; nth++) {
		fail_nth_arm(fail_fd, nth);
		r = __vm_set_memory_attributes(vm, PRIVATE_GPA + PAGE_SIZE,
					       PAGE_SIZE, PRIVATE, 0);
		err = errno;
		if (!fail_nth_fired(fail_fd)) {
			ASSERT_EQ(0, r);
			break;
		}
		injected++;
		if (!r) {
			vm_mem_set_shared(vm, PRIVATE_GPA + PAGE_SIZE, PAGE_SIZE);
			continue;
		}
		EXPECT_EQ(ENOMEM, err);
	}
	ksft_print_msg("%s: %d allocation failures injected, all clean\n",
		       "KVM_SET_MEMORY_ATTRIBUTES", injected);

	kvm_vm_free(other);
	kvm_vm_free(vm);
	munmap(shared, size);
	close(mem_fd);
	close(fail_fd);
}

/* KVM_CAP_VM_TYPES lists what KVM_CREATE_VM accepts. */
TEST(vm_types)
{
	int kvm_fd = open_kvm_dev_path_or_exit();
	int types = kvm_check_cap(KVM_CAP_VM_TYPES);
	int type, fd;

	EXPECT_EQ(BIT(KVM_X86_DEFAULT_VM) | BIT(KVM_X86_SW_PROTECTED_VM),
		  types);
	for (type = 0; type < 8; type++) {
		fd = ioctl(kvm_fd, KVM_CREATE_VM, type);
		if (types & BIT(type)) {
			EXPECT_LE(0, fd);
		} else {
			EXPECT_EQ(-1, fd);
			EXPECT_EQ(EINVAL, errno);
		}
		if (fd >= 0)
			close(fd);
	}
	EXPECT_EQ(1, kvm_check_cap(KVM_CAP_USER_MEMORY2));
	EXPECT_EQ(1, kvm_check_cap(KVM_CAP_MEMORY_FAULT_INFO));
	close(kvm_fd);
}

/*
 * KVM's own accesses to guest memory: the instruction emulator and the
 * areas a guest asks KVM to write (kvmclock, steal time).  They go through
 * userspace_addr, the shared half, which for a private GFN is not the
 * guest's memory; a private GFN there must stop KVM_RUN with a private
 * memory fault (the emulator) or be left alone (the areas).
 */
#define EMUL_PAGES	4
#define EMUL_PORT	0x2000
/* In the guest's 1G identity mapping of the private slot, in no memslot. */
#define EMUL_MMIO_GPA	(PRIVATE_GPA + (512ULL << 20))
#define EMUL_NOSLOT_GPA	(PRIVATE_GPA + (768ULL << 20))

enum emul_opcode {
	EMUL_FILL,	/* fill [gpa, +count) with PRIVATE_FILL */
	EMUL_CHECK,	/* check it holds PRIVATE_FILL */
	EMUL_OUTS,	/* rep outsb: count bytes at gpa to EMUL_PORT */
	EMUL_INS,	/* rep insb: count bytes from EMUL_PORT to gpa */
	EMUL_MOVS,	/* movsq from gpa to EMUL_MMIO_GPA */
	EMUL_STORE,	/* a plain store to gpa */
	EMUL_KVMCLOCK,	/* MSR_KVM_SYSTEM_TIME_NEW = gpa | enabled */
	EMUL_STEAL_TIME, /* MSR_KVM_STEAL_TIME = gpa | enabled */
	EMUL_NOP,
	EMUL_SPIN,	/* spin until the host sets emul_spin_stop */
};

static struct {
	uint64_t opcode, gpa, count;
} emul;

/* Set by the host while the guest spins (EMUL_SPIN). */
static uint64_t emul_spin_stop;

static void guest_emul_code(void)
{
	uint64_t src, dst, count, i;

	for (;;) {
		GUEST_SYNC(0);
		src = emul.gpa;
		dst = emul.gpa;
		count = emul.count;
		switch (emul.opcode) {
		case EMUL_FILL:
			memset((void *)dst, PRIVATE_FILL, count);
			break;
		case EMUL_CHECK:
			for (i = 0; i < count; i++)
				GUEST_ASSERT_2(((uint8_t *)src)[i] == PRIVATE_FILL,
					       src + i, ((uint8_t *)src)[i]);
			break;
		case EMUL_OUTS:
			asm volatile("cld; rep outsb"
				     : "+S"(src), "+c"(count)
				     : "d"(EMUL_PORT) : "memory");
			break;
		case EMUL_INS:
			asm volatile("cld; rep insb"
				     : "+D"(dst), "+c"(count)
				     : "d"(EMUL_PORT) : "memory");
			break;
		case EMUL_MOVS:
			dst = EMUL_MMIO_GPA;
			asm volatile("cld; movsq"
				     : "+S"(src), "+D"(dst) : : "memory");
			break;
		case EMUL_STORE:
			WRITE_ONCE(*(uint64_t *)dst, 1);
			break;
		case EMUL_KVMCLOCK:
			wrmsr(MSR_KVM_SYSTEM_TIME_NEW, src | KVM_MSR_ENABLED);
			break;
		case EMUL_STEAL_TIME:
			wrmsr(MSR_KVM_STEAL_TIME, src | KVM_MSR_ENABLED);
			break;
		case EMUL_SPIN:
			while (!READ_ONCE(emul_spin_stop))
				cpu_relax();
			break;
		}
	}
}

FIXTURE(emulated) {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	int fd;
	uint8_t *shared;
};

static void emul_set(struct kvm_vm *vm, uint64_t opcode, uint64_t gpa,
		     uint64_t count)
{
	emul.opcode = opcode;
	emul.gpa = gpa;
	emul.count = count;
	sync_global_to_guest(vm, emul);
}

/* Run @opcode to the guest's next sync. */
static void emul_do(struct kvm_vcpu *vcpu, uint64_t opcode, uint64_t gpa,
		    uint64_t count)
{
	emul_set(vcpu->vm, opcode, gpa, count);
	run_to_sync(vcpu);
}

/*
 * Four private pages (a 4K guest_memfd) whose shared half holds
 * SHARED_FILL and private half PRIVATE_FILL, so that any byte tells which
 * half it came from.
 */
FIXTURE_SETUP(emulated)
{
	uint64_t size = EMUL_PAGES * PAGE_SIZE;

	self->vm = vm_create_sw_protected_with_one_vcpu(&self->vcpu, 64,
							guest_emul_code);
	self->fd = private_file_create(self->vm, true, size, 0);
	self->shared = vm_add_private_memslot(self->vm, PRIVATE_SLOT,
					      PRIVATE_GPA, size, self->fd, 0);
	memset(self->shared, SHARED_FILL, size);
	vm_mem_set_private(self->vm, PRIVATE_GPA, size);
	run_to_sync(self->vcpu);
	emul_do(self->vcpu, EMUL_FILL, PRIVATE_GPA, size);
}

FIXTURE_TEARDOWN(emulated)
{
	kvm_vm_free(self->vm);
	close(self->fd);
}

static bool all_bytes(const uint8_t *buf, uint8_t val, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != val)
			return false;
	return true;
}

/*
 * Run the vCPU to its next sync, serving its port I/O on EMUL_PORT: OUT
 * bytes are copied to @out, IN bytes are @in_val.  KVM may split a string
 * instruction into several exits.
 *
 * Return: the number of bytes the guest moved through the port.
 */
static size_t run_serving_port(struct kvm_vcpu *vcpu, uint8_t *out,
			       size_t out_len, uint8_t in_val)
{
	struct kvm_run *run = vcpu->run;
	size_t moved = 0, len;
	uint8_t *data;

	for (;;) {
		vcpu_run(vcpu);
		if (run->exit_reason != KVM_EXIT_IO || run->io.port != EMUL_PORT)
			break;
		data = (uint8_t *)run + run->io.data_offset;
		len = run->io.size * run->io.count;
		if (run->io.direction == KVM_EXIT_IO_OUT) {
			TEST_ASSERT(moved + len <= out_len, "%zu bytes out",
				    moved + len);
			memcpy(out + moved, data, len);
		} else {
			memset(data, in_val, len);
		}
		moved += len;
	}
	TEST_ASSERT(get_ucall(vcpu, NULL) == UCALL_SYNC,
		    "exit %u (%s), want a sync", run->exit_reason,
		    exit_reason_str(run->exit_reason));
	return moved;
}

/*
 * An emulated string OUT from private memory stops on a private memory
 * fault instead of sending the shared half's bytes; once userspace makes
 * the page shared, the guest runs the instruction again and sends those.
 */
TEST_F_TIMEOUT(emulated, string_out_of_private_page, TIMEOUT)
{
	uint8_t out[8];

	emul_set(self->vm, EMUL_OUTS, PRIVATE_GPA + 8, sizeof(out));
	run_expect_memory_fault(self->vcpu, EFAULT, PRIVATE_GPA,
				KVM_MEMORY_EXIT_FLAG_PRIVATE);

	vm_mem_set_shared(self->vm, PRIVATE_GPA, PAGE_SIZE);
	EXPECT_EQ(sizeof(out),
		  run_serving_port(self->vcpu, out, sizeof(out), 0));
	EXPECT_TRUE(all_bytes(out, SHARED_FILL, sizeof(out)));
}

/*
 * An emulated string IN to private memory stops on a private memory fault
 * when the data arrives, instead of writing it to the shared half; once
 * userspace makes the page shared, the guest runs the instruction again.
 */
TEST_F_TIMEOUT(emulated, string_in_to_private_page, TIMEOUT)
{
	struct kvm_run *run = self->vcpu->run;
	uint64_t gpa = PRIVATE_GPA + PAGE_SIZE;

	emul_set(self->vm, EMUL_INS, gpa + 16, 8);
	vcpu_run(self->vcpu);
	ASSERT_EQ(KVM_EXIT_IO, run->exit_reason);
	EXPECT_EQ(KVM_EXIT_IO_IN, run->io.direction);
	EXPECT_EQ(EMUL_PORT, run->io.port);
	memset((uint8_t *)run + run->io.data_offset, 0x77,
	       run->io.size * run->io.count);

	run_expect_memory_fault(self->vcpu, EFAULT, gpa,
				KVM_MEMORY_EXIT_FLAG_PRIVATE);
	EXPECT_TRUE(all_bytes(self->shared + PAGE_SIZE, SHARED_FILL,
			      PAGE_SIZE));

	vm_mem_set_shared(self->vm, gpa, PAGE_SIZE);
	EXPECT_EQ(8, run_serving_port(self->vcpu, NULL, 0, 0x77));
	EXPECT_TRUE(all_bytes(self->shared + PAGE_SIZE + 16, 0x77, 8));
	EXPECT_TRUE(all_bytes(self->shared + PAGE_SIZE, SHARED_FILL, 16));
}

/*
 * MMIO emulation whose other operand is private: a MOVS from private
 * memory to an address without a memslot stops on a private memory fault
 * instead of an MMIO write of the shared half's bytes.  A private GPA
 * without a memslot is no MMIO either.
 */
TEST_F_TIMEOUT(emulated, mmio_from_private_page, TIMEOUT)
{
	struct kvm_run *run = self->vcpu->run;
	uint64_t gpa = PRIVATE_GPA + 2 * PAGE_SIZE;

	emul_set(self->vm, EMUL_MOVS, gpa, 0);
	run_expect_memory_fault(self->vcpu, EFAULT, gpa,
				KVM_MEMORY_EXIT_FLAG_PRIVATE);

	vm_mem_set_shared(self->vm, gpa, PAGE_SIZE);
	vcpu_run(self->vcpu);
	ASSERT_EQ(KVM_EXIT_MMIO, run->exit_reason);
	EXPECT_EQ(EMUL_MMIO_GPA, run->mmio.phys_addr);
	EXPECT_TRUE(run->mmio.is_write);
	EXPECT_EQ(8, run->mmio.len);
	EXPECT_TRUE(all_bytes(run->mmio.data, SHARED_FILL, 8));
	run_to_sync(self->vcpu);

	vm_mem_set_private(self->vm, EMUL_NOSLOT_GPA, PAGE_SIZE);
	emul_set(self->vm, EMUL_STORE, EMUL_NOSLOT_GPA, 0);
	run_expect_memory_fault(self->vcpu, EFAULT, EMUL_NOSLOT_GPA,
				KVM_MEMORY_EXIT_FLAG_PRIVATE);
}

/* Make every vCPU update its kvmclock on its next entry. */
static void kvmclock_update(struct kvm_vm *vm)
{
	struct kvm_clock_data clock = {};

	vm_ioctl(vm, KVM_GET_CLOCK, &clock);
	clock.flags = 0;
	vm_ioctl(vm, KVM_SET_CLOCK, &clock);
}

/*
 * KVM writes a kvmclock on a shared GFN of a private slot; converted to
 * private, or private from the start, it is never written: not the shared
 * half, which is not the guest's memory, and not the private page.
 */
TEST_F_TIMEOUT(emulated, kvmclock_on_private_page, TIMEOUT)
{
	uint8_t *shared0 = self->shared, *shared1 = self->shared + PAGE_SIZE;
	uint64_t gpa0 = PRIVATE_GPA, gpa1 = PRIVATE_GPA + PAGE_SIZE;

	vm_mem_set_shared(self->vm, gpa0, PAGE_SIZE);
	emul_do(self->vcpu, EMUL_KVMCLOCK, gpa0, 0);
	/* pvclock_vcpu_time_info.version: even once an update is done. */
	EXPECT_FALSE(all_bytes(shared0, SHARED_FILL, 4));
	EXPECT_EQ(0, *(uint32_t *)shared0 & 1);

	vm_mem_set_private(self->vm, gpa0, PAGE_SIZE);
	memset(shared0, SHARED_FILL, PAGE_SIZE);
	kvmclock_update(self->vm);
	emul_do(self->vcpu, EMUL_NOP, 0, 0);
	EXPECT_TRUE(all_bytes(shared0, SHARED_FILL, PAGE_SIZE));

	emul_do(self->vcpu, EMUL_KVMCLOCK, gpa1, 0);
	kvmclock_update(self->vm);
	emul_do(self->vcpu, EMUL_NOP, 0, 0);
	EXPECT_TRUE(all_bytes(shared1, SHARED_FILL, PAGE_SIZE));
	emul_do(self->vcpu, EMUL_CHECK, gpa1, PAGE_SIZE);
}

/*
 * The same for steal time, which KVM writes on every KVM_RUN (vcpu_load()
 * asks for an update).
 */
TEST_F_TIMEOUT(emulated, steal_time_on_private_page, TIMEOUT)
{
	uint8_t *shared0 = self->shared, *shared1 = self->shared + PAGE_SIZE;
	uint64_t gpa0 = PRIVATE_GPA, gpa1 = PRIVATE_GPA + PAGE_SIZE;

	vm_mem_set_shared(self->vm, gpa0, PAGE_SIZE);
	emul_do(self->vcpu, EMUL_STEAL_TIME, gpa0, 0);
	emul_do(self->vcpu, EMUL_NOP, 0, 0);
	EXPECT_FALSE(all_bytes(shared0, SHARED_FILL, PAGE_SIZE));

	vm_mem_set_private(self->vm, gpa0, PAGE_SIZE);
	memset(shared0, SHARED_FILL, PAGE_SIZE);
	emul_do(self->vcpu, EMUL_NOP, 0, 0);
	emul_do(self->vcpu, EMUL_NOP, 0, 0);
	EXPECT_TRUE(all_bytes(shared0, SHARED_FILL, PAGE_SIZE));

	emul_do(self->vcpu, EMUL_STEAL_TIME, gpa1, 0);
	emul_do(self->vcpu, EMUL_NOP, 0, 0);
	EXPECT_TRUE(all_bytes(shared1, SHARED_FILL, PAGE_SIZE));
	emul_do(self->vcpu, EMUL_CHECK, gpa1, PAGE_SIZE);
}

static void pin_to_cpu(pthread_t thread, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	TEST_ASSERT(!pthread_setaffinity_np(thread, sizeof(set), &set),
		    "pinning to CPU %d", cpu);
}

struct spin_vcpu {
	struct kvm_vcpu *vcpu;
	int cpu;
};

static void *spin_vcpu_thread(void *arg)
{
	struct spin_vcpu *spin = arg;

	pin_to_cpu(pthread_self(), spin->cpu);
	emul_do(spin->vcpu, EMUL_SPIN, 0, 0);
	return NULL;
}

static bool hog_stop;

static void *hog_thread(void *arg)
{
	pin_to_cpu(pthread_self(), *(int *)arg);
	while (!READ_ONCE(hog_stop))
		cpu_relax();
	return NULL;
}

/*
 * When the host preempts a running vCPU, KVM writes the "preempted" byte
 * of the guest's steal-time area through its gfn-to-hva cache.  A page
 * converted to private while the vCPU runs must not get it in its shared
 * half.  The vCPU spins alone on a CPU, its steal time on a shared page;
 * the page goes private, then a hog on the same CPU preempts the vCPU,
 * many times, before the vCPU leaves KVM_RUN.
 */
TEST_F_TIMEOUT(emulated, steal_time_preempted_after_conversion, TIMEOUT)
{
	struct kvm_steal_time *st = (struct kvm_steal_time *)self->shared;
	uint64_t gpa0 = PRIVATE_GPA;
	uint64_t *stop;
	struct spin_vcpu spin = { .vcpu = self->vcpu, .cpu = 1 };
	pthread_t vcpu_thread, hog;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs 2 CPUs: a vCPU and a task that preempts it");

	vm_mem_set_shared(self->vm, gpa0, PAGE_SIZE);
	emul_do(self->vcpu, EMUL_STEAL_TIME, gpa0, 0);
	emul_do(self->vcpu, EMUL_NOP, 0, 0);

	stop = addr_gva2hva(self->vm, (vm_vaddr_t)&emul_spin_stop);
	WRITE_ONCE(*stop, 0);
	pin_to_cpu(pthread_self(), 0);
	TEST_ASSERT(!pthread_create(&vcpu_thread, NULL, spin_vcpu_thread, &spin),
		    "vCPU thread");
	usleep(200 * 1000);

	vm_mem_set_private(self->vm, gpa0, PAGE_SIZE);
	/* Running alone on its CPU, the vCPU was not preempted: clear it anyway. */
	WRITE_ONCE(st->preempted, 0);

	WRITE_ONCE(hog_stop, false);
	TEST_ASSERT(!pthread_create(&hog, NULL, hog_thread, &spin.cpu), "hog");
	usleep(1000 * 1000);
	WRITE_ONCE(hog_stop, true);
	pthread_join(hog, NULL);

	WRITE_ONCE(*stop, 1);
	pthread_join(vcpu_thread, NULL);
	EXPECT_EQ(0, READ_ONCE(st->preempted));
}

int main(int argc, char **argv)
{
	return harness_select_main(argc, argv);
}
