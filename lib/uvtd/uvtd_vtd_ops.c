/* SPDX-License-Identifier: BSD-3-Clause
 * The VT-d driver (drivers/iommu/vtd) behind uvtd_driver.h: a thin adapter.
 * The service above it knows no VT-d bit; the driver below it knows no
 * mempool or telemetry. Names are translated, nothing is decided here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_malloc.h>

#include "vtd.h"
#include "vtd_decode.h"
#include "vtd_dmar.h"
#include "vtdemu.h"

#include "uvtd_internal.h"
#include "uvtd_vtd_ops.h"

struct uvtd_drv_unit {
	struct vtd_unit *unit;
	struct vtdemu *emu;          /* emulated units: for tests' checks */
};

struct uvtd_drv_platform {
	struct vtd_dmar *dmar;
	char sysfs[256];
};

/* ---- platform: the DMAR table ---- */

static int v_platform_open(const char *table, const char *sysfs,
			   struct uvtd_drv_platform **out, unsigned int *nunits)
{
	struct uvtd_drv_platform *p;
	char err[160] = "";
	int rc;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	rc = vtd_dmar_parse_file(table, &p->dmar, err, sizeof(err));
	if (rc) {
		UVTD_LOG(ERR, "DMAR table %s: %s", table ? table :
			 VTD_DMAR_DEFAULT_PATH, err);
		free(p);
		return rc;
	}
	snprintf(p->sysfs, sizeof(p->sysfs), "%s", sysfs ? sysfs : "");
	*nunits = p->dmar->ndrhd;
	*out = p;
	return 0;
}

static void v_platform_close(struct uvtd_drv_platform *p)
{
	vtd_dmar_free(p->dmar);
	free(p);
}

static int v_platform_unit_spec(struct uvtd_drv_platform *p, unsigned int idx,
				struct uvtd_unit_spec *s)
{
	if (idx >= p->dmar->ndrhd)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	s->kind = UVTD_UNIT_REAL;
	s->base = p->dmar->drhd[idx].base;
	s->size = p->dmar->drhd[idx].reg_size;
	snprintf(s->name, sizeof(s->name), "dmar%u", idx);
	return 0;
}

static int v_platform_lookup(struct uvtd_drv_platform *p, const char *pci,
			     unsigned int *unit_idx, uint16_t *rid,
			     uint64_t (*rmrr)[2], unsigned int max)
{
	struct vtd_dmar_range r[16];
	struct vtd_dmar_bdf bdf;
	const char *sysfs = p->sysfs[0] ? p->sysfs : NULL;
	int u, n;

	if (vtd_dmar_bdf_parse(pci, &bdf))
		return -EINVAL;
	u = vtd_dmar_find_unit(p->dmar, sysfs, &bdf, NULL);
	if (u < 0)
		return u;
	n = vtd_dmar_rmrr_for_device(p->dmar, sysfs, &bdf, r, RTE_DIM(r));
	if (n < 0)
		return n;
	for (int i = 0; i < n && (unsigned int)i < max && i < (int)RTE_DIM(r); i++) {
		rmrr[i][0] = r[i].base;
		rmrr[i][1] = r[i].limit;
	}
	*unit_idx = (unsigned int)u;
	*rid = (uint16_t)(bdf.bus << 8 | bdf.device << 3 | bdf.function);
	return n;
}

/* ---- units ---- */

