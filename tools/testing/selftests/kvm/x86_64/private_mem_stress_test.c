// SPDX-License-Identifier: GPL-2.0-only
/*
 * private_mem_stress_test: vCPUs keep writing and checking private memory
 * backed by 2M and 1G hugetlb pages while host threads punch holes and
 * fill them again, convert pages to shared and back, and delete and re-add
 * a memslot bound to a fresh memfd (closing the fd each time; each change
 * of memslots makes every vCPU fault its memory in again).  Runs for -d
 * seconds (default 60), then checks and reports:
 *
 *  - every page nobody punched or converted kept its data (the guest checks
 *    each value it wrote on its next pass);
 *  - a churned page reads zero or a value the guest wrote there, and zero
 *    in one last pass after the host punched them all;
 *  - the huge page pools (free and reserved) are back to where they were.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#include <linux/falloc.h>
#include <linux/memfd.h>

#include "kvm_util.h"
#include "processor.h"
#include "private_mem.h"

#define SLOT_A		10	/* 2M-backed, 64 MiB: half stable, half churn */
#define GPA_A		(4ULL << 30)
#define SIZE_A		(64ULL << 20)
#define SLOT_B		11	/* 1G-backed, 1 GiB: half stable, half churn */
#define GPA_B		(5ULL << 30)
#define SIZE_B		(1024ULL << 20)
#define SLOT_C		12	/* 2M-backed, 8 MiB, deleted and re-added */
#define GPA_C		(7ULL << 30)
#define SIZE_C		(8ULL << 20)
/* In the 1G slot the guest touches one page in 16, to keep passes short. */
#define STRIDE_B	(16 * PAGE_SIZE)
#define MAX_VCPUS	8
/* After the run, how long a thread may take to finish what it is doing. */
#define STOP_TIMEOUT_S	60

/* What the guest touches; the same for every vCPU, which take turns. */
struct region {
	uint64_t gpa, size, stride;
	bool stable;	/* nobody punches or converts it */
};

static const struct region regions[] = {
	{ GPA_A, SIZE_A / 2, PAGE_SIZE, true },
	{ GPA_A + SIZE_A / 2, SIZE_A / 2, PAGE_SIZE, false },
	{ GPA_B, SIZE_B / 2, STRIDE_B, true },
	{ GPA_B + SIZE_B / 2, SIZE_B / 2, STRIDE_B, false },
	/*
	 * Not slot C, which changes under running vCPUs only: one that
	 * touches it while it is deleted gets an MMIO exit.
	 */
};

static int nr_vcpus_guest;
/* Set for one last pass, after the host punched every churned page. */
static bool churn_punched;

/*
 * vCPU @idx owns every nr_vcpus-th page of each region.  Pass n writes
 * gpa ^ (n << 1); on pass n + 1 a stable page must still hold it, a
 * churned page may also read zero or an older value (punched, converted).
 */
static void guest_code(uint64_t idx)
{
	uint64_t pass, gpa, val, tag;
	int i;

	for (pass = 1;; pass++) {
		for (i = 0; i < ARRAY_SIZE(regions); i++) {
			const struct region *r = &regions[i];
			uint64_t step = r->stride * nr_vcpus_guest;

			for (gpa = r->gpa + idx * r->stride;
			     gpa < r->gpa + r->size; gpa += step) {
				bool ok;

				val = READ_ONCE(*(uint64_t *)gpa);
				tag = val ^ gpa;
				if (r->stable)
					ok = pass == 1 ? !val : tag == (pass - 1) << 1;
				else if (READ_ONCE(churn_punched))
					ok = !val;
				else
					ok = !val || (!(tag & 1) && tag < (pass << 1));
				GUEST_ASSERT_2(ok, gpa, val);
				WRITE_ONCE(*(uint64_t *)gpa, gpa ^ (pass << 1));
			}
		}
		GUEST_SYNC(pass);
	}
}

/* Any exception: report it instead of triple-faulting (no IDT otherwise). */
static void guest_exception(struct ex_regs *regs)
{
	uint64_t cr2;

	asm volatile("mov %%cr2, %0" : "=r"(cr2));
	ucall(UCALL_UNHANDLED, 4, regs->vector, regs->error_code, regs->rip,
	      cr2);
}

