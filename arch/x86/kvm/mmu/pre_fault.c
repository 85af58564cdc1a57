// SPDX-License-Identifier: GPL-2.0-only
/*
 * KVM_PRE_FAULT_MEMORY: map guest memory into the TDP tables before the
 * guest touches it, as the vCPU's own faults would map it, so that a VMM
 * can take the cost of faulting in (and of allocating private memory) up
 * front.  Upstream's ABI of Linux 6.11.
 */

#include <linux/kvm_host.h>

#include "mmu.h"
#include "mmu_internal.h"

/*
 * Map @gpa as a read by the guest would, with the same level rules, and say
 * at which level it is mapped.  Retries as the vCPU would, but gives up on
 * a signal, a dead VM or a memslot being deleted.
 *
 * Return: 0 with *@level set, or -EINTR, -EIO (the VM is dead, or the fault
 * came back unfixed), -EOPNOTSUPP (the vCPU's MMU is not the TDP MMU: it is
 * in guest mode), -EAGAIN (the memslot is being deleted or moved),
 * -ENOENT (no memslot: emulated MMIO), or the error a KVM_RUN would have
 * returned for the fault (e.g. -EFAULT, -EHWPOISON, -ENOSPC for private
 * memory).
 */
static int kvm_pre_fault_gpa(struct kvm_vcpu *vcpu, gpa_t gpa, int *level)
{
	int r;

	do {
		/* A read of a page that is not present, by the guest. */
		struct kvm_page_fault fault = {
			.addr = gpa,
			.prefetch = true,
			.is_tdp = true,
			.nx_huge_page_workaround_enabled =
				is_nx_huge_page_enabled(vcpu->kvm),
			.max_level = KVM_MAX_HUGEPAGE_LEVEL,
			.req_level = PG_LEVEL_4K,
			.goal_level = PG_LEVEL_4K,
		};

		if (signal_pending(current))
			return -EINTR;
		if (kvm_test_request(KVM_REQ_VM_DEAD, vcpu))
			return -EIO;
		cond_resched();
		/*
		 * A fault on an obsolete root (a memslot was deleted, say)
		 * retries until the vCPU loads a new one, which KVM_RUN does
		 * on this request and which must happen here instead.
		 */
		if (kvm_check_request(KVM_REQ_MMU_FREE_OBSOLETE_ROOTS, vcpu))
			kvm_mmu_free_obsolete_roots(vcpu);
		r = kvm_mmu_reload(vcpu);
		if (r)
			return r;
		/* Only a TDP MMU indexes its tables by GPA (not in guest mode). */
		if (vcpu->arch.mmu->page_fault != kvm_tdp_page_fault)
			return -EOPNOTSUPP;

		r = kvm_tdp_page_fault(vcpu, &fault);
		*level = fault.goal_level;
	} while (r == RET_PF_RETRY);

	if (r < 0)
		return r;
	switch (r) {
	case RET_PF_FIXED:
	case RET_PF_SPURIOUS:
		return 0;
	case RET_PF_EMULATE:
		return -ENOENT;
	default:
		return -EIO;
	}
}

/*
 * One step: map the page at @range->gpa.  Return how many bytes of the
 * range the mapping covers (from gpa to the end of the page or huge page
 * it is mapped by, at most the range's size), or a negative errno.
 */
static long kvm_pre_fault_step(struct kvm_vcpu *vcpu,
			       const struct kvm_pre_fault_memory *range)
{
	u64 end;
	int level, r;

	r = kvm_pre_fault_gpa(vcpu, range->gpa, &level);
	if (r)
		return r;
	end = ALIGN_DOWN(range->gpa, KVM_HPAGE_SIZE(level)) +
	      KVM_HPAGE_SIZE(level);
	return min(range->size, end - range->gpa);
}

/**
 * kvm_vcpu_pre_fault_memory - KVM_PRE_FAULT_MEMORY
 * @vcpu:	the vCPU whose MMU maps the memory, loaded
 * @range:	the range, copied from userspace; on return, what is left of it
 *
 * Called by kvm_arch_vcpu_ioctl() with vcpu->mutex held.  Walks the range
 * one mapping at a time, each step advancing @range->gpa and shrinking
 * @range->size by what it mapped: a 1G mapping is one step.  A GFN whose
 * attributes say private is mapped from its memslot's file.  Stops at the
 * first error, with @range telling where.
 *
 * Return: 0 if anything was mapped, else -EINVAL (@range->flags set, gpa
 * or size not page aligned, size 0 or the range wrapping), -EOPNOTSUPP (no
 * TDP, or the vCPU is in guest mode), -EINTR, -EAGAIN, -ENOENT, or the
 * fault's error (see kvm_pre_fault_gpa()).
 */
long kvm_vcpu_pre_fault_memory(struct kvm_vcpu *vcpu,
			       struct kvm_pre_fault_memory *range)
{
	u64 full_size = range->size;
	long r = 0;
	int idx;

	if (range->flags)
		return -EINVAL;
	if (!PAGE_ALIGNED(range->gpa) || !PAGE_ALIGNED(range->size) ||
	    range->gpa + range->size <= range->gpa)
		return -EINVAL;
	if (!tdp_enabled)
		return -EOPNOTSUPP;

	idx = srcu_read_lock(&vcpu->kvm->srcu);
	while (range->size) {
		if (signal_pending(current)) {
			r = -EINTR;
			break;
		}
		r = kvm_pre_fault_step(vcpu, range);
		if (r < 0)
			break;
		range->gpa += r;
		range->size -= r;
		cond_resched();
	}
	srcu_read_unlock(&vcpu->kvm->srcu, idx);

	return range->size == full_size ? r : 0;
}
