/* SPDX-License-Identifier: BSD-3-Clause
 * Domains, attach/detach, map/unmap through the driver, proved by DMA
 * through the emulated unit:
 *   - a mapping reaches the right memory (vtdemu_dma_write/read as the
 *     attached requester), in legacy and scalable mode, second stage, first
 *     stage and pass-through, over capability variations (CM, RWBF, PSI,
 *     MAMV, C/SMPWC, QI, ND, NFR, DT, SC, 3/4/5 levels);
 *   - unmap plus invalidation makes DMA fault, and the fault record drained
 *     by the driver has the reason, requester and address the unit saw;
 *   - the emulator's stale-translation checker counts zero on correct
 *     flows, and catches a planted missing invalidation;
 *   - superpages, and the partial-superpage rule;
 *   - every rejection path of map, unmap, attach, and that a rejected call
 *     changes nothing.
 * The invalidations after unmap are built here and sent with vtd_inv_sync
 * (domain-selective, so they also drop the paging-structure caches): this
 * tests the tables part without depending on the invalidation planner.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_launch.h>

#include "uvtd_eal.h"
#include "drv_env.h"

#define SID_A 0x0310   /* 03:02.0 */
#define SID_B 0x0418   /* 04:03.0 */
#define IOVA0 0x100000ull

struct scen {
	enum vtd_tmode tmode;
	enum vtd_domain_kind kind;
	bool ats;
	bool snoop;
	uint32_t pasid;          /* attach with this PASID (scalable) */
	unsigned int width;
	bool planner;            /* invalidate with vtd_inv_range */
};

/* After an unmap: the planner (page-selective where it can, IH=0 when
 * tables were freed) or a domain-selective invalidation. */
static int inv_after_unmap(const struct scen *s, struct vtd_domain *dom,
			   struct vtd_unit *u, const struct vtd_gather *g)
{
	if (s->planner)
		return drv_inv_range(dom, u, g->start, g->end - g->start,
				     g->nr_freed ? VTD_INV_TABLES_FREED : 0);
	return drv_flush_domain(dom, u);
}

static int inv_after_map(const struct scen *s, struct vtd_domain *dom,
			 struct vtd_unit *u, uint64_t iova, uint64_t len)
{
	if (!vtd_domain_map_flush(dom))
		return 0;
	if (s->planner)
		return drv_inv_range(dom, u, iova, len, VTD_INV_MAP);
	return drv_flush_domain(dom, u);
}

/* A table page freed by an unmap must not be reachable through the
 * paging-structure caches once it is reused: unmap a whole 2 MiB of 4 KiB
 * leaves (its level-1 table goes), invalidate, reuse the page elsewhere,
 * then DMA into the unmapped range must fault with no stale use. With
 * planted_ih the invalidation claims no table was freed (IH=1). */
static void table_reuse(const char *label, struct drv_env *env,
			struct vtd_domain *dom, const struct scen *s,
			const struct drv_buf *buf, uint32_t pasid,
			bool planted_ih)
{
	/* t2 in a 2 MiB region no earlier call used: its level-1 table is
	 * new, so it takes the page just freed. */
	const uint64_t t1 = 0x40000000ull;
	const uint64_t t2 = planted_ih ? 0x40a00000ull : 0x40600000ull;
	struct vtd_gather g = VTD_GATHER_INIT;
	uint64_t phys = buf->iova | 4096;   /* never 2 MiB aligned */
	struct vtd_fault f[8];
	uint8_t b[8];
	int64_t n;

	TRY(vtd_map(dom, t1, phys, 2u << 20, VTD_PERM_READ), "%s: map 2 MiB",
	    label);
	TRY(inv_after_map(s, dom, env->u, t1, 2u << 20), "%s: map inv", label);
	n = vtdemu_dma_read(env->emu, SID_A, pasid, t1 + 4096, b, 8, NULL);
	CHECK(n == 8, "%s: DMA through 4 KiB leaves: %" PRId64, label, n);
	TRY(vtd_unmap(dom, t1, 2u << 20, &g), "%s: unmap 2 MiB", label);
	CHECK(g.nr_freed >= 1, "%s: the level-1 table was not freed", label);
	if (planted_ih) {
		TRY(drv_inv_range(dom, env->u, t1, 2u << 20, 0), "inv");
	} else {
		TRY(inv_after_unmap(s, dom, env->u, &g), "%s: inv", label);
	}
	vtd_gather_release(dom, &g);
	/* The freed page comes back first from this lcore's cache. */
	TRY(vtd_map(dom, t2, phys, 8192, VTD_PERM_READ), "%s: reuse", label);
	TRY(inv_after_map(s, dom, env->u, t2, 8192), "%s: map inv", label);
	n = vtdemu_dma_read(env->emu, SID_A, pasid, t1 + 4096, b, 8, NULL);
	if (!planted_ih)
		CHECK(n == -EFAULT, "%s: DMA into the freed range: %" PRId64,
		      label, n);
	vtd_fault_drain(env->u, f, RTE_DIM(f));
	g = (struct vtd_gather)VTD_GATHER_INIT;
	TRY(vtd_unmap(dom, t2, 8192, &g), "%s: unmap", label);
	TRY(inv_after_unmap(s, dom, env->u, &g), "%s: inv", label);
	vtd_gather_release(dom, &g);
}

static uint64_t leaves_of(struct vtd_domain *d)
{
	uint64_t l = 0;

	CHECK(vtd_pgtable_verify(d, &l, NULL) == 0, "table inconsistent");
	return l;
}

/* Map, DMA, unmap + invalidation, DMA faults, fault drained; stale 0. */
static void scenario(const char *label, const struct vtdemu_caps *caps,
		     const struct scen *s)
{
	struct vtd_unit_params p;
	struct vtd_domain_params dp;
	struct vtd_attach_params ap;
	struct vtd_gather g = VTD_GATHER_INIT;
	struct vtdemu_fault_info fi;
	struct vtd_fault f[4];
	struct vtd_domain *dom = NULL;
	struct drv_env env;
	struct drv_buf buf;
	char msg[64], back[64];
	uint32_t pasid = s->pasid == VTD_NO_PASID ? VTDEMU_NO_PASID : s->pasid;
	int64_t n;
	int rc, nf;

	vtd_unit_params_init(&p);
	p.name = "map";
	p.tmode = s->tmode;
	p.enable_translation = true;
	rc = drv_open(&env, caps, &p);
	REQUIRE(rc == 0, "%s: open: %d", label, rc);
	REQUIRE(drv_buf_alloc(&buf, 65536, 4096) == 0, "buffer");

	vtd_domain_params_init(&dp);
	dp.kind = s->kind;
	dp.snoop = s->snoop;
	dp.addr_width = s->width;
	rc = vtd_domain_create(env.u, &dp, &dom);
	CHECK(rc == 0, "%s: domain create: %d", label, rc);
	if (rc)
		goto out;
	CHECK_EQ(vtd_domain_map_flush(dom),
		 (caps->cap & VTD_CAP_RWBF) ||
			 ((caps->cap & VTD_CAP_CM) &&
			  s->kind == VTD_DOMAIN_SECOND_STAGE));
	memset(&ap, 0, sizeof(ap));
	ap.sid = SID_A;
	ap.ats = s->ats;
	ap.pasid = s->pasid;
	if (s->ats)
		vtdemu_set_ats(env.emu, SID_A, true);
	rc = vtd_attach(dom, env.u, &ap);
	CHECK(rc == 0, "%s: attach: %d", label, rc);
	if (rc)
		goto out_dom;
	rc = vtd_domain_id(dom, env.u);
	CHECK(rc > 0 || (rc == 0 && !(caps->cap & VTD_CAP_CM)),
	      "%s: domain id %d", label, rc);

	snprintf(msg, sizeof(msg), "%s", label);
	if (s->kind == VTD_DOMAIN_PASSTHROUGH) {
		/* Identity: DMA to the buffer's own IOVA. */
		n = vtdemu_dma_write(env.emu, SID_A, pasid, buf.iova + 100, msg,
				     sizeof(msg), &fi);
		CHECK(n == (int64_t)sizeof(msg), "%s: PT DMA: %" PRId64
		      " (reason 0x%x)", label, n, fi.reason);
		CHECK(memcmp(buf.va + 100, msg, sizeof(msg)) == 0,
		      "%s: PT DMA missed", label);
		goto detach;
	}

	TRY(vtd_map(dom, IOVA0, buf.iova, 16384,
		    VTD_PERM_READ | VTD_PERM_WRITE),
	    "%s: map", label);
	TRY(inv_after_map(s, dom, env.u, IOVA0, 16384), "%s: map flush", label);
	n = vtdemu_dma_write(env.emu, SID_A, pasid, IOVA0 + 4096 + 8, msg,
			     sizeof(msg), &fi);
	CHECK(n == (int64_t)sizeof(msg), "%s: DMA write: %" PRId64
	      " (reason 0x%x)", label, n, fi.reason);
	CHECK(memcmp(buf.va + 4096 + 8, msg, sizeof(msg)) == 0,
	      "%s: DMA did not reach the buffer", label);
	n = vtdemu_dma_read(env.emu, SID_A, pasid, IOVA0 + 4096 + 8, back,
			    sizeof(back), &fi);
	CHECK(n == (int64_t)sizeof(back) && memcmp(back, msg, sizeof(msg)) == 0,
	      "%s: DMA read back", label);

	TRY(vtd_unmap(dom, IOVA0, 16384, &g), "%s: unmap", label);
	CHECK_EQ(g.start, IOVA0);
	CHECK_EQ(g.end, IOVA0 + 16384);
	TRY(inv_after_unmap(s, dom, env.u, &g), "%s: flush", label);
	vtd_gather_release(dom, &g);
	CHECK_EQ(leaves_of(dom), 0);

	memset(&fi, 0, sizeof(fi));
	n = vtdemu_dma_read(env.emu, SID_A, pasid, IOVA0 + 8192 + 16, back,
			    8, &fi);
	CHECK(n == -EFAULT, "%s: DMA after unmap: %" PRId64, label, n);
	CHECK(fi.recorded, "%s: fault not recorded", label);
	CHECK_EQ(fi.sid, SID_A);
	CHECK_EQ(fi.addr, IOVA0 + 8192);
	if (!env.u->scalable)
		CHECK_EQ(fi.reason, VTD_FR_READ);
	nf = vtd_fault_drain(env.u, f, RTE_DIM(f));
	CHECK(nf == 1, "%s: %d faults drained", label, nf);
	if (nf >= 1) {
		CHECK_EQ(f[0].reason, fi.reason);
		CHECK_EQ(f[0].sid, SID_A);
		CHECK_EQ(f[0].addr, IOVA0 + 8192);
		CHECK(!f[0].write, "%s: read fault drained as a write", label);
	}
	CHECK_EQ(vtd_fault_drain(env.u, f, RTE_DIM(f)), 0);
	CHECK_EQ(vtdemu_stale_count(env.emu), 0);
	table_reuse(label, &env, dom, s, &buf, pasid, false);
	CHECK_EQ(vtdemu_stale_count(env.emu), 0);

detach:
	TRY(vtd_detach(dom, env.u, SID_A), "%s: detach", label);
	CHECK_EQ(vtd_domain_id(dom, env.u), -ENOENT);
	/* A detached device's DMA faults (context or PASID entry gone). */
	n = vtdemu_dma_read(env.emu, SID_A, pasid, IOVA0, back, 8, &fi);
	CHECK(n == -EFAULT, "%s: DMA after detach: %" PRId64, label, n);
	vtd_fault_drain(env.u, f, RTE_DIM(f));
	CHECK_EQ(vtdemu_stale_count(env.emu), 0);
out_dom:
	TRY(vtd_domain_destroy(dom), "%s: destroy", label);
	CHECK_EQ(vtd_pt_pool_in_use(env.u->pt_pool), 0);
out:
	drv_buf_free(&buf);
	drv_close(&env);
}

