/* SPDX-License-Identifier: BSD-3-Clause
 * vtdemu capabilities: presets and the VER/CAP/ECAP consistency check
 * (VT-d spec §11.4.1 - §11.4.3).
 *
 * The check is deliberately lenient about fields the emulator only reports
 * (it must accept any value real hardware reports: e.g. Intel client units
 * report CAP.FL1GP without ECAP.FLTS, a VT-d 2.x leftover, and MGAW narrower
 * than their widest SAGAW) and strict about what would make the register
 * file or the queue impossible to model.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "vtdemu_fe.h"

struct preset {
	const char *name;
	const char *help;
	struct vtdemu_caps caps;
};

/* CAP/ECAP builders, so that the hand-made presets read as their fields. */
#define C_ND(n)     ((uint64_t)(n))
#define C_SAGAW(b)  ((uint64_t)(b) << 8)
#define C_MGAW(w)   ((uint64_t)((w) - 1) << 16)
#define C_FRO(off)  ((uint64_t)((off) / 16) << 24)
#define C_SLLPS(b)  ((uint64_t)(b) << 34)
#define C_NFR(n)    ((uint64_t)((n) - 1) << 40)
#define C_MAMV(m)   ((uint64_t)(m) << 48)
#define E_IRO(off)  ((uint64_t)((off) / 16) << 8)
#define E_MHMV(m)   ((uint64_t)(m) << 20)
#define E_PSS(w)    ((uint64_t)((w) - 1) << 35)

static const struct preset presets[] = {
	/* QEMU 7.2 intel-iommu, measured (shared/docs/facts.md). VER 1.0. */
	{ "qemu-cm-on", "QEMU 7.2 intel-iommu caching-mode=on (aw 39)",
	  { 0x10, 0x00D2008C22260286ull, 0x0000000000000F42ull } },
	{ "qemu-cm-off", "QEMU 7.2 intel-iommu caching-mode=off",
	  { 0x10, 0x00D2008C22260206ull, 0x0000000000000F42ull } },
	{ "qemu-cm-on-aw48", "QEMU 7.2 caching-mode=on,aw-bits=48",
	  { 0x10, 0x00D2008C222F0686ull, 0x0000000000000F42ull } },
	{ "qemu-cm-on-devtlb", "QEMU 7.2 caching-mode=on,device-iotlb=on",
	  { 0x10, 0x00D2008C22260286ull, 0x0000000000000F46ull } },
	{ "qemu-cm-on-scalable", "QEMU 7.2 caching-mode=on,x-scalable-mode=on",
	  { 0x10, 0x00D2008C22260286ull, 0x0000480080000F42ull } },
	{ "qemu-cm-on-scalable-pasid",
	  "QEMU 7.2 caching-mode=on,x-scalable-mode=on,x-pasid-mode=on",
	  { 0x10, 0x00D2008C22260286ull, 0x0000490080000F42ull } },
	{ "qemu-aw48-snoop", "QEMU 7.2 caching-mode=off,aw-bits=48,snoop-control=on",
	  { 0x10, 0x00D2008C222F0606ull, 0x0000000000000FC2ull } },
	/* A modern server unit: scalable mode with both stages, 20-bit PASIDs,
	 * ATS, coherent walks, PSI up to 2^9 pages, 8 fault records, ESRTPS.
	 * Its layout follows what Sapphire Rapids-class units report (IOTLB
	 * registers and fault records above 0x100, SAGAW 48/57 + FL5LP), with
	 * more fault records than real units so that tests can fill several. */
	{ "server", "server: scalable, FLTS+SLTS, PASID, DT, PSI, 8 fault records, coherent",
	  { 0x40,
	    C_ND(6) | C_SAGAW(0xc) | C_MGAW(57) | CAP_ZLR | C_FRO(0x400) |
	    C_SLLPS(0x3) | CAP_PSI | C_NFR(8) | C_MAMV(9) | CAP_DWD | CAP_DRD |
	    CAP_FL1GP | CAP_FL5LP | CAP_ESIRTPS | CAP_ESRTPS,
	    ECAP_C | ECAP_QI | ECAP_DT | ECAP_IR | ECAP_EIM | ECAP_PT | ECAP_SC |
	    E_IRO(0x500) | E_MHMV(0xf) | E_PSS(20) | ECAP_PASID | ECAP_SMTS |
	    ECAP_SLTS | ECAP_FLTS | ECAP_SMPWC } },
	/* An older client unit: legacy mode only, no PSI, non-coherent walks,
	 * one fault record, 256 domains; like the common client cap
	 * 0x1c0000c40660462 (MGAW 39 with 4-level tables, FL1GP set without
	 * FLTS) but with 3- and 4-level tables. */
	{ "client", "client: legacy only, no PSI, C=0, 1 fault record, ND 2",
	  { 0x10,
	    C_ND(2) | C_SAGAW(0x6) | C_MGAW(39) | CAP_ZLR | C_FRO(0x400) |
	    C_SLLPS(0x1) | C_NFR(1) | CAP_DWD | CAP_DRD | CAP_FL1GP,
	    ECAP_QI | ECAP_IR | ECAP_EIM | ECAP_PT | E_IRO(0x500) | E_MHMV(0xf) } },
	/* An early unit that needs write-buffer flushing and has no queued
	 * invalidation: register-based invalidation only (spec §6.5.1). */
	{ "rwbf", "rwbf: RWBF=1, register-based invalidation only (no QI)",
	  { 0x10,
	    C_ND(2) | CAP_RWBF | C_SAGAW(0x2) | C_MGAW(39) | C_FRO(0x200) |
	    CAP_PSI | C_NFR(4) | C_MAMV(9),
	    E_IRO(0x100) } },
	/* ND=0: 16 domain ids (spec §11.4.2), otherwise QEMU caching-mode=off. */
	{ "nd0", "nd0: ND=0 (16 domain ids), otherwise qemu-cm-off",
	  { 0x10, (0x00D2008C22260206ull & ~7ull) | C_ND(0),
	    0x0000000000000F42ull } },
};

