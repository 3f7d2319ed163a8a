/* SPDX-License-Identifier: BSD-3-Clause
 * lib/vtdemu table walker: root, context, PASID directory and PASID tables,
 * second-stage and first-stage page tables (VT-d spec §3, §9), with the
 * checks that make a translation fault (Appendix A reason codes).
 *
 * Reserved bits: QEMU's masks (hw/i386/intel_iommu_internal.h) are the
 * floor; the spec is followed where it is stricter (legacy root entry bits
 * 127:64, scalable-mode context qwords 2-3, superpage leaves at a level
 * CAP.SLLPS / CAP.FL1GP does not support). The host address width (HAW)
 * that bounds every pointer and output address is CAP.MGAW + 1, as in QEMU,
 * capped at 52 bits. The input address width of a second-stage table is
 * that of its AW, capped at CAP.MGAW + 1.
 *
 * Every entry is read with an atomic load (the driver writes entries with
 * atomic stores while DMA runs) through emu_mem(), which may return NULL for
 * a pointer to nowhere: that is an access fault, never a crash.
 */
#include <stdlib.h>
#include <string.h>

#include "vtdemu_be.h"

#define ADDR_MASK 0x000ffffffffff000ull  /* bits 51:12 */

#define SS_R   (1ull << 0)
#define SS_W   (1ull << 1)
#define SS_PS  (1ull << 7)
#define SS_SNP (1ull << 11)
#define SS_TM  (1ull << 62)
/* Second-stage bits the unit ignores: 63 and 61:52 (QEMU VTD_SL_IGN_COM). */
#define SS_IGN 0xbff0000000000000ull
#define FS_P   (1ull << 0)
#define FS_RW  (1ull << 1)
#define FS_US  (1ull << 2)
#define FS_PS  (1ull << 7)
/* First-stage bits 63:52 are ignored here (XD included), as in QEMU. */
#define FS_IGN 0xfff0000000000000ull

static unsigned int level_shift(unsigned int level)
{
	return 12 + 9 * (level - 1);
}

/* Reads n qwords at addr (one call: never crosses 4 KiB since n*8 divides
 * the entry's natural alignment). */
static bool read_entry(struct vtdemu *emu, uint64_t addr, uint64_t *out,
		       unsigned int n, bool count)
{
	uint64_t *p = emu_mem(emu, addr, n * 8u);
	unsigned int i;

	if (!p)
		return false;
	for (i = 0; i < n; i++)
		out[i] = __atomic_load_n(&p[i], __ATOMIC_ACQUIRE);
	if (count)
		EMU_STAT_ADD(emu, walk_reads, 1);
	return true;
}

/* §7.1.3: qualified faults are the ones fault processing disable (FPD)
 * suppresses; faults found before any FPD bit could be read, and table
 * access errors, are always reported (QEMU's vtd_qualified_faults). */
static bool qualified(uint8_t fr)
{
	switch (fr) {
	case FR_ROOT_P:
	case FR_ROOT_ACCESS:
	case FR_CTX_ACCESS:
	case FR_ROOT_RSVD:
	case FR_SM_RTADDR:
	case FR_SM_PASID_TTM0:
	case FR_SM_ROOT_ACCESS:
	case FR_SM_ROOT_P:
	case FR_SM_ROOT_RSVD:
	case FR_SM_CTX_ACCESS:
	case FR_SM_PDIR_ACCESS:
	case FR_SM_PTE_ACCESS:
		return false;
	default:
		return true;
	}
}

static void fault(struct emu_xres *res, uint8_t fr, bool fpd, uint8_t np)
{
	res->fault = fr;
	res->fpd = fpd && qualified(fr);
	res->np = np;
}

/* ------------------------------------------------------------------------
 * Legacy mode (§9.1 root entry, §9.3 context entry)
 *
 * Context cache payload: v0 = SLPTPTR | kind | levels << 2 | fpd << 5 |
 * treq_ok << 6, v1 = did << 48 | width.
 */

static void legacy_decode(uint64_t v0, uint64_t v1, struct emu_xctx *x)
{
	x->table = v0 & ~0xfffull;
	x->kind = (uint8_t)(v0 & 3);
	x->levels = (uint8_t)((v0 >> 2) & 7);
	x->fpd = (uint8_t)((v0 >> 5) & 1);
	x->treq_ok = (uint8_t)((v0 >> 6) & 1);
	x->did = (uint16_t)(v1 >> 48);
	x->width = (uint8_t)v1;
	x->pasid = VTDEMU_NO_PASID;
}