static const struct scen SS_LEGACY = {
	VTD_TMODE_LEGACY, VTD_DOMAIN_SECOND_STAGE, false, false, VTD_NO_PASID, 0
};
static const struct scen SS_SCALABLE = {VTD_TMODE_SCALABLE,
					VTD_DOMAIN_SECOND_STAGE,
					false,
					false,
					VTD_NO_PASID,
					0};

/* Every preset, in each mode it supports. */
static void test_presets(void)
{
	const char *name;

	for (unsigned int i = 0; (name = vtdemu_preset_name(i)) != NULL; i++) {
		struct vtdemu_caps caps;
		char label[96];

		REQUIRE(vtdemu_preset(name, &caps) == 0, "preset");
		snprintf(label, sizeof(label), "%s/legacy", name);
		scenario(label, &caps, &SS_LEGACY);
		if ((caps.ecap & VTD_ECAP_SMTS) &&
		    (caps.ecap & VTD_ECAP_SLTS)) {
			snprintf(label, sizeof(label), "%s/scalable", name);
			scenario(label, &caps, &SS_SCALABLE);
		}
	}
}

/* The same flows on the threaded emulator: invalidations complete
 * asynchronously, after modelled latency. */
static void test_threaded(void)
{
	static const char *const presets[] = { "qemu-cm-on", "server",
					       "client" };

	drv_emu_mode = VTDEMU_THREADED;
	for (unsigned int i = 0; i < RTE_DIM(presets); i++) {
		struct vtdemu_caps caps;
		struct scen s = SS_LEGACY;
		char label[96];

		REQUIRE(vtdemu_preset(presets[i], &caps) == 0, "preset");
		snprintf(label, sizeof(label), "%s/threaded", presets[i]);
		scenario(label, &caps, &s);
		s.planner = true;
		snprintf(label, sizeof(label), "%s/threaded/planner",
			 presets[i]);
		scenario(label, &caps, &s);
		if (caps.ecap & VTD_ECAP_SMTS) {
			s = SS_SCALABLE;
			snprintf(label, sizeof(label), "%s/threaded/scalable",
				 presets[i]);
			scenario(label, &caps, &s);
		}
	}
	drv_emu_mode = VTDEMU_INLINE;
}

/* Capability flips on a legacy and a scalable base. An invalid combination
 * is skipped with the emulator's reason. */
struct flip {
	const char *name;
	uint64_t cap_set, cap_clr, ecap_set, ecap_clr;
};

static void test_cap_variations(void)
{
	static const struct flip flips[] = {
		{ "CM=1", VTD_CAP_CM, 0, 0, 0 },
		{ "CM=0", 0, VTD_CAP_CM, 0, 0 },
		{ "RWBF=1", VTD_CAP_RWBF, 0, 0, 0 },
		{ "RWBF=1,CM=1", VTD_CAP_RWBF | VTD_CAP_CM, 0, 0, 0 },
		{ "PSI=0", 0, VTD_CAP_PSI, 0, 0 },
		{ "PSI=1", VTD_CAP_PSI, 0, 0, 0 },
		{ "MAMV=0", 0, VTD_MASK(53, 48), 0, 0 },
		{ "C=0,SMPWC=0", 0, 0, 0, VTD_ECAP_C | VTD_ECAP_SMPWC },
		{ "C=1,SMPWC=1", 0, 0, VTD_ECAP_C | VTD_ECAP_SMPWC, 0 },
		{ "QI=0", 0, 0, 0, VTD_ECAP_QI | VTD_ECAP_DT | VTD_ECAP_IR |
				   VTD_ECAP_EIM | VTD_ECAP_DIT },
		{ "ND=0", 0, VTD_MASK(2, 0), 0, 0 },
		{ "ND=1", 1, VTD_MASK(2, 0), 0, 0 },
		{ "NFR=4", VTD_SET(3, 47, 40), VTD_MASK(47, 40), 0, 0 },
		{ "DT=1", 0, 0, VTD_ECAP_DT, 0 },
		{ "DT=0", 0, 0, 0, VTD_ECAP_DT | VTD_ECAP_DIT },
		{ "SC=1", 0, 0, VTD_ECAP_SC, 0 },
		{ "SC=0", 0, 0, 0, VTD_ECAP_SC },
		{ "3-level", VTD_SET(2, 12, 8) | VTD_SET(38, 21, 16),
		  VTD_MASK(12, 8) | VTD_MASK(21, 16), 0, 0 },
		{ "4-level", VTD_SET(4, 12, 8) | VTD_SET(47, 21, 16),
		  VTD_MASK(12, 8) | VTD_MASK(21, 16), 0, 0 },
		{ "5-level", VTD_SET(8, 12, 8) | VTD_SET(56, 21, 16),
		  VTD_MASK(12, 8) | VTD_MASK(21, 16), 0, 0 },
	};
	static const struct {
		const char *preset;
		const struct scen *s;
	} bases[] = {
		{ "qemu-cm-off", &SS_LEGACY },
		{ "client", &SS_LEGACY },
		{ "server", &SS_SCALABLE },
		{ "qemu-cm-on-scalable", &SS_SCALABLE },
	};

	for (unsigned int b = 0; b < RTE_DIM(bases); b++) {
		for (unsigned int i = 0; i < RTE_DIM(flips); i++) {
			struct vtdemu_caps caps;
			struct scen s = *bases[b].s;
			char label[128], err[200];

			REQUIRE(vtdemu_preset(bases[b].preset, &caps) == 0,
				"preset");
			caps.cap = (caps.cap & ~flips[i].cap_clr) |
				   flips[i].cap_set;
			caps.ecap = (caps.ecap & ~flips[i].ecap_clr) |
				    flips[i].ecap_set;
			snprintf(label, sizeof(label), "%s+%s", bases[b].preset,
				 flips[i].name);
			if (vtdemu_caps_check(&caps, err, sizeof(err)) != 0) {
				printf("# skip %s: %s\n", label, err);
				continue;
			}
			s.ats = (caps.ecap & VTD_ECAP_DT) != 0;
			s.snoop = (caps.ecap & VTD_ECAP_SC) != 0;
			scenario(label, &caps, &s);
			s.planner = true;
			strncat(label, "/planner",
				sizeof(label) - strlen(label) - 1);
			scenario(label, &caps, &s);
		}
	}
}

