/* SPDX-License-Identifier: BSD-3-Clause
 * The invalidation planner: turns (domain, range, what changed) into
 * invalidation descriptors. Pure functions over their arguments (no unit, no
 * lock, no DPDK), so the unit tests run them exhaustively without EAL.
 *
 * Two layers:
 *   vtd_plan_psi()  a range -> the fewest naturally aligned power-of-two
 *                   blocks that cover it exactly (page-selective IOTLB
 *                   invalidation, VT-d spec §6.5.2.3: ADDR aligned to 2^AM
 *                   pages, AM <= CAP.MAMV).
 *   vtd_plan_inv()  the policy: page- or domain-selective, IH, DR/DW, second-
 *                   or first-stage (PASID-based, §6.5.2.4) descriptors, and
 *                   the device-TLB invalidations (§6.5.2.5, §6.5.2.6) that
 *                   follow them for ATS endpoints.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "vtd_internal.h"

/* Largest address mask worth using: 2^52 pages of 4 KiB is all of 2^64. */
#define VTD_PLAN_AM_ALL  52

static inline unsigned int plan_ctz64(uint64_t v)
{
	return v ? (unsigned int)__builtin_ctzll(v) : 64;
}

static inline unsigned int plan_log2_floor(uint64_t v)
{
	return 63u - (unsigned int)__builtin_clzll(v); /* v != 0 */
}

/*
 * Greedy: at each position take the largest block that is naturally aligned
 * there, fits in what is left, and has am <= mamv. This is the minimum: any
 * exact cover by aligned blocks must contain, at the current position p, a
 * block starting at p, which can be no larger than the greedy one (alignment
 * of p, remaining length and MAMV bound every candidate); and replacing it by
 * the greedy block leaves a remainder that is a suffix of the other cover's
 * remainder, whose aligned blocks split it no worse (a standard exchange
 * argument; test_plan.c checks it against a brute-force minimum).
 *
 * Page numbers are 52-bit, so first + count never overflows 64 bits, and a
 * range ending at 2^64 - 1 (last pfn 2^52 - 1) needs no special case.
 */
int vtd_plan_psi(uint64_t iova, uint64_t len, unsigned int mamv,
		 struct vtd_psi_block *out, unsigned int max)
{
	uint64_t last, pfn, end_pfn;
	unsigned int n = 0;

	if (len == 0)
		return 0;
	last = iova + (len - 1);
	if (last < iova)
		return -ERANGE;       /* wraps past 2^64 */
	if (mamv > VTD_PLAN_AM_ALL)
		mamv = VTD_PLAN_AM_ALL;
	pfn = iova >> VTD_PAGE_SHIFT;
	end_pfn = (last >> VTD_PAGE_SHIFT) + 1;   /* exclusive, <= 2^52 */
	while (pfn < end_pfn) {
		unsigned int am = plan_ctz64(pfn);
		unsigned int fit = plan_log2_floor(end_pfn - pfn);

		if (am > fit)
			am = fit;
		if (am > mamv)
			am = mamv;
		if (n == max)
			return -E2BIG;
		if (out) {
			out[n].addr = pfn << VTD_PAGE_SHIFT;
			out[n].am = am;
		}
		n++;
		pfn += 1ULL << am;
	}
	return (int)n;
}

/* Device-TLB address with the size encoding of PCIe ATS (§6.5.2.5): S=0 is
 * one page; S=1 and the lowest clear bit of ADDR[63:12] at position 12+k
 * means 2^(k+1) pages. am = VTD_PLAN_AM_ALL gives every address: bits 62:12
 * set, bit 63 clear. */
static inline uint64_t plan_devtlb_addr(uint64_t addr, unsigned int am,
					int *s)
{
	if (am == 0) {
		*s = 0;
		return addr;
	}
	*s = 1;
	if (am >= VTD_PLAN_AM_ALL)
		return VTD_MASK(62, 12);
	return (addr & ~((1ULL << (VTD_PAGE_SHIFT + am)) - 1)) |
	       (((1ULL << (VTD_PAGE_SHIFT + am - 1)) - 1) & VTD_PAGE_MASK);
}

uint64_t vtd_plan_devtlb_addr(uint64_t addr, unsigned int am, int *s)
{
	return plan_devtlb_addr(addr, am, s);
}