static bool legacy_context(struct vtdemu *emu, uint64_t rta,
			   const struct emu_req *rq, struct emu_xctx *x,
			   struct emu_xres *res, bool use_cache,
			   const struct emu_gens *g)
{
	struct emu_backend *be = emu_be(emu);
	uint64_t re[2], ce[2], v0, v1;
	unsigned int tt, aw, width;
	bool fpd;

	if (use_cache && emu_ctx_lookup(emu, rq->sid, &v0, &v1)) {
		legacy_decode(v0, v1, x);
		res->source = VTDEMU_CACHE_CONTEXT;
		goto check_treq;
	}
	if (!read_entry(emu, rta + (uint64_t)(rq->sid >> 8) * 16, re, 2,
			use_cache)) {
		fault(res, FR_ROOT_ACCESS, false, 0);
		return false;
	}
	if (!(re[0] & 1)) {
		fault(res, FR_ROOT_P, false, EMU_NP_CTX);
		return false;
	}
	/* Bits 11:1, the pointer above HAW and the whole upper qword are
	 * reserved in legacy mode (§9.1). */
	if ((re[0] & (0xffeull | ~be->haw_mask)) || re[1]) {
		fault(res, FR_ROOT_RSVD, false, 0);
		return false;
	}
	if (!read_entry(emu, (re[0] & ~0xfffull) + (rq->sid & 0xffu) * 16u,
			ce, 2, use_cache)) {
		fault(res, FR_CTX_ACCESS, false, 0);
		return false;
	}
	/* FPD is honoured even in a not-present entry, as QEMU does. */
	fpd = (ce[0] >> 1) & 1;
	if (!(ce[0] & 1)) {
		fault(res, FR_CTX_P, fpd, EMU_NP_CTX);
		return false;
	}
	/* DID bits beyond CAP.ND's width are reserved too (§9.3). */
	if ((ce[0] & (0xff0ull | ~be->haw_mask)) ||
	    (ce[1] & 0xffffffffff000080ull) ||
	    ((uint16_t)(ce[1] >> 8) & be->did_rsvd)) {
		fault(res, FR_CTX_RSVD, fpd, 0);
		return false;
	}
	tt = (unsigned int)(ce[0] >> 2) & 3;
	aw = (unsigned int)ce[1] & 7;
	/* TT 11b is reserved; 10b needs ECAP.PT, 01b ECAP.DT; AW must be a
	 * width SAGAW supports (§9.3, QEMU checks AW for every TT). */
	if (tt == 3 || (tt == 2 && !(emu->ecap & BE_ECAP_PT)) ||
	    (tt == 1 && !(emu->ecap & BE_ECAP_DT)) ||
	    !(BE_CAP_SAGAW(emu->cap) & (1u << aw)) || aw < 1 || aw > 3) {
		fault(res, FR_CTX_INV, fpd, 0);
		return false;
	}
	width = 30 + 9 * aw;
	if (width > be->mgaw)
		width = be->mgaw;
	x->table = ce[0] & ~0xfffull & be->haw_mask;
	x->kind = tt == 2 ? EMU_XK_PT : EMU_XK_SS;
	x->levels = (uint8_t)(aw + 2);
	x->fpd = fpd;
	x->treq_ok = tt == 1;
	x->did = (uint16_t)(ce[1] >> 8);
	x->width = (uint8_t)width;
	x->pasid = VTDEMU_NO_PASID;
	if (use_cache)
		emu_ctx_fill(emu, rq->sid,
			     x->table | x->kind | ((uint64_t)x->levels << 2) |
				     ((uint64_t)x->fpd << 5) |
				     ((uint64_t)x->treq_ok << 6),
			     ((uint64_t)x->did << 48) | x->width, g);
check_treq:
	/* §9.3: translation requests (ATS) are only allowed with TT=01b;
	 * otherwise they are blocked with reason 0xD. */
	if (rq->treq && !x->treq_ok) {
		fault(res, FR_CTX_TT, x->fpd, 0);
		return false;
	}
	return true;
}