static void test_first_stage(void)
{
	struct vtdemu_caps caps;
	struct scen s = { VTD_TMODE_SCALABLE, VTD_DOMAIN_FIRST_STAGE, false,
			  false, VTD_NO_PASID, 0 };

	REQUIRE(vtdemu_preset("server", &caps) == 0, "preset");
	scenario("server/first-stage", &caps, &s);
	s.pasid = 7;
	scenario("server/first-stage/pasid7", &caps, &s);
	s.ats = true;
	scenario("server/first-stage/pasid7/ats", &caps, &s);
	s.pasid = VTD_NO_PASID;
	s.width = 48;
	scenario("server/first-stage/48", &caps, &s);
	caps.cap |= VTD_CAP_CM;
	scenario("server+CM/first-stage", &caps, &s);
	s = SS_SCALABLE;
	s.pasid = 9;
	scenario("server/second-stage/pasid9", &caps, &s);
}

static void test_pass_through(void)
{
	struct vtdemu_caps caps;
	struct scen s = { VTD_TMODE_LEGACY, VTD_DOMAIN_PASSTHROUGH, false,
			  false, VTD_NO_PASID, 0 };

	REQUIRE(vtdemu_preset("qemu-cm-off", &caps) == 0, "preset");
	REQUIRE(caps.ecap & VTD_ECAP_PT, "qemu preset without PT");
	scenario("qemu-cm-off/pass-through", &caps, &s);
	REQUIRE(vtdemu_preset("server", &caps) == 0, "preset");
	s.tmode = VTD_TMODE_SCALABLE;
	scenario("server/pass-through", &caps, &s);
}

/* The checker must catch a planted bug: unmap without invalidation, then
 * DMA through the still-cached translation. */
static void test_planted_missing_invalidation(void)
{
	static const char *const presets[] = { "qemu-cm-on", "server" };

	for (unsigned int i = 0; i < RTE_DIM(presets); i++) {
		struct vtd_attach_params ap = { .sid = SID_A,
						.pasid = VTD_NO_PASID };
		struct vtd_gather g = VTD_GATHER_INIT;
		struct vtdemu_stale_record rec;
		struct vtd_domain *dom;
		struct drv_env env;
		struct drv_buf buf;
		uint8_t b[8];
		int64_t n;

		TRY(drv_open_preset(&env, presets[i]), "open %s", presets[i]);
		TRY(drv_buf_alloc(&buf, 4096, 4096), "buffer");
		TRY(vtd_domain_create(env.u, NULL, &dom), "domain");
		TRY(vtd_attach(dom, env.u, &ap), "attach");
		TRY(vtd_map(dom, IOVA0, buf.iova, 4096, VTD_PERM_READ), "map");
		if (vtd_domain_map_flush(dom))
			TRY(drv_flush_domain(dom, env.u), "map flush");
		n = vtdemu_dma_read(env.emu, SID_A, VTDEMU_NO_PASID, IOVA0, b,
				    8, NULL);
		CHECK(n == 8, "%s: first DMA %" PRId64, presets[i], n);
		CHECK_EQ(vtdemu_stale_count(env.emu), 0);

		/* The bug: no invalidation after the unmap. */
		TRY(vtd_unmap(dom, IOVA0, 4096, &g), "unmap");
		n = vtdemu_dma_read(env.emu, SID_A, VTDEMU_NO_PASID, IOVA0, b,
				    8, NULL);
		CHECK(vtdemu_stale_count(env.emu) > 0,
		      "%s: the stale checker missed a DMA through an unmapped "
		      "page (DMA returned %" PRId64 ")", presets[i], n);
		if (vtdemu_stale_records(env.emu, &rec, 1) == 1) {
			CHECK_EQ(rec.iova & VTD_PAGE_MASK, IOVA0);
			CHECK_EQ(rec.sid, SID_A);
			CHECK(rec.walk_fault != 0, "fresh walk did not fault");
		}
		/* Fixed: after the invalidation the DMA faults, no new stale.
		 */
		vtdemu_stale_reset(env.emu);
		TRY(drv_flush_domain(dom, env.u), "flush");
		n = vtdemu_dma_read(env.emu, SID_A, VTDEMU_NO_PASID, IOVA0, b,
				    8, NULL);
		CHECK(n == -EFAULT, "%s: DMA after the fix: %" PRId64,
		      presets[i], n);
		CHECK_EQ(vtdemu_stale_count(env.emu), 0);
		vtd_gather_release(dom, &g);
		TRY(vtd_detach(dom, env.u, SID_A), "detach");
		TRY(vtd_domain_destroy(dom), "destroy");
		drv_buf_free(&buf);
		drv_close(&env);
	}
}

/* The planted IH bug: tables freed, but the invalidation says only leaves
 * changed (IH=1), so the unit may keep walking a freed table page through
 * its paging-structure cache. The checker must see it. */
static void test_planted_ih(void)
{
	static const char *const presets[] = { "qemu-cm-off", "server" };

	for (unsigned int i = 0; i < RTE_DIM(presets); i++) {
		struct vtd_attach_params ap = { .sid = SID_A,
						.pasid = VTD_NO_PASID };
		struct scen s = SS_LEGACY;
		struct vtd_domain *dom;
		struct drv_env env;
		struct drv_buf buf;

		s.planner = true;
		TRY(drv_open_preset(&env, presets[i]), "open");
		TRY(drv_buf_alloc(&buf, 65536, 65536), "buffer");
		TRY(vtd_domain_create(env.u, NULL, &dom), "domain");
		TRY(vtd_attach(dom, env.u, &ap), "attach");
		table_reuse(presets[i], &env, dom, &s, &buf, VTDEMU_NO_PASID,
			    false);
		CHECK_EQ(vtdemu_stale_count(env.emu), 0);
		table_reuse(presets[i], &env, dom, &s, &buf, VTDEMU_NO_PASID,
			    true);
		CHECK(vtdemu_stale_count(env.emu) > 0,
		      "%s: a freed table kept in the paging-structure cache "
		      "(IH=1) went unnoticed", presets[i]);
		TRY(vtd_detach(dom, env.u, SID_A), "detach");
		TRY(vtd_domain_destroy(dom), "destroy");
		drv_buf_free(&buf);
		drv_close(&env);
	}
}

/* Under caching mode, a map without its map-side flush is caught too: the
 * unit cached the not-present entry the first DMA found. */
static void test_planted_missing_map_flush(void)
{
	struct vtd_attach_params ap = { .sid = SID_A, .pasid = VTD_NO_PASID };
	struct vtd_gather g = VTD_GATHER_INIT;
	struct vtd_domain *dom;
	struct drv_env env;
	struct drv_buf buf;
	uint8_t b[8];
	int64_t n;

	TRY(drv_open_preset(&env, "qemu-cm-on"), "open");
	TRY(drv_buf_alloc(&buf, 4096, 4096), "buffer");
	TRY(vtd_domain_create(env.u, NULL, &dom), "domain");
	CHECK(vtd_domain_map_flush(dom), "CM=1 domain without map flush");
	TRY(vtd_attach(dom, env.u, &ap), "attach");
	n = vtdemu_dma_read(env.emu, SID_A, VTDEMU_NO_PASID, IOVA0, b, 8, NULL);
	CHECK(n == -EFAULT, "DMA before map: %" PRId64, n);
	TRY(vtd_map(dom, IOVA0, buf.iova, 4096, VTD_PERM_READ), "map");
	n = vtdemu_dma_read(env.emu, SID_A, VTDEMU_NO_PASID, IOVA0, b, 8, NULL);
	CHECK(vtdemu_stale_count(env.emu) > 0 || n == -EFAULT,
	      "a skipped map flush under CM went unnoticed (DMA %" PRId64 ")",
	      n);
	TRY(drv_flush_domain(dom, env.u), "flush");
	vtdemu_stale_reset(env.emu);
	{
		struct vtd_fault f[4];

		vtd_fault_drain(env.u, f, 4);
	}
	n = vtdemu_dma_read(env.emu, SID_A, VTDEMU_NO_PASID, IOVA0, b, 8, NULL);
	CHECK(n == 8, "DMA after the map flush: %" PRId64, n);
	TRY(vtd_unmap(dom, IOVA0, 4096, &g), "unmap");
	TRY(drv_flush_domain(dom, env.u), "flush");
	vtd_gather_release(dom, &g);
	CHECK_EQ(vtdemu_stale_count(env.emu), 0);
	TRY(vtd_detach(dom, env.u, SID_A), "detach");
	TRY(vtd_domain_destroy(dom), "destroy");
	drv_buf_free(&buf);
	drv_close(&env);
}

