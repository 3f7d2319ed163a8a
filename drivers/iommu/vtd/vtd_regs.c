/* SPDX-License-Identifier: BSD-3-Clause
 * A real unit's registers through /dev/mem, and the checks that keep uvtd
 * off a unit it must not drive.
 *
 * Refusals, in the order they are checked (none of the first two opens
 * /dev/mem):
 *   1. IOVA-as-VA mode: the unit would be given virtual addresses as
 *      table pointers. Needs --iova-mode=pa with hugepages, as root.
 *   2. /sys/class/iommu lists the unit (intel-iommu/address): the kernel
 *      drives it (boot with intel_iommu=off), unless forced.
 *   3. GSTS says translation, queued invalidation or interrupt remapping
 *      is on: someone (the kernel, firmware, an earlier uvtd that died
 *      mid-run) owns it, unless forced. Except one state, taken without
 *      force: translation on, queued invalidation and interrupt remapping
 *      off, and RTADDR pointing at uvtd's own blocking root table (below)
 *      for this unit: what vtd_unit_close leaves, every DMA blocked.
 * The window covers the DRHD's register size and at least the IOTLB
 * registers (ECAP.IRO) and the fault recording registers (CAP.FRO, NFR),
 * as Linux's map_iommu does.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_memory.h>

#include "vtd_tables.h"

#define SYSFS_CLASS_IOMMU "/sys/class/iommu"

int vtd_kernel_owns_unit(const char *sysfs_dir, uint64_t base)
{
	struct dirent *de;
	DIR *dir = opendir(sysfs_dir);
	int owned = 0;

	if (dir == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dir)) != NULL) {
		char path[512], buf[64];
		unsigned long long addr;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/intel-iommu/address",
			 sysfs_dir, de->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL &&
		    sscanf(buf, "%llx", &addr) == 1 && addr == base)
			owned = 1;
		fclose(f);
		if (owned)
			break;
	}
	closedir(dir);
	return owned;
}

/* ---------------------------------------------------------------------------
 * The blocking root table.
 *
 * A real unit outlives the process that drives it. Closed with translation
 * on (so that DMA stays blocked: turning it off would let every device
 * reach all of memory untranslated), the unit keeps walking whatever RTADDR
 * names; the process's root table lives in its DPDK hugepages, which the
 * kernel frees and reuses when the process exits. So at close the unit is
 * pointed (SRTP, §10.4.4 / §11.4.4) at a root table whose 256 entries are
 * all not present (§9.1: P=0 in both halves), kept in memory that survives
 * the process: a 2 MiB file in a hugetlbfs mount, created once per unit
 * and never deleted. A hugetlbfs page stays allocated (and in place: the
 * same assumption DPDK's IOVA-as-PA mode makes) while its file exists,
 * mapped or not. The file's name carries the unit's register base, so the
 * next vtd_real_open can recognise "left by uvtd, everything blocked".
 */
#define VTD_BLOCKING_PAGE  (UINT64_C(2) << 20)
#define VTD_BLOCKING_NAME  "uvtd-blocking-root-"

/* The first hugetlbfs mount of 2 MiB pages (statfs reports the huge page
 * size as the block size): /dev/hugepages where DPDK's tooling mounts it. */
static int blocking_path(uint64_t base, char *path, size_t len)
{
	FILE *f = setmntent("/proc/mounts", "r");
	struct mntent *m;
	int rc = -ENOENT;

	if (f == NULL)
		return -errno;
	while ((m = getmntent(f)) != NULL) {
		struct statfs sfs;

		if (strcmp(m->mnt_type, "hugetlbfs") != 0 ||
		    statfs(m->mnt_dir, &sfs) != 0 ||
		    (uint64_t)sfs.f_bsize != VTD_BLOCKING_PAGE)
			continue;
		if ((size_t)snprintf(path, len, "%s/" VTD_BLOCKING_NAME "%"
				     PRIx64, m->mnt_dir, base) >= len)
			rc = -ENAMETOOLONG;
		else
			rc = 0;
		break;
	}
	endmntent(f);
	return rc;
}

/* Maps the file's first 4 KiB (the file is one 2 MiB page) and returns its
 * physical address, or RTE_BAD_IOVA. */
static void *blocking_map(int fd, bool writable, uint64_t *pa)
{
	void *va = mmap(NULL, VTD_BLOCKING_PAGE,
			PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED,
			fd, 0);

	if (va == MAP_FAILED)
		return NULL;
	/* Fault the page in before asking pagemap for it. */
	(void)*(volatile uint8_t *)va;
	*pa = rte_mem_virt2phy(va);
	return va;
}