/* Max invalidations pending (MIP) of a device-TLB descriptor: the
 * endpoint's ATS invalidate queue depth, where 0 encodes 32 (PCIe ATS
 * capability; Linux sends 0 for a depth >= 32 too). */
static inline unsigned int plan_mip(unsigned int qdepth)
{
	return (qdepth == 0 || qdepth >= 32) ? 0 : qdepth;
}

struct plan_sink {
	struct vtd_desc *out;
	unsigned int max, n;
	struct vtd_plan_counts *cnt;
};

static inline int sink_put(struct plan_sink *s, struct vtd_desc d)
{
	if (s->n == s->max)
		return -E2BIG;
	s->out[s->n++] = d;
	return 0;
}

/* The PASID tagging requests of an attachment: its PASID, or RID_PASID (0,
 * what vtd_tables.c programs) for requests without one. */
static inline uint32_t plan_pasid(uint32_t pasid)
{
	return pasid == VTD_NO_PASID ? 0 : pasid;
}

static int plan_emit(const struct vtd_plan_req *r, bool dsi,
		     const struct vtd_psi_block *blk, unsigned int nblk,
		     struct plan_sink *s)
{
	bool first = r->kind == VTD_DOMAIN_FIRST_STAGE;
	/* IH=1 (§6.5.2.3: paging-structure caches may be kept) only when
	 * leaves alone changed: not when tables were freed, nor on the map
	 * side, where new tables replaced not-present entries. */
	int ih = !(r->flags & (VTD_INV_TABLES_FREED | VTD_INV_MAP));
	/* §6.5.2.5: PFSID is the endpoint's source id with ECAP.DIT (uvtd
	 * attaches functions by their own id), reserved (0) without. */
	bool dit = (r->ecap & VTD_ECAP_DIT) != 0;
	int dr = !!(r->cap & VTD_CAP_DRD), dw = !!(r->cap & VTD_CAP_DWD);
	struct vtd_psi_block all = { 0, VTD_PLAN_AM_ALL };
	unsigned int i, j, b;
	int rc;

	/* 1. IOTLB (and paging-structure caches): once per distinct
	 * (did, pasid) for first-stage domains, once per did otherwise. */
	for (i = 0; i < r->ndevs; i++) {
		const struct vtd_domain_attach *a = &r->devs[i];
		bool dup = false;

		for (j = 0; j < i && !dup; j++)
			dup = r->devs[j].did == a->did &&
			      (!first || plan_pasid(r->devs[j].pasid) ==
					 plan_pasid(a->pasid));
		if (dup)
			continue;
		if (dsi) {
			if (first) {
				/* §6.5.2.4 G=01b: all entries of the PASID. */
				rc = sink_put(s, vtd_desc_piotlb(VTD_PIOTLB_PASID,
						a->did, plan_pasid(a->pasid),
						0, 0, 0));
				s->cnt->pasid++;
			} else {
				/* §6.5.2.3 G=10b domain-selective; IH and AM
				 * do not apply. */
				rc = sink_put(s, vtd_desc_iotlb(VTD_INV_DOMAIN,
						a->did, 0, 0, 0, dr, dw));
			}
			s->cnt->dsi++;
			if (rc)
				return rc;
			continue;
		}
		for (b = 0; b < nblk; b++) {
			if (first) {
				rc = sink_put(s, vtd_desc_piotlb(VTD_PIOTLB_PAGE,
						a->did, plan_pasid(a->pasid),
						blk[b].addr, blk[b].am, ih));
				s->cnt->pasid++;
			} else {
				rc = sink_put(s, vtd_desc_iotlb(VTD_INV_PAGE,
						a->did, blk[b].addr, blk[b].am,
						ih, dr, dw));
			}
			s->cnt->psi++;
			if (rc)
				return rc;
		}
	}

