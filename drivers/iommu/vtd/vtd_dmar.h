/* SPDX-License-Identifier: BSD-3-Clause
 * drivers/iommu/vtd: the ACPI DMAR table (DMA Remapping Reporting), parsed.
 *
 * The DMAR table is how the firmware tells software where the VT-d remapping
 * units are and which devices each one translates (Intel VT-d specification,
 * rev 4.x, chapter 8 "BIOS Considerations"). This module turns the raw table
 * (from /sys/firmware/acpi/tables/DMAR or a buffer) into plain arrays and
 * answers the questions the driver asks of it:
 *
 *   - which remapping unit (DRHD) serves PCI device S:B:D.F;
 *   - which reserved memory ranges (RMRR) must stay identity-mapped for it;
 *   - whether ATS may be enabled for it (ATSR, SATC).
 *
 * Model:
 *   - vtd_dmar_parse() / vtd_dmar_parse_file() validate the whole table first
 *     (every length, every offset, the checksum) and only then build the
 *     result, so that a malformed table is refused as a whole with a message
 *     that names the problem and its byte offset. Nothing is half-parsed.
 *   - The result (struct vtd_dmar) is one allocation tree owned by the caller
 *     and released by vtd_dmar_free(). It is immutable after parsing.
 *   - Every structure keeps the byte offset it came from, for messages and
 *     for the summary (vtd_dmar_print()).
 *   - Device scopes are kept as the firmware wrote them (start bus plus a
 *     path of device/function hops). Turning a scope into a concrete device
 *     or bus range needs the live PCI topology, which the queries read from
 *     sysfs (bridge secondary/subordinate bus numbers, config offsets 0x19
 *     and 0x1A). The sysfs root is a parameter so that tests can pass a fake
 *     tree; NULL means "/sys".
 *
 * Thread safety: a parsed table is never modified, so every query may run
 * concurrently on the same table. vtd_dmar_free() must not race with them.
 *
 * Errors: functions return 0 (or a non-negative result) on success and a
 * negative errno on failure; those taking (char *err, size_t errlen) also
 * write a one-line reason there (err may be NULL). A malformed table is
 * -EINVAL; file errors pass the errno of open/read through (-ENOENT,
 * -EACCES, ...).
 */
#ifndef VTD_DMAR_H
#define VTD_DMAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where Linux exposes the firmware's table, and the default sysfs root. */
#define VTD_DMAR_DEFAULT_PATH "/sys/firmware/acpi/tables/DMAR"
#define VTD_DMAR_DEFAULT_SYSFS "/sys"

/* Files larger than this are refused (-EFBIG): real tables are a few KiB. */
#define VTD_DMAR_MAX_FILE_SIZE (1u << 20)

/* ------------------------------------------------------------------------
 * Table layout constants (VT-d spec §8.1-§8.8)
 */

/* Fixed part of the DMAR table: the 36-byte ACPI header, then HAW (1),
 * flags (1) and 10 reserved bytes (§8.1). Remapping structures follow. */
#define VTD_DMAR_ACPI_HEADER_LEN 36
#define VTD_DMAR_HEADER_LEN 48

/* DMAR flags (§8.1). */
#define VTD_DMAR_F_INTR_REMAP (1u << 0)
#define VTD_DMAR_F_X2APIC_OPT_OUT (1u << 1)
#define VTD_DMAR_F_DMA_CTRL_PLATFORM_OPT_IN (1u << 2)

/* Remapping structure types (§8.2). Types 6 and up are skipped by their
 * length: the specification reserves them for future use (newer revisions
 * define type 6, SIDP, which this parser does not need). */
enum vtd_dmar_struct_type {
	VTD_DMAR_TYPE_DRHD = 0, /* DMA Remapping Hardware Unit Def. §8.3 */
	VTD_DMAR_TYPE_RMRR = 1, /* Reserved Memory Region Reporting §8.4 */
	VTD_DMAR_TYPE_ATSR = 2, /* Root Port ATS Capability Reporting §8.5 */
	VTD_DMAR_TYPE_RHSA = 3, /* Remapping Hardware Static Affinity §8.6 */
	VTD_DMAR_TYPE_ANDD = 4, /* ACPI Name-space Device Declaration §8.7 */
	VTD_DMAR_TYPE_SATC = 5, /* SoC Integrated Address Transl. Cache §8.8 */
};