/* 2 MiB and 1 GiB leaves where SLLPS and alignment allow. */
static void test_superpages(void)
{
	static const char *const presets[] = { "server", "qemu-cm-off" };

	for (unsigned int pi = 0; pi < RTE_DIM(presets); pi++) {
		struct vtd_attach_params ap = { .sid = SID_A,
						.pasid = VTD_NO_PASID };
		struct vtd_gather g = VTD_GATHER_INIT;
		struct vtd_unit_info info;
		struct vtd_unit_params p;
		struct vtdemu_caps caps;
		struct vtd_domain *dom;
		struct drv_env env;
		struct drv_buf buf;
		uint64_t phys, leaves, tables, base = 1ull << 30;
		unsigned int perm;
		char msg[16] = "superpage";
		int64_t n;

		REQUIRE(vtdemu_preset(presets[pi], &caps) == 0, "preset");
		vtd_unit_params_init(&p);
		p.name = "sp";
		p.tmode = VTD_TMODE_LEGACY;
		p.enable_translation = true;
		TRY(drv_open(&env, &caps, &p), "open");
		TRY(vtd_unit_get_info(env.u, &info), "info");
		if (!info.sl_2m) {
			printf("# skip superpages on %s: no 2 MiB leaves\n",
			       presets[pi]);
			drv_close(&env);
			continue;
		}
		/* One 2 MiB page; the mappings below that reach past it are
		 * never used for DMA. */
		TRY(drv_buf_alloc_2m(&buf), "2 MiB buffer");
		TRY(vtd_domain_create(env.u, NULL, &dom), "domain");
		TRY(vtd_attach(dom, env.u, &ap), "attach");

		/* 2 MiB aligned on both sides: one leaf at level 2. */
		TRY(vtd_map(dom, base, buf.iova, 2u << 20,
			    VTD_PERM_READ | VTD_PERM_WRITE), "map 2 MiB");
		if (vtd_domain_map_flush(dom))
			TRY(drv_flush_domain(dom, env.u), "map flush");
		TRY(vtd_pgtable_verify(dom, &leaves, &tables), "verify");
		CHECK_EQ(leaves, 1);
		CHECK_EQ(tables, dom->levels - 1);
		TRY(vtd_iova_to_phys(dom, base + 0x12345, &phys, &perm),
		    "walk");
		CHECK_EQ(phys, buf.iova + 0x12345);
		CHECK_EQ(perm, VTD_PERM_READ | VTD_PERM_WRITE);
		n = vtdemu_dma_write(env.emu, SID_A, VTDEMU_NO_PASID,
				     base + (1u << 20) + 4, msg, sizeof(msg),
				     NULL);
		CHECK(n == (int64_t)sizeof(msg), "DMA into the superpage");
		CHECK(memcmp(buf.va + (1u << 20) + 4, msg, sizeof(msg)) == 0,
		      "superpage DMA missed");

		/* Rules: no partial unmap, no overlap, holes are -ENOENT. */
		EXPECT_RC(vtd_unmap(dom, base + 4096, 4096, &g), -EINVAL);
		EXPECT_RC(vtd_unmap(dom, base, 1u << 20, &g), -EINVAL);
		EXPECT_RC(vtd_unmap(dom, base, 4u << 20, &g), -ENOENT);
		EXPECT_RC(vtd_map(dom, base + 8192, buf.iova, 4096,
				  VTD_PERM_READ), -EEXIST);
		EXPECT_RC(vtd_map(dom, base - 4096, buf.iova, 8192,
				  VTD_PERM_READ), -EEXIST);
		CHECK_EQ(leaves_of(dom), 1);
		CHECK(g.freelist == NULL && g.end == 0, "rejected unmap "
		      "touched the gather");
		TRY(vtd_iova_to_phys(dom, base + 4096, &phys, &perm),
		    "still mapped");

		/* Unaligned phys: 4 KiB leaves. */
		TRY(vtd_map(dom, base + (4u << 20), buf.iova + 4096, 2u << 20,
			    VTD_PERM_READ), "map 2 MiB unaligned phys");
		CHECK_EQ(leaves_of(dom), 1 + 512);
		/* 2 MiB + 4 KiB, aligned start: one 2 MiB leaf + one 4 KiB. */
		TRY(vtd_map(dom, base + (8u << 20), buf.iova, (2u << 20) + 4096,
			    VTD_PERM_READ), "map 2 MiB + 4 KiB");
		CHECK_EQ(leaves_of(dom), 1 + 512 + 2);
		TRY(vtd_unmap(dom, base + (8u << 20), (2u << 20) + 4096, &g),
		    "unmap 2 MiB + 4 KiB");
		TRY(vtd_unmap(dom, base + (4u << 20), 2u << 20, &g),
		    "unmap 2 MiB of 4 KiB leaves");
		TRY(vtd_unmap(dom, base, 2u << 20, &g), "unmap 2 MiB leaf");
		CHECK_EQ(leaves_of(dom), 0);
		/* [base+4M, base+6M) was one whole level-1 table: freed. */
		CHECK(g.nr_freed >= 1, "no table page freed (%u)", g.nr_freed);
		TRY(drv_flush_domain(dom, env.u), "flush");
		vtd_gather_release(dom, &g);

		/* A 1 GiB leaf (phys need not exist: no DMA through it). */
		if (info.sl_1g) {
			TRY(vtd_map(dom, 4ull << 30, 8ull << 30, 1ull << 30,
				    VTD_PERM_READ), "map 1 GiB");
			TRY(vtd_pgtable_verify(dom, &leaves, &tables),
			    "verify");
			CHECK_EQ(leaves, 1);
			TRY(vtd_iova_to_phys(dom, (4ull << 30) + 0x1234567,
					     &phys, &perm), "walk 1 GiB");
			CHECK_EQ(phys, (8ull << 30) + 0x1234567);
			EXPECT_RC(vtd_unmap(dom, 4ull << 30, 2u << 20, &g),
				  -EINVAL);
			TRY(vtd_unmap(dom, 4ull << 30, 1ull << 30, &g),
			    "unmap 1 GiB");
			TRY(drv_flush_domain(dom, env.u), "flush");
			vtd_gather_release(dom, &g);
		}
		CHECK_EQ(vtdemu_stale_count(env.emu), 0);
		TRY(vtd_detach(dom, env.u, SID_A), "detach");
		TRY(vtd_domain_destroy(dom), "destroy");

		/* superpages = false: 4 KiB leaves only. */
		{
			struct vtd_domain_params dp;

			vtd_domain_params_init(&dp);
			dp.superpages = false;
			TRY(vtd_domain_create(env.u, &dp, &dom), "domain");
			TRY(vtd_map(dom, base, buf.iova, 2u << 20,
				    VTD_PERM_READ), "map");
			CHECK_EQ(leaves_of(dom), 512);
			TRY(vtd_unmap(dom, base + 4096, 4096, &g),
			    "4 KiB out of the middle");
			CHECK_EQ(leaves_of(dom), 511);
			vtd_gather_release(dom, &g);
			TRY(vtd_domain_destroy(dom), "destroy");
		}
		CHECK_EQ(vtd_pt_pool_in_use(env.u->pt_pool), 0);
		drv_buf_free(&buf);
		drv_close(&env);
	}
}

/* A domain on two units and two devices. */
static void test_two_units(void)
{
	struct vtd_attach_params ap = { .sid = SID_A, .pasid = VTD_NO_PASID };
	struct vtd_domain_attach at[4];
	struct vtd_gather g = VTD_GATHER_INIT;
	struct drv_env e1, e2;
	struct vtd_domain *dom;
	struct drv_buf buf;
	uint8_t b[8];

	TRY(drv_open_preset(&e1, "qemu-cm-on"), "open 1");
	TRY(drv_open_preset(&e2, "qemu-cm-on-aw48"), "open 2");
	TRY(drv_buf_alloc(&buf, 4096, 4096), "buffer");
	TRY(vtd_domain_create(e1.u, NULL, &dom), "domain");
	TRY(vtd_attach(dom, e1.u, &ap), "attach 1A");
	ap.sid = SID_B;
	TRY(vtd_attach(dom, e1.u, &ap), "attach 1B");
	TRY(vtd_attach(dom, e2.u, &ap), "attach 2B");
	CHECK_EQ(vtd_domain_attachments(dom, NULL, at, 4), 3);
	CHECK_EQ(vtd_domain_attachments(dom, e1.u, at, 4), 2);
	CHECK_EQ(at[0].did, at[1].did);
	CHECK_EQ(vtd_domain_attachments(dom, e2.u, at, 4), 1);
	CHECK_EQ(at[0].sid, SID_B);
	CHECK_EQ(at[0].pasid, VTD_NO_PASID);
	TRY(vtd_map(dom, IOVA0, buf.iova, 4096, VTD_PERM_READ), "map");
	TRY(drv_flush_domain(dom, e1.u), "flush 1");
	TRY(drv_flush_domain(dom, e2.u), "flush 2");
	CHECK(vtdemu_dma_read(e1.emu, SID_A, VTDEMU_NO_PASID, IOVA0, b, 8,
			      NULL) == 8, "DMA unit 1 A");
	CHECK(vtdemu_dma_read(e1.emu, SID_B, VTDEMU_NO_PASID, IOVA0, b, 8,
			      NULL) == 8, "DMA unit 1 B");
	CHECK(vtdemu_dma_read(e2.emu, SID_B, VTDEMU_NO_PASID, IOVA0, b, 8,
			      NULL) == 8, "DMA unit 2 B");
	EXPECT_RC(vtd_unit_close(e1.u), -EBUSY);
	EXPECT_RC(vtd_domain_destroy(dom), -EBUSY);
	TRY(vtd_unmap(dom, IOVA0, 4096, &g), "unmap");
	TRY(drv_flush_domain(dom, e1.u), "flush 1");
	TRY(drv_flush_domain(dom, e2.u), "flush 2");
	vtd_gather_release(dom, &g);
	CHECK(vtdemu_dma_read(e2.emu, SID_B, VTDEMU_NO_PASID, IOVA0, b, 8,
			      NULL) == -EFAULT, "DMA unit 2 after unmap");
	TRY(vtd_detach(dom, e1.u, SID_A), "detach 1A");
	TRY(vtd_detach(dom, e1.u, SID_B), "detach 1B");
	EXPECT_RC(vtd_detach(dom, e1.u, SID_B), -ENOENT);
	TRY(vtd_detach(dom, e2.u, SID_B), "detach 2B");
	CHECK_EQ(vtdemu_stale_count(e1.emu) + vtdemu_stale_count(e2.emu), 0);
	TRY(vtd_domain_destroy(dom), "destroy");
	drv_buf_free(&buf);
	drv_close(&e1);
	drv_close(&e2);
}

