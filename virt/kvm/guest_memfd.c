// SPDX-License-Identifier: GPL-2.0-only
/*
 * guest_memfd: upstream's KVM_CREATE_GUEST_MEMFD ABI on top of the memfile
 * backing stores, with huge pages.
 *
 * A guest_memfd is a small file in front of an inaccessible memfile that KVM
 * creates with it: a shmem file (4K pages), or a hugetlbfs file when the
 * flags name a huge page size.  Binding a memslot to a guest_memfd binds
 * that memfile exactly as KVM_MEM_PRIVATE binds an inaccessible memfd, so
 * both front ends share one fault path, one set of rounded invalidations
 * and one way to map 2M/1G pages.  The front end adds upstream's file
 * semantics: the file belongs to the VM that created it, has a fixed size,
 * cannot be read, written or truncated, and is allocated and punched with
 * fallocate(FALLOC_FL_KEEP_SIZE) in PAGE_SIZE units.
 *
 * With GUEST_MEMFD_FLAG_MMAP the host may map the file.  Its memory is
 * private unless GUEST_MEMFD_FLAG_INIT_SHARED made it shared, which only a
 * VM without private memory may ask for: private memory maps, but every
 * access to the mapping gets SIGBUS; shared memory is a memfile the host
 * can reach, and a mapping of the guest_memfd becomes a mapping of that
 * memfile (memfile_mmap()), 2M or 1G at a time with hugetlb pages.  A
 * memslot of a VM without private memory on such a file is gmem-only: the
 * guest's every access maps the file, and userspace_addr serves only KVM's
 * own accesses, as upstream's.
 *
 * Lifetime follows upstream: a guest_memfd holds its VM, so the VM's memory
 * state outlives the VM fd.  A memslot holds the memfile, not the
 * guest_memfd, so closing the guest_memfd neither pins the VM through its
 * own memslots nor takes memory from the guest.
 *
 * See Documentation/virt/kvm/api.rst, KVM_CREATE_GUEST_MEMFD.
 */

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/falloc.h>
#include <linux/hugetlb.h>
#include <linux/kvm_host.h>
#include <linux/memfile_notifier.h>
#include <linux/mman.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>

#include "kvm_mm.h"

#define GUEST_MEMFD_HUGETLB_FLAGS \
	((u64)GUEST_MEMFD_HUGETLB_MASK << GUEST_MEMFD_HUGETLB_SHIFT)

struct kvm_gmem {
	/* The VM that created the file, referenced while the file lives. */
	struct kvm *kvm;
	/* The memfile whose pages the file stands for. */
	struct file *memfile;
	/* KVM_CREATE_GUEST_MEMFD's flags. */
	u64 flags;
};

/**
 * kvm_gmem_supported_flags - KVM_CHECK_EXTENSION(KVM_CAP_GUEST_MEMFD_FLAGS)
 * @kvm:	the VM asked, or NULL for /dev/kvm
 *
 * Upstream's flags a VM accepts: GUEST_MEMFD_FLAG_MMAP always, and
 * GUEST_MEMFD_FLAG_INIT_SHARED where the VM has no private memory, whose
 * attributes would otherwise disagree with the file's (/dev/kvm: some VM
 * type accepts it).  Not the huge page field, whose bits are a number, not
 * flags: see kvm_gmem_huge_shift().
 *
 * Return: the GUEST_MEMFD_FLAG_* bits @kvm accepts.
 */
u64 kvm_gmem_supported_flags(struct kvm *kvm)
{
	u64 flags = GUEST_MEMFD_FLAG_MMAP;

	if (!kvm || !kvm_arch_has_private_mem(kvm))
		flags |= GUEST_MEMFD_FLAG_INIT_SHARED;
	return flags;
}

/* Private memory mapped by the host: any access to it is refused. */
static vm_fault_t kvm_gmem_fault_private(struct vm_fault *vmf)
{
	return VM_FAULT_SIGBUS;
}

static const struct vm_operations_struct kvm_gmem_private_vm_ops = {
	.fault	= kvm_gmem_fault_private,
};

/*
 * mmap() of a guest_memfd with GUEST_MEMFD_FLAG_MMAP, shared only (no copy
 * on write of guest memory).  Shared memory maps the memfile itself, which
 * fills faults from the pages the guest uses; a fault past EOF gets SIGBUS
 * (hugetlbfs: a mapping past EOF is refused instead, see
 * hugetlbfs_memfile_mmap()).
 */
static int kvm_gmem_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct kvm_gmem *gmem = file->private_data;

	if (!(gmem->flags & GUEST_MEMFD_FLAG_MMAP))
		return -ENODEV;
	if ((vma->vm_flags & (VM_SHARED | VM_MAYSHARE)) !=
	    (VM_SHARED | VM_MAYSHARE))
		return -EINVAL;
	if (gmem->flags & GUEST_MEMFD_FLAG_INIT_SHARED)
		return memfile_mmap(gmem->memfile, vma);

	vma->vm_flags |= VM_DONTEXPAND;
	vma->vm_ops = &kvm_gmem_private_vm_ops;
	return 0;
}

