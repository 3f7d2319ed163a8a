/* SPDX-License-Identifier: BSD-3-Clause
 * Helpers for the small programs that run inside the QEMU guest (test/qemu):
 * find the VT-d unit from the ACPI DMAR table, map physical memory through
 * /dev/mem, find a PCI device in sysfs, translate a virtual address to a
 * physical one with /proc/self/pagemap.
 *
 * These run only in the guest: the host's /dev/mem is never opened by a test.
 * Plain C, no DPDK. Functions return 0 or a negative errno and print nothing
 * unless they say so.
 */
#ifndef UVTD_GUEST_UTIL_H
#define UVTD_GUEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Where Linux exposes the firmware's DMAR table (binary, as the firmware
 * wrote it). */
#define GUEST_DMAR_PATH "/sys/firmware/acpi/tables/DMAR"

struct guest_drhd {
	uint64_t base;   /* register base address */
	uint16_t segment;
	uint8_t flags;   /* bit 0: INCLUDE_PCI_ALL */
	uint8_t size;    /* VT-d 3.x: 2^size 4 KiB pages of registers; 0 = one */
};

struct guest_dmar {
	uint8_t host_addr_width; /* HAW field + 1, in bits */
	uint8_t flags;           /* bit 0 INTR_REMAP, 1 X2APIC_OPT_OUT, 2 DMA_CTRL_PLATFORM_OPT_IN */
	unsigned n_drhd;
	struct guest_drhd drhd[8];
};

/* Reads the DMAR table at path (GUEST_DMAR_PATH in the guest) and lists its
 * DRHD structures. Just enough of the table for the probe: the full parser
 * is drivers/iommu/vtd/vtd_dmar.c. -EINVAL for a table that does not parse
 * (bad signature, length or checksum); *why gets a short reason. */
int guest_dmar_read(const char *path, struct guest_dmar *out, const char **why);

/* Maps len bytes of physical memory at phys (page aligned) through /dev/mem,
 * read-write, uncached (O_SYNC). Returns the mapping or NULL with errno set.
 * Refuses (EPERM) unless UVTD_GUEST=1, which only the rig's guest sets. */
volatile void *guest_map_phys(uint64_t phys, size_t len);
void guest_unmap_phys(volatile void *p, size_t len);

/* Finds the first PCI function with this vendor and device ID; writes its
 * sysfs folder (/sys/bus/pci/devices/DDDD:BB:DD.F) into dir. -ENOENT if none. */
int guest_pci_find(uint16_t vendor, uint16_t device, char *dir, size_t len);

/* Sets bits in the PCI command register (config offset 4) through sysfs
 * "config"; returns the register's new value or a negative errno. */
int guest_pci_command_set(const char *dir, uint16_t bits);

/* Physical address of the byte at va (which must be resident: touched and
 * locked, or a hugepage). 0 if pagemap gives no frame (not root, not present). */
uint64_t guest_virt_to_phys(const void *va);

/* Monotonic time in nanoseconds. */
uint64_t guest_now_ns(void);

#endif /* UVTD_GUEST_UTIL_H */