/* ------------------------------------------------------------------------
 * Scalable mode (§9.2 root, §9.4 context, §9.5 PASID directory, §9.6 PASID
 * table entries)
 *
 * Context cache payload: the raw qw0 and qw1 of the context entry.
 * PASID cache payload: v0 = table | kind | levels << 2 | fpd << 5,
 * v1 = did | width << 16.
 */

static bool sm_context_entry(struct vtdemu *emu, uint64_t rta,
			     const struct emu_req *rq, uint64_t *q0,
			     uint64_t *q1, struct emu_xres *res,
			     bool use_cache, const struct emu_gens *g)
{
	struct emu_backend *be = emu_be(emu);
	unsigned int devfn = rq->sid & 0xffu;
	uint64_t re[2], ce[4], half;
	bool fpd;

	if (use_cache && emu_ctx_lookup(emu, rq->sid, q0, q1)) {
		res->source = VTDEMU_CACHE_CONTEXT;
		return true;
	}
	if (!read_entry(emu, rta + (uint64_t)(rq->sid >> 8) * 16, re, 2,
			use_cache)) {
		fault(res, FR_SM_ROOT_ACCESS, false, 0);
		return false;
	}
	/* The lower half serves devfn 0-127, the upper 128-255 (§9.2). */
	half = re[devfn >= 128 ? 1 : 0];
	if (!(half & 1)) {
		fault(res, FR_SM_ROOT_P, false, EMU_NP_CTX);
		return false;
	}
	if (half & (0xffeull | ~be->haw_mask)) {
		fault(res, FR_SM_ROOT_RSVD, false, 0);
		return false;
	}
	if (!read_entry(emu, (half & ~0xfffull) + (devfn & 0x7fu) * 32u, ce,
			4, use_cache)) {
		fault(res, FR_SM_CTX_ACCESS, false, 0);
		return false;
	}
	fpd = (ce[0] >> 1) & 1;
	if (!(ce[0] & 1)) {
		fault(res, FR_SM_CTX_P, fpd, EMU_NP_CTX);
		return false;
	}
	/* QEMU's masks for qw0/qw1; qw2 and qw3 are reserved (§9.4). */
	if ((ce[0] & (0x1e0ull | ~be->haw_mask)) ||
	    (ce[1] & 0xffffffffffe00000ull) || ce[2] || ce[3]) {
		fault(res, FR_SM_CTX_RSVD, fpd, 0);
		return false;
	}
	if ((ce[0] & 4) && !(emu->ecap & BE_ECAP_DT)) {
		fault(res, FR_SM_CTX_INV, fpd, 0);
		return false;
	}
	*q0 = ce[0];
	*q1 = ce[1];
	if (use_cache)
		emu_ctx_fill(emu, rq->sid, ce[0], ce[1], g);
	return true;
}

static void pasid_decode(uint64_t v0, uint64_t v1, struct emu_xctx *x)
{
	x->table = v0 & ~0xfffull;
	x->kind = (uint8_t)(v0 & 3);
	x->levels = (uint8_t)((v0 >> 2) & 7);
	x->fpd = (uint8_t)((v0 >> 5) & 1);
	x->did = (uint16_t)v1;
	x->width = (uint8_t)(v1 >> 16);
}