/* Minimum lengths of each structure, header included. */
#define VTD_DMAR_DRHD_MIN_LEN 16
#define VTD_DMAR_RMRR_MIN_LEN 24
#define VTD_DMAR_ATSR_MIN_LEN 8
#define VTD_DMAR_RHSA_MIN_LEN 20
#define VTD_DMAR_ANDD_MIN_LEN 9 /* 8 bytes, then a NUL-terminated name */
#define VTD_DMAR_SATC_MIN_LEN 8

/* DRHD flags (§8.3). */
#define VTD_DMAR_DRHD_F_INCLUDE_PCI_ALL (1u << 0)
/* ATSR flags (§8.5). */
#define VTD_DMAR_ATSR_F_ALL_PORTS (1u << 0)
/* SATC flags (§8.8). */
#define VTD_DMAR_SATC_F_ATC_REQUIRED (1u << 0)

/* Device scope entry types (§8.3.1). 0 and 6..255 are reserved: such scopes
 * are kept (for the summary) but never match a device. */
enum vtd_dmar_scope_type {
	VTD_DMAR_SCOPE_PCI_ENDPOINT = 1,
	VTD_DMAR_SCOPE_PCI_SUBHIERARCHY = 2, /* a bridge and all below it */
	VTD_DMAR_SCOPE_IOAPIC = 3,
	VTD_DMAR_SCOPE_HPET = 4, /* MSI-capable HPET */
	VTD_DMAR_SCOPE_ACPI_NAMESPACE = 5, /* enumeration id = ANDD number */
};

/* A scope entry is 6 bytes plus 2 per path hop, at least one hop. */
#define VTD_DMAR_SCOPE_MIN_LEN 8

/* ------------------------------------------------------------------------
 * Parsed table
 */

/* One hop of a device scope path: a device/function on the current bus. */
struct vtd_dmar_path_hop {
	uint8_t device;   /* 0..31 */
	uint8_t function; /* 0..7 */
};

/* A device scope entry (§8.3.1), as written by the firmware. */
struct vtd_dmar_scope {
	uint32_t offset;	/* byte offset of the entry in the table */
	uint8_t type;		/* enum vtd_dmar_scope_type, or reserved */
	uint8_t length;		/* entry length in bytes (6 + 2 * path_len) */
	uint8_t flags;		/* byte 2 (VT-d 4.x; 0 in older tables), raw */
	uint8_t enumeration_id; /* IOAPIC id, HPET number, ANDD number */
	uint8_t start_bus;	/* bus of the first hop */
	uint8_t path_len;	/* hops in path, >= 1 */
	const struct vtd_dmar_path_hop *path;
};

/* A remapping hardware unit (§8.3). */
struct vtd_dmar_drhd {
	uint32_t offset;
	uint8_t flags;		/* VTD_DMAR_DRHD_F_* */
	uint8_t size_field;	/* byte 5 bits 3:0: registers are 2^N pages */
	uint16_t segment;	/* PCI segment (domain) */
	uint64_t base;		/* register base address, 4 KiB aligned */
	uint64_t reg_size;	/* bytes: 4096 << size_field */
	bool has_proximity;	/* an RHSA names this unit's NUMA node */
	uint32_t proximity_domain; /* valid when has_proximity */
	unsigned nscopes;
	const struct vtd_dmar_scope *scopes;
};

/* A reserved memory region (§8.4): [base, limit], both inclusive. The
 * specification asks for base 4 KiB aligned and limit + 1 4 KiB aligned; a
 * table that breaks this is accepted (firmware does), callers that map the
 * range round it outward. base > limit is refused. */
struct vtd_dmar_rmrr {
	uint32_t offset;
	uint16_t segment;
	uint64_t base;
	uint64_t limit;
	unsigned nscopes;
	const struct vtd_dmar_scope *scopes;
};

/* Root-port ATS capability (§8.5). */
struct vtd_dmar_atsr {
	uint32_t offset;
	uint8_t flags;		/* VTD_DMAR_ATSR_F_* */
	uint16_t segment;
	unsigned nscopes;	/* root ports (sub-hierarchy scopes) */
	const struct vtd_dmar_scope *scopes;
};

