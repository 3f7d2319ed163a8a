/* SPDX-License-Identifier: BSD-3-Clause
 * Domains: their shape (kind, width, levels, leaf sizes, flush needs), their
 * domain ids on each unit, attach and detach.
 *
 * A domain is shaped once, by the unit it is created on, and never changes:
 * whether maps need a flush (CAP.CM with second-stage tables, or CAP.RWBF:
 * Linux cee686775f9c), whether table writes need cache-line flushes (walks
 * not coherent), which leaf sizes it uses. Attaching it to a unit that
 * needs more than that is refused, so the map path never looks at units.
 *
 * Attach (VT-d spec §6.5.3.1, §9.3/§9.4/§9.6; Linux
 * domain_context_mapping_one, context_present_cache_flush,
 * pasid_flush_caches):
 *   legacy    context entry, high qword then low (P last); then, because
 *             under CAP.CM the unit may cache the not-present entry tagged
 *             with domain id 0 (§6.1): device-selective context-cache
 *             invalidation with DID 0, and a domain-selective IOTLB
 *             invalidation of the new DID. Without CM nothing not-present
 *             is cached: only the write-buffer flush (CAP.RWBF, §6.8).
 *   scalable  PASID-table entry (qwords 1..7, then 0 with P), context entry
 *             (when the device had none) pointing at the PASID directory;
 *             under CM: device-selective context-cache invalidation with
 *             DID 0 (when the context entry is new), PASID-selective
 *             PASID-cache invalidation, and the IOTLB of the DID
 *             (domain-selective for second stage, PASID-selective
 *             PASID-IOTLB for first stage and pass-through); else WBF.
 * Detach (§6.5.3.3; Linux intel_context_flush_no_pasid,
 * intel_pasid_tear_down_entry):
 *   legacy    clear the context entry (P first); device-selective
 *             context-cache invalidation with the old DID, domain-selective
 *             IOTLB, device-TLB (whole space) for ATS endpoints.
 *   scalable  clear the PASID entry's P; PASID-selective PASID-cache,
 *             IOTLB (DSI) or PASID-IOTLB (PASID-selective), device-TLB;
 *             then the rest of the entry. When the device has no PASID
 *             entry left: clear its context entry, device-selective
 *             context-cache invalidation, free its PASID tables.
 * Every invalidation goes through vtd_inv_sync (queued or register-based)
 * and has completed when attach or detach returns. The domain id is freed
 * after the last detach on the unit, once its invalidations completed.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <rte_atomic.h>
#include <rte_malloc.h>
#include <rte_pause.h>

#include "vtd_tables.h"

/* "Everything" for a device-TLB invalidation: S=1 with ADDR[62:12] all
 * ones (the size is given by the lowest zero bit: bit 63, 2^64 bytes). */
#define DEVTLB_ALL_ADDR 0x7ffffffffffff000ull

void vtd_domain_params_init(struct vtd_domain_params *p)
{
	memset(p, 0, sizeof(*p));
	p->kind = VTD_DOMAIN_SECOND_STAGE;
	p->superpages = true;
}

static const char *kind_str(enum vtd_domain_kind k)
{
	switch (k) {
	case VTD_DOMAIN_SECOND_STAGE: return "second-stage";
	case VTD_DOMAIN_FIRST_STAGE: return "first-stage";
	case VTD_DOMAIN_PASSTHROUGH: return "pass-through";
	}
	return "?";
}

/* Largest AGAW the unit's SAGAW supports (1..3), or 0. */
static unsigned int sagaw_max(uint64_t cap)
{
	uint64_t s = VTD_CAP_SAGAW(cap);

	for (unsigned int a = VTD_AGAW_57; a >= VTD_AGAW_39; a--)
		if (s & (1u << a))
			return a;
	return 0;
}