#define N_PRESETS (sizeof(presets) / sizeof(presets[0]))

int vtdemu_preset(const char *name, struct vtdemu_caps *caps)
{
	if (name == NULL || caps == NULL)
		return -EINVAL;
	for (size_t i = 0; i < N_PRESETS; i++) {
		if (strcmp(presets[i].name, name) == 0) {
			*caps = presets[i].caps;
			return 0;
		}
	}
	return -ENOENT;
}

const char *vtdemu_preset_name(unsigned int i)
{
	return i < N_PRESETS ? presets[i].name : NULL;
}

const char *vtdemu_preset_help(unsigned int i)
{
	return i < N_PRESETS ? presets[i].help : NULL;
}

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err != NULL && errlen > 0) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

struct range {
	uint32_t start, end; /* [start, end) */
	const char *what;
};

static bool overlaps(uint32_t s1, uint32_t e1, uint32_t s2, uint32_t e2)
{
	return s1 < e2 && s2 < e1;
}

/* Width in bits of the widest second-stage table SAGAW allows (0: none). */
static unsigned int sagaw_max_width(unsigned int sagaw)
{
	if (sagaw & 0x8)
		return 57;
	if (sagaw & 0x4)
		return 48;
	if (sagaw & 0x2)
		return 39;
	return 0;
}