/* Every rejection path of map, unmap, attach; a rejected call changes
 * nothing. */
static void test_rejections(void)
{
	struct vtd_attach_params ap = { .sid = SID_A, .pasid = VTD_NO_PASID };
	struct vtd_gather g = VTD_GATHER_INIT;
	struct vtd_domain_params dp;
	struct drv_env env, cm, nc;
	struct vtd_domain *dom, *pt, *fs;
	uint64_t phys, top;
	unsigned int perm;
	uint32_t lvl;

	TRY(drv_open_preset(&env, "qemu-cm-off"), "open");
	TRY(vtd_domain_create(env.u, NULL, &dom), "domain");
	CHECK(!vtd_domain_map_flush(dom), "CM=0 RWBF=0 domain needs a flush");
	top = 1ull << vtd_domain_width(dom);
	CHECK_EQ(vtd_domain_width(dom), 39);

	/* map: arguments. */
	EXPECT_RC(vtd_map(dom, IOVA0 + 1, 0x200000, 4096, VTD_PERM_READ),
		  -EINVAL);
	EXPECT_RC(vtd_map(dom, IOVA0, 0x200001, 4096, VTD_PERM_READ), -EINVAL);
	EXPECT_RC(vtd_map(dom, IOVA0, 0x200000, 4095, VTD_PERM_READ), -EINVAL);
	EXPECT_RC(vtd_map(dom, IOVA0, 0x200000, 0, VTD_PERM_READ), -EINVAL);
	EXPECT_RC(vtd_map(dom, IOVA0, 0x200000, 4096, 0), -EINVAL);
	EXPECT_RC(vtd_map(dom, IOVA0, 0x200000, 4096, 4), -EINVAL);
	EXPECT_RC(vtd_map(dom, top, 0x200000, 4096, VTD_PERM_READ), -EINVAL);
	EXPECT_RC(vtd_map(dom, top - 4096, 0x200000, 8192, VTD_PERM_READ),
		  -EINVAL);
	EXPECT_RC(vtd_map(dom, UINT64_MAX & VTD_PAGE_MASK, 0x200000, 8192,
			  VTD_PERM_READ), -EINVAL);
	EXPECT_RC(vtd_map(dom, IOVA0, 1ull << 52, 4096, VTD_PERM_READ),
		  -EINVAL);
	/* Beyond the unit's host address width (CAP.MGAW 39 here). */
	EXPECT_RC(vtd_map(dom, IOVA0, 1ull << 39, 4096, VTD_PERM_READ),
		  -EINVAL);
	EXPECT_RC(vtd_map(dom, IOVA0, (1ull << 39) - 4096, 8192, VTD_PERM_READ),
		  -EINVAL);
	TRY(vtd_map(dom, IOVA0, (1ull << 39) - 4096, 4096, VTD_PERM_READ),
	    "last host page");
	{
		struct vtd_gather g2 = VTD_GATHER_INIT;

		TRY(vtd_unmap(dom, IOVA0, 4096, &g2), "unmap");
		vtd_gather_release(dom, &g2);
	}
	EXPECT_RC(vtd_map(dom, IOVA0, UINT64_MAX & VTD_PAGE_MASK, 8192,
			  VTD_PERM_READ), -EINVAL);
	EXPECT_RC(vtd_map(NULL, IOVA0, 0, 4096, VTD_PERM_READ), -EINVAL);
	CHECK_EQ(leaves_of(dom), 0);

	/* map: overlap. The last page of the space is mappable. */
	TRY(vtd_map(dom, top - 4096, 0x200000, 4096, VTD_PERM_WRITE),
	    "top page");
	TRY(vtd_map(dom, IOVA0 + 8192, 0x300000, 8192, VTD_PERM_READ), "map");
	EXPECT_RC(vtd_map(dom, IOVA0 + 8192, 0x400000, 4096, VTD_PERM_READ),
		  -EEXIST);
	EXPECT_RC(vtd_map(dom, IOVA0, 0x400000, 16384, VTD_PERM_READ), -EEXIST);
	EXPECT_RC(vtd_map(dom, IOVA0 + 12288, 0x400000, 8192, VTD_PERM_READ),
		  -EEXIST);
	CHECK_EQ(leaves_of(dom), 3);
	/* Nothing of a rejected range got mapped. */
	EXPECT_RC(vtd_iova_to_phys(dom, IOVA0, &phys, &perm), -ENOENT);
	EXPECT_RC(vtd_iova_to_phys(dom, IOVA0 + 16384, &phys, &perm), -ENOENT);
	TRY(vtd_iova_to_phys(dom, IOVA0 + 12288, &phys, &perm), "walk");
	CHECK_EQ(phys, 0x301000);
	CHECK_EQ(perm, VTD_PERM_READ);
	TRY(vtd_iova_to_phys(dom, top - 1, &phys, &perm), "walk top");
	CHECK_EQ(phys, 0x200fff);
	CHECK_EQ(perm, VTD_PERM_WRITE);
	EXPECT_RC(vtd_iova_to_phys(dom, top, &phys, &perm), -EINVAL);

	/* unmap: arguments, holes. */
	EXPECT_RC(vtd_unmap(dom, IOVA0 + 8192, 4096, NULL), -EINVAL);
	EXPECT_RC(vtd_unmap(dom, IOVA0 + 8193, 4096, &g), -EINVAL);
	EXPECT_RC(vtd_unmap(dom, IOVA0 + 8192, 100, &g), -EINVAL);
	EXPECT_RC(vtd_unmap(dom, IOVA0 + 8192, 0, &g), -EINVAL);
	EXPECT_RC(vtd_unmap(dom, top, 4096, &g), -EINVAL);
	EXPECT_RC(vtd_unmap(dom, IOVA0, 4096, &g), -ENOENT);
	EXPECT_RC(vtd_unmap(dom, IOVA0 + 4096, 12288, &g), -ENOENT);
	EXPECT_RC(vtd_unmap(dom, IOVA0 + 8192, 12288, &g), -ENOENT);
	EXPECT_RC(vtd_unmap(dom, 1ull << 35, 4096, &g), -ENOENT);
	CHECK_EQ(leaves_of(dom), 3);
	CHECK(g.end == 0 && g.freelist == NULL, "rejected unmap changed g");
	TRY(vtd_unmap(dom, IOVA0 + 8192, 8192, &g), "unmap");
	TRY(vtd_unmap(dom, top - 4096, 4096, &g), "unmap top");
	CHECK_EQ(leaves_of(dom), 0);
	vtd_gather_release(dom, &g);

	/* Domain creation. */
	lvl = drv_quiet();
	vtd_domain_params_init(&dp);
	dp.addr_width = 40;
	CHECK_EQ(vtd_domain_create(env.u, &dp, &fs), -EINVAL);
	dp.addr_width = 57;       /* beyond MGAW 39 */
	CHECK_EQ(vtd_domain_create(env.u, &dp, &fs), -ENOTSUP);
	vtd_domain_params_init(&dp);
	dp.kind = VTD_DOMAIN_FIRST_STAGE;   /* legacy unit */
	CHECK_EQ(vtd_domain_create(env.u, &dp, &fs), -ENOTSUP);
	vtd_domain_params_init(&dp);
	dp.snoop = true;                    /* ECAP.SC=0 */
	CHECK_EQ(vtd_domain_create(env.u, &dp, &fs), -ENOTSUP);
	drv_loud(lvl);

	/* Pass-through domains have no page table. */
	vtd_domain_params_init(&dp);
	dp.kind = VTD_DOMAIN_PASSTHROUGH;
	TRY(vtd_domain_create(env.u, &dp, &pt), "pass-through domain");
	EXPECT_RC(vtd_map(pt, IOVA0, 0, 4096, VTD_PERM_READ), -EINVAL);
	EXPECT_RC(vtd_unmap(pt, IOVA0, 4096, &g), -EINVAL);
	EXPECT_RC(vtd_iova_to_phys(pt, IOVA0, &phys, &perm), -EINVAL);

	/* Attach. */
	TRY(vtd_attach(dom, env.u, &ap), "attach");
	EXPECT_RC(vtd_attach(dom, env.u, &ap), -EBUSY);
	EXPECT_RC(vtd_attach(pt, env.u, &ap), -EBUSY);
	ap.sid = SID_B;
	ap.ats = true;                      /* ECAP.DT=0 */
	EXPECT_RC(vtd_attach(dom, env.u, &ap), -ENOTSUP);
	ap.ats = false;
	ap.pasid = 5;                       /* legacy mode */
	EXPECT_RC(vtd_attach(dom, env.u, &ap), -EINVAL);
	ap.pasid = VTD_NO_PASID;
	EXPECT_RC(vtd_detach(dom, env.u, SID_B), -ENOENT);
	EXPECT_RC(vtd_detach(pt, env.u, SID_A), -ENOENT);

	/* From here on device B. Wrong unit: a domain made for a CM=0 unit on
	 * a CM=1 unit (it maps
	 * without flushing), or for coherent walks on a non-coherent unit. */
	TRY(drv_open_preset(&cm, "qemu-cm-on"), "open CM");
	EXPECT_RC(vtd_attach(dom, cm.u, &ap), -EINVAL);
	EXPECT_RC(vtd_domain_id(dom, cm.u), -ENOENT);
	EXPECT_RC(vtd_detach(dom, cm.u, SID_A), -ENOENT);
	{
		struct vtdemu_caps caps;

		REQUIRE(vtdemu_preset("qemu-cm-off", &caps) == 0, "preset");
		caps.ecap |= VTD_ECAP_C;
		TRY(drv_open(&nc, &caps, NULL), "open coherent");
		TRY(vtd_domain_create(nc.u, NULL, &fs), "coherent domain");
		EXPECT_RC(vtd_attach(fs, env.u, &ap), -EINVAL);
		/* The other way round is fine: extra flushes only. */
		TRY(vtd_attach(dom, nc.u, &ap), "non-coherent domain, "
		    "coherent unit");
		TRY(vtd_detach(dom, nc.u, SID_B), "detach");
		TRY(vtd_domain_destroy(fs), "destroy");
	}
	/* A CM=1 domain (map flush) runs anywhere. */
	TRY(vtd_domain_create(cm.u, NULL, &fs), "CM domain");
	TRY(vtd_attach(fs, env.u, &ap), "CM domain on CM=0 unit");
	EXPECT_RC(vtd_attach(fs, env.u, &ap), -EBUSY);
	TRY(vtd_detach(fs, env.u, SID_B), "detach");
	TRY(vtd_domain_destroy(fs), "destroy");
	/* A 1 GiB-leaf domain on a unit without 1 GiB leaves. */
	{
		struct vtdemu_caps caps;
		struct drv_env small;

		REQUIRE(vtdemu_preset("server", &caps) == 0, "preset");
		caps.cap &= ~VTD_SET(2, 37, 34);
		TRY(drv_open(&small, &caps, NULL), "open no-1G");
		REQUIRE(vtdemu_preset("server", &caps) == 0, "preset");
		{
			struct drv_env big;

			TRY(drv_open(&big, &caps, NULL), "open 1G");
			TRY(vtd_domain_create(big.u, NULL, &fs), "domain 1G");
			EXPECT_RC(vtd_attach(fs, small.u, &ap), -EINVAL);
			vtd_domain_params_init(&dp);
			dp.superpages = false;
			TRY(vtd_domain_destroy(fs), "destroy");
			TRY(vtd_domain_create(big.u, &dp, &fs), "domain 4K");
			TRY(vtd_attach(fs, small.u, &ap), "4 KiB domain");
			TRY(vtd_detach(fs, small.u, SID_B), "detach");
			TRY(vtd_domain_destroy(fs), "destroy");
			drv_close(&big);
		}
		drv_close(&small);
	}

	EXPECT_RC(vtd_domain_destroy(dom), -EBUSY);
	EXPECT_RC(vtd_unit_close(env.u), -EBUSY);
	TRY(vtd_detach(dom, env.u, SID_A), "detach");
	TRY(vtd_domain_destroy(dom), "destroy");
	TRY(vtd_domain_destroy(pt), "destroy pt");
	drv_close(&cm);
	drv_close(&nc);
	drv_close(&env);
}