/* Whether a domain of this shape can run on unit u; the reason in why. */
static int domain_fits(const struct vtd_domain *d, const struct vtd_unit *u,
		       char *why, size_t len)
{
	uint64_t cap = u->cap, ecap = u->ecap;
	bool needs_flush;

	switch (d->kind) {
	case VTD_DOMAIN_SECOND_STAGE:
		if (u->scalable && !(ecap & VTD_ECAP_SLTS)) {
			snprintf(why, len,
				 "the unit runs scalable mode without "
				 "second-stage translation (ECAP.SLTS=0)");
			return -EINVAL;
		}
		if (!(VTD_CAP_SAGAW(cap) & (1u << (d->levels - 2)))) {
			snprintf(why, len, "%u-level tables not in CAP.SAGAW "
				 "0x%x", d->levels,
				 (unsigned int)VTD_CAP_SAGAW(cap));
			return -EINVAL;
		}
		if (d->width > VTD_CAP_MGAW(cap)) {
			snprintf(why, len, "%u-bit domain wider than CAP.MGAW %u",
				 d->width, (unsigned int)VTD_CAP_MGAW(cap));
			return -EINVAL;
		}
		if (d->max_leaf_level >= 2 && !(VTD_CAP_SLLPS(cap) & 1)) {
			snprintf(why, len, "the domain uses 2 MiB leaves, "
				 "CAP.SLLPS has none");
			return -EINVAL;
		}
		if (d->max_leaf_level >= 3 && !(VTD_CAP_SLLPS(cap) & 2)) {
			snprintf(why, len, "the domain uses 1 GiB leaves, "
				 "CAP.SLLPS has none");
			return -EINVAL;
		}
		break;
	case VTD_DOMAIN_FIRST_STAGE:
		if (!u->scalable || !(ecap & VTD_ECAP_FLTS)) {
			snprintf(why, len, "first-stage tables need scalable "
				 "mode with ECAP.FLTS");
			return -EINVAL;
		}
		if (d->levels == 5 && !(cap & VTD_CAP_FL5LP)) {
			snprintf(why, len, "5-level first-stage tables need "
				 "CAP.FL5LP");
			return -EINVAL;
		}
		if (d->max_leaf_level >= 3 && !(cap & VTD_CAP_FL1GP)) {
			snprintf(why, len, "the domain uses 1 GiB first-stage "
				 "leaves, CAP.FL1GP=0");
			return -EINVAL;
		}
		break;
	case VTD_DOMAIN_PASSTHROUGH:
		if (!(ecap & VTD_ECAP_PT)) {
			snprintf(why, len, "pass-through needs ECAP.PT");
			return -EINVAL;
		}
		break;
	}
	if (d->snoop && !(ecap & VTD_ECAP_SC)) {
		snprintf(why, len, "the domain forces snooping, ECAP.SC=0");
		return -EINVAL;
	}
	if (d->phys_limit > (1ull << u->haw)) {
		snprintf(why, len,
			 "the domain's tables and pages may lie above "
			 "the unit's %u-bit host address width",
			 u->haw);
		return -EINVAL;
	}
	needs_flush =
		(cap & VTD_CAP_RWBF) ||
		((cap & VTD_CAP_CM) && d->kind == VTD_DOMAIN_SECOND_STAGE);
	if (needs_flush && !d->map_flush) {
		snprintf(why, len, "the unit needs a flush after every map "
			 "(CAP.CM=%d, CAP.RWBF=%d) and the domain was created "
			 "without it", (cap & VTD_CAP_CM) != 0,
			 (cap & VTD_CAP_RWBF) != 0);
		return -EINVAL;
	}
	if (!u->coherent && !d->clflush && d->kind != VTD_DOMAIN_PASSTHROUGH) {
		snprintf(why, len, "the unit's table walks do not snoop "
			 "(ECAP.%s=0) and the domain was created for a "
			 "coherent unit", u->scalable ? "C or ECAP.SMPWC" : "C");
		return -EINVAL;
	}
	return 0;
}

int vtd_domain_create(struct vtd_unit *u, const struct vtd_domain_params *p,
		      struct vtd_domain **out)
{
	struct vtd_domain_params defp;
	struct vtd_domain *d;
	uint64_t cap, ecap;
	unsigned int req;
	char why[160];
	int rc;