int vtdemu_caps_check(const struct vtdemu_caps *caps, char *err,
		      size_t errlen)
{
	if (caps == NULL)
		return fail(err, errlen, "caps: NULL");

	uint64_t cap = caps->cap, ecap = caps->ecap;

	/* Linux treats all-ones CAP/ECAP as "no unit there" (dmar.c). */
	if (cap == UINT64_MAX || ecap == UINT64_MAX)
		return fail(err, errlen, "CAP/ECAP: all ones (no unit)");
	/* §11.4.1: major version 1 and up. */
	if ((caps->ver >> 4 & 0xf) == 0)
		return fail(err, errlen, "VER: major version 0 (0x%x)",
			    caps->ver);

	/* §11.4.2 ND: 7 is reserved. */
	if (CAP_ND(cap) > 6)
		return fail(err, errlen, "CAP.ND: reserved value %u",
			    CAP_ND(cap));

	/* SAGAW: bits 1..3 are 3/4/5-level tables; bits 0 and 4 (2- and
	 * 6-level) are reserved in current specifications. Second-stage (and
	 * legacy-mode) translation needs at least one supported width; a
	 * scalable-mode unit with first-stage only may report none. */
	unsigned int sagaw = CAP_SAGAW(cap);
	bool second_stage = !(ecap & ECAP_SMTS) || (ecap & ECAP_SLTS);
	unsigned int ss_width = sagaw_max_width(sagaw);
	if (sagaw & 0x11)
		return fail(err, errlen, "CAP.SAGAW: reserved width bit (0x%x)",
			    sagaw);
	if (second_stage && ss_width == 0)
		return fail(err, errlen, "CAP.SAGAW: no supported width (0x%x)",
			    sagaw);

	/* MGAW: the widest input address. It may be narrower than the widest
	 * table (client units report MGAW 39 with 4-level tables), but never
	 * wider than every translation the unit can do. */
	unsigned int mgaw = CAP_MGAW(cap) + 1;
	unsigned int fs_width = (ecap & ECAP_FLTS) ?
		((cap & CAP_FL5LP) ? 57 : 48) : 0;
	unsigned int max_width = ss_width > fs_width ? ss_width : fs_width;
	if (mgaw < 30)
		return fail(err, errlen, "CAP.MGAW: width %u below 30 bits",
			    mgaw);
	if (mgaw > max_width)
		return fail(err, errlen,
			    "CAP.MGAW: width %u beyond the widest table (%u, SAGAW 0x%x)",
			    mgaw, max_width, sagaw);

	/* MAMV is "valid only when PSI is set" (§11.4.2): any value is
	 * accepted with PSI=0 and ignored; with PSI=1 it is a 6-bit field
	 * and values above 52 (more than the whole 64-bit space) are
	 * clamped when used. */

	/* §11.4.3 and §6.5: queued invalidation is required by interrupt
	 * remapping, device-TLBs and scalable mode (which has no
	 * register-based interface for PASID caches). */
	if ((ecap & ECAP_IR) && !(ecap & ECAP_QI))
		return fail(err, errlen, "ECAP.IR: requires ECAP.QI");
	if ((ecap & ECAP_EIM) && !(ecap & ECAP_IR))
		return fail(err, errlen, "ECAP.EIM: requires ECAP.IR");
	if ((ecap & ECAP_DT) && !(ecap & ECAP_QI))
		return fail(err, errlen, "ECAP.DT: requires ECAP.QI");
	if ((ecap & ECAP_DIT) && !(ecap & ECAP_DT))
		return fail(err, errlen, "ECAP.DIT: requires ECAP.DT");
	if ((ecap & ECAP_SMTS) && !(ecap & ECAP_QI))
		return fail(err, errlen, "ECAP.SMTS: requires ECAP.QI");
	if ((ecap & ECAP_SMTS) &&
	    !(ecap & (ECAP_SLTS | ECAP_FLTS | ECAP_PT)))
		return fail(err, errlen,
			    "ECAP.SMTS: no translation type (SLTS, FLTS and PT all clear)");
	/* PASID, FLTS and SLTS without SMTS are not rejected: Intel client
	 * units report ECAP 0x19e2ff0505e (bit 40 set, no SMTS), and with
	 * SMTS clear the unit runs legacy mode only, where those bits do not
	 * matter. */
	/* No check of NEST (bit 26): VT-d 2.x units reported it for the
	 * extended-context nesting that predates FLTS/SLTS. */

	/* Register layout: the IOTLB registers (16 bytes at IRO*16) and the
	 * NFR+1 fault records (16 bytes each at FRO*16) must not overlap the
	 * architectural registers, the optional blocks the unit reports, or
	 * each other. */
	uint32_t iro = ECAP_IRO(ecap) * 16u, fro = CAP_FRO(cap) * 16u;
	uint32_t fro_end = fro + 16u * (CAP_NFR(cap) + 1u);
	struct range fixed[5];
	unsigned int nfixed = 0;

	fixed[nfixed++] = (struct range){ 0, R_ARCH_END,
		"the architectural registers (0x0-0xef)" };
	if (ecap & ECAP_MTS)
		fixed[nfixed++] = (struct range){ 0x100, 0x220,
			"the MTRR registers (ECAP.MTS, 0x100-0x21f)" };
	if (ecap & ECAP_PMS)
		fixed[nfixed++] = (struct range){ 0x300, 0x400,
			"the perfmon registers (ECAP.PMS, 0x300-0x3ff)" };
	if (cap & CAP_ECMDS)
		fixed[nfixed++] = (struct range){ 0x400, 0x440,
			"the enhanced command registers (CAP.ECMDS, 0x400-0x43f)" };
	if (ecap & ECAP_VCS)
		fixed[nfixed++] = (struct range){ 0xe00, 0xe40,
			"the virtual command registers (ECAP.VCS, 0xe00-0xe3f)" };
	for (unsigned int i = 0; i < nfixed; i++) {
		if (overlaps(iro, iro + 16, fixed[i].start, fixed[i].end))
			return fail(err, errlen,
				    "ECAP.IRO: IOTLB registers at 0x%x overlap %s",
				    iro, fixed[i].what);
		if (overlaps(fro, fro_end, fixed[i].start, fixed[i].end))
			return fail(err, errlen,
				    "CAP.FRO: fault records 0x%x-0x%x overlap %s",
				    fro, fro_end - 1, fixed[i].what);
	}
	if (overlaps(iro, iro + 16, fro, fro_end))
		return fail(err, errlen,
			    "CAP.FRO/ECAP.IRO: fault records 0x%x-0x%x overlap the IOTLB registers at 0x%x",
			    fro, fro_end - 1, iro);
	return 0;
}

/* The register window: whole pages covering the IOTLB registers and the
 * fault records, at least one page (Linux maps the same amount,
 * dmar.c:map_iommu). */
size_t emu_caps_regs_size(const struct vtdemu_caps *caps)
{
	size_t iro_end = ECAP_IRO(caps->ecap) * 16u + 16u;
	size_t fro_end = CAP_FRO(caps->cap) * 16u + 16u * (CAP_NFR(caps->cap) + 1u);
	size_t end = iro_end > fro_end ? iro_end : fro_end;

	if (end < 4096)
		end = 4096;
	return (end + 4095) & ~(size_t)4095;
}
