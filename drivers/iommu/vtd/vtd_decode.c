/* SPDX-License-Identifier: BSD-3-Clause
 * Field names of CAP, ECAP, GSTS and FSTS (VT-d spec §11.4). ECAP follows
 * the 3.x/4.x layout; the 2.x layout (ECS at 24, PASID at 28) is obsolete.
 */
#include <stdio.h>
#include <string.h>

#include "vtd_decode.h"
#include "vtd_hw.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct vtd_field cap_fields[] = {
	{ "ND", 2, 0, "number of domains supported" },
	{ "AFL", 3, 3, "advanced fault logging" },
	{ "RWBF", 4, 4, "required write-buffer flushing" },
	{ "PLMR", 5, 5, "protected low-memory region" },
	{ "PHMR", 6, 6, "protected high-memory region" },
	{ "CM", 7, 7, "caching mode (virtualized unit)" },
	{ "SAGAW", 12, 8, "supported adjusted guest address widths" },
	{ "MGAW", 21, 16, "maximum guest address width" },
	{ "ZLR", 22, 22, "zero length read" },
	{ "FRO", 33, 24, "fault-recording register offset" },
	{ "SLLPS", 37, 34, "second-stage large page support" },
	{ "PSI", 39, 39, "page-selective invalidation" },
	{ "NFR", 47, 40, "number of fault-recording registers" },
	{ "MAMV", 53, 48, "maximum address mask value" },
	{ "DWD", 54, 54, "write draining" },
	{ "DRD", 55, 55, "read draining" },
	{ "FS1GP", 56, 56, "first-stage 1 GiB pages" },
	{ "PI", 59, 59, "posted interrupts" },
	{ "FS5LP", 60, 60, "first-stage 5-level paging" },
	{ "ECMDS", 61, 61, "enhanced command support" },
	{ "ESIRTPS", 62, 62, "enhanced SIRTP support" },
	{ "ESRTPS", 63, 63, "enhanced SRTP support (SRTP invalidates all)" },
};

static const struct vtd_field ecap_fields[] = {
	{ "C", 0, 0, "page-walk coherency (legacy mode)" },
	{ "QI", 1, 1, "queued invalidation" },
	{ "DT", 2, 2, "device-TLB (ATS)" },
	{ "IR", 3, 3, "interrupt remapping" },
	{ "EIM", 4, 4, "extended interrupt mode (x2APIC)" },
	{ "PT", 6, 6, "pass-through" },
	{ "SC", 7, 7, "snoop control" },
	{ "IRO", 17, 8, "IOTLB register offset" },
	{ "MHMV", 23, 20, "maximum handle mask value" },
	{ "MTS", 25, 25, "memory type support" },
	{ "NEST", 26, 26, "nested translation" },
	{ "PRS", 29, 29, "page requests" },
	{ "ERS", 30, 30, "execute requests" },
	{ "SRS", 31, 31, "supervisor requests" },
	{ "NWFS", 33, 33, "no write flag" },
	{ "EAFS", 34, 34, "extended accessed flag" },
	{ "PSS", 39, 35, "PASID size (bits - 1)" },
	{ "PASID", 40, 40, "process address space id" },
	{ "DIT", 41, 41, "device-TLB invalidation throttling" },
	{ "PDS", 42, 42, "page-request drain" },
	{ "SMTS", 43, 43, "scalable-mode translation" },
	{ "VCS", 44, 44, "virtual command" },
	{ "SSADS", 45, 45, "second-stage accessed/dirty" },
	{ "SSTS", 46, 46, "second-stage translation (scalable)" },
	{ "FSTS", 47, 47, "first-stage translation" },
	{ "SMPWC", 48, 48, "page-walk coherency (scalable mode)" },
	{ "RPS", 49, 49, "RID_PASID" },
	{ "PMS", 51, 51, "performance monitoring" },
};

static const struct vtd_field gsts_fields[] = {
	{ "CFIS", 23, 23, "compatibility format interrupts" },
	{ "IRTPS", 24, 24, "interrupt remapping table pointer set" },
	{ "IRES", 25, 25, "interrupt remapping enabled" },
	{ "QIES", 26, 26, "queued invalidation enabled" },
	{ "WBFS", 27, 27, "write-buffer flush pending" },
	{ "AFLS", 28, 28, "advanced fault logging" },
	{ "FLS", 29, 29, "fault log" },
	{ "RTPS", 30, 30, "root table pointer set" },
	{ "TES", 31, 31, "translation enabled" },
};