static bool sm_context(struct vtdemu *emu, uint64_t rta,
		       const struct emu_req *rq, struct emu_xctx *x,
		       struct emu_xres *res, bool use_cache,
		       const struct emu_gens *g)
{
	struct emu_backend *be = emu_be(emu);
	uint64_t q0, q1, v0, v1, de, pe[3], dir_entries;
	uint32_t pasid;
	unsigned int pgtt, aw, width = 0;
	bool fpd;

	if (!sm_context_entry(emu, rta, rq, &q0, &q1, res, use_cache, g))
		return false;
	fpd = (q0 >> 1) & 1;
	/* §9.4: requests with PASID need PASIDE; translation requests DTE. */
	if (rq->pasid != VTDEMU_NO_PASID && !(q0 & 8)) {
		fault(res, FR_SM_CTX_PASIDE, fpd, 0);
		return false;
	}
	if (rq->treq && !(q0 & 4)) {
		fault(res, FR_SM_CTX_DTE, fpd, 0);
		return false;
	}
	/* Requests without PASID use the context's RID_PASID (§9.4). */
	pasid = rq->pasid == VTDEMU_NO_PASID ? (uint32_t)(q1 & 0xfffff)
					      : rq->pasid & 0xfffff;
	dir_entries = 1ull << (((q0 >> 9) & 7) + 7);
	if ((pasid >> 6) >= dir_entries) {
		fault(res, rq->pasid == VTDEMU_NO_PASID ? FR_SM_RID_PASID
						       : FR_SM_PASID_MAX,
		      fpd, 0);
		return false;
	}
	x->pasid = pasid;
	x->treq_ok = (q0 >> 2) & 1;

	if (use_cache && emu_pasid_lookup(emu, rq->sid, pasid, &v0, &v1)) {
		pasid_decode(v0, v1, x);
		x->fpd |= fpd;
		res->source = VTDEMU_CACHE_PASID;
		return true;
	}
	if (!read_entry(emu, (q0 & ~0xfffull) + (uint64_t)(pasid >> 6) * 8,
			&de, 1, use_cache)) {
		fault(res, FR_SM_PDIR_ACCESS, fpd, 0);
		return false;
	}
	fpd |= (de >> 1) & 1;
	if (!(de & 1)) {
		fault(res, FR_SM_PDIR_P, fpd, EMU_NP_PASID);
		return false;
	}
	if (de & (0xffcull | ~be->haw_mask)) {
		fault(res, FR_SM_PDIR_RSVD, fpd, 0);
		return false;
	}
	if (!read_entry(emu, (de & ~0xfffull) + (pasid & 0x3fu) * 64u, pe, 3,
			use_cache)) {
		fault(res, FR_SM_PTE_ACCESS, fpd, 0);
		return false;
	}
	fpd |= (pe[0] >> 1) & 1;
	if (!(pe[0] & 1)) {
		fault(res, FR_SM_PASID_P, fpd, EMU_NP_PASID);
		return false;
	}
	pgtt = (unsigned int)(pe[0] >> 6) & 7;
	aw = (unsigned int)(pe[0] >> 2) & 7;
	/* Reserved (§9.6): qw1 bits 22:16, qw2 bits 11:8, and the pointer of
	 * the stage in use above HAW. Fields this model does not use
	 * (memory types, qw3-qw7) are not checked. DID bits beyond CAP.ND's
	 * width are reserved (§9.6). */
	if ((pe[1] & 0x7f0000ull) || (pe[2] & 0xf00ull) ||
	    ((uint16_t)pe[1] & be->did_rsvd) ||
	    (pgtt == 2 && (pe[0] & ~be->haw_mask)) ||
	    (pgtt == 1 && (pe[2] & ~be->haw_mask))) {
		fault(res, FR_SM_PASID_RSVD, fpd, 0);
		return false;
	}
	switch (pgtt) {
	case 1: /* first stage only: needs ECAP.FLTS; FLPM 0 4-level,
		 * 1 5-level (CAP.FL5LP) */
		if (!(emu->ecap & BE_ECAP_FLTS) || ((pe[2] >> 2) & 3) > 1 ||
		    (((pe[2] >> 2) & 3) == 1 && !(emu->cap & BE_CAP_FL5LP)))
			goto invalid;
		x->kind = EMU_XK_FS;
		x->levels = (uint8_t)(4 + ((pe[2] >> 2) & 3));
		x->table = pe[2] & ~0xfffull & be->haw_mask;
		break;
	case 2: /* second stage only: ECAP.SLTS and a SAGAW width */
		if (!(emu->ecap & BE_ECAP_SLTS) || aw < 1 || aw > 3 ||
		    !(BE_CAP_SAGAW(emu->cap) & (1u << aw)))
			goto invalid;
		x->kind = EMU_XK_SS;
		x->levels = (uint8_t)(aw + 2);
		x->table = pe[0] & ~0xfffull & be->haw_mask;
		width = 30 + 9 * aw;
		if (width > be->mgaw)
			width = be->mgaw;
		break;
	case 4: /* pass-through: ECAP.PT */
		if (!(emu->ecap & BE_ECAP_PT))
			goto invalid;
		x->kind = EMU_XK_PT;
		x->levels = 0;
		x->table = 0;
		break;
	default: /* nested (3) is not modelled; others are reserved */
		goto invalid;
	}
	x->did = (uint16_t)pe[1];
	x->fpd = fpd;
	x->width = (uint8_t)width;
	if (use_cache) {
		/* The context's FPD is added at lookup (it is not part of
		 * the PASID entry); the directory's and the entry's are. */
		uint64_t pfpd = ((pe[0] | de) >> 1) & 1;

		emu_pasid_fill(emu, rq->sid, pasid,
			       x->table | x->kind | ((uint64_t)x->levels << 2) |
				       (pfpd << 5),
			       x->did | ((uint64_t)width << 16), g);
	}
	return true;
invalid:
	fault(res, FR_SM_PASID_INV, fpd, 0);
	return false;
}