static bool table_blocks_all(const void *va)
{
	const uint64_t *q = va;

	/* Stricter than P=0 in every half (§9.1, §9.2): all zero, as
	 * written. Anything else is not ours to trust. */
	for (unsigned int i = 0; i < 4096 / 8; i++)
		if (q[i] != 0)
			return false;
	return true;
}

int vtd_blocking_root_find(uint64_t base, uint64_t *pa)
{
	char path[300];
	void *va;
	int fd, rc;

	rc = blocking_path(base, path, sizeof(path));
	if (rc)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	va = blocking_map(fd, false, pa);
	rc = va == NULL ? -errno : 0;
	close(fd);
	if (rc)
		return rc;
	if (*pa == RTE_BAD_IOVA)
		rc = -EACCES;
	else if (!table_blocks_all(va))
		rc = -EINVAL;
	munmap(va, VTD_BLOCKING_PAGE);
	return rc;
}

int vtd_blocking_root_prepare(struct vtd_unit *u, uint64_t *pa)
{
	char path[300];
	struct stat st;
	void *va;
	int fd, rc;

	rc = blocking_path(u->reg_base, path, sizeof(path));
	if (rc) {
		VTD_LOG(ERR, u, "no hugetlbfs mount of 2 MiB pages for the "
			"blocking root table: %s", strerror(-rc));
		return rc;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		VTD_LOG(ERR, u, "blocking root table %s: %s", path,
			strerror(-rc));
		return rc;
	}
	/* Never shrink it: that would free the page the unit may walk. */
	if (fstat(fd, &st) == 0 && (uint64_t)st.st_size < VTD_BLOCKING_PAGE &&
	    ftruncate(fd, (off_t)VTD_BLOCKING_PAGE) != 0) {
		rc = -errno;
		VTD_LOG(ERR, u, "blocking root table %s: size: %s", path,
			strerror(-rc));
		close(fd);
		return rc;
	}
	va = blocking_map(fd, true, pa);
	rc = va == NULL ? -errno : 0;
	close(fd);
	if (rc) {
		/* mmap of hugetlbfs reserves the page: ENOMEM when none is
		 * free. */
		VTD_LOG(ERR, u, "blocking root table %s: mmap: %s (a free 2 "
			"MiB hugepage is needed)", path, strerror(-rc));
		return rc;
	}
	if (!table_blocks_all(va)) {
		memset(va, 0, 4096);
		rte_wmb();
	}
	vtd_flush_cache_range(u, va, 4096);
	if (*pa == RTE_BAD_IOVA) {
		rc = -EACCES;
		VTD_LOG(ERR, u, "blocking root table %s: no physical address "
			"from /proc/self/pagemap (needs root)", path);
	} else if (u->haw < 64 && (*pa >> u->haw) != 0) {
		rc = -ERANGE;
		VTD_LOG(ERR, u, "blocking root table %s at 0x%" PRIx64
			" lies above the unit's %u-bit host address width",
			path, *pa, u->haw);
	}
	munmap(va, VTD_BLOCKING_PAGE);
	return rc;
}

static void *map_window(int fd, uint64_t base, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		       (off_t)base);

	return p == MAP_FAILED ? NULL : p;
}

int vtd_real_open(uint64_t base, size_t size, const struct vtd_unit_params *p,
		  struct vtd_unit **out)
{
	struct vtd_unit_params up;
	const char *name;
	volatile uint8_t *regs;
	size_t len, need;
	uint64_t cap, ecap;
	uint32_t gsts;
	void *map;
	int fd, rc;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (p == NULL)
		vtd_unit_params_init(&up);
	else
		up = *p;
	name = up.name ? up.name : "-";
	if (base == 0 || (base & (VTD_PAGE_SIZE - 1))) {
		rte_log(RTE_LOG_ERR, vtd_logtype, "vtd %s: register base 0x%"
			PRIx64 " is not a 4 KiB aligned DRHD address\n", name,
			base);
		return -EINVAL;
	}
	if (rte_eal_iova_mode() != RTE_IOVA_PA) {
		rte_log(RTE_LOG_ERR, vtd_logtype, "vtd %s: refusing the real "
			"unit at 0x%" PRIx64 ": DPDK runs with IOVA as VA, and "
			"the unit must be given physical addresses. Start EAL "
			"with --iova-mode=pa and hugepages (not --no-huge), as "
			"root\n", name, base);
		return -ENOTSUP;
	}
	rc = vtd_kernel_owns_unit(SYSFS_CLASS_IOMMU, base);
	if (rc > 0 && !up.force) {
		rte_log(RTE_LOG_ERR, vtd_logtype,
			"vtd %s: the kernel drives "
			"the unit at 0x%" PRIx64
			" (listed under %s): boot with "
			"intel_iommu=off, or pass force if you know better\n",
			name, base, SYSFS_CLASS_IOMMU);
		return -EBUSY;
	}