static const struct vtd_field fsts_fields[] = {
	{ "PFO", 0, 0, "primary fault overflow" },
	{ "PPF", 1, 1, "primary pending fault" },
	{ "AFO", 2, 2, "advanced fault overflow" },
	{ "APF", 3, 3, "advanced pending fault" },
	{ "IQE", 4, 4, "invalidation queue error" },
	{ "ICE", 5, 5, "invalidation completion error" },
	{ "ITE", 6, 6, "invalidation time-out error" },
	{ "PRO", 7, 7, "page request overflow" },
	{ "FRI", 15, 8, "fault record index" },
};

static const struct {
	const char *name;
	const struct vtd_field *fields;
	unsigned int n;
} regs[VTD_DECODE_REGS] = {
	[VTD_DECODE_CAP] = { "CAP", cap_fields, NELEM(cap_fields) },
	[VTD_DECODE_ECAP] = { "ECAP", ecap_fields, NELEM(ecap_fields) },
	[VTD_DECODE_GSTS] = { "GSTS", gsts_fields, NELEM(gsts_fields) },
	[VTD_DECODE_FSTS] = { "FSTS", fsts_fields, NELEM(fsts_fields) },
};

const struct vtd_field *vtd_decode_fields(enum vtd_decode_reg reg,
					  unsigned int *n)
{
	if ((unsigned int)reg >= VTD_DECODE_REGS) {
		if (n)
			*n = 0;
		return NULL;
	}
	if (n)
		*n = regs[reg].n;
	return regs[reg].fields;
}

const char *vtd_decode_reg_name(enum vtd_decode_reg reg)
{
	return (unsigned int)reg < VTD_DECODE_REGS ? regs[reg].name : "?";
}

uint64_t vtd_field_value(const struct vtd_field *f, uint64_t reg_value)
{
	return VTD_GET(reg_value, f->hi, f->lo);
}

char *vtd_field_meaning(enum vtd_decode_reg reg, const struct vtd_field *f,
			uint64_t reg_value, char *buf, size_t len)
{
	uint64_t v = vtd_field_value(f, reg_value);

	buf[0] = '\0';
	if (len == 0)
		return buf;
	if (reg == VTD_DECODE_CAP) {
		if (!strcmp(f->name, "ND")) {
			/* 2^(4+2*ND) ids; 7 is reserved (§11.4.2). */
			if (v <= 6)
				snprintf(buf, len, "%llu domain ids",
					 1ULL << (4 + 2 * v));
			else
				snprintf(buf, len, "reserved");
		} else if (!strcmp(f->name, "SAGAW")) {
			snprintf(buf, len, "%s%s%s%s",
				 (v & 2) ? "39-bit/3-level " : "",
				 (v & 4) ? "48-bit/4-level " : "",
				 (v & 8) ? "57-bit/5-level " : "",
				 (v & 0x11) ? "(reserved bits set)" : "");
		} else if (!strcmp(f->name, "MGAW")) {
			snprintf(buf, len, "%llu bits", (unsigned long long)v + 1);
		} else if (!strcmp(f->name, "FRO")) {
			snprintf(buf, len, "offset 0x%llx",
				 (unsigned long long)v * 16);
		} else if (!strcmp(f->name, "NFR")) {
			snprintf(buf, len, "%llu record%s",
				 (unsigned long long)v + 1, v ? "s" : "");
		} else if (!strcmp(f->name, "SLLPS")) {
			snprintf(buf, len, "4K%s%s", (v & 1) ? " 2M" : "",
				 (v & 2) ? " 1G" : "");
		} else if (!strcmp(f->name, "MAMV")) {
			snprintf(buf, len, "up to 2^%llu pages per PSI",
				 (unsigned long long)v);
		}
	} else if (reg == VTD_DECODE_ECAP) {
		if (!strcmp(f->name, "IRO"))
			snprintf(buf, len, "offset 0x%llx",
				 (unsigned long long)v * 16);
		else if (!strcmp(f->name, "PSS"))
			snprintf(buf, len, "%llu-bit PASIDs",
				 (unsigned long long)v + 1);
	}
	return buf;
}