	if (u == NULL || out == NULL) {
		VTD_LOG(ERR, u, "domain create: NULL %s", u ? "out" : "unit");
		return -EINVAL;
	}
	*out = NULL;
	if (p == NULL) {
		vtd_domain_params_init(&defp);
		p = &defp;
	}
	cap = u->cap;
	ecap = u->ecap;
	req = p->addr_width;
	if (req != 0 && req != 39 && req != 48 && req != 57) {
		VTD_LOG(ERR, u, "domain: address width %u: use 39, 48, 57 or 0",
			req);
		return -EINVAL;
	}
	if (p->snoop && !(ecap & VTD_ECAP_SC)) {
		VTD_LOG(ERR, u, "domain: snooping asked, the unit has no snoop "
			"control (ECAP.SC=0)");
		return -ENOTSUP;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	d->unit = u;
	d->pool = u->pt_pool;
	d->kind = p->kind;
	d->snoop = p->snoop;
	d->clflush = !u->coherent;
	d->map_flush =
		(cap & VTD_CAP_RWBF) ||
		((cap & VTD_CAP_CM) && p->kind == VTD_DOMAIN_SECOND_STAGE);
	d->max_leaf_level = 1;
	d->phys_limit = 1ull << u->haw;
	uvtd_lock_init(&d->att_lock);

	switch (p->kind) {
	case VTD_DOMAIN_SECOND_STAGE: {
		unsigned int mgaw = (unsigned int)VTD_CAP_MGAW(cap);
		unsigned int agaw = 0;

		if (u->scalable && !(ecap & VTD_ECAP_SLTS)) {
			VTD_LOG(ERR, u,
				"domain: no second-stage translation in "
				"scalable mode (ECAP.SLTS=0)");
			rc = -ENOTSUP;
			goto fail;
		}
		if (req == 0)
			req = RTE_MIN(mgaw, VTD_AGAW_WIDTH(sagaw_max(cap)));
		if (req > mgaw) {
			VTD_LOG(ERR, u,
				"domain: %u-bit width beyond CAP.MGAW %u", req,
				mgaw);
			rc = -ENOTSUP;
			goto fail;
		}
		/* The smallest table (SAGAW) that covers the width. */
		for (unsigned int a = VTD_AGAW_39; a <= VTD_AGAW_57; a++)
			if ((VTD_CAP_SAGAW(cap) & (1u << a)) &&
			    VTD_AGAW_WIDTH(a) >= req) {
				agaw = a;
				break;
			}
		if (agaw == 0) {
			VTD_LOG(ERR, u,
				"domain: no table size in CAP.SAGAW 0x%x "
				"covers %u bits",
				(unsigned int)VTD_CAP_SAGAW(cap), req);
			rc = -ENOTSUP;
			goto fail;
		}
		d->width = req;
		d->levels = VTD_AGAW_LEVELS(agaw);
		d->aw = agaw;
		if (p->superpages && (VTD_CAP_SLLPS(cap) & 1))
			d->max_leaf_level = (VTD_CAP_SLLPS(cap) & 2) ? 3 : 2;
		break;
	}
	case VTD_DOMAIN_FIRST_STAGE: {
		bool l5 = (cap & VTD_CAP_FL5LP) != 0;
		unsigned int a;

		if (!u->scalable || !(ecap & VTD_ECAP_FLTS)) {
			VTD_LOG(ERR, u,
				"domain: first-stage tables need scalable "
				"mode and ECAP.FLTS (unit: %s mode, FLTS=%d)",
				u->scalable ? "scalable" : "legacy",
				(ecap & VTD_ECAP_FLTS) != 0);
			rc = -ENOTSUP;
			goto fail;
		}
		if (req == 57 && !l5) {
			VTD_LOG(ERR, u,
				"domain: 57-bit first stage needs 5-level "
				"paging (CAP.FL5LP=0)");
			rc = -ENOTSUP;
			goto fail;
		}
		if (req == 0)
			req = l5 ? 57 : 48;
		d->levels = req > 48 ? 5 : 4;
		/* Canonical addresses: the lower half of the table's space
		 * (Linux's first-stage aperture ends at 2^(width-1)). */
		d->width = RTE_MIN(req, VTD_AGAW_WIDTH(d->levels - 2) - 1);
		a = d->levels - 2;
		d->aw = (VTD_CAP_SAGAW(cap) & (1u << a)) ? a : sagaw_max(cap);
		if (p->superpages)
			d->max_leaf_level = (cap & VTD_CAP_FL1GP) ? 3 : 2;
		break;
	}
	case VTD_DOMAIN_PASSTHROUGH:
		if (!(ecap & VTD_ECAP_PT)) {
			VTD_LOG(ERR, u, "domain: pass-through needs ECAP.PT");
			rc = -ENOTSUP;
			goto fail;
		}
		d->width = (unsigned int)VTD_CAP_MGAW(cap);
		d->aw = sagaw_max(cap);
		d->levels = 0;
		break;
	default:
		VTD_LOG(ERR, u, "domain: unknown kind %d", (int)p->kind);
		rc = -EINVAL;
		goto fail;
	}
	rc = domain_fits(d, u, why, sizeof(why));
	if (rc) {
		VTD_LOG(ERR, u, "domain: %s", why);
		rc = -ENOTSUP;
		goto fail;
	}
	if (d->kind != VTD_DOMAIN_PASSTHROUGH) {
		rc = vtd_pgtable_init(d);
		if (rc)
			goto fail;
	}
	vtd_tables_lock(u);
	u->nr_domains++;
	vtd_tables_unlock(u);
	VTD_LOG(DEBUG, u, "domain %p: %s, %u bits, %u levels, leaves up to "
		"level %u, map flush %d", (void *)d, kind_str(d->kind),
		d->width, d->levels, d->max_leaf_level, d->map_flush);
	*out = d;
	return 0;
fail:
	free(d);
	return rc;
}

int vtd_domain_destroy(struct vtd_domain *d)
{
	struct vtd_unit *u;

	if (d == NULL) {
		VTD_LOG(ERR, (struct vtd_unit *)NULL, "domain destroy: NULL");
		return -EINVAL;
	}
	u = d->unit;
	if (__atomic_load_n(&d->nr_att, __ATOMIC_ACQUIRE)) {
		VTD_LOG(ERR, u, "domain destroy: %u devices still attached",
			d->nr_att);
		return -EBUSY;
	}
	vtd_pgtable_fini(d);
	vtd_tables_lock(u);
	u->nr_domains--;
	vtd_tables_unlock(u);
	free(d);
	return 0;
}

bool vtd_domain_map_flush(const struct vtd_domain *d)
{
	return d->map_flush;
}

unsigned int vtd_domain_width(const struct vtd_domain *d)
{
	return d->width;
}

enum vtd_domain_kind vtd_domain_kind(const struct vtd_domain *d)
{
	return d->kind;
}

/* ---------------------------------------------------------------------------
 * Attachments: written under att_lock with a sequence count, read without
 * a lock (the QI part reads them on every invalidation).
 */
static void att_write_begin(struct vtd_domain *d)
{
	uvtd_lock(&d->att_lock);
	__atomic_store_n(&d->att_seq, d->att_seq + 1, __ATOMIC_RELAXED);
	rte_atomic_thread_fence(__ATOMIC_RELEASE);
}

static void att_write_end(struct vtd_domain *d)
{
	__atomic_store_n(&d->att_seq, d->att_seq + 1, __ATOMIC_RELEASE);
	uvtd_unlock(&d->att_lock);
}

unsigned int vtd_domain_attachments(const struct vtd_domain *d,
				    const struct vtd_unit *unit,
				    struct vtd_domain_attach *out,
				    unsigned int max)
{
	unsigned int n;
	uint32_t s1, s2;

	do {
		s1 = __atomic_load_n(&d->att_seq, __ATOMIC_ACQUIRE);
		if (s1 & 1) {
			rte_pause();
			continue;
		}
		n = 0;
		unsigned int nr = __atomic_load_n(&d->nr_att, __ATOMIC_RELAXED);

		for (unsigned int i = 0; i < nr && i < VTD_DOMAIN_MAX_ATTACH;
		     i++) {
			struct vtd_domain_attach a = d->att[i];

			if (unit != NULL && a.unit != unit)
				continue;
			if (n < max)
				out[n] = a;
			n++;
		}
		rte_atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(&d->att_seq, __ATOMIC_RELAXED);
	} while ((s1 & 1) || s1 != s2);
	return RTE_MIN(n, max);
}

int vtd_domain_id(const struct vtd_domain *d, const struct vtd_unit *u)
{
	struct vtd_domain_attach a;

	if (d == NULL || u == NULL) {
		VTD_LOG(ERR, u, "domain id: NULL %s", d ? "unit" : "domain");
		return -EINVAL;
	}
	if (vtd_domain_attachments(d, u, &a, 1) == 0)
		return -ENOENT;
	return a.did;
}

/* ---------------------------------------------------------------------------
 * Descriptors
 */
static struct vtd_desc desc_iotlb_dsi(const struct vtd_unit *u, uint16_t did)
{
	return vtd_desc_iotlb(VTD_INV_DOMAIN, did, 0, 0, 0,
			      (u->cap & VTD_CAP_DRD) != 0,
			      (u->cap & VTD_CAP_DWD) != 0);
}

/* The IOTLB invalidation for everything a domain cached under did (and
 * pasid): IOTLB DSI for second-stage entries, PASID-IOTLB for first-stage
 * and pass-through ones (a legacy IOTLB invalidation does not reach those
 * in scalable mode). */
static struct vtd_desc desc_domain_iotlb(const struct vtd_unit *u,
					 const struct vtd_domain *d,
					 uint16_t did, uint32_t pasid)
{
	if (u->scalable && d->kind != VTD_DOMAIN_SECOND_STAGE)
		return vtd_desc_piotlb(VTD_PIOTLB_PASID, did, pasid, 0, 0, 0);
	return desc_iotlb_dsi(u, did);
}

static struct vtd_desc desc_devtlb_all(const struct vtd_unit *u,
				       const struct vtd_domain_attach *a,
				       uint32_t pasid)
{
	uint16_t pfsid = (u->ecap & VTD_ECAP_DIT) ? a->sid : 0;
	unsigned int qd = a->ats_qdepth ? a->ats_qdepth : 32;
	/* MIP 0 means the maximum (32 or more outstanding). */
	unsigned int mip = qd >= 32 ? 0 : qd;

	if (pasid == VTD_NO_PASID)
		return vtd_desc_devtlb(a->sid, pfsid, mip, DEVTLB_ALL_ADDR, 1);
	return vtd_desc_pdevtlb(a->sid, pfsid, mip, pasid, 0, DEVTLB_ALL_ADDR,
				1);
}

/* ---------------------------------------------------------------------------
 * Attach
 */
/* Finds an attachment of d on u (and sid, unless sid < 0) and copies it.
 * Other units' attach/detach may reorder d->att: look under att_lock. */
static bool find_att(struct vtd_domain *d, const struct vtd_unit *u, int sid,
		     struct vtd_domain_attach *out)
{
	bool found = false;