/* Static NUMA affinity of a unit (§8.6). */
struct vtd_dmar_rhsa {
	uint32_t offset;
	uint64_t base;		/* register base of the unit it describes */
	uint32_t proximity_domain;
	int drhd;		/* that unit's index in drhd[], or -1 */
};

/* An ACPI namespace device (§8.7), named by ACPI_NAMESPACE scopes. */
struct vtd_dmar_andd {
	uint32_t offset;
	uint8_t device_number;	/* matches a scope's enumeration_id */
	const char *name;	/* NUL-terminated ACPI object name */
};

/* SoC integrated devices with an address translation cache (§8.8). */
struct vtd_dmar_satc {
	uint32_t offset;
	uint8_t flags;		/* VTD_DMAR_SATC_F_* */
	uint16_t segment;
	unsigned nscopes;
	const struct vtd_dmar_scope *scopes;
};

struct vtd_dmar {
	/* ACPI header (§8.1); strings are NUL-terminated copies. */
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[7];
	char oem_table_id[9];
	uint32_t oem_revision;
	char creator_id[5];
	uint32_t creator_revision;

	/* Host address width in bits: the table stores it minus one (§8.1). */
	unsigned haw;
	uint8_t flags;		/* VTD_DMAR_F_* */

	/* Remapping structures, each array in table order. */
	unsigned ndrhd, nrmrr, natsr, nrhsa, nandd, nsatc;
	const struct vtd_dmar_drhd *drhd;
	const struct vtd_dmar_rmrr *rmrr;
	const struct vtd_dmar_atsr *atsr;
	const struct vtd_dmar_rhsa *rhsa;
	const struct vtd_dmar_andd *andd;
	const struct vtd_dmar_satc *satc;

	/* Structures of reserved types, skipped by their length. */
	unsigned nunknown;
	/* Scope entries in all structures together. */
	unsigned nscopes;
};

/* ------------------------------------------------------------------------
 * Parsing
 */

/*
 * Parse a DMAR table held in memory: len bytes at buf (more than the table's
 * own length is fine, the rest is ignored; less is an error). The buffer is
 * not referenced after the call. On success *out is a new table to release
 * with vtd_dmar_free() and 0 is returned; on failure *out is NULL and err
 * says what is wrong and at which byte offset.
 */
int vtd_dmar_parse(const void *buf, size_t len, struct vtd_dmar **out,
		   char *err, size_t errlen);

/*
 * Read a DMAR table from a file (path NULL means VTD_DMAR_DEFAULT_PATH,
 * which is readable by root only) and parse it. -EFBIG for a file over
 * VTD_DMAR_MAX_FILE_SIZE, else as vtd_dmar_parse() or the errno of open/read.
 */
int vtd_dmar_parse_file(const char *path, struct vtd_dmar **out, char *err,
			size_t errlen);

/* Release a parsed table. NULL is a no-op. */
void vtd_dmar_free(struct vtd_dmar *dmar);

/* ------------------------------------------------------------------------
 * Queries. sysfs_root NULL means VTD_DMAR_DEFAULT_SYSFS.
 *
 * Matching rules (§8.3.1, as Linux applies them):
 *   - an endpoint scope matches the one device its path leads to;
 *   - a sub-hierarchy (bridge) scope matches the bridge its path leads to
 *     and every device whose bus lies within the bridge's secondary ..
 *     subordinate bus range;
 *   - a path of more than one hop is walked: hop 1 is a bridge on start_bus,
 *     its secondary bus is the bus of hop 2, and so on;
 *   - a scope whose devices are absent from sysfs (hot-plug slots, devices
 *     hidden from this OS) or whose hops are not bridges matches nothing.
 *   Any other sysfs failure (a config file that cannot be read) is returned
 *   as an error instead of a possibly wrong answer.
 */

/* A PCI function: segment (domain), bus, device 0..31, function 0..7. */
struct vtd_dmar_bdf {
	uint16_t segment;
	uint8_t bus;
	uint8_t device;
	uint8_t function;
};

/* How a device was matched to its unit. */
enum vtd_dmar_match {
	VTD_DMAR_MATCH_NONE = 0,
	VTD_DMAR_MATCH_ENDPOINT,	/* named by an endpoint scope */
	VTD_DMAR_MATCH_BRIDGE,		/* is or is below a bridge scope's */
	VTD_DMAR_MATCH_INCLUDE_ALL,	/* the segment's INCLUDE_PCI_ALL unit */
};