/* Domain ids: CAP.ND bounds them, 0 is never used under CM. */
static void test_domain_ids(void)
{
	static const char *const presets[] = { "nd0", "qemu-cm-on" };

	for (unsigned int pi = 0; pi < RTE_DIM(presets); pi++) {
		struct vtd_domain *dom[300];
		struct drv_env env;
		unsigned int n = 0, ids;
		int rc;

		TRY(drv_open_preset(&env, presets[pi]), "open");
		/* One more than the unit has, to see the refusal (bounded:
		 * 256 attachments show enough on a 64 Ki-id unit). */
		ids = RTE_MIN(env.u->nr_domain_ids + 1, 256u);
		for (;;) {
			struct vtd_attach_params ap = {
				.sid = (uint16_t)(0x100 + n),
				.pasid = VTD_NO_PASID };
			uint32_t l;

			TRY(vtd_domain_create(env.u, NULL, &dom[n]), "domain");
			l = drv_quiet();
			rc = vtd_attach(dom[n], env.u, &ap);
			drv_loud(l);
			if (rc) {
				vtd_domain_destroy(dom[n]);
				break;
			}
			rc = vtd_domain_id(dom[n], env.u);
			if (env.caps.cap & VTD_CAP_CM)
				CHECK(rc != 0, "%s: domain id 0 under CM",
				      presets[pi]);
			n++;
			if (n == ids)
				break;
		}
		if (env.u->nr_domain_ids <= 256) {
			unsigned int want = env.u->nr_domain_ids -
				((env.caps.cap & VTD_CAP_CM) ? 1 : 0);

			CHECK(rc == -ENOSPC && n == want,
			      "%s: %u domains, rc %d, "
			      "expected %u then -ENOSPC",
			      presets[pi], n, rc, want);
		}
		while (n-- > 0) {
			TRY(vtd_detach(dom[n], env.u, (uint16_t)(0x100 + n)),
			    "detach");
			TRY(vtd_domain_destroy(dom[n]), "destroy");
		}
		drv_close(&env);
	}
}

/* Concurrent maps and unmaps of disjoint ranges from two lcores, sharing
 * table pages (interleaved 4 KiB pages), then the final table checked. */
#define CC_PAGES 4096              /* 16 MiB: 8 level-1 tables */
#define CC_BASE  (3ull << 30)      /* fresh level-2/3 tables too */
#define CC_ROUNDS 40

struct cc_arg {
	struct vtd_domain *dom;
	unsigned int parity;
	int errors;
	uint64_t ops;
};

static int cc_worker(void *p)
{
	struct cc_arg *a = p;
	struct vtd_gather g = VTD_GATHER_INIT;
	uint64_t t0 = vtd_now_ns();

	for (unsigned int r = 0; r < CC_ROUNDS; r++) {
		uint64_t base = CC_BASE + (uint64_t)(r % 4) * (64ull << 20);
		bool last = r == CC_ROUNDS - 1;

		for (unsigned int i = a->parity; i < CC_PAGES; i += 2) {
			uint64_t iova = base + (uint64_t)i * 4096;

			if (vtd_map(a->dom, iova, 0x10000000ull + iova, 4096,
				    VTD_PERM_READ | VTD_PERM_WRITE))
				a->errors++;
			a->ops++;
		}
		if (last)
			break;  /* leave the last round mapped for the check */
		for (unsigned int i = a->parity; i < CC_PAGES; i += 2) {
			if (vtd_unmap(a->dom, base + (uint64_t)i * 4096, 4096,
				      &g))
				a->errors++;
			a->ops++;
		}
		/* Multi-page ranges: 2 MiB blocks of this lcore's half. */
		for (unsigned int blk = a->parity; blk < CC_PAGES / 512;
		     blk += 2) {
			uint64_t iova = base + (256ull << 20) +
					(uint64_t)blk * (2u << 20);

			if (vtd_map(a->dom, iova, 0x40000000ull, 2u << 20,
				    VTD_PERM_READ) ||
			    vtd_unmap(a->dom, iova, 2u << 20, &g))
				a->errors++;
			a->ops += 2;
		}
		if (vtd_now_ns() - t0 > 60ull * 1000 * 1000 * 1000) {
			a->errors++;    /* bounded time */
			break;
		}
	}
	/* Nothing was freed (single pages never cover a table) except
	 * possibly nothing: the 2 MiB blocks are superpage leaves. */
	if (g.freelist != NULL)
		a->errors += 1000;
	return 0;
}

