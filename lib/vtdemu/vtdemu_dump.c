/* SPDX-License-Identifier: BSD-3-Clause
 * vtdemu decoded dump: VER/CAP/ECAP by field (VT-d spec §11.4.1 - §11.4.3),
 * the status and queue registers, the fault records and the statistics.
 * Reads only the register page and the counters, so it may run while the
 * unit works (values are a snapshot, not a consistent cut).
 */
#include <inttypes.h>

#include "vtdemu_fe.h"

struct flag {
	uint64_t bit;
	const char *name;
};

static void flags(FILE *out, uint64_t v, const struct flag *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v & f[i].bit)
			fprintf(out, " %s", f[i].name);
}

#define NF(a) (sizeof(a) / sizeof((a)[0]))

static const struct flag cap_flags[] = {
	{ CAP_AFL, "AFL" }, { CAP_RWBF, "RWBF" }, { CAP_PLMR, "PLMR" },
	{ CAP_PHMR, "PHMR" }, { CAP_CM, "CM" }, { CAP_ZLR, "ZLR" },
	{ CAP_PSI, "PSI" }, { CAP_DWD, "DWD" }, { CAP_DRD, "DRD" },
	{ CAP_FL1GP, "FL1GP" }, { CAP_PI, "PI" }, { CAP_FL5LP, "FL5LP" },
	{ CAP_ECMDS, "ECMDS" }, { CAP_ESIRTPS, "ESIRTPS" },
	{ CAP_ESRTPS, "ESRTPS" },
};

static const struct flag ecap_flags[] = {
	{ ECAP_C, "C" }, { ECAP_QI, "QI" }, { ECAP_DT, "DT" },
	{ ECAP_IR, "IR" }, { ECAP_EIM, "EIM" }, { ECAP_PT, "PT" },
	{ ECAP_SC, "SC" }, { ECAP_MTS, "MTS" }, { ECAP_NEST, "NEST" },
	{ ECAP_PRS, "PRS" }, { ECAP_ERS, "ERS" }, { ECAP_SRS, "SRS" },
	{ ECAP_NWFS, "NWFS" }, { ECAP_EAFS, "EAFS" }, { ECAP_PASID, "PASID" },
	{ ECAP_DIT, "DIT" }, { ECAP_PDS, "PDS" }, { ECAP_SMTS, "SMTS" },
	{ ECAP_VCS, "VCS" }, { ECAP_SLADS, "SLADS" }, { ECAP_SLTS, "SLTS" },
	{ ECAP_FLTS, "FLTS" }, { ECAP_SMPWC, "SMPWC" }, { ECAP_RPS, "RPS" },
	{ ECAP_PMS, "PMS" },
};

static const struct flag gsts_flags[] = {
	{ GSTS_TES, "TES" }, { GSTS_RTPS, "RTPS" }, { GSTS_FLS, "FLS" },
	{ GSTS_AFLS, "AFLS" }, { GSTS_WBFS, "WBFS" }, { GSTS_QIES, "QIES" },
	{ GSTS_IRES, "IRES" }, { GSTS_IRTPS, "IRTPS" }, { GSTS_CFIS, "CFIS" },
};

static const struct flag fsts_flags[] = {
	{ FSTS_PFO, "PFO" }, { FSTS_PPF, "PPF" }, { FSTS_AFO, "AFO" },
	{ FSTS_APF, "APF" }, { FSTS_IQE, "IQE" }, { FSTS_ICE, "ICE" },
	{ FSTS_ITE, "ITE" }, { FSTS_PRO, "PRO" },
};