	uvtd_lock(&d->att_lock);
	for (unsigned int i = 0; i < d->nr_att; i++)
		if (d->att[i].unit == u && (sid < 0 || d->att[i].sid == sid)) {
			if (out)
				*out = d->att[i];
			found = true;
			break;
		}
	uvtd_unlock(&d->att_lock);
	return found;
}

/* Removes the attachment equal to a (same unit, sid, pasid). */
static void remove_att(struct vtd_domain *d, const struct vtd_domain_attach *a)
{
	att_write_begin(d);
	for (unsigned int i = 0; i < d->nr_att; i++)
		if (d->att[i].unit == a->unit && d->att[i].sid == a->sid &&
		    d->att[i].pasid == a->pasid) {
			d->att[i] = d->att[d->nr_att - 1];
			__atomic_store_n(&d->nr_att, d->nr_att - 1,
					 __ATOMIC_RELEASE);
			break;
		}
	att_write_end(d);
}

static int attach_legacy(struct vtd_domain *d, struct vtd_unit *u,
			 const struct vtd_attach_params *p, uint16_t did)
{
	uint64_t *ctx = vtd_ctx_entry(u, p->sid, true);
	uint64_t lo, hi;
	struct vtd_desc desc[2];
	int rc;

	if (ctx == NULL)
		return -ENOMEM;
	if (vtd_entry_load(&ctx[0]) & VTD_CTX_P) {
		VTD_LOG(ERR, u, "attach %02x:%02x.%u: the device is attached "
			"to domain id %u: detach it first", p->sid >> 8,
			(p->sid >> 3) & 0x1f, p->sid & 7,
			(unsigned int)VTD_CTX_HI_GET_DID(ctx[1]));
		return -EBUSY;
	}
	hi = VTD_CTX_HI_AW(d->aw) | VTD_CTX_HI_DID(did);
	if (d->kind == VTD_DOMAIN_PASSTHROUGH)
		lo = VTD_CTX_TT(VTD_CTX_TT_PT);
	else
		lo = d->root->iova |
		     VTD_CTX_TT(p->ats ? VTD_CTX_TT_DEVTLB : VTD_CTX_TT_MULTI);
	vtd_entry_store(&ctx[1], hi);
	vtd_entry_store(&ctx[0], lo | VTD_CTX_P);
	vtd_flush_cache_range(u, ctx, 16);
	rc = vtd_flush_write_buffer(u);
	if (rc == 0 && (u->cap & VTD_CAP_CM)) {
		desc[0] = vtd_desc_cc(VTD_CC_DEVICE, 0, p->sid, 0);
		desc[1] = desc_iotlb_dsi(u, did);
		rc = vtd_inv_sync(u, desc, 2);
	}
	if (rc) {
		vtd_entry_store(&ctx[0], 0);
		vtd_entry_store(&ctx[1], 0);
		vtd_flush_cache_range(u, ctx, 16);
	}
	return rc;
}

static int attach_scalable(struct vtd_domain *d, struct vtd_unit *u,
			   const struct vtd_attach_params *p, uint16_t did)
{
	uint32_t pasid = p->pasid == VTD_NO_PASID ? VTD_RID_PASID : p->pasid;
	uint64_t *pe, *ctx, q0, q1, q2 = 0;
	unsigned int *npasid;
	struct vtd_desc desc[4];
	unsigned int n = 0;
	bool ctx_new;
	int rc;

	ctx = vtd_ctx_entry(u, p->sid, true);
	pe = vtd_pasid_entry(u, p->sid, pasid, true);
	npasid = vtd_dev_pasid_count(u, p->sid);
	if (ctx == NULL || pe == NULL || npasid == NULL)
		return -ENOMEM;
	if (vtd_entry_load(&pe[0]) & VTD_PTE0_P) {
		VTD_LOG(ERR, u,
			"attach %02x:%02x.%u PASID %u: already attached "
			"(domain id %u): detach it first",
			p->sid >> 8, (p->sid >> 3) & 0x1f, p->sid & 7, pasid,
			(unsigned int)VTD_GET(pe[1], 15, 0));
		return -EBUSY;
	}
	ctx_new = !(vtd_entry_load(&ctx[0]) & VTD_SMCTX_P);
	if (!ctx_new && !!(ctx[0] & VTD_SMCTX_DTE) != p->ats) {
		VTD_LOG(ERR, u, "attach %02x:%02x.%u: ATS %s, but the device's "
			"context entry has DTE=%d from its first attach",
			p->sid >> 8, (p->sid >> 3) & 0x1f, p->sid & 7,
			p->ats ? "on" : "off", !p->ats);
		return -EINVAL;
	}

	/* PASID-table entry (§9.6). */
	q1 = VTD_PTE1_DID(did) | (d->snoop ? VTD_PTE1_PGSNP : 0);
	/* §9.6 PWSNP, §11.4.3 SMPWC: the unit snoops the paging structures
	 * only for entries that ask it to; the driver skips cache-line
	 * flushes on the strength of SMPWC, so ask. */
	if (u->ecap & VTD_ECAP_SMPWC)
		q1 |= VTD_PTE1_PWSNP;
	q0 = VTD_PTE0_AW(d->aw) | VTD_PTE0_P;
	switch (d->kind) {
	case VTD_DOMAIN_SECOND_STAGE:
		q0 |= VTD_PTE0_PGTT(VTD_PGTT_SECOND) | d->root->iova;
		break;
	case VTD_DOMAIN_FIRST_STAGE:
		q0 |= VTD_PTE0_PGTT(VTD_PGTT_FIRST);
		q2 = d->root->iova | VTD_PTE2_FLPM(d->levels == 5 ? 1 : 0);
		break;
	case VTD_DOMAIN_PASSTHROUGH:
		q0 |= VTD_PTE0_PGTT(VTD_PGTT_PT);
		break;
	}
	for (unsigned int i = 3; i < 8; i++)
		vtd_entry_store(&pe[i], 0);
	vtd_entry_store(&pe[2], q2);
	vtd_entry_store(&pe[1], q1);
	vtd_entry_store(&pe[0], q0);
	vtd_flush_cache_range(u, pe, 64);

	if (ctx_new) {
		/* Scalable-mode context entry (§9.4): RID_PASID 0, then the
		 * PASID directory with P. */
		vtd_entry_store(&ctx[3], 0);
		vtd_entry_store(&ctx[2], 0);
		vtd_entry_store(&ctx[1], VTD_SMCTX_RID_PASID(VTD_RID_PASID));
		vtd_entry_store(&ctx[0],
				vtd_pasid_dir_iova(u, p->sid) |
					VTD_SMCTX_PDTS(VTD_PASID_DIR_PDTS) |
					(p->ats ? VTD_SMCTX_DTE : 0) |
					((u->ecap & VTD_ECAP_PASID)
						 ? VTD_SMCTX_PASIDE
						 : 0) |
					VTD_SMCTX_P);
		vtd_flush_cache_range(u, ctx, 32);
	}
	rc = vtd_flush_write_buffer(u);
	if (rc == 0 && (u->cap & VTD_CAP_CM)) {
		if (ctx_new)
			desc[n++] = vtd_desc_cc(VTD_CC_DEVICE, 0, p->sid, 0);
		desc[n++] = vtd_desc_pc(VTD_PC_PASID, did, pasid);
		desc[n++] = desc_domain_iotlb(u, d, did, pasid);
		rc = vtd_inv_sync(u, desc, n);
	}
	if (rc) {
		vtd_entry_store(&pe[0], 0);
		vtd_flush_cache_range(u, pe, 64);
		if (ctx_new) {
			vtd_entry_store(&ctx[0], 0);
			vtd_flush_cache_range(u, ctx, 32);
		}
		return rc;
	}
	(*npasid)++;
	return 0;
}

int vtd_attach(struct vtd_domain *d, struct vtd_unit *u,
	       const struct vtd_attach_params *p)
{
	struct vtd_domain_attach a;
	char why[192];
	int rc, did;
	bool new_did = false;

	if (d == NULL || u == NULL || p == NULL) {
		VTD_LOG(ERR, u, "attach: NULL %s", d == NULL ? "domain" :
			u == NULL ? "unit" : "params");
		return -EINVAL;
	}
	rc = domain_fits(d, u, why, sizeof(why));
	if (rc) {
		VTD_LOG(ERR, u, "attach %02x:%02x.%u: %s domain refused: %s",
			p->sid >> 8, (p->sid >> 3) & 0x1f, p->sid & 7,
			kind_str(d->kind), why);
		return rc;
	}
	if (p->ats && !(u->ecap & VTD_ECAP_DT)) {
		VTD_LOG(ERR, u,
			"attach %02x:%02x.%u: ATS asked, the unit has no "
			"device-TLB support (ECAP.DT=0)",
			p->sid >> 8, (p->sid >> 3) & 0x1f, p->sid & 7);
		return -ENOTSUP;
	}
	if (p->ats && !u->queued) {
		VTD_LOG(ERR, u, "attach: ATS needs queued invalidation "
			"(device-TLB invalidation has no register form)");
		return -ENOTSUP;
	}
	if (p->pasid != VTD_NO_PASID) {
		uint32_t limit = RTE_MIN(VTD_PASID_LIMIT,
					 1u << (VTD_ECAP_PSS(u->ecap) + 1));

		if (!u->scalable || !(u->ecap & VTD_ECAP_PASID)) {
			VTD_LOG(ERR, u, "attach: PASID %u needs scalable mode "
				"with ECAP.PASID", p->pasid);
			return -EINVAL;
		}
		if (p->pasid == VTD_RID_PASID || p->pasid >= limit) {
			VTD_LOG(ERR, u, "attach: PASID %u outside [1, %u) "
				"(0 is RID_PASID, requests without PASID)",
				p->pasid, limit);
			return -EINVAL;
		}
	}

	vtd_tables_lock(u);
	if (__atomic_load_n(&d->nr_att, __ATOMIC_RELAXED) >=
	    VTD_DOMAIN_MAX_ATTACH) {
		vtd_tables_unlock(u);
		VTD_LOG(ERR, u, "attach: the domain has %u attachments already",
			VTD_DOMAIN_MAX_ATTACH);
		return -ENOSPC;
	}
	if (find_att(d, u, -1, &a)) {
		did = a.did;
	} else {
		did = vtd_did_alloc(u);
		if (did < 0) {
			vtd_tables_unlock(u);
			return did;
		}
		new_did = true;
	}
	if (u->scalable)
		rc = attach_scalable(d, u, p, (uint16_t)did);
	else
		rc = attach_legacy(d, u, p, (uint16_t)did);
	if (rc) {
		if (new_did)
			vtd_did_free(u, (uint16_t)did);
		vtd_tables_unlock(u);
		return rc;
	}
	a.unit = u;
	a.did = (uint16_t)did;
	a.sid = p->sid;
	a.ats = p->ats;
	a.ats_qdepth = p->ats_qdepth ? p->ats_qdepth : 32;
	a.pasid = p->pasid;
	att_write_begin(d);
	if (d->nr_att < VTD_DOMAIN_MAX_ATTACH) {
		d->att[d->nr_att] = a;
		__atomic_store_n(&d->nr_att, d->nr_att + 1, __ATOMIC_RELEASE);
	}
	att_write_end(d);
	vtd_tables_unlock(u);
	VTD_LOG(DEBUG, u, "attached %02x:%02x.%u%s to %s domain %p, did %d",
		p->sid >> 8, (p->sid >> 3) & 0x1f, p->sid & 7,
		p->ats ? " (ATS)" : "", kind_str(d->kind), (void *)d, did);
	return 0;
}

/* ---------------------------------------------------------------------------
 * Detach
 */
static int detach_legacy(struct vtd_domain *d, struct vtd_unit *u,
			 const struct vtd_domain_attach *a)
{
	uint64_t *ctx = vtd_ctx_entry(u, a->sid, false);
	struct vtd_desc desc[3];
	unsigned int n = 0;
	int rc;

	RTE_SET_USED(d);
	if (ctx == NULL || !(ctx[0] & VTD_CTX_P) ||
	    VTD_CTX_HI_GET_DID(ctx[1]) != a->did) {
		VTD_LOG(ERR, u, "detach %04x: context entry does not hold "
			"domain id %u", a->sid, a->did);
		return -ENOENT;
	}
	vtd_entry_store(&ctx[0], 0);
	vtd_entry_store(&ctx[1], 0);
	vtd_flush_cache_range(u, ctx, 16);
	rc = vtd_flush_write_buffer(u);
	if (rc)
		return rc;
	desc[n++] = vtd_desc_cc(VTD_CC_DEVICE, a->did, a->sid, 0);
	desc[n++] = desc_iotlb_dsi(u, a->did);
	if (a->ats)
		desc[n++] = desc_devtlb_all(u, a, VTD_NO_PASID);
	return vtd_inv_sync(u, desc, n);
}

static int detach_scalable(struct vtd_domain *d, struct vtd_unit *u,
			   const struct vtd_domain_attach *a)
{
	uint32_t pasid = a->pasid == VTD_NO_PASID ? VTD_RID_PASID : a->pasid;
	uint64_t *pe = vtd_pasid_entry(u, a->sid, pasid, false);
	unsigned int *npasid;
	struct vtd_desc desc[3];
	unsigned int n = 0;
	int rc;

	if (pe == NULL || !(pe[0] & VTD_PTE0_P) ||
	    VTD_GET(pe[1], 15, 0) != a->did) {
		VTD_LOG(ERR, u, "detach %04x PASID %u: entry does not hold "
			"domain id %u", a->sid, pasid, a->did);
		return -ENOENT;
	}
	vtd_entry_store(&pe[0], 0);
	vtd_flush_cache_range(u, pe, 64);
	rc = vtd_flush_write_buffer(u);
	if (rc)
		return rc;
	desc[n++] = vtd_desc_pc(VTD_PC_PASID, a->did, pasid);
	desc[n++] = desc_domain_iotlb(u, d, a->did, pasid);
	if (a->ats)
		desc[n++] = desc_devtlb_all(u, a, a->pasid);
	rc = vtd_inv_sync(u, desc, n);
	if (rc)
		return rc;
	for (unsigned int i = 1; i < 8; i++)
		vtd_entry_store(&pe[i], 0);
	vtd_flush_cache_range(u, pe, 64);

	npasid = vtd_dev_pasid_count(u, a->sid);
	if (npasid && *npasid > 0 && --(*npasid) == 0) {
		uint64_t *ctx = vtd_ctx_entry(u, a->sid, false);

		if (ctx) {
			vtd_entry_store(&ctx[0], 0);
			vtd_entry_store(&ctx[1], 0);
			vtd_flush_cache_range(u, ctx, 32);
			rc = vtd_flush_write_buffer(u);
			if (rc)
				return rc;
			desc[0] = vtd_desc_cc(VTD_CC_DEVICE, a->did, a->sid, 0);
			rc = vtd_inv_sync(u, desc, 1);
			if (rc)
				return rc;
		}
		/* Nothing can reach the PASID tables any more. */
		vtd_dev_release(u, a->sid);
	}
	return 0;
}

int vtd_detach(struct vtd_domain *d, struct vtd_unit *u, uint16_t sid)
{
	struct vtd_domain_attach a;
	int rc = 0, found = 0;

	if (d == NULL || u == NULL) {
		VTD_LOG(ERR, u, "detach: NULL %s", d ? "unit" : "domain");
		return -EINVAL;
	}
	vtd_tables_lock(u);
	while (find_att(d, u, sid, &a)) {
		int r;

		found++;
		r = u->scalable ? detach_scalable(d, u, &a)
				: detach_legacy(d, u, &a);
		if (r && rc == 0)
			rc = r;
		remove_att(d, &a);
		if (!find_att(d, u, -1, NULL)) {
			/* An id whose invalidation failed may still tag
			 * cached entries: never hand it out again. */
			if (r == 0)
				vtd_did_free(u, a.did);
			else
				VTD_LOG(ERR, u, "detach: domain id %u retired "
					"after a failed invalidation", a.did);
		}
	}
	vtd_tables_unlock(u);
	if (!found) {
		VTD_LOG(ERR, u, "detach %02x:%02x.%u: not attached to this "
			"domain on this unit", sid >> 8, (sid >> 3) & 0x1f,
			sid & 7);
		return -ENOENT;
	}
	return rc;
}