static void test_concurrent(void)
{
	struct cc_arg a[2];
	struct vtd_domain_params dp;
	struct drv_env env;
	struct vtd_domain *dom;
	uint64_t leaves, tables, phys, base;
	unsigned int worker = rte_get_next_lcore(-1, 1, 0);
	unsigned int perm;

	if (worker >= RTE_MAX_LCORE)
		SKIP_TEST("needs a second lcore");
	TRY(drv_open_preset(&env, "server"), "open");
	vtd_domain_params_init(&dp);
	TRY(vtd_domain_create(env.u, &dp, &dom), "domain");
	for (unsigned int i = 0; i < 2; i++) {
		a[i].dom = dom;
		a[i].parity = i;
		a[i].errors = 0;
		a[i].ops = 0;
	}
	TRY(uvtd_test_launch(cc_worker, &a[1], worker), "launch");
	cc_worker(&a[0]);
	uvtd_test_join(worker);
	CHECK(a[0].errors == 0 && a[1].errors == 0, "errors: %d, %d",
	      a[0].errors, a[1].errors);
	TRY(vtd_pgtable_verify(dom, &leaves, &tables), "final table");
	CHECK_EQ(leaves, CC_PAGES);
	base = CC_BASE + (uint64_t)((CC_ROUNDS - 1) % 4) * (64ull << 20);
	for (unsigned int i = 0; i < CC_PAGES; i++) {
		uint64_t iova = base + (uint64_t)i * 4096;

		if (vtd_iova_to_phys(dom, iova, &phys, &perm) != 0 ||
		    phys != 0x10000000ull + iova) {
			CHECK(0, "page %u: wrong translation", i);
			break;
		}
	}
	printf("# concurrent: %" PRIu64 " map/unmap calls, %" PRIu64
	       " table pages\n", a[0].ops + a[1].ops, tables);
	TRY(vtd_domain_destroy(dom), "destroy");
	CHECK_EQ(vtd_pt_pool_in_use(env.u->pt_pool), 0);
	drv_close(&env);
}

/* Lock-free install: both lcores race to create the same intermediate
 * tables many times over (fresh domain each round). */
static int race_worker(void *p)
{
	struct cc_arg *a = p;

	for (unsigned int i = 0; i < 64; i++) {
		/* Same 2 MiB region, same level-1 table, different pages. */
		uint64_t iova =
			(5ull << 30) + (uint64_t)(i * 2 + a->parity) * 4096;

		if (vtd_map(a->dom, iova, iova, 4096, VTD_PERM_READ))
			a->errors++;
	}
	return 0;
}

static void test_install_race(void)
{
	unsigned int worker = rte_get_next_lcore(-1, 1, 0);
	struct drv_env env;
	int errors = 0;

	if (worker >= RTE_MAX_LCORE)
		SKIP_TEST("needs a second lcore");
	TRY(drv_open_preset(&env, "qemu-cm-on-aw48"), "open");
	for (unsigned int round = 0; round < 200; round++) {
		struct cc_arg a[2];
		struct vtd_domain *dom;
		uint64_t leaves, tables;

		TRY(vtd_domain_create(env.u, NULL, &dom), "domain");
		for (unsigned int i = 0; i < 2; i++)
			a[i] = (struct cc_arg){ dom, i, 0, 0 };
		TRY(uvtd_test_launch(race_worker, &a[1], worker), "launch");
		race_worker(&a[0]);
		uvtd_test_join(worker);
		errors += a[0].errors + a[1].errors;
		if (vtd_pgtable_verify(dom, &leaves, &tables) != 0 ||
		    leaves != 128 || tables != dom->levels) {
			CHECK(0, "round %u: %" PRIu64 " leaves, %" PRIu64
			      " tables", round, leaves, tables);
			vtd_domain_destroy(dom);
			break;
		}
		TRY(vtd_domain_destroy(dom), "destroy");
	}
	CHECK_EQ(errors, 0);
	CHECK_EQ(vtd_pt_pool_in_use(env.u->pt_pool), 0);
	drv_close(&env);
}

/* The burst walk cache (vtd_map_walk, vtd_unmap_walk): 4 KiB maps and
 * unmaps of one burst across 2 MiB and 1 GiB boundaries, in and out of
 * order, each landing where a fresh walk puts it; 8 KiB maps and unmaps
 * and a 2 MiB map in the middle of a burst free nothing and the cache keeps
 * its table; a 2 MiB unmap in the middle of a burst frees the cached table
 * and the cache forgets it. Two
 * planted caches, played by the test, must be caught: one keyed to the
 * wrong span (the entry goes to another table), and one kept across the
 * unmap that freed its table (the entry goes to a freed page). On a 3-level
 * second-stage table of a non-coherent unit (qemu-cm-off: every entry
 * written is flushed), a 5-level one (server) and a first-stage one. */