/* ------------------------------------------------------------------------
 * Page tables
 */

/* Second-stage reserved bits (§9.8; QEMU VTD_SPTE_*_RSVD_MASK as floor). */
static bool ss_reserved(struct vtdemu *emu, uint64_t e, unsigned int level,
			bool leaf, bool sm)
{
	struct emu_backend *be = emu_be(emu);
	uint64_t rsvd = ~(be->haw_mask | SS_IGN);

	if (leaf && level > 1) {
		/* A superpage leaf only where CAP.SLLPS says so (bit 0
		 * 2 MiB, bit 1 1 GiB); PS above 1 GiB is always reserved. */
		if (level > 3 || !(BE_CAP_SLLPS(emu->cap) & (1u << (level - 2))))
			return true;
		rsvd |= level == 2 ? 0x1ff000ull : 0x3ffff000ull;
	}
	/* TM (bit 62) exists in leaves of units with device TLBs. */
	if (leaf && (emu->ecap & BE_ECAP_DT))
		rsvd &= ~SS_TM;
	/* SNP only in leaves, and only in scalable mode or with ECAP.SC. */
	if (!leaf || !(sm || (emu->ecap & BE_ECAP_SC)))
		rsvd |= SS_SNP;
	return (e & rsvd) != 0;
}

/* First-stage reserved bits (x86-64 paging, §9.7; QEMU VTD_FPTE_*). */
static bool fs_reserved(struct vtdemu *emu, uint64_t e, unsigned int level,
			bool leaf)
{
	struct emu_backend *be = emu_be(emu);
	uint64_t rsvd = ~(be->haw_mask | FS_IGN);

	if (leaf && level > 1) {
		if (level > 3 || (level == 3 && !(emu->cap & BE_CAP_FL1GP)))
			return true;
		/* Bit 12 is PAT in a large leaf; the bits up to the page
		 * size are reserved. */
		rsvd |= level == 2 ? 0x1fe000ull : 0x3fffe000ull;
	}
	return (e & rsvd) != 0;
}

