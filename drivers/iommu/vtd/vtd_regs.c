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
 *      is on: someone (the kernel, firmware, an earlier uvtd that left
 *      translation on) owns it, unless forced.
 * The window covers the DRHD's register size and at least the IOTLB
 * registers (ECAP.IRO) and the fault recording registers (CAP.FRO, NFR),
 * as Linux's map_iommu does.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_eal.h>

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
		rte_log(RTE_LOG_ERR, vtd_logtype,
			"vtd %s: the unit at 0x%" PRIx64
			" is in use (GSTS 0x%08" PRIx32 ": translation %s, "
			"queued invalidation %s, interrupt remapping %s): boot "
			"with intel_iommu=off intremap=off, or pass force to "
			"take it over (e.g. after an earlier uvtd left "
			"translation on)\n",
			name, base, gsts, (gsts & VTD_GSTS_TES) ? "on" : "off",
			(gsts & VTD_GSTS_QIES) ? "on" : "off",
			(gsts & VTD_GSTS_IRES) ? "on" : "off");
		rc = -EBUSY;
		goto fail_map;
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