static struct {
	struct kvm_vm *vm;
	int fd_a, fd_b;
	void *hva_a, *hva_b;	/* -s: the host mappings of slots A and B */
	bool stop;	/* READ_ONCE/WRITE_ONCE */
	pthread_mutex_t slot_c_lock;	/* slot C and its fd */
	uint64_t passes, punches, fills, conversions, readds;
} s;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * -s: the same memory as shared memslots of a default VM, mapped from plain
 * hugetlb memfds, so that the host MMU notifier does the invalidating.  It
 * uses only 6.1's ABI (KVM_SET_USER_MEMORY_REGION), so the same binary runs
 * on the unpatched kernel to tell upstream's bugs from ours.
 */
static bool shared_mode;
static void *slot_c_hva;

static int memfd_shared_create(uint64_t size, uint64_t page_size)
{
	int fd = memfd_create("stress_shared", MFD_HUGETLB |
			      (page_size == PG_SIZE_1G ? MFD_HUGE_1GB :
							 MFD_HUGE_2MB));

	TEST_ASSERT(fd >= 0 && !ftruncate(fd, size), "hugetlb memfd: %s",
		    strerror(errno));
	return fd;
}

/* -s: a shared memslot mapping all of @fd. */
static void *add_shared_slot(uint32_t slot, uint64_t gpa, uint64_t size,
			     int fd)
{
	void *hva = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	TEST_ASSERT(hva != MAP_FAILED, "mmap: %s", strerror(errno));
	vm_set_user_memory_region(s.vm, slot, 0, gpa, size, hva);
	return hva;
}

static void *add_slot(uint32_t slot, uint64_t gpa, uint64_t size, int fd)
{
	uint64_t offset;
	void *hva;

	if (!shared_mode)
		return vm_add_private_memslot(s.vm, slot, gpa, size, fd, 0);

	hva = add_shared_slot(slot, gpa, size, fd);
	for (offset = round_down(gpa, PG_SIZE_1G); offset < gpa + size;
	     offset += PG_SIZE_1G)
		__virt_pg_map(s.vm, offset, offset, PG_LEVEL_1G);
	return hva;
}

static void add_slot_c(void)
{
	int fd;

	if (shared_mode) {
		fd = memfd_shared_create(SIZE_C, PG_SIZE_2M);
		slot_c_hva = add_shared_slot(SLOT_C, GPA_C, SIZE_C, fd);
	} else {
		fd = memfd_private_create(SIZE_C, PG_SIZE_2M);
		vm_set_user_memory_region2(s.vm, SLOT_C, KVM_MEM_PRIVATE,
					   GPA_C, SIZE_C, NULL, fd, 0);
	}
	/* The memslot (or the mapping) holds the file: the fd can go. */
	close(fd);
}

static void delete_slot_c(void)
{
	if (shared_mode) {
		vm_set_user_memory_region(s.vm, SLOT_C, 0, GPA_C, 0, NULL);
		munmap(slot_c_hva, SIZE_C);
		return;
	}
	vm_set_user_memory_region2(s.vm, SLOT_C, KVM_MEM_PRIVATE, GPA_C, 0,
				   NULL, 0, 0);
}

/*
 * A vCPU that did not finish its pass in time: where is it?  The registers
 * the guest cannot have made itself are the clue: once (make check,
 * 2026-12-03, one vCPU) rip was L1's own instruction after VMRUN in
 * __svm_vcpu_run, as if L1's state had been saved as the guest's.
 */
static void report_stuck_vcpu(struct kvm_vcpu *vcpu)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	vcpu_regs_get(vcpu, &regs);
	vcpu_sregs_get(vcpu, &sregs);
	fprintf(stderr,
		"stress: vCPU %u stuck at rip 0x%llx: exits %lu, page faults %lu, fixed %lu, spurious %lu\n",
		vcpu->id, regs.rip, vcpu_stat(vcpu, "exits"),
		vcpu_stat(vcpu, "pf_taken"), vcpu_stat(vcpu, "pf_fixed"),
		vcpu_stat(vcpu, "pf_spurious"));
	fprintf(stderr,
		"stress: vCPU %u rsp 0x%llx rax 0x%llx rbx 0x%llx cr3 0x%llx cs 0x%x (the guest's page tables: 0x%lx)\n",
		vcpu->id, regs.rsp, regs.rax, regs.rbx, sregs.cr3,
		sregs.cs.selector, (unsigned long)s.vm->pgd);
}

/*
 * A triple fault.  AMD's VMCB is undefined after one, so KVM resets the vCPU
 * and its registers say nothing; the exception handlers above report any
 * exception the guest could still take.
 */