static void walk_pages(struct vtdemu *emu, const struct emu_req *rq,
		       const struct emu_xctx *x, struct emu_xres *res,
		       bool use_cache, const struct emu_gens *g, bool sm)
{
	struct emu_backend *be = emu_be(emu);
	const bool fs = x->kind == EMU_XK_FS;
	const unsigned int top = x->levels;
	uint64_t iova = rq->iova, table = x->table, e, frame, size;
	unsigned int level = top, perm = 3, p, l, kind;
	bool pwc = use_cache && be->pwc_enabled, pwc_used = false, leaf;

	if (fs) {
		/* §3.6: first-stage input addresses must be canonical: bits
		 * 63:47 (63:56 with 5 levels) all equal. */
		unsigned int vbits = level_shift(top) + 9;
		int64_t sx = (int64_t)(iova << (64 - vbits)) >> (64 - vbits);

		if ((uint64_t)sx != iova) {
			fault(res, FR_SM_NONCANON, x->fpd, 0);
			return;
		}
	} else if (x->width < 64 && (iova >> x->width)) {
		/* §3.7: beyond the context's AW (or MGAW) */
		fault(res, sm ? FR_SM_ADDR_WIDTH : FR_ADDR_WIDTH, x->fpd, 0);
		return;
	}

	if (use_cache) {
		if (emu_iotlb_lookup(emu, x->did, x->pasid, iova, &frame, &p,
				     &l, &kind) &&
		    !(rq->access & ~p)) {
			/* A cached leaf with too little permission is not
			 * used: the unit walks again (a permission upgrade
			 * then needs no invalidation). */
			EMU_STAT_ADD(emu, cache_hits[VTDEMU_CACHE_IOTLB], 1);
			size = 1ull << level_shift(l);
			res->pa = frame | (iova & (size - 1));
			res->perm = (uint8_t)p;
			res->level = (uint8_t)l;
			res->source = VTDEMU_CACHE_IOTLB;
			return;
		}
		EMU_STAT_ADD(emu, cache_misses[VTDEMU_CACHE_IOTLB], 1);
		EMU_STAT_ADD(emu, walks, 1);
		if (pwc) {
			/* The lowest cached non-leaf entry skips the most
			 * reads. */
			for (l = 2; l <= top; l++) {
				uint64_t next;

				if (emu_pwc_lookup(emu, x->did, x->pasid, iova,
						   l, &next, &p)) {
					table = next;
					level = l - 1;
					perm = p;
					pwc_used = true;
					break;
				}
			}
			if (pwc_used)
				EMU_STAT_ADD(emu,
					     cache_hits[VTDEMU_CACHE_PWC], 1);
			else
				EMU_STAT_ADD(emu,
					     cache_misses[VTDEMU_CACHE_PWC], 1);
		}
	}
	if (pwc_used)
		res->source = VTDEMU_CACHE_PWC;

	for (;;) {
		uint64_t addr = table + ((iova >> level_shift(level)) & 0x1ff) * 8;

		if (!read_entry(emu, addr, &e, 1, use_cache)) {
			/* A table pointer to nowhere: the root one is an
			 * invalid table pointer in scalable mode. */
			uint8_t fr = fs ? (level == top ? FR_SM_FSPTPTR
							: FR_SM_FS_ACCESS)
				     : !sm ? FR_PTE_ACCESS
				     : level == top ? FR_SM_SSPTPTR
						    : FR_SM_SS_ACCESS;
			fault(res, fr, x->fpd, 0);
			return;
		}
		if (fs) {
			if (!(e & FS_P)) {
				/* CM=1 not-present caching is defined for the
				 * second stage only (§6.1). */
				fault(res, FR_SM_FS_P, x->fpd, 0);
				return;
			}
			leaf = level == 1 || (e & FS_PS);
			if (fs_reserved(emu, e, level, leaf)) {
				fault(res, FR_SM_FS_RSVD, x->fpd, 0);
				return;
			}
			/* Requests are user-privileged (no supervisor
			 * requests are modelled): U/S must be 1 at every
			 * level (§3.6.2). */
			if (!(e & FS_US)) {
				fault(res, FR_SM_FS_US, x->fpd, 0);
				return;
			}
			if (!(e & FS_RW))
				perm &= ~(unsigned int)VTDEMU_ACCESS_WRITE;
		} else {
			/* No present bit: an entry is present iff R|W
			 * (§9.8); a not-present one fails as the access. */
			if (!(e & (SS_R | SS_W))) {
				bool w = rq->access & VTDEMU_ACCESS_WRITE;

				fault(res,
				      sm ? (w ? FR_SM_WRITE : FR_SM_READ)
					 : (w ? FR_WRITE : FR_READ),
				      x->fpd, EMU_NP_PAGE);
				return;
			}
			leaf = level == 1 || (e & SS_PS);
			if (ss_reserved(emu, e, level, leaf, sm)) {
				fault(res, sm ? FR_SM_SS_RSVD : FR_PTE_RSVD,
				      x->fpd, 0);
				return;
			}
			perm &= (unsigned int)(e & 3);
		}
		if (leaf)
			break;
		table = e & ADDR_MASK & be->haw_mask;
		if (pwc)
			emu_pwc_fill(emu, x->did, x->pasid, iova, level, table,
				     perm, x->kind, g);
		level--;
	}

	/* Permissions are the AND over the levels (§3.6, §3.7). */
	if ((rq->access & VTDEMU_ACCESS_WRITE) && !(perm & 2)) {
		fault(res, (sm || fs) ? FR_SM_WRITE : FR_WRITE, x->fpd, 0);
		return;
	}
	if ((rq->access & VTDEMU_ACCESS_READ) && !(perm & 1)) {
		fault(res, sm ? FR_SM_READ : FR_READ, x->fpd, 0);
		return;
	}
	size = 1ull << level_shift(level);
	frame = e & ADDR_MASK & be->haw_mask & ~(size - 1);
	res->pa = frame | (iova & (size - 1));
	res->perm = (uint8_t)perm;
	res->level = (uint8_t)level;
	if (use_cache)
		emu_iotlb_fill(emu, x->did, x->pasid, iova, frame, perm, level,
			       x->kind, g);
}

