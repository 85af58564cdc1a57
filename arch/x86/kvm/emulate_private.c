// SPDX-License-Identifier: GPL-2.0-only
/*
 * The instruction emulator and the private memory of software-protected
 * VMs: an emulation that needs a private page ends KVM_RUN with
 * KVM_EXIT_MEMORY_FAULT instead of using the memslot's shared half.
 */

#include <linux/kvm_host.h>

#include "x86.h"

/**
 * kvm_emulate_private_begin - watch an emulation for private pages
 * @vcpu:	the vCPU about to emulate an instruction
 *
 * Called by x86_emulate_instruction() first.  From here on, KVM's accesses
 * through the vCPU that find a private GFN are refused and recorded (see
 * kvm_vcpu_gfn_to_shared_memslot()).
 */
void kvm_emulate_private_begin(struct kvm_vcpu *vcpu)
{
	vcpu->private_access_refused = INVALID_GPA;
}

/**
 * kvm_emulate_private_end - end KVM_RUN if an emulation needed private memory
 * @vcpu:	the vCPU that emulated an instruction
 * @r:		what the emulation returned: 1 to enter the guest again, 0 to
 *		exit to userspace, or a negative errno
 *
 * Called by x86_emulate_instruction() last.  The emulator reaches guest
 * memory through userspace_addr (to fetch the instruction, walk the guest's
 * page tables, read and write operands), which for a private GFN is not the
 * guest's memory.  Those accesses were refused; on its own the emulator
 * would take a refused operand for MMIO (and hand userspace the GPA of
 * private memory as an MMIO exit), queue a page fault for the guest, or
 * fail.  Instead, as for a private fault that cannot be served, KVM_RUN
 * fails with -EFAULT and KVM_EXIT_MEMORY_FAULT, flags
 * KVM_MEMORY_EXIT_FLAG_PRIVATE and the page's GPA.  Whatever the emulation
 * had queued (an exception, an MMIO or port I/O exit) is dropped, and the
 * guest's registers are as before the instruction (for a repeated string
 * instruction, as after its last completed iteration), which runs again on
 * the next KVM_RUN.
 *
 * Return: @r, or -EFAULT if an access was refused.
 */
int kvm_emulate_private_end(struct kvm_vcpu *vcpu, int r)
{
	gpa_t gpa = vcpu->private_access_refused;

	if (likely(gpa == INVALID_GPA))
		return r;

	kvm_clear_exception_queue(vcpu);
	vcpu->mmio_needed = 0;
	vcpu->mmio_nr_fragments = 0;
	vcpu->arch.pio.count = 0;
	vcpu->arch.complete_userspace_io = NULL;

	kvm_prepare_memory_fault_exit(vcpu, gpa, PAGE_SIZE, true);
	return -EFAULT;
}