static void dump_caps(FILE *out, struct vtdemu *emu)
{
	uint64_t cap = emu->cap, ecap = emu->ecap;
	unsigned int sagaw = CAP_SAGAW(cap);

	fprintf(out, "VER  0x%02x (%u.%u)\n", emu->ver, (emu->ver >> 4) & 0xf,
		emu->ver & 0xf);
	fprintf(out, "CAP  0x%016" PRIx64 "\n", cap);
	fprintf(out, "  ND %u (%u domain ids) SAGAW 0x%x (", CAP_ND(cap),
		1u << (4 + 2 * CAP_ND(cap)), sagaw);
	if (sagaw & 2)
		fprintf(out, " 39-bit/3-level");
	if (sagaw & 4)
		fprintf(out, " 48-bit/4-level");
	if (sagaw & 8)
		fprintf(out, " 57-bit/5-level");
	fprintf(out, " ) MGAW %u bits\n", CAP_MGAW(cap) + 1);
	fprintf(out, "  FRO 0x%x NFR %u SLLPS 0x%x (%s%s) MAMV %u\n",
		CAP_FRO(cap) * 16, CAP_NFR(cap) + 1, CAP_SLLPS(cap),
		(CAP_SLLPS(cap) & 1) ? "2M " : "",
		(CAP_SLLPS(cap) & 2) ? "1G" : "", CAP_MAMV(cap));
	fprintf(out, "  flags:");
	flags(out, cap, cap_flags, NF(cap_flags));
	fprintf(out, "\n");
	fprintf(out, "ECAP 0x%016" PRIx64 "\n", ecap);
	fprintf(out, "  IRO 0x%x MHMV %u PSS %u (%u-bit PASID)\n",
		ECAP_IRO(ecap) * 16, ECAP_MHMV(ecap), ECAP_PSS(ecap),
		ECAP_PSS(ecap) + 1);
	fprintf(out, "  flags:");
	flags(out, ecap, ecap_flags, NF(ecap_flags));
	fprintf(out, "\n");
}

static void dump_regs(FILE *out, struct vtdemu *emu)
{
	uint32_t gsts = reg_rd32(emu, R_GSTS), fsts = reg_rd32(emu, R_FSTS);
	uint64_t rta = reg_rd64(emu, R_RTADDR);

	fprintf(out, "GSTS 0x%08x:", gsts);
	flags(out, gsts, gsts_flags, NF(gsts_flags));
	fprintf(out, "\nRTADDR 0x%016" PRIx64 " (TTM %u) latched 0x%016" PRIx64
		" translation %s\n", rta, (unsigned)((rta >> 10) & 3),
		__atomic_load_n(&emu->root_table, __ATOMIC_RELAXED),
		__atomic_load_n(&emu->translation_enabled, __ATOMIC_RELAXED) ?
		"on" : "off");
	fprintf(out, "FSTS 0x%08x:", fsts);
	flags(out, fsts, fsts_flags, NF(fsts_flags));
	fprintf(out, " FRI %u\nFECTL 0x%08x\n", (fsts >> 8) & 0xff,
		reg_rd32(emu, R_FECTL));
	fprintf(out, "CCMD 0x%016" PRIx64 " IOTLB 0x%016" PRIx64 "\n",
		reg_rd64(emu, R_CCMD), reg_rd64(emu, emu_iro_off(emu) + 8));
	if (emu->ecap & ECAP_QI) {
		uint64_t iqa = reg_rd64(emu, R_IQA), iqer = reg_rd64(emu, R_IQER);
		unsigned int sh = (iqa & IQA_DW) ? 5 : 4;
		fprintf(out, "IQA 0x%016" PRIx64 " (base 0x%" PRIx64 " QS %u DW %u)\n",
			iqa, (uint64_t)(iqa & IQA_ADDR), IQA_QS(iqa), (iqa & IQA_DW) ? 1 : 0);
		fprintf(out, "IQH 0x%" PRIx64 " (slot %" PRIu64 ") IQT 0x%" PRIx64
			" (slot %" PRIu64 ") ICS 0x%x IECTL 0x%08x\n",
			reg_rd64(emu, R_IQH), reg_rd64(emu, R_IQH) >> sh,
			reg_rd64(emu, R_IQT), reg_rd64(emu, R_IQT) >> sh,
			reg_rd32(emu, R_ICS), reg_rd32(emu, R_IECTL));
		fprintf(out, "IQER 0x%016" PRIx64 " (IQEI %u ITESID 0x%04x ICESID 0x%04x)\n",
			iqer, (unsigned)(iqer & 0xf),
			(unsigned)((iqer >> 32) & 0xffff),
			(unsigned)((iqer >> 48) & 0xffff));
	}
	uint32_t fro = emu_fro_off(emu);
	for (unsigned int i = 0; i < emu_nfr(emu); i++) {
		uint64_t lo = reg_rd64(emu, fro + 16 * i);
		uint64_t hi = reg_rd64(emu, fro + 16 * i + 8);
		if (!(hi & FRCD_HI_F))
			continue;
		fprintf(out, "FRCD[%u] F %s reason 0x%02x sid %02x:%02x.%u addr 0x%"
			PRIx64, i, (hi & FRCD_HI_T) ? "read" : "write",
			(unsigned)((hi >> 32) & 0xff), (unsigned)((hi >> 8) & 0xff),
			(unsigned)((hi >> 3) & 0x1f), (unsigned)(hi & 7), lo);
		if (hi & FRCD_HI_PP)
			fprintf(out, " pasid 0x%x",
				(unsigned)((hi >> 40) & 0xfffff));
		fprintf(out, "\n");
	}
}