void emu_unit_translate(struct vtdemu *emu, const struct emu_req *rq,
			struct emu_xres *res, bool use_cache,
			const struct emu_gens *g)
{
	struct emu_backend *be = emu_be(emu);
	uint64_t rt = __atomic_load_n(&emu->root_table, __ATOMIC_ACQUIRE);
	unsigned int ttm = (unsigned int)(rt >> 10) & 3;
	uint64_t rta = rt & ~0xfffull;
	struct emu_xctx x;
	bool sm = ttm == EMU_TTM_SCALABLE, ok;

	memset(res, 0, sizeof(*res));
	memset(&x, 0, sizeof(x));
	res->source = EMU_SRC_NONE;
	res->pasid = rq->pasid;
	/* §11.4.6: TTM 10b/11b (or scalable mode without ECAP.SMTS) is no
	 * translation the unit can do. */
	if (ttm > EMU_TTM_SCALABLE || (sm && !(emu->ecap & BE_ECAP_SMTS))) {
		fault(res, FR_SM_RTADDR, false, 0);
		return;
	}
	/* Legacy mode has no requests with PASID. */
	if (!sm && rq->pasid != VTDEMU_NO_PASID) {
		fault(res, FR_SM_PASID_TTM0, false, 0);
		return;
	}
	if (use_cache && be->np_enabled && emu_np_lookup(emu, rq, res))
		return;

	ok = sm ? sm_context(emu, rta, rq, &x, res, use_cache, g)
		: legacy_context(emu, rta, rq, &x, res, use_cache, g);
	if (ok) {
		res->ctx_ok = 1;
		res->did = x.did;
		res->pasid = x.pasid;
		res->kind = x.kind;
		if (x.kind == EMU_XK_PT) {
			res->pa = rq->iova;
			res->perm = 3;
			res->level = 0;
			return;
		}
		walk_pages(emu, rq, &x, res, use_cache, g, sm);
	} else if (res->np == EMU_NP_PASID) {
		res->pasid = x.pasid;
	}
	if (res->fault && use_cache && be->np_enabled && res->np &&
	    (res->np != EMU_NP_PAGE || x.kind == EMU_XK_SS)) {
		if (res->np != EMU_NP_PAGE)
			res->did = 0;
		emu_np_fill(emu, rq, res, g);
	}
}

/* ------------------------------------------------------------------------
 * Hypervisor shadowing cost (CAP.CM=1): leaves reachable in a domain.
 */

struct table_set {
	uint64_t root[64];
	uint8_t levels[64], fs[64];
	unsigned int n;
};

static void set_add(struct table_set *ts, uint64_t root, unsigned int levels,
		    bool fs)
{
	unsigned int i;

	for (i = 0; i < ts->n; i++)
		if (ts->root[i] == root)
			return;
	if (ts->n < 64) {
		ts->root[ts->n] = root;
		ts->levels[ts->n] = (uint8_t)levels;
		ts->fs[ts->n] = fs;
		ts->n++;
	}
}

/* Leaves below (table, level >= 2), each counted once per walk: a table
 * reachable along many paths (a buggy driver's page that points at itself
 * from every entry has 512^levels of them) then costs one visit per level,
 * not one per path. A full memo only stops remembering. */
#define LEAF_MEMO 1024u

struct leaf_memo {
	uint64_t key[LEAF_MEMO];   /* table | fs << 3 | level; 0 = empty */
	uint64_t val[LEAF_MEMO];
};

static uint64_t *memo_slot(struct leaf_memo *m, uint64_t key, bool *found)
{
	uint32_t i = (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 54), k;

	for (k = 0; k < 16; k++, i = (i + 1) & (LEAF_MEMO - 1)) {
		if (m->key[i] == key || m->key[i] == 0) {
			*found = m->key[i] == key;
			m->key[i] = key;
			return &m->val[i];
		}
	}
	*found = false;
	return NULL;
}

static uint64_t count_leaves(struct vtdemu *emu, struct leaf_memo *m,
			     uint64_t table, unsigned int level, bool fs)
{
	uint64_t *t = emu_mem(emu, table, 4096), n = 0, e, *memo = NULL;
	unsigned int i;
	bool found;

	/* A garbage AW/FLPM must not turn a table cycle into a long walk. */
	if (!t || level == 0 || level > 5)
		return 0;
	if (level >= 2) {
		memo = memo_slot(m, table | ((uint64_t)fs << 3) | level,
				 &found);
		if (memo && found)
			return *memo;
	}
	for (i = 0; i < 512; i++) {
		e = __atomic_load_n(&t[i], __ATOMIC_RELAXED);
		if (fs ? !(e & FS_P) : !(e & (SS_R | SS_W)))
			continue;
		if (level == 1 || (e & SS_PS))
			n++;
		else
			n += count_leaves(emu, m, e & ADDR_MASK, level - 1,
					  fs);
	}
	if (memo)
		*memo = n;
	return n;
}