/* A reserved range a device needs identity-mapped. */
struct vtd_dmar_range {
	uint64_t base;
	uint64_t limit;		/* inclusive */
	unsigned rmrr;		/* index in dmar->rmrr[] */
};

/*
 * Parse "SSSS:BB:DD.F" or "BB:DD.F" (segment 0), hexadecimal as lspci and
 * sysfs print them. 0 or -EINVAL.
 */
int vtd_dmar_bdf_parse(const char *str, struct vtd_dmar_bdf *out);

/*
 * Which unit translates requests from dev: the first DRHD (in table order)
 * of dev's segment with a scope that matches dev, else that segment's
 * INCLUDE_PCI_ALL unit (§8.3: it covers every device no other unit claims).
 * Returns the index in dmar->drhd[] (>= 0), and how it matched in *how (how
 * may be NULL); -ENOENT when no unit serves the device (it is then not
 * behind any remapping hardware); -EINVAL for bad arguments; another
 * negative errno when sysfs could not be read.
 */
int vtd_dmar_find_unit(const struct vtd_dmar *dmar, const char *sysfs_root,
		       const struct vtd_dmar_bdf *dev,
		       enum vtd_dmar_match *how);

/*
 * The RMRR ranges (§8.4) whose scopes match dev, in table order: software
 * must keep them identity-mapped in dev's domain because firmware-owned
 * agents (USB legacy emulation, graphics stolen memory) DMA there. Writes
 * up to max ranges (ranges may be NULL when max is 0) and returns how many
 * there are in total (which may exceed max), or a negative errno.
 */
int vtd_dmar_rmrr_for_device(const struct vtd_dmar *dmar,
			     const char *sysfs_root,
			     const struct vtd_dmar_bdf *dev,
			     struct vtd_dmar_range *ranges, unsigned max);

/*
 * Whether the platform lets dev use ATS (PCIe Address Translation
 * Services), kept simple:
 *   - dev is named by an endpoint scope of a SATC of its segment (§8.8): 1,
 *     and *atc_required says whether that SATC has ATC_REQUIRED (the device
 *     must have its ATC enabled for correct operation);
 *   - an ATSR of dev's segment has ALL_PORTS, or lists a root port whose
 *     sub-hierarchy holds dev (§8.5): 1;
 *   - otherwise 0 (no ATSR for the segment means no root port supports ATS).
 * atc_required may be NULL; it is false unless a SATC said otherwise.
 * Negative errno on bad arguments or sysfs errors.
 */
int vtd_dmar_ats_allowed(const struct vtd_dmar *dmar, const char *sysfs_root,
			 const struct vtd_dmar_bdf *dev, bool *atc_required);

/*
 * Resolve a PCI scope's path (§8.3.1) to the device it names, walking
 * multi-hop paths through sysfs (single-hop paths need no sysfs). For a
 * sub-hierarchy scope, *bus_lo .. *bus_hi receive the bridge's secondary ..
 * subordinate bus range (both pointers may be NULL; for other types they
 * are left alone). Returns 0; -ENOENT if a device on the way is absent;
 * -ENODEV if a hop that must be a bridge is not one; -EINVAL for bad
 * arguments or a non-PCI scope type; another negative errno on read errors.
 */
int vtd_dmar_scope_resolve(const char *sysfs_root, uint16_t segment,
			   const struct vtd_dmar_scope *scope,
			   struct vtd_dmar_bdf *out, uint8_t *bus_lo,
			   uint8_t *bus_hi);

/* ------------------------------------------------------------------------
 * Printing
 */

/* "PCI endpoint", "PCI bridge", "IOAPIC", "HPET", "ACPI namespace device",
 * or "reserved" for any other type. Never NULL. */
const char *vtd_dmar_scope_type_name(uint8_t type);

/*
 * Print a human-readable summary: header, host address width, flags, and
 * each structure with its fields and scopes decoded (app/vtd-info uses it).
 * Returns 0, -EINVAL for bad arguments, -EIO if writing failed.
 */
int vtd_dmar_print(const struct vtd_dmar *dmar, FILE *out);

#ifdef __cplusplus
}
#endif

#endif /* VTD_DMAR_H */