static int v_unit_open(const struct uvtd_unit_spec *s,
		       struct uvtd_drv_unit **out)
{
	struct vtd_unit_params p;
	struct uvtd_drv_unit *u;
	int rc;

	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return -ENOMEM;
	vtd_unit_params_init(&p);
	p.name = s->name;
	p.qi_entries = s->qi_entries;
	p.enable_translation = true;
	if (s->kind == UVTD_UNIT_REAL) {
		p.real_hw = true;
		p.force = s->force;
		rc = vtd_real_open(s->base, s->size, &p, &u->unit);
	} else {
		struct vtdemu_config cfg;
		char err[160] = "";

		vtdemu_config_init(&cfg);
		if (s->kind == UVTD_UNIT_EMU_PRESET) {
			rc = vtdemu_preset(s->preset, &cfg.caps);
			if (rc) {
				UVTD_LOG(ERR, "unit %s: no emulator preset '%s'",
					 s->name, s->preset);
				free(u);
				return -EINVAL;
			}
		} else {
			cfg.caps.ver = 0x10;
			cfg.caps.cap = s->caps[0];
			cfg.caps.ecap = s->caps[1];
			if (vtdemu_caps_check(&cfg.caps, err, sizeof(err))) {
				UVTD_LOG(ERR, "unit %s: CAP/ECAP refused: %s",
					 s->name, err);
				free(u);
				return -EINVAL;
			}
		}
		cfg.mode = s->emu_threaded ? VTDEMU_THREADED : VTDEMU_INLINE;
		rc = vtd_emu_open(&cfg, &p, &u->unit, &u->emu);
	}
	if (rc) {
		free(u);
		return rc;
	}
	if (s->psi_threshold)
		vtd_unit_set_psi_threshold(u->unit, s->psi_threshold);
	*out = u;
	return 0;
}

static int v_unit_close(struct uvtd_drv_unit *u)
{
	int rc = vtd_unit_close(u->unit);

	free(u);
	return rc;
}

static int v_unit_caps(struct uvtd_drv_unit *u, struct uvtd_unit_caps *c)
{
	struct vtd_unit_info i;
	int rc = vtd_unit_get_info(u->unit, &i);

	if (rc)
		return rc;
	memset(c, 0, sizeof(*c));
	c->emulated = u->emu != NULL;
	c->caching_mode = i.caching_mode;
	c->rwbf = i.rwbf;
	c->psi = i.psi;
	c->queued = i.queued;
	c->max_psi_order = i.mamv;
	c->widths_mask = i.widths;
	for (int b = 2; b >= 0; b--)
		if (i.widths & (1u << b)) {
			c->max_width = 39 + 9 * (unsigned int)b;
			break;
		}
	c->qi_entries = i.qi_entries;
	c->domain_ids = i.domain_ids;
	return 0;
}