static void report_shutdown(struct kvm_vcpu *vcpu)
{
	fprintf(stderr,
		"stress: vCPU %u shut down: %lu exits, %lu page faults (%lu fixed), %lu passes\n",
		vcpu->id, vcpu_stat(vcpu, "exits"), vcpu_stat(vcpu, "pf_taken"),
		vcpu_stat(vcpu, "pf_fixed"), s.passes);
}

/* Run @vcpu to the end of its pass; false if it was kicked out first. */
static bool run_pass(struct kvm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct ucall uc;
	int r;

	r = vcpu_run_serving_conversions(vcpu, NULL);
	if (r && errno == EINTR && READ_ONCE(s.stop))
		return false;
	TEST_ASSERT(!r, "KVM_RUN: errno %d (%s), exit %u", errno,
		    strerror(errno), run->exit_reason);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_SYNC:
		__atomic_add_fetch(&s.passes, 1, __ATOMIC_RELAXED);
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT_2(uc, "gpa 0x%lx holds 0x%lx");
		break;
	case UCALL_UNHANDLED:
		TEST_FAIL("guest exception %lu, error code 0x%lx, at rip 0x%lx, cr2 0x%lx",
			  uc.args[0], uc.args[1], uc.args[2], uc.args[3]);
		break;
	default:
		if (run->exit_reason == KVM_EXIT_SHUTDOWN)
			report_shutdown(vcpu);
		TEST_FAIL("exit %u (%s)", run->exit_reason,
			  exit_reason_str(run->exit_reason));
	}
	return true;
}

static void *vcpu_thread(void *arg)
{
	struct kvm_vcpu *vcpu = arg;

	while (!READ_ONCE(s.stop)) {
		if (!run_pass(vcpu)) {
			report_stuck_vcpu(vcpu);
			return (void *)1;
		}
	}
	return NULL;
}

/* A random 2M piece of the churn half of slot A or B. */
static void pick_churn(unsigned int *seed, int *fd, uint64_t *offset,
		       uint64_t *gpa)
{
	bool in_a = rand_r(seed) & 1;
	uint64_t base = (in_a ? SIZE_A : SIZE_B) / 2;
	uint64_t nr = base / PG_SIZE_2M;

	*fd = in_a ? s.fd_a : s.fd_b;
	*offset = base + (rand_r(seed) % nr) * PG_SIZE_2M;
	*gpa = (in_a ? GPA_A : GPA_B) + *offset;
}

static void *punch_thread(void *arg)
{
	unsigned int seed = 1;
	uint64_t offset, gpa;
	int fd;

	while (!READ_ONCE(s.stop)) {
		pick_churn(&seed, &fd, &offset, &gpa);
		TEST_ASSERT(!fallocate(fd, FALLOC_FL_PUNCH_HOLE |
				       FALLOC_FL_KEEP_SIZE, offset, PG_SIZE_2M),
			    "punch: %s", strerror(errno));
		s.punches++;
		if (rand_r(&seed) & 1) {
			TEST_ASSERT(!fallocate(fd, 0, offset, PG_SIZE_2M),
				    "fill: %s", strerror(errno));
			s.fills++;
		}
		usleep(2000);
	}
	return NULL;
}

/*
 * -s has nothing to convert; what stands in is the other thing a conversion
 * does to KVM: zap a mapping whose data stays.  MADV_DONTNEED unmaps the
 * huge page that holds @offset from the host (the MMU notifier zaps it in
 * KVM); the file keeps the data and the next guest access maps it again.
 */
static void zap_shared(int fd, uint64_t offset)
{
	bool in_a = fd == s.fd_a;
	uint64_t hpage = in_a ? PG_SIZE_2M : PG_SIZE_1G;
	char *hva = in_a ? s.hva_a : s.hva_b;

	TEST_ASSERT(!madvise(hva + round_down(offset, hpage), hpage,
			     MADV_DONTNEED), "madvise: %s", strerror(errno));
}

static void *convert_thread(void *arg)
{
	unsigned int seed = 2;
	uint64_t offset, gpa;
	int fd;

	while (!READ_ONCE(s.stop)) {
		pick_churn(&seed, &fd, &offset, &gpa);
		if (shared_mode) {
			zap_shared(fd, offset);
			s.conversions++;
			usleep(1500);
			continue;
		}
		gpa += (rand_r(&seed) % (PG_SIZE_2M / STRIDE_B)) * STRIDE_B;
		vm_mem_set_shared(s.vm, gpa, PAGE_SIZE);
		usleep(500);
		vm_mem_set_private(s.vm, gpa, PAGE_SIZE);
		s.conversions++;
		usleep(1000);
	}
	return NULL;
}