static void walk_cache_case(const char *preset, enum vtd_domain_kind kind,
			    unsigned int width)
{
	static const uint64_t MB2 = 2ull << 20, GB1 = 1ull << 30;
	const uint64_t iovas[] = {
		MB2 - 8192, MB2 - 4096, MB2, MB2 + 4096, 3 * MB2 + 4096,
		MB2 + 8192, GB1 - 4096, GB1, GB1 + 4096, 5 * GB1 + MB2,
		MB2 - 12288,
	};
	const unsigned int n = RTE_DIM(iovas);
	const uint64_t phys0 = 0x40000000;
	struct drv_env env;
	struct vtd_domain *dom;
	struct vtd_walk w = VTD_WALK_INIT, stale;
	struct vtd_gather g = VTD_GATHER_INIT;
	uint64_t phys, leaves;
	unsigned int perm, i;

	struct vtd_domain_params dp;

	printf("# walk cache: %s, %s, %u bits\n", preset,
	       kind == VTD_DOMAIN_FIRST_STAGE ? "first stage" : "second stage",
	       width);
	TRY(drv_open_preset(&env, preset), "open");
	vtd_domain_params_init(&dp);
	dp.kind = kind;
	dp.addr_width = width;
	TRY(vtd_domain_create(env.u, &dp, &dom), "domain");
	for (i = 0; i < n; i++)
		TRY(vtd_map_walk(dom, iovas[i], phys0 + i * 4096ull, 4096,
				 VTD_PERM_READ | VTD_PERM_WRITE, &w),
		    "map %u", i);
	for (i = 0; i < n; i++) {
		CHECK(vtd_iova_to_phys(dom, iovas[i], &phys, &perm) == 0 &&
		      phys == phys0 + i * 4096ull, "iova 0x%" PRIx64
		      " -> 0x%" PRIx64, iovas[i], phys);
	}
	CHECK(vtd_pgtable_verify(dom, &leaves, NULL) == 0 && leaves == n,
	      "%" PRIu64 " leaves", leaves);
	/* A taken IOVA stays refused through the cache. */
	CHECK_EQ(vtd_map_walk(dom, MB2, phys0, 4096, VTD_PERM_READ, &w),
		 -EEXIST);
	/* Unmaps in another order, one cache. */
	w = VTD_WALK_INIT;
	for (i = n; i-- > 0;)
		TRY(vtd_unmap_walk(dom, iovas[i], 4096, &g, &w), "unmap %u",
		    i);
	for (i = 0; i < n; i++)
		CHECK(vtd_iova_to_phys(dom, iovas[i], &phys, &perm) ==
		      -ENOENT, "iova 0x%" PRIx64 " still mapped", iovas[i]);
	CHECK_EQ(vtd_unmap_walk(dom, MB2, 4096, &g, &w), -ENOENT);
	CHECK(vtd_pgtable_verify(dom, &leaves, NULL) == 0 && leaves == 0,
	      "%" PRIu64 " leaves", leaves);

	/* Planted: a cache keyed to the wrong span. The map of MB2 (second
	 * 2 MiB span) through the first span's table writes into that
	 * table: MB2 does not translate, iova 0 does. */
	w = VTD_WALK_INIT;
	TRY(vtd_map_walk(dom, 4096, phys0, 4096, VTD_PERM_READ, &w), "map");
	w.span = MB2 >> 21;
	TRY(vtd_map_walk(dom, MB2, phys0 + 8192, 4096, VTD_PERM_READ, &w),
	    "planted map");
	CHECK(vtd_iova_to_phys(dom, MB2, &phys, &perm) == -ENOENT,
	      "a mis-keyed cache must show: MB2 translates");
	CHECK(vtd_iova_to_phys(dom, 0, &phys, &perm) == 0 &&
	      phys == phys0 + 8192, "the planted entry sits at iova 0");
	w = VTD_WALK_INIT;
	TRY(vtd_unmap_walk(dom, 0, 4096, &g, &w), "unmap");
	TRY(vtd_unmap_walk(dom, 4096, 4096, &g, &w), "unmap");
	CHECK(vtd_pgtable_verify(dom, &leaves, NULL) == 0 && leaves == 0,
	      "%" PRIu64 " leaves", leaves);

	/* Requests of 8 KiB (and a 2 MiB map elsewhere: a superpage or a new
	 * table, as the unit allows) in the middle of a burst free no table:
	 * the cache keeps its table, and the 4 KiB requests after them land
	 * right. */
	w = VTD_WALK_INIT;
	TRY(vtd_map_walk(dom, 6 * MB2, phys0, 4096, VTD_PERM_READ, &w),
	    "map");
	stale = w;
	TRY(vtd_map_walk(dom, 6 * MB2 + 8192, phys0 + 8192, 8192,
			 VTD_PERM_READ, &w), "8 KiB map");
	TRY(vtd_map_walk(dom, 8 * MB2, phys0 + MB2, MB2, VTD_PERM_READ, &w),
	    "2 MiB map");
	CHECK(w.table == stale.table && w.span == stale.span,
	      "the cache kept across 8 KiB and 2 MiB maps");
	TRY(vtd_unmap_walk(dom, 6 * MB2 + 8192, 8192, &g, &w), "8 KiB unmap");
	CHECK(g.nr_freed == 0 && w.table == stale.table,
	      "an 8 KiB unmap frees nothing and keeps the cache");
	TRY(vtd_map_walk(dom, 6 * MB2 + 4096, phys0 + 4096, 4096,
			 VTD_PERM_READ, &w), "map through the kept cache");
	for (i = 0; i < 2; i++)
		CHECK(vtd_iova_to_phys(dom, 6 * MB2 + i * 4096ull, &phys,
				       &perm) == 0 && phys == phys0 + i * 4096ull,
		      "page %u of the kept table", i);
	CHECK(vtd_iova_to_phys(dom, 6 * MB2 + 8192, &phys, &perm) == -ENOENT,
	      "the 8 KiB unmap took effect");
	TRY(vtd_unmap_walk(dom, 6 * MB2, 4096, &g, &w), "unmap");
	TRY(vtd_unmap_walk(dom, 6 * MB2 + 4096, 4096, &g, &w), "unmap");
	TRY(vtd_unmap_walk(dom, 8 * MB2, MB2, &g, &w), "2 MiB unmap");
	CHECK(vtd_pgtable_verify(dom, &leaves, NULL) == 0 && leaves == 0,
	      "%" PRIu64 " leaves", leaves);
	vtd_gather_release(dom, &g);

	/* A 2 MiB unmap inside a burst frees the cached table: the cache
	 * forgets it, and the next map walks (and installs a table) again. */
	w = VTD_WALK_INIT;
	for (i = 0; i < 512; i++)
		TRY(vtd_map_walk(dom, 4 * MB2 + i * 4096ull, phys0, 4096,
				 VTD_PERM_READ, &w), "fill %u", i);
	stale = w;
	TRY(vtd_unmap_walk(dom, 4 * MB2, MB2, &g, &w), "2 MiB unmap");
	CHECK(g.nr_freed == 1, "the span's table freed: %u", g.nr_freed);
	CHECK(w.table == NULL, "the cache forgot the freed table");
	TRY(vtd_map_walk(dom, 4 * MB2 + 4096, phys0, 4096, VTD_PERM_READ,
			 &w), "map after the free");
	CHECK(vtd_iova_to_phys(dom, 4 * MB2 + 4096, &phys, &perm) == 0,
	      "mapped through a new table");
	/* Planted: the cache as it was before the free. Its table is on the
	 * gather list (freed after the invalidation): the entry lands there
	 * and the IOVA does not translate through the live tables. */
	TRY(vtd_map_walk(dom, 4 * MB2 + 8192, phys0, 4096, VTD_PERM_READ,
			 &stale), "planted stale map");
	CHECK(vtd_iova_to_phys(dom, 4 * MB2 + 8192, &phys, &perm) ==
	      -ENOENT, "a cache kept across the free must show");
	memset(((struct vtd_pt_page *)stale.table)->va, 0, 4096);
	vtd_gather_release(dom, &g);
	TRY(vtd_domain_destroy(dom), "destroy");
	CHECK_EQ(vtd_pt_pool_in_use(env.u->pt_pool), 0);
	drv_close(&env);
}

static void test_walk_cache(void)
{
	walk_cache_case("qemu-cm-off", VTD_DOMAIN_SECOND_STAGE, 0);
	walk_cache_case("server", VTD_DOMAIN_SECOND_STAGE, 57);
	walk_cache_case("server", VTD_DOMAIN_FIRST_STAGE, 0);
}

#ifndef DRV_MAP_EAL_MODE
#define DRV_MAP_EAL_MODE UVTD_EAL_VA
#endif

/* The blocking root table file a real unit is parked on at close
 * (vtd_regs.c), without a real unit: created for a made-up register base,
 * found again at the same physical address, refused once a byte of its
 * table is not zero, zeroed again by the next prepare, then removed. Needs
 * pagemap (IOVA as PA, root) and a hugetlbfs mount of 2 MiB pages. */
static void test_blocking_root_file(void)
{
	const uint64_t base = 0xfe0ff000;   /* no unit of ours lives here */
	struct vtd_unit u;
	uint64_t pa = 0, pa2 = 0;
	char path[300] = "";
	FILE *m;
	char line[512], dir[256];
	void *va;
	int fd, rc;

	if (rte_eal_iova_mode() != RTE_IOVA_PA)
		SKIP_TEST("needs IOVA as PA (pagemap)");
	m = fopen("/proc/mounts", "r");
	REQUIRE(m != NULL, "/proc/mounts");
	while (fgets(line, sizeof(line), m))
		if (sscanf(line, "%*s %255s hugetlbfs", dir) == 1 &&
		    strstr(line, " hugetlbfs ") && strstr(line, "pagesize=2M"))
			snprintf(path, sizeof(path),
				 "%s/uvtd-blocking-root-%" PRIx64, dir, base);
	fclose(m);
	if (path[0] == '\0')
		SKIP_TEST("no hugetlbfs mount of 2 MiB pages");
	unlink(path);
	EXPECT_RC(vtd_blocking_root_find(base, &pa), -ENOENT);
	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "blocking");
	u.reg_base = base;
	u.haw = 52;
	u.coherent = true;
	rc = vtd_blocking_root_prepare(&u, &pa);
	if (rc == -ENOMEM)
		SKIP_TEST("no free 2 MiB hugepage");
	REQUIRE(rc == 0, "prepare: %d", rc);
	CHECK(pa != 0 && pa != RTE_BAD_IOVA && (pa & 0xfff) == 0,
	      "physical address 0x%" PRIx64, pa);
	CHECK_EQ(vtd_blocking_root_find(base, &pa2), 0);
	CHECK_EQ(pa2, pa);
	/* A present root entry in it: no longer a table that blocks all. */
	fd = open(path, O_RDWR);
	REQUIRE(fd >= 0, "open %s", path);
	va = mmap(NULL, 2u << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	REQUIRE(va != MAP_FAILED, "mmap");
	((volatile uint64_t *)va)[2 * 7] = 0x1000 | 1;     /* bus 7, P=1 */
	EXPECT_RC(vtd_blocking_root_find(base, &pa2), -EINVAL);
	/* The next prepare zeroes it again; the page (and address) stay. */
	CHECK_EQ(vtd_blocking_root_prepare(&u, &pa2), 0);
	CHECK_EQ(pa2, pa);
	CHECK_EQ(((volatile uint64_t *)va)[2 * 7], 0);
	CHECK_EQ(vtd_blocking_root_find(base, &pa2), 0);
	munmap(va, 2u << 20);
	/* Above the host address width: refused. */
	u.haw = 32;
	if (pa >> 32)
		EXPECT_RC(vtd_blocking_root_prepare(&u, &pa2), -ERANGE);
	CHECK_EQ(unlink(path), 0);
}

int main(int argc, char **argv)
{
	RTE_SET_USED(argc);
	if (uvtd_test_eal_init(argv[0], DRV_MAP_EAL_MODE) != 0) {
		if (DRV_MAP_EAL_MODE == UVTD_EAL_PA) {
			printf("skip: EAL in IOVA-as-PA mode needs root and "
			       "free hugepages\n");
			return 77;
		}
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	printf("# IOVA mode: %s\n",
	       rte_eal_iova_mode() == RTE_IOVA_PA ? "PA" : "VA");
	RUN(test_rejections);
	RUN(test_presets);
	RUN(test_cap_variations);
	RUN(test_threaded);
	RUN(test_first_stage);
	RUN(test_pass_through);
	RUN(test_planted_missing_invalidation);
	RUN(test_planted_missing_map_flush);
	RUN(test_planted_ih);
	RUN(test_superpages);
	RUN(test_two_units);
	RUN(test_domain_ids);
	RUN(test_concurrent);
	RUN(test_install_race);
	RUN(test_walk_cache);
	RUN(test_blocking_root_file);
	return TEST_SUMMARY();
}