static void scan_pasids(struct vtdemu *emu, const uint64_t ce[2],
			bool all_dids, uint16_t did, uint32_t pasid,
			struct table_set *ts)
{
	uint64_t dir = ce[0] & ~0xfffull, entries, i;
	unsigned int j;

	entries = 1ull << (((ce[0] >> 9) & 7) + 7);
	for (i = 0; i < entries; i++) {
		uint64_t *de = emu_mem(emu, dir + i * 8, 8), d, *pt;

		if (!de)
			return;
		d = __atomic_load_n(de, __ATOMIC_RELAXED);
		if (!(d & 1))
			continue;
		pt = emu_mem(emu, d & ~0xfffull, 4096);
		if (!pt)
			continue;
		for (j = 0; j < 64; j++) {
			uint64_t p0 = __atomic_load_n(&pt[j * 8], __ATOMIC_RELAXED);
			uint64_t p1 = __atomic_load_n(&pt[j * 8 + 1],
						      __ATOMIC_RELAXED);
			uint64_t p2 = __atomic_load_n(&pt[j * 8 + 2],
						      __ATOMIC_RELAXED);
			unsigned int pgtt = (unsigned int)(p0 >> 6) & 7;

			if (!(p0 & 1) || (!all_dids && (uint16_t)p1 != did))
				continue;
			if (pasid != VTDEMU_NO_PASID &&
			    (uint32_t)(i * 64 + j) != pasid)
				continue;
			if (pgtt == 2)
				set_add(ts, p0 & ~0xfffull,
					((p0 >> 2) & 7) + 2, false);
			else if (pgtt == 1)
				set_add(ts, p2 & ~0xfffull,
					4 + ((p2 >> 2) & 3), true);
		}
	}
}

uint64_t emu_count_domain_leaves(struct vtdemu *emu, bool all_dids,
				 uint16_t did, uint32_t pasid)
{
	uint64_t rt = __atomic_load_n(&emu->root_table, __ATOMIC_ACQUIRE);
	bool sm = ((rt >> 10) & 3) == EMU_TTM_SCALABLE;
	uint64_t *root = emu_mem(emu, rt & ~0xfffull, 4096), n = 0;
	struct table_set ts;
	struct leaf_memo *memo;
	unsigned int bus, h, d;

	if (!root)
		return 0;
	ts.n = 0;
	for (bus = 0; bus < 256; bus++) {
		for (h = 0; h < (sm ? 2u : 1u); h++) {
			uint64_t re = __atomic_load_n(&root[bus * 2 + h],
						      __ATOMIC_RELAXED);
			uint64_t *ct;

			if (!(re & 1))
				continue;
			ct = emu_mem(emu, re & ~0xfffull, 4096);
			if (!ct)
				continue;
			for (d = 0; d < (sm ? 128u : 256u); d++) {
				uint64_t ce[2];
				unsigned int stride = sm ? 4 : 2;

				ce[0] = __atomic_load_n(&ct[d * stride],
							__ATOMIC_RELAXED);
				ce[1] = __atomic_load_n(&ct[d * stride + 1],
							__ATOMIC_RELAXED);
				if (!(ce[0] & 1))
					continue;
				if (sm) {
					scan_pasids(emu, ce, all_dids, did,
						    pasid, &ts);
					continue;
				}
				if ((!all_dids && (uint16_t)(ce[1] >> 8) != did) ||
				    ((ce[0] >> 2) & 3) == 2)
					continue;
				set_add(&ts, ce[0] & ~0xfffull,
					(ce[1] & 7) + 2, false);
			}
		}
	}
	memo = calloc(1, sizeof(*memo));
	if (!memo)
		return 0; /* the cost model only: no shadow cost charged */
	for (h = 0; h < ts.n; h++)
		n += count_leaves(emu, memo, ts.root[h], ts.levels[h],
				  ts.fs[h]);
	free(memo);
	return n;
}