	/* 2. Device TLBs: after the IOTLB invalidation, in the same batch,
	 * whatever CAP.CM says; not when only not-present entries became
	 * present (a device TLB caches no not-present translation: PCIe ATS
	 * §10.2.3). */
	if (r->flags & VTD_INV_MAP)
		return 0;
	for (i = 0; i < r->ndevs; i++) {
		const struct vtd_domain_attach *a = &r->devs[i];
		const struct vtd_psi_block *bl = dsi ? &all : blk;
		unsigned int nb = dsi ? 1 : nblk;

		if (!a->ats)
			continue;
		for (b = 0; b < nb; b++) {
			int sbit;
			uint64_t addr = plan_devtlb_addr(bl[b].addr, bl[b].am,
							 &sbit);

			if (a->pasid != VTD_NO_PASID) {
				/* §6.5.2.6: requests with PASID. */
				rc = sink_put(s, vtd_desc_pdevtlb(a->sid,
						dit ? a->sid : 0,
						plan_mip(a->ats_qdepth),
						a->pasid, 0, addr, sbit));
				s->cnt->pasid++;
			} else {
				rc = sink_put(s, vtd_desc_devtlb(a->sid,
						dit ? a->sid : 0,
						plan_mip(a->ats_qdepth), addr,
						sbit));
			}
			s->cnt->devtlb++;
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* Descriptors needed for a plan: IOTLB ones per distinct target, device-TLB
 * ones per ATS endpoint (an upper bound: duplicates are counted). */
static unsigned int plan_need(const struct vtd_plan_req *r, unsigned int nblk)
{
	unsigned int i, ats = 0;

	for (i = 0; i < r->ndevs; i++)
		ats += r->devs[i].ats;
	if (r->flags & VTD_INV_MAP)
		ats = 0;
	return (r->ndevs + ats) * nblk;
}

int vtd_plan_inv(const struct vtd_plan_req *r, struct vtd_desc *out,
		 unsigned int max, struct vtd_plan_counts *cnt)
{
	struct vtd_psi_block blk[VTD_PLAN_MAX_BLOCKS];
	struct plan_sink s = { out, max, 0, cnt };
	unsigned int threshold = r->threshold;
	bool dsi = false;
	int nblk = 0, rc;

	*cnt = (struct vtd_plan_counts){ 0 };
	if (r->ndevs == 0 || r->kind == VTD_DOMAIN_PASSTHROUGH)
		return 0;      /* nothing cached for this domain here */
	if ((r->flags & VTD_INV_MAP) &&
	    (!(r->cap & VTD_CAP_CM) || r->kind == VTD_DOMAIN_FIRST_STAGE))
		return 0;      /* §6.1: only CM caches not-present second-stage
			        * entries; a write-buffer flush (RWBF) is the
			        * caller's (vtd_inv_range) */
	if (r->len == 0 && r->iova != 0)
		return 0;      /* empty range */
	if (r->len != 0 && r->iova + (r->len - 1) < r->iova)
		return -ERANGE;
	if (r->kind == VTD_DOMAIN_FIRST_STAGE && !r->dw256)
		return -ENOTSUP; /* PASID-based descriptors are 256-bit */
	if (threshold > VTD_PLAN_MAX_BLOCKS)
		threshold = VTD_PLAN_MAX_BLOCKS;

	if (r->len == 0 ||                     /* [0, ~0): everything */
	    (r->flags & VTD_INV_FORCE_DSI) ||
	    !(r->cap & VTD_CAP_PSI) ||         /* §6.5.2.3: PSI optional */
	    (r->iova == 0 && r->width < 64 &&
	     r->len >= (1ULL << r->width)) ||  /* the whole space */
	    threshold == 0) {
		dsi = true;
	} else {
		nblk = vtd_plan_psi(r->iova, r->len,
				    (unsigned int)VTD_CAP_MAMV(r->cap),
				    blk, threshold);
		if (nblk == -E2BIG)
			dsi = true;
		else if (nblk < 0)
			return nblk;
		else if (plan_need(r, (unsigned int)nblk) > max) {
			/* Keep IOTLB + device TLB in one batch: in an empty
			 * one if it fits there (the caller sends what it has
			 * and plans again), else domain-selective. */
			if (plan_need(r, (unsigned int)nblk) <=
			    (r->room > max ? r->room : max))
				return -E2BIG;
			dsi = true;
		}
	}
	if (dsi && plan_need(r, 1) > max)
		return -E2BIG;
	rc = plan_emit(r, dsi, blk, (unsigned int)nblk, &s);
	if (rc)
		return rc;
	return (int)s.n;
}