static void *memslot_thread(void *arg)
{
	while (!READ_ONCE(s.stop)) {
		delete_slot_c();
		usleep(1000);
		add_slot_c();
		s.readds++;
		usleep(20000);
	}
	return NULL;
}

static void ignore_signal(int sig)
{
}

/* Join @thread, or return nonzero if it is still running after @seconds. */
static int join_within(pthread_t thread, int seconds)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += seconds;
	return pthread_timedjoin_np(thread, NULL, &deadline);
}

int main(int argc, char **argv)
{
	long free_2m, free_1g, resv_2m, resv_1g;
	pthread_t vcpu_threads[MAX_VCPUS], host[3];
	struct kvm_vcpu *vcpus[MAX_VCPUS];
	double seconds = 60, start, minutes;
	int nr_vcpus = 2, c, i, nr_host = 0, stuck = 0;
	struct sigaction kick = { .sa_handler = ignore_signal };
	const char *ops = "pcm";

	while ((c = getopt(argc, argv, "d:v:o:sh")) != -1) {
		switch (c) {
		case 's':
			shared_mode = true;
			break;
		case 'd':
			seconds = atof(optarg);
			break;
		case 'o':
			ops = optarg;
			break;
		case 'v':
			nr_vcpus = atoi(optarg);
			break;
		default:
			printf("usage: %s [-d seconds (60)] [-v vCPUs (2)] [-o pcm] [-s]\n"
			       " -o: host operations: p punch and fill, c convert,\n"
			       "     m delete and re-add a memslot (default: all)\n"
			       " -s: shared memslots of a default VM instead, mapped from\n"
			       "     hugetlb memfds, c zapping with MADV_DONTNEED: the same\n"
			       "     load through the MMU notifier, to tell KVM's bugs from ours\n",
			       argv[0]);
			exit(c == 'h' ? 0 : KSFT_FAIL);
		}
	}
	/* No SA_RESTART: the signal makes KVM_RUN return EINTR. */
	sigaction(SIGUSR1, &kick, NULL);
	TEST_ASSERT(nr_vcpus >= 1 && nr_vcpus <= MAX_VCPUS, "-v: 1 to %d",
		    MAX_VCPUS);
	if (!shared_mode)
		TEST_REQUIRE(kvm_check_cap(KVM_CAP_VM_TYPES) &
			     BIT(KVM_X86_SW_PROTECTED_VM));

	free_2m = hugepage_pool_value(PG_SIZE_2M, "free_hugepages");
	free_1g = hugepage_pool_value(PG_SIZE_1G, "free_hugepages");
	resv_2m = hugepage_pool_value(PG_SIZE_2M, "resv_hugepages");
	resv_1g = hugepage_pool_value(PG_SIZE_1G, "resv_hugepages");
	TEST_REQUIRE(free_2m >= (long)((SIZE_A + 2 * SIZE_C) / PG_SIZE_2M) &&
		     free_1g >= 1);

	if (!shared_mode)
		vm_type_default = KVM_X86_SW_PROTECTED_VM;
	s.vm = __vm_create_with_vcpus(VM_MODE_DEFAULT, nr_vcpus, 0, guest_code,
				      vcpus);
	vm_type_default = KVM_X86_DEFAULT_VM;
	nr_vcpus_guest = nr_vcpus;
	sync_global_to_guest(s.vm, nr_vcpus_guest);
	vm_init_descriptor_tables(s.vm);
	for (i = 0; i < 32; i++)
		vm_install_exception_handler(s.vm, i, guest_exception);
	for (i = 0; i < nr_vcpus; i++) {
		vcpu_init_descriptor_tables(vcpus[i]);
		vcpu_args_set(vcpus[i], 1, i);
	}

	if (shared_mode) {
		s.fd_a = memfd_shared_create(SIZE_A, PG_SIZE_2M);
		s.fd_b = memfd_shared_create(SIZE_B, PG_SIZE_1G);
	} else {
		s.fd_a = memfd_private_create(SIZE_A, PG_SIZE_2M);
		s.fd_b = memfd_private_create(SIZE_B, PG_SIZE_1G);
	}
	s.hva_a = add_slot(SLOT_A, GPA_A, SIZE_A, s.fd_a);
	s.hva_b = add_slot(SLOT_B, GPA_B, SIZE_B, s.fd_b);
	add_slot_c();
	if (!shared_mode)
		vm_mem_set_private(s.vm, GPA_A, GPA_C + SIZE_C - GPA_A);

	printf("stress: %d vCPUs for %.0f s on 2M- and 1G-backed %s memory\n",
	       nr_vcpus, seconds, shared_mode ? "shared" : "private");
	start = now_s();
	for (i = 0; i < nr_vcpus; i++)
		pthread_create(&vcpu_threads[i], NULL, vcpu_thread, vcpus[i]);
	if (strchr(ops, 'p'))
		pthread_create(&host[nr_host++], NULL, punch_thread, NULL);
	if (strchr(ops, 'c'))
		pthread_create(&host[nr_host++], NULL, convert_thread, NULL);
	if (strchr(ops, 'm'))
		pthread_create(&host[nr_host++], NULL, memslot_thread, NULL);
	while (now_s() - start < seconds)
		usleep(100000);
	WRITE_ONCE(s.stop, true);
	for (i = 0; i < nr_host; i++)
		TEST_ASSERT(!join_within(host[i], STOP_TIMEOUT_S),
			    "host thread %d did not stop within %d s", i,
			    STOP_TIMEOUT_S);
	/* A vCPU stops after its pass; one that cannot is kicked out. */
	for (i = 0; i < nr_vcpus; i++)
		if (join_within(vcpu_threads[i], STOP_TIMEOUT_S)) {
			pthread_kill(vcpu_threads[i], SIGUSR1);
			pthread_join(vcpu_threads[i], NULL);
			stuck++;
		}
	TEST_ASSERT(!stuck, "%d vCPUs did not finish a pass within %d s",
		    stuck, STOP_TIMEOUT_S);

	/* Punch every churned page: one more pass must read only zeros there. */
	TEST_ASSERT(!fallocate(s.fd_a, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       SIZE_A / 2, SIZE_A / 2) &&
		    !fallocate(s.fd_b, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       SIZE_B / 2, SIZE_B / 2),
		    "final punch: %s", strerror(errno));
	churn_punched = true;
	sync_global_to_guest(s.vm, churn_punched);
	for (i = 0; i < nr_vcpus; i++)
		TEST_ASSERT(run_pass(vcpus[i]), "final pass interrupted");

	minutes = (now_s() - start) / 60;
	printf("stress: %lu guest passes, %lu punches, %lu re-fills,\n",
	       s.passes, s.punches, s.fills);
	printf("        %lu conversions shared-and-back, %lu memslot re-adds with a fresh memfd\n",
	       s.conversions, s.readds);
	printf("stress: per minute: %.0f passes, %.0f punches, %.0f conversions,",
	       s.passes / minutes, s.punches / minutes,
	       s.conversions / minutes);
	printf(" %.0f memslot re-adds\n", s.readds / minutes);
	TEST_ASSERT(s.passes >= (uint64_t)nr_vcpus &&
		    !!s.punches == !!strchr(ops, 'p') &&
		    !!s.conversions == !!strchr(ops, 'c') &&
		    !!s.readds == !!strchr(ops, 'm'),
		    "every operation asked for must have run");

	kvm_vm_free(s.vm);
	if (shared_mode) {
		munmap(s.hva_a, SIZE_A);
		munmap(s.hva_b, SIZE_B);
		munmap(slot_c_hva, SIZE_C);
	}
	close(s.fd_a);
	close(s.fd_b);
	printf("stress: stable pages kept their data in every pass;\n");
	printf("        the %lu churned pages read zero after the final punch\n",
	       (uint64_t)((SIZE_A / 2) / PAGE_SIZE + (SIZE_B / 2) / STRIDE_B));
	printf("stress: huge pages free 2M %ld -> %ld, 1G %ld -> %ld;",
	       free_2m, hugepage_pool_value(PG_SIZE_2M, "free_hugepages"),
	       free_1g, hugepage_pool_value(PG_SIZE_1G, "free_hugepages"));
	printf(" reserved 2M %ld -> %ld, 1G %ld -> %ld\n",
	       resv_2m, hugepage_pool_value(PG_SIZE_2M, "resv_hugepages"),
	       resv_1g, hugepage_pool_value(PG_SIZE_1G, "resv_hugepages"));
	TEST_ASSERT(hugepage_pool_value(PG_SIZE_2M, "free_hugepages") == free_2m &&
		    hugepage_pool_value(PG_SIZE_1G, "free_hugepages") == free_1g &&
		    hugepage_pool_value(PG_SIZE_2M, "resv_hugepages") == resv_2m &&
		    hugepage_pool_value(PG_SIZE_1G, "resv_hugepages") == resv_1g,
		    "the huge page pools are not back where they were");
	return 0;
}