	len = RTE_ALIGN_CEIL(RTE_MAX(size, (size_t)4096), 4096);
	fd = open("/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		rte_log(RTE_LOG_ERR, vtd_logtype, "vtd %s: /dev/mem: %s (needs "
			"root, and iomem=relaxed on the kernel command line)\n",
			name, strerror(-rc));
		return rc;
	}
	map = map_window(fd, base, len);
	if (map == NULL) {
		rc = -errno;
		goto fail_fd;
	}
	regs = map;
	cap = *(volatile uint64_t *)(regs + VTD_REG_CAP);
	ecap = *(volatile uint64_t *)(regs + VTD_REG_ECAP);
	if (cap == UINT64_MAX || ecap == UINT64_MAX) {
		rte_log(RTE_LOG_ERR, vtd_logtype,
			"vtd %s: CAP/ECAP at 0x%" PRIx64
			" read all ones: no unit there\n",
			name, base);
		rc = -ENODEV;
		goto fail_map;
	}
	need = vtd_regs_needed(cap, ecap);
	if (need > len) {
		munmap(map, len);
		len = need;
		map = map_window(fd, base, len);
		if (map == NULL) {
			rc = -errno;
			goto fail_fd;
		}
		regs = map;
	}
	gsts = *(volatile uint32_t *)(regs + VTD_REG_GSTS);
	if ((gsts & (VTD_GSTS_TES | VTD_GSTS_QIES | VTD_GSTS_IRES)) &&
	    !up.force) {
		uint64_t rta = *(volatile uint64_t *)(regs + VTD_REG_RTADDR);
		uint64_t blocking = RTE_BAD_IOVA;
		int found = vtd_blocking_root_find(base, &blocking);

		if ((gsts & (VTD_GSTS_QIES | VTD_GSTS_IRES)) == 0 &&
		    found == 0 && (rta & VTD_PAGE_MASK) == blocking) {
			/* Left by an earlier uvtd's vtd_unit_close: nothing
			 * is reachable, nobody is using the queue. */
			rte_log(RTE_LOG_NOTICE, vtd_logtype,
				"vtd %s: taking over the unit at 0x%" PRIx64
				": translation on with uvtd's blocking root "
				"table at 0x%" PRIx64 " (every DMA blocked), "
				"left by an earlier uvtd\n", name, base,
				blocking);
		} else {
			rte_log(RTE_LOG_ERR, vtd_logtype,
				"vtd %s: the unit at 0x%" PRIx64
				" is in use (GSTS 0x%08" PRIx32 ": translation "
				"%s, queued invalidation %s, interrupt "
				"remapping %s; RTADDR 0x%" PRIx64 " is %s): "
				"boot with intel_iommu=off intremap=off, or "
				"pass force to take it over\n",
				name, base, gsts,
				(gsts & VTD_GSTS_TES) ? "on" : "off",
				(gsts & VTD_GSTS_QIES) ? "on" : "off",
				(gsts & VTD_GSTS_IRES) ? "on" : "off", rta,
				found != 0 ? "not uvtd's (no usable blocking "
				"root table file)" : (rta & VTD_PAGE_MASK) != blocking ?
				"not uvtd's blocking root table" :
				"uvtd's blocking root table, but the queue or "
				"interrupt remapping is on");
			rc = -EBUSY;
			goto fail_map;
		}
	}
	close(fd);
	fd = -1;

	up.win.base = map;
	up.win.size = len;
	up.win.write_hook = NULL;
	up.win.hook_opaque = NULL;
	up.real_hw = true;
	rc = vtd_unit_open(&up, out);
	if (rc) {
		munmap(map, len);
		return rc;
	}
	(*out)->mmio_map = map;
	(*out)->mmio_len = len;
	(*out)->reg_base = base;
	return 0;

fail_map:
	munmap(map, len);
fail_fd:
	if (fd >= 0)
		close(fd);
	if (rc != -ENODEV && rc != -EBUSY)
		rte_log(RTE_LOG_ERR, vtd_logtype, "vtd %s: mapping 0x%" PRIx64
			" (+%zu) from /dev/mem: %s\n", name, base, len,
			strerror(-rc));
	return rc;
}

void vtd_regs_release(struct vtd_unit *u)
{
	if (u->mmio_map) {
		munmap(u->mmio_map, u->mmio_len);
		u->mmio_map = NULL;
	}
}