static void describe_reg(enum vtd_decode_reg reg, uint64_t value,
			 const char *prefix, uvtd_kv_fn fn, void *arg)
{
	const struct vtd_field *f;
	unsigned int n = 0;

	f = vtd_decode_fields(reg, &n);
	for (unsigned int i = 0; f && i < n; i++) {
		char name[48], *c;

		snprintf(name, sizeof(name), "%s_%s", prefix, f[i].name);
		for (c = name; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
			else if (!((*c >= 'a' && *c <= 'z') ||
				   (*c >= '0' && *c <= '9') || *c == '_'))
				*c = '_';
		fn(arg, name, vtd_field_value(&f[i], value));
	}
}

static void v_unit_describe(struct uvtd_drv_unit *u, uvtd_kv_fn fn, void *arg)
{
	struct vtd_unit_info i;
	struct vtd_qi_stats s;

	if (vtd_unit_get_info(u->unit, &i))
		return;
	fn(arg, "ver", i.ver);
	fn(arg, "cap", i.cap);
	fn(arg, "ecap", i.ecap);
	describe_reg(VTD_DECODE_CAP, i.cap, "cap", fn, arg);
	describe_reg(VTD_DECODE_ECAP, i.ecap, "ecap", fn, arg);
	fn(arg, "scalable", i.scalable);
	fn(arg, "translation_enabled", i.translation_enabled);
	fn(arg, "coherent", i.coherent);
	fn(arg, "domain_ids", i.domain_ids);
	fn(arg, "fault_records", i.fault_records);
	fn(arg, "desc_bytes", i.desc_bytes);
	vtd_qi_stats_get(u->unit, &s);
	fn(arg, "qi_submits", s.submits);
	fn(arg, "qi_descs", s.descs);
	fn(arg, "qi_waits", s.waits);
	fn(arg, "qi_iqt_writes", s.iqt_writes);
	fn(arg, "qi_head_reads", s.head_reads);
	fn(arg, "qi_publish_waits", s.publish_waits);
	fn(arg, "qi_handoffs", s.handoffs);
	fn(arg, "qi_iqe", s.iqe);
	fn(arg, "qi_ite", s.ite);
	fn(arg, "qi_ice", s.ice);
	fn(arg, "qi_timeouts", s.timeouts);
}

static void v_unit_stats(struct uvtd_drv_unit *u, struct uvtd_drv_stats *d)
{
	struct vtd_qi_stats s;

	vtd_qi_stats_get(u->unit, &s);
	d->submits = s.submits;
	d->descs = s.descs;
	d->waits = s.waits;
	d->iqt_writes = s.iqt_writes;
	d->psi = s.psi;
	d->dsi = s.dsi;
	d->global = s.global;
	d->devtlb = s.devtlb;
	d->cc = s.cc;
	d->pasid = s.pasid;
	d->head_reads = s.head_reads;
	d->iqe = s.iqe;
	d->ite = s.ite;
	d->ice = s.ice;
	d->timeouts = s.timeouts;
}

static int v_unit_faults(struct uvtd_drv_unit *u, struct uvtd_fault_rec *out,
			 unsigned int max)
{
	struct vtd_fault f[16];
	int n = vtd_fault_drain(u->unit, f, RTE_MIN(max, (unsigned int)RTE_DIM(f)));

	for (int i = 0; i < n; i++) {
		out[i].rid = f[i].sid;
		out[i].pasid = f[i].pasid;
		out[i].addr = f[i].addr;
		out[i].write = f[i].write;
		out[i].reason = f[i].reason;
		out[i].reason_str = f[i].reason_str;
	}
	return n;
}

/* ---- domains ---- */

static int v_domain_create(struct uvtd_drv_unit *u, unsigned int width,
			   struct uvtd_drv_domain **out, bool *map_flush)
{
	struct vtd_domain_params p;
	struct vtd_domain *d;
	int rc;

	vtd_domain_params_init(&p);
	p.addr_width = width;
	rc = vtd_domain_create(u->unit, &p, &d);
	if (rc)
		return rc;
	*map_flush = vtd_domain_map_flush(d);
	*out = (struct uvtd_drv_domain *)d;
	return 0;
}

static int v_domain_destroy(struct uvtd_drv_domain *d)
{
	return vtd_domain_destroy((struct vtd_domain *)d);
}

static int v_attach(struct uvtd_drv_domain *d, struct uvtd_drv_unit *u,
		    uint16_t rid)
{
	struct vtd_attach_params p = { .sid = rid, .pasid = VTD_NO_PASID };

	return vtd_attach((struct vtd_domain *)d, u->unit, &p);
}

static int v_detach(struct uvtd_drv_domain *d, struct uvtd_drv_unit *u,
		    uint16_t rid)
{
	return vtd_detach((struct vtd_domain *)d, u->unit, rid);
}

/* ---- page tables and invalidation: the fast path ---- */

static inline unsigned int v_perm(unsigned int perm)
{
	return (perm & UVTD_PERM_READ ? VTD_PERM_READ : 0) |
	       (perm & UVTD_PERM_WRITE ? VTD_PERM_WRITE : 0);
}

static int v_map(struct uvtd_drv_domain *d, uint64_t iova, uint64_t phys,
		 uint64_t len, unsigned int perm)
{
	return vtd_map((struct vtd_domain *)d, iova, phys, len, v_perm(perm));
}

/* The service's walk cache holds the driver's, copied member by member
 * (two registers; no cast between the two struct types). */
static inline struct vtd_walk v_walk_in(const struct uvtd_drv_walk *w)
{
	return (struct vtd_walk){ w->span, w->table };
}

static inline void v_walk_out(struct uvtd_drv_walk *w,
			      const struct vtd_walk *vw)
{
	w->span = vw->span;
	w->table = vw->table;
}

static int v_map_walk(struct uvtd_drv_domain *d, uint64_t iova,
		      uint64_t phys, uint64_t len, unsigned int perm,
		      struct uvtd_drv_walk *w)
{
	struct vtd_walk vw = v_walk_in(w);
	int rc = vtd_map_walk((struct vtd_domain *)d, iova, phys, len,
			      v_perm(perm), &vw);

	v_walk_out(w, &vw);
	return rc;
}

/* Field by field, not one 16-byte copy: vtd_unmap has just stored start and
 * end separately, and a 16-byte load of two 8-byte stores still in flight
 * cannot be store-forwarded (a stall of a dozen cycles or so per unmap: the
 * hottest spot of v_unmap in perf). */
static inline void v_gather_out(struct uvtd_drv_gather *g,
				const struct vtd_gather *vg)
{
	g->start = vg->start;
	rte_compiler_barrier();
	g->end = vg->end;
	g->freelist = vg->freelist;
	g->nr_freed = vg->nr_freed;
}

/* vw: the burst's walk cache, or NULL. */
static inline int v_unmap_common(struct uvtd_drv_domain *d, uint64_t iova,
				 uint64_t len, struct uvtd_drv_gather *g,
				 struct vtd_walk *vw)
{
	struct vtd_gather vg = VTD_GATHER_INIT;
	int rc = vtd_unmap_walk((struct vtd_domain *)d, iova, len, &vg, vw);

	v_gather_out(g, &vg);
	return rc;
}

static int v_unmap(struct uvtd_drv_domain *d, uint64_t iova, uint64_t len,
		   struct uvtd_drv_gather *g)
{
	return v_unmap_common(d, iova, len, g, NULL);
}

static int v_unmap_walk(struct uvtd_drv_domain *d, uint64_t iova,
			uint64_t len, struct uvtd_drv_gather *g,
			struct uvtd_drv_walk *w)
{
	struct vtd_walk vw = v_walk_in(w);
	int rc = v_unmap_common(d, iova, len, g, &vw);

	v_walk_out(w, &vw);
	return rc;
}

static void v_gather_release(struct uvtd_drv_domain *d,
			     struct uvtd_drv_gather *g)
{
	struct vtd_gather vg = { g->start, g->end, g->freelist, g->nr_freed };

	vtd_gather_release((struct vtd_domain *)d, &vg);
	g->freelist = NULL;
}

static struct uvtd_drv_qctx *v_qctx_get(struct uvtd_drv_unit *u,
					unsigned int lcore)
{
	return (struct uvtd_drv_qctx *)vtd_qctx_get(u->unit, lcore);
}

static int v_inv_range(struct uvtd_drv_qctx *q, struct uvtd_drv_domain *d,
		       uint64_t iova, uint64_t len, unsigned int flags)
{
	unsigned int f = 0;

	if (flags & UVTD_DRV_INV_TABLES_FREED)
		f |= VTD_INV_TABLES_FREED;
	if (flags & UVTD_DRV_INV_MAP)
		f |= VTD_INV_MAP;
	if (flags & UVTD_DRV_INV_DOMAIN)
		f |= VTD_INV_FORCE_DSI;
	return vtd_inv_range((struct vtd_qctx *)q, (struct vtd_domain *)d,
			     iova, len, f);
}

static int v_submit(struct uvtd_drv_qctx *q, uint32_t *seq)
{
	return vtd_qctx_submit((struct vtd_qctx *)q, seq);
}

static int v_wait(struct uvtd_drv_qctx *q, uint32_t seq)
{
	return vtd_qctx_wait((struct vtd_qctx *)q, seq);
}

static bool v_done(struct uvtd_drv_qctx *q, uint32_t seq)
{
	return vtd_qctx_done((struct vtd_qctx *)q, seq);
}

const struct uvtd_driver_ops uvtd_vtd_ops = {
	.name = "vtd",
	.platform_open = v_platform_open,
	.platform_close = v_platform_close,
	.platform_unit_spec = v_platform_unit_spec,
	.platform_lookup = v_platform_lookup,
	.unit_open = v_unit_open,
	.unit_close = v_unit_close,
	.unit_caps = v_unit_caps,
	.unit_describe = v_unit_describe,
	.unit_stats = v_unit_stats,
	.unit_faults = v_unit_faults,
	.domain_create = v_domain_create,
	.domain_destroy = v_domain_destroy,
	.attach = v_attach,
	.detach = v_detach,
	.map = v_map,
	.unmap = v_unmap,
	.map_walk = v_map_walk,
	.unmap_walk = v_unmap_walk,
	.gather_release = v_gather_release,
	.qctx_get = v_qctx_get,
	.inv_range = v_inv_range,
	.submit = v_submit,
	.wait = v_wait,
	.done = v_done,
};

struct vtdemu *uvtd_vtd_emu(unsigned int unit)
{
	if (unit >= uvtd.nunits || !uvtd.units[unit].open ||
	    uvtd.ops != &uvtd_vtd_ops)
		return NULL;
	return uvtd.units[unit].drv->emu;
}