/*
 * Shared hugetlb memory maps whole huge pages at aligned addresses, as
 * hugetlbfs places and checks them; anything else is placed as usual.
 */
static unsigned long kvm_gmem_get_unmapped_area(struct file *file,
						unsigned long addr,
						unsigned long len,
						unsigned long pgoff,
						unsigned long flags)
{
	struct kvm_gmem *gmem = file->private_data;
	struct file *memfile = gmem->memfile;

	if (gmem->flags & GUEST_MEMFD_FLAG_INIT_SHARED &&
	    memfile->f_op->get_unmapped_area)
		return memfile->f_op->get_unmapped_area(memfile, addr, len,
							pgoff, flags);
	return current->mm->get_unmapped_area(file, addr, len, pgoff, flags);
}

static long kvm_gmem_fallocate(struct file *file, int mode, loff_t offset,
			       loff_t len)
{
	struct kvm_gmem *gmem = file->private_data;

	if (!(mode & FALLOC_FL_KEEP_SIZE) ||
	    mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE))
		return -EOPNOTSUPP;
	if (!PAGE_ALIGNED(offset) || !PAGE_ALIGNED(len))
		return -EINVAL;
	/* Punching past the end is a no-op; allocating there is not. */
	if (!(mode & FALLOC_FL_PUNCH_HOLE) &&
	    offset + len > i_size_read(file_inode(file)))
		return -EINVAL;

	/* The store rounds to its pages and tells the memslots. */
	return vfs_fallocate(gmem->memfile, mode, offset, len);
}

static int kvm_gmem_release(struct inode *inode, struct file *file)
{
	struct kvm_gmem *gmem = file->private_data;

	fput(gmem->memfile);
	kvm_put_kvm(gmem->kvm);
	kfree(gmem);
	return 0;
}

static const struct file_operations kvm_gmem_fops = {
	.mmap			= kvm_gmem_mmap,
	.get_unmapped_area	= kvm_gmem_get_unmapped_area,
	.release		= kvm_gmem_release,
	.fallocate		= kvm_gmem_fallocate,
};

/* The size is fixed at creation: no truncate, no chmod. */
static int kvm_gmem_setattr(struct user_namespace *mnt_userns,
			    struct dentry *dentry, struct iattr *attr)
{
	return -EINVAL;
}

static const struct inode_operations kvm_gmem_iops = {
	.setattr	= kvm_gmem_setattr,
};

/*
 * The memfile behind a new guest_memfd: shmem for @huge_shift 0, else
 * hugetlbfs pages of 2^@huge_shift bytes, which the host must have a pool
 * of (-EINVAL otherwise).  Sized to @size, nothing allocated or reserved,
 * inaccessible unless its memory is @shared.
 */
static struct file *kvm_gmem_memfile_create(u64 size, unsigned int huge_shift,
					    bool shared)
{
	struct file *file;
	int r;

	if (!huge_shift) {
		file = shmem_file_setup("kvm-gmem", size, VM_NORESERVE);
	} else {
#ifdef CONFIG_HUGETLBFS
		/* Not 0 here: that would be hugetlbfs's default page size. */
		file = hugetlb_file_setup("kvm-gmem", size, VM_NORESERVE,
					  HUGETLB_ANONHUGE_INODE, huge_shift);
		/* No hstate of that size: no such pool. */
		if (file == ERR_PTR(-ENODEV))
			file = ERR_PTR(-EINVAL);
#else
		file = ERR_PTR(-EINVAL);
#endif
	}
	if (IS_ERR(file) || shared)
		return file;

	r = memfile_make_inaccessible(file);
	if (r) {
		fput(file);
		return ERR_PTR(r);
	}
	return file;
}

/*
 * log2 of the huge page size KVM_CREATE_GUEST_MEMFD's @flags ask for, 0 for
 * none; whether the host has huge pages of that size, hugetlb_file_setup()
 * tells.
 */
static unsigned int kvm_gmem_huge_shift(u64 flags)
{
	return (flags >> GUEST_MEMFD_HUGETLB_SHIFT) & GUEST_MEMFD_HUGETLB_MASK;
}

/**
 * kvm_gmem_create - KVM_CREATE_GUEST_MEMFD
 * @kvm:	the VM the file belongs to
 * @args:	size, flags and reserved words, copied from userspace
 *
 * Called from the VM ioctl of any VM type; only a VM with private memory
 * can bind the file.  Allocates nothing: pages come on fallocate() or on
 * the guest's first access.
 *
 * Return: a new file descriptor, or -EINVAL (@args->size zero or not a
 * multiple of the page size, flags @kvm does not accept (see
 * kvm_gmem_supported_flags()), nonzero reserved words, a huge page size the
 * host has no pool for), -ENOMEM, -EMFILE, -ENFILE.
 */