void vtdemu_dump(struct vtdemu *emu, FILE *out)
{
	struct vtdemu_stats s;

	if (emu == NULL || out == NULL)
		return;
	dump_caps(out, emu);
	dump_regs(out, emu);
	vtdemu_stats_get(emu, &s);

	fprintf(out, "descriptors (queued / register-based):\n");
	for (unsigned int k = 0; k < VTDEMU_DS_KINDS; k++)
		if (s.desc[k] || s.reg_inv[k])
			fprintf(out, "  %-14s %12" PRIu64 " %12" PRIu64 "\n",
				vtdemu_desc_stat_name(k), s.desc[k], s.reg_inv[k]);
	fprintf(out, "iqt_writes %" PRIu64 " batches %" PRIu64 " waits %" PRIu64
		" status_writes %" PRIu64 " aborted %" PRIu64 " lost %" PRIu64 "\n",
		s.iqt_writes, s.qi_batches, s.waits, s.wait_status_writes,
		s.waits_aborted, s.waits_lost);
	fprintf(out, "errors: iqe %" PRIu64 " ite %" PRIu64 " ice %" PRIu64
		" reg_inv_refused %" PRIu64 " coarsened %" PRIu64
		" psi_unaligned %" PRIu64 " wbf %" PRIu64 "/%" PRIu64 " ignored\n",
		s.invalid_descs, s.ite, s.ice, s.reg_inv_refused,
		s.desc_coarsened, s.psi_unaligned, s.wbf, s.wbf_ignored);
	if (s.qemu72_unsafe_waits)
		fprintf(out, "waits QEMU 7.2 would not take (SW+IF or neither): %"
			PRIu64 "\n", s.qemu72_unsafe_waits);
	fprintf(out, "caches (hits / misses / evictions / invalidated):\n");
	for (unsigned int k = 0; k < VTDEMU_CACHE_KINDS; k++)
		fprintf(out, "  %-11s %12" PRIu64 " %12" PRIu64 " %12" PRIu64
			" %12" PRIu64 "\n", vtdemu_cache_name(k),
			s.cache_hits[k], s.cache_misses[k],
			s.cache_evictions[k], s.cache_invalidated[k]);
	fprintf(out, "translations %" PRIu64 " walks %" PRIu64 " walk_reads %"
		PRIu64 " stale_uses %" PRIu64 "\n", s.translations, s.walks,
		s.walk_reads, s.stale_uses);
	fprintf(out, "faults recorded %" PRIu64 " overflow %" PRIu64 ":",
		s.faults_recorded, s.faults_overflow);
	for (unsigned int r = 0; r < 256; r++)
		if (s.faults[r])
			fprintf(out, " [0x%02x]=%" PRIu64, r, s.faults[r]);
	fprintf(out, "\nmodelled %" PRIu64 " ns (shadowing %" PRIu64
		" ns over %" PRIu64 " pages)\n", s.modelled_ns,
		s.modelled_shadow_ns, s.shadow_pages);
}