int kvm_gmem_create(struct kvm *kvm, const struct kvm_create_guest_memfd *args)
{
	unsigned int huge_shift, page_shift;
	struct kvm_gmem *gmem;
	struct inode *inode;
	struct file *file;
	int fd, r;

	if (memchr_inv(args->reserved, 0, sizeof(args->reserved)) ||
	    args->flags & ~(GUEST_MEMFD_HUGETLB_FLAGS |
			    kvm_gmem_supported_flags(kvm)))
		return -EINVAL;
	huge_shift = kvm_gmem_huge_shift(args->flags);
	page_shift = huge_shift ? huge_shift : PAGE_SHIFT;
	if (!args->size || args->size > MAX_LFS_FILESIZE ||
	    !IS_ALIGNED(args->size, 1ULL << page_shift))
		return -EINVAL;

	gmem = kzalloc(sizeof(*gmem), GFP_KERNEL_ACCOUNT);
	if (!gmem)
		return -ENOMEM;
	gmem->flags = args->flags;
	gmem->memfile = kvm_gmem_memfile_create(args->size, huge_shift,
						args->flags &
						GUEST_MEMFD_FLAG_INIT_SHARED);
	if (IS_ERR(gmem->memfile)) {
		r = PTR_ERR(gmem->memfile);
		goto err_free;
	}

	fd = get_unused_fd_flags(0);
	if (fd < 0) {
		r = fd;
		goto err_memfile;
	}

	/* An inode of its own: fstat() tells each guest_memfd apart. */
	file = anon_inode_getfile_secure("[kvm-gmem]", &kvm_gmem_fops, gmem,
					 O_RDWR, NULL);
	if (IS_ERR(file)) {
		r = PTR_ERR(file);
		goto err_fd;
	}
	/*
	 * f_mapping stays the anonymous inode's own, empty: pointing it at the
	 * memfile's would make shmem_file() and the memfd seal code take the
	 * anonymous inode for a shmem or hugetlbfs one.
	 */
	file->f_flags |= O_LARGEFILE;

	inode = file_inode(file);
	/* A regular file to the VFS, so that fallocate() reaches us. */
	inode->i_mode |= S_IFREG;
	inode->i_op = &kvm_gmem_iops;
	inode->i_size = args->size;
	/* fstat()'s st_blksize: the page size of the memory behind it. */
	inode->i_blkbits = page_shift;

	kvm_get_kvm(kvm);
	gmem->kvm = kvm;
	fd_install(fd, file);
	return fd;

err_fd:
	put_unused_fd(fd);
err_memfile:
	fput(gmem->memfile);
err_free:
	kfree(gmem);
	return r;
}

/**
 * kvm_gmem_fget_memfile - the memfile KVM_SET_USER_MEMORY_REGION2 binds
 * @kvm:	the VM whose memslot is being created
 * @fd:		private_fd (upstream: guest_memfd) of the memslot
 * @gmem_only:	set if every GFN of the memslot is to map the file: a
 *		host-mappable guest_memfd on a VM without private memory
 *
 * Called by __kvm_set_memory_region2() with slots_lock held.  A guest_memfd
 * stands for its memfile, if @kvm created it.  A VM with private memory may
 * also bind any other file, which is returned as it is, for
 * kvm_private_memslot_bind() to accept or refuse.
 *
 * Return: the file, referenced; ERR_PTR(-EBADF) if @fd is not open, or
 * ERR_PTR(-EINVAL) if it is another VM's guest_memfd, or not a guest_memfd
 * and @kvm has no private memory.
 */
struct file *kvm_gmem_fget_memfile(struct kvm *kvm, unsigned int fd,
				   bool *gmem_only)
{
	struct file *file = fget(fd);
	struct kvm_gmem *gmem;
	struct file *memfile;

	*gmem_only = false;
	if (!file)
		return ERR_PTR(-EBADF);
	if (file->f_op != &kvm_gmem_fops) {
		if (kvm_arch_has_private_mem(kvm))
			return file;
		fput(file);
		return ERR_PTR(-EINVAL);
	}

	gmem = file->private_data;
	if (gmem->kvm == kvm) {
		memfile = get_file(gmem->memfile);
		*gmem_only = (gmem->flags & GUEST_MEMFD_FLAG_MMAP) &&
			     !kvm_arch_has_private_mem(kvm);
	} else {
		memfile = ERR_PTR(-EINVAL);
	}
	fput(file);
	return memfile;
}
