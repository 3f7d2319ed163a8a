/* SPDX-License-Identifier: BSD-3-Clause
 * lib/vtdemu caches: each invalidation descriptor and granularity with its
 * exact effect (entries in scope dropped, entries out of scope kept, seen
 * through vtdemu_cache_holds), IH keeping the paging-structure caches,
 * device-TLB S-bit ranges, eviction with small capacities, "never evict",
 * and exact hit/miss counters.
 */
#include "emu_helpers.h"

#define SA 0x0108 /* bus 1 dev 1 fn 0 */
#define SB 0x0109 /* bus 1 dev 1 fn 1 */
#define SC 0x0110 /* bus 1 dev 2 fn 0 */
#define SD 0x0200 /* bus 2 dev 0 fn 0 */

static bool hctx(struct vtk_env *e, uint16_t sid)
{
	return holds(e, VTDEMU_CACHE_CONTEXT, sid, 0, 0, 0, 0);
}

static bool htlb(struct vtk_env *e, uint16_t did, uint32_t pasid,
		 uint64_t iova)
{
	return holds(e, VTDEMU_CACHE_IOTLB, 0, did, pasid, iova, 0);
}

static bool hpwc(struct vtk_env *e, uint16_t did, uint64_t iova,
		 unsigned int level)
{
	return holds(e, VTDEMU_CACHE_PWC, 0, did, NOPASID, iova, level);
}

static bool hdev(struct vtk_env *e, uint16_t sid, uint32_t pasid,
		 uint64_t iova)
{
	return holds(e, VTDEMU_CACHE_DEVTLB, sid, 0, pasid, iova, 0);
}

/* Legacy unit with four devices: SA, SB in domain 1, SC in 2, SD in 3, all
 * on one 3-level table mapping 64 pages at 0 and a 2 MiB leaf at 2 MiB. */
static int legacy4(struct vtk_env *e, const char *preset,
		   void (*tweak)(struct vtdemu_config *), struct vtk_pt *pt)
{
	uint64_t buf;

	if (env_up(e, preset, VTK_START_QI | VTK_START_TE, tweak))
		return -1;
	if (vtk_pt_init(pt, &e->arena, VTK_PT_SECOND_STAGE, 3))
		return -1;
	buf = vtk_alloc(&e->arena, 64 * 4096, 4096);
	if (vtk_pt_map_range(pt, 0, buf, 64 * 4096, RW) ||
	    vtk_pt_map(pt, MB(2), GB(2), 2, RW) ||
	    vtk_pt_map(pt, GB(3), buf, 1, RW))
		return -1;
	if (attach_legacy(e, SA, 1, pt, VTK_TT_UNTRANSLATED, false) ||
	    attach_legacy(e, SB, 1, pt, VTK_TT_UNTRANSLATED, false) ||
	    attach_legacy(e, SC, 2, pt, VTK_TT_UNTRANSLATED, false) ||
	    attach_legacy(e, SD, 3, pt, VTK_TT_UNTRANSLATED, false))
		return -1;
	return flush_all(e);
}

static void touch_all(struct vtk_env *e, uint64_t iova)
{
	CHECK_EQ(xl(e, SA, NOPASID, iova, RD, NULL), 0);
	CHECK_EQ(xl(e, SB, NOPASID, iova, RD, NULL), 0);
	CHECK_EQ(xl(e, SC, NOPASID, iova, RD, NULL), 0);
	CHECK_EQ(xl(e, SD, NOPASID, iova, RD, NULL), 0);
}

static void test_context_cache_granularity(void)
{
	struct vtk_env e;
	struct vtk_pt pt;
	uint64_t inv0;

	REQUIRE(legacy4(&e, "qemu-cm-off", NULL, &pt) == 0, "setup");
	touch_all(&e, 0x1000);
	CHECK(hctx(&e, SA) && hctx(&e, SB) && hctx(&e, SC) && hctx(&e, SD),
	      "all cached");
	inv0 = STAT(&e, cache_invalidated[VTDEMU_CACHE_CONTEXT]);

	/* Domain-selective: only DID 1 (SA, SB). */
	CHECK(cc_inv(&e, VTK_GRAN_DOMAIN, 1, 0, 0) == 0, "cc dom");
	CHECK(!hctx(&e, SA) && !hctx(&e, SB), "DID 1 dropped");
	CHECK(hctx(&e, SC) && hctx(&e, SD), "others kept");
	CHECK_EQ(STAT(&e, cache_invalidated[VTDEMU_CACHE_CONTEXT]) - inv0, 2);
	/* A context-cache invalidation leaves the IOTLB alone (§6.5.2.1:
	 * software follows it with an IOTLB invalidation). */
	CHECK(htlb(&e, 1, NOPASID, 0x1000), "IOTLB kept");

	/* Device-selective, FM=0: exactly SA. */
	touch_all(&e, 0x1000);
	CHECK(cc_inv(&e, VTK_GRAN_DEVICE, 1, SA, 0) == 0, "cc dev");
	CHECK(!hctx(&e, SA) && hctx(&e, SB) && hctx(&e, SC), "SA only");
	/* Device-selective with a DID that is not the entry's: kept. */
	touch_all(&e, 0x1000);
	CHECK(cc_inv(&e, VTK_GRAN_DEVICE, 2, SA, 0) == 0, "cc dev");
	CHECK(hctx(&e, SA), "other DID: kept");
	/* FM=3 masks the function: SA and SB (device 1). */
	CHECK(cc_inv(&e, VTK_GRAN_DEVICE, 1, SA, 3) == 0, "cc dev fm");
	CHECK(!hctx(&e, SA) && !hctx(&e, SB), "device 1 dropped");
	CHECK(hctx(&e, SC) && hctx(&e, SD), "others kept");
	/* FM=1 masks SID bit 2 only: 0x10c covers 0x108 but not 0x109. */
	touch_all(&e, 0x1000);
	CHECK(cc_inv(&e, VTK_GRAN_DEVICE, 1, 0x010c, 1) == 0, "cc dev fm1");
	CHECK(!hctx(&e, SA) && hctx(&e, SB), "FM=1");

	CHECK(cc_inv(&e, VTK_GRAN_GLOBAL, 0, 0, 0) == 0, "cc global");
	CHECK(!hctx(&e, SB) && !hctx(&e, SC) && !hctx(&e, SD), "global");
	vtk_env_fini(&e);
}

static void test_iotlb_granularity(void)
{
	struct vtk_env e;
	struct vtk_pt pt;
	uint64_t a, inv0;

	REQUIRE(legacy4(&e, "qemu-cm-off", NULL, &pt) == 0, "setup");
	for (a = 0; a < 64 * 4096; a += 4096) {
		CHECK_EQ(xl(&e, SA, NOPASID, a, RD, NULL), 0);
		CHECK_EQ(xl(&e, SC, NOPASID, a, RD, NULL), 0);
	}
	CHECK_EQ(xl(&e, SA, NOPASID, MB(2) + 0x3000, RD, NULL), 0);
	CHECK_EQ(xl(&e, SC, NOPASID, MB(2) + 0x3000, RD, NULL), 0);
	CHECK(htlb(&e, 1, NOPASID, MB(3)), "2M leaf cached as one entry");

	/* PSI: [0x14000, 0x18000) of DID 1 only. */
	inv0 = STAT(&e, cache_invalidated[VTDEMU_CACHE_IOTLB]);
	CHECK(iotlb_inv(&e, VTK_GRAN_PAGE, 1, 0x14000, 2, false) == 0, "psi");
	CHECK_EQ(STAT(&e, cache_invalidated[VTDEMU_CACHE_IOTLB]) - inv0, 4);
	for (a = 0x13000; a <= 0x18000; a += 0x1000)
		CHECK(htlb(&e, 1, NOPASID, a) ==
			      (a == 0x13000 || a == 0x18000),
		      "DID 1 page 0x%" PRIx64, a);
	CHECK(htlb(&e, 2, NOPASID, 0x14000), "DID 2 kept");
	/* A PSI of one 4 KiB page inside the 2 MiB leaf drops the leaf. */
	CHECK(iotlb_inv(&e, VTK_GRAN_PAGE, 1, MB(2) + 0x5000, 0, false) == 0,
	      "psi");
	CHECK(!htlb(&e, 1, NOPASID, MB(2)), "2M leaf dropped");
	CHECK(htlb(&e, 2, NOPASID, MB(2)), "DID 2 2M leaf kept");
	/* Domain-selective: all of DID 1, nothing of DID 2. */
	CHECK(iotlb_inv(&e, VTK_GRAN_DOMAIN, 1, 0, 0, false) == 0, "dsi");
	CHECK(!htlb(&e, 1, NOPASID, 0), "DID 1 dropped");
	CHECK(htlb(&e, 2, NOPASID, 0) && htlb(&e, 2, NOPASID, 0x3f000),
	      "DID 2 kept");
	CHECK(iotlb_inv(&e, VTK_GRAN_GLOBAL, 0, 0, 0, false) == 0, "global");
	CHECK(!htlb(&e, 2, NOPASID, 0) && !htlb(&e, 2, NOPASID, MB(2)),
	      "global");
	vtk_env_fini(&e);
}

/* IH=1: only leaves changed, the paging-structure caches stay (§6.5.2.3);
 * IH=0 drops the non-leaf entries covering the range. */
static void test_pwc_and_ih(void)
{
	struct vtk_env e;
	struct vtk_pt pt;
	uint64_t reads;

	REQUIRE(legacy4(&e, "qemu-cm-off", NULL, &pt) == 0, "setup");
	CHECK_EQ(xl(&e, SA, NOPASID, 0x5000, RD, NULL), 0);
	CHECK_EQ(xl(&e, SA, NOPASID, GB(3), RD, NULL), 0);
	CHECK(hpwc(&e, 1, 0x5000, 3) && hpwc(&e, 1, 0x5000, 2), "PWC filled");
	CHECK(hpwc(&e, 1, GB(3), 2), "PWC of GB(3)");

	CHECK(iotlb_inv(&e, VTK_GRAN_PAGE, 1, 0x5000, 0, true) == 0, "psi ih");
	CHECK(!htlb(&e, 1, NOPASID, 0x5000), "leaf dropped");
	CHECK(hpwc(&e, 1, 0x5000, 3) && hpwc(&e, 1, 0x5000, 2), "PWC kept");
	/* The next walk starts at the cached PDE: one read (the leaf). */
	reads = STAT(&e, walk_reads);
	CHECK_EQ(xl(&e, SA, NOPASID, 0x5000, RD, NULL), 0);
	CHECK_EQ(STAT(&e, walk_reads) - reads, 1);

	CHECK(iotlb_inv(&e, VTK_GRAN_PAGE, 1, 0x5000, 0, false) == 0, "psi");
	CHECK(!hpwc(&e, 1, 0x5000, 2) && !hpwc(&e, 1, 0x5000, 3),
	      "PWC dropped");
	CHECK(hpwc(&e, 1, GB(3), 2), "PWC out of range kept");
	/* A fresh walk: the three levels. */
	reads = STAT(&e, walk_reads);
	CHECK_EQ(xl(&e, SA, NOPASID, 0x5000, RD, NULL), 0);
	CHECK_EQ(STAT(&e, walk_reads) - reads, 3);
	vtk_env_fini(&e);
}

/* Scalable mode: a legacy IOTLB invalidation of a DID covers every PASID
 * of it; a PASID-based one only first-stage (and pass-through) entries of
 * its PASID (§6.5.2.3, §6.5.2.4). */
static void test_sm_iotlb_scope(void)
{
	struct vtk_env e;
	struct vtk_pt ss, fs;
	uint64_t dir, dirc, buf;
	const uint64_t va = 0x20000;

	REQUIRE(env_up(&e, "server",
		       VTK_START_SCALABLE | VTK_START_QI | VTK_START_TE,
		       NULL) == 0, "env");
	REQUIRE(vtk_pt_init(&ss, &e.arena, VTK_PT_SECOND_STAGE, 4) == 0, "ss");
	REQUIRE(vtk_pt_init(&fs, &e.arena, VTK_PT_FIRST_STAGE, 4) == 0, "fs");
	buf = vtk_alloc(&e.arena, 16 * 4096, 4096);
	CHECK(vtk_pt_map_range(&ss, va, buf, 16 * 4096, RW) == 0, "map");
	CHECK(vtk_pt_map_range(&fs, va, buf, 16 * 4096, RW) == 0, "map");
	dir = attach_sm_ctx(&e, SA, 0, false);
	dirc = attach_sm_ctx(&e, SC, 0, false);
	REQUIRE(dir && dirc, "ctx");
	CHECK(set_pasid_ss(&e, dir, 0, 1, &ss) == 0, "pasid 0 ss");
	CHECK(set_pasid_fs(&e, dir, 5, 1, &fs) == 0, "pasid 5 fs");
	CHECK(set_pasid_fs(&e, dir, 6, 1, &fs) == 0, "pasid 6 fs");
	CHECK(set_pasid_fs(&e, dirc, 7, 2, &fs) == 0, "pasid 7 fs");
	CHECK(flush_all(&e) == 0, "flush");

#define TOUCH()                                                          \
	do {                                                             \
		CHECK_EQ(xl(&e, SA, NOPASID, va, RD, NULL), 0);          \
		CHECK_EQ(xl(&e, SA, 5, va, RD, NULL), 0);                \
		CHECK_EQ(xl(&e, SA, 6, va, RD, NULL), 0);                \
		CHECK_EQ(xl(&e, SC, 7, va, RD, NULL), 0);                \
		CHECK_EQ(xl(&e, SA, 5, va + 0x1000, RD, NULL), 0);       \
	} while (0)

	TOUCH();
	/* Entries of requests without PASID carry the RID_PASID (0). */
	CHECK(htlb(&e, 1, 0, va) && htlb(&e, 1, 5, va) && htlb(&e, 1, 6, va) &&
	      htlb(&e, 2, 7, va), "filled");

	CHECK(piotlb_inv(&e, VTK_GRAN_PAGE, 1, 5, va, 0, false) == 0, "p-psi");
	CHECK(!htlb(&e, 1, 5, va), "PASID 5 page dropped");
	CHECK(htlb(&e, 1, 5, va + 0x1000), "PASID 5 other page kept");
	CHECK(htlb(&e, 1, 6, va) && htlb(&e, 1, 0, va) && htlb(&e, 2, 7, va),
	      "others kept");
	CHECK(piotlb_inv(&e, VTK_GRAN_PASID, 1, 6, 0, 0, false) == 0, "p-all");
	CHECK(!htlb(&e, 1, 6, va) && htlb(&e, 1, 5, va + 0x1000), "PASID 6");
	/* A PASID-based invalidation does not touch second-stage entries. */
	CHECK(piotlb_inv(&e, VTK_GRAN_PASID, 1, 0, 0, 0, false) == 0, "p-0");
	CHECK(htlb(&e, 1, 0, va), "second stage kept");

	TOUCH();
	/* A legacy PSI of DID 1 drops that page for every PASID of DID 1. */
	CHECK(iotlb_inv(&e, VTK_GRAN_PAGE, 1, va, 0, false) == 0, "psi");
	CHECK(!htlb(&e, 1, 0, va) && !htlb(&e, 1, 5, va) &&
	      !htlb(&e, 1, 6, va), "all PASIDs of DID 1");
	CHECK(htlb(&e, 1, 5, va + 0x1000) && htlb(&e, 2, 7, va), "kept");
	TOUCH();
	CHECK(iotlb_inv(&e, VTK_GRAN_DOMAIN, 1, 0, 0, false) == 0, "dsi");
	CHECK(!htlb(&e, 1, 0, va) && !htlb(&e, 1, 5, va + 0x1000) &&
	      !htlb(&e, 1, 6, va), "DID 1 dropped");
	CHECK(htlb(&e, 2, 7, va), "DID 2 kept");
#undef TOUCH
	vtk_env_fini(&e);
}

static void test_pasid_cache(void)
{
	struct vtk_env e;
	struct vtk_pt fs;
	uint64_t dir;

	REQUIRE(env_up(&e, "server",
		       VTK_START_SCALABLE | VTK_START_QI | VTK_START_TE,
		       NULL) == 0, "env");
	REQUIRE(vtk_pt_init(&fs, &e.arena, VTK_PT_FIRST_STAGE, 4) == 0, "fs");
	CHECK(vtk_pt_map(&fs, 0x1000, vtk_alloc_page(&e.arena), 1, RW) == 0,
	      "map");
	dir = attach_sm_ctx(&e, SA, 0, false);
	REQUIRE(dir, "ctx");
	CHECK(set_pasid_fs(&e, dir, 5, 1, &fs) == 0, "pasid 5");
	CHECK(set_pasid_fs(&e, dir, 6, 2, &fs) == 0, "pasid 6");
	CHECK(set_pasid_fs(&e, dir, 7, 1, &fs) == 0, "pasid 7");
	CHECK(flush_all(&e) == 0, "flush");
#define HP(p) holds(&e, VTDEMU_CACHE_PASID, SA, 0, (p), 0, 0)
#define TOUCH()                                                          \
	do {                                                             \
		CHECK_EQ(xl(&e, SA, 5, 0x1000, RD, NULL), 0);            \
		CHECK_EQ(xl(&e, SA, 6, 0x1000, RD, NULL), 0);            \
		CHECK_EQ(xl(&e, SA, 7, 0x1000, RD, NULL), 0);            \
	} while (0)
	TOUCH();
	CHECK(HP(5) && HP(6) && HP(7), "filled");
	CHECK(pc_inv(&e, VTK_PC_PASID, 1, 5) == 0, "pc pasid");
	CHECK(!HP(5) && HP(6) && HP(7), "PASID-selective");
	TOUCH();
	CHECK(pc_inv(&e, VTK_PC_PASID, 2, 5) == 0, "pc pasid other did");
	CHECK(HP(5), "other DID: kept");
	CHECK(pc_inv(&e, VTK_PC_DOMAIN, 1, 0) == 0, "pc domain");
	CHECK(!HP(5) && HP(6) && !HP(7), "domain-selective");
	CHECK(pc_inv(&e, VTK_PC_GLOBAL, 0, 0) == 0, "pc global");
	CHECK(!HP(6), "global");
	/* The context cache is a different cache. */
	CHECK(hctx(&e, SA), "context kept");
#undef HP
#undef TOUCH
	vtk_env_fini(&e);
}

/* Device TLBs: filled by translation requests, dropped only by device-TLB
 * invalidations, with the ATS size encoding (S bit). */
static void test_devtlb_ranges(void)
{
	struct vtk_env e;
	struct vtk_pt pt;
	uint64_t a, buf, pa;

	REQUIRE(env_up(&e, "qemu-cm-on-devtlb", VTK_START_QI | VTK_START_TE,
		       NULL) == 0, "env");
	REQUIRE(vtk_pt_init(&pt, &e.arena, VTK_PT_SECOND_STAGE, 3) == 0, "pt");
	buf = vtk_alloc(&e.arena, 64 * 4096, 4096);
	CHECK(vtk_pt_map_range(&pt, 0, buf, 64 * 4096, RW) == 0, "map");
	CHECK(vtk_pt_map(&pt, MB(2), GB(2), 2, RW) == 0, "2M");
	CHECK(attach_legacy(&e, SA, 1, &pt, VTK_TT_DEVTLB, false) == 0, "ctx");
	CHECK(flush_all(&e) == 0, "flush");
	CHECK(vtdemu_set_ats(e.emu, SA, true) == 0, "ats");

	for (a = 0; a < 0x20000; a += 0x1000)
		CHECK_EQ(xl(&e, SA, NOPASID, a, RD, NULL), 0);
	CHECK_EQ(xl(&e, SA, NOPASID, MB(2) + 0x7000, RD, &pa), 0);
	CHECK_EQ(pa, GB(2) + 0x7000);
	CHECK(hdev(&e, SA, NOPASID, 0x3000) && hdev(&e, SA, NOPASID, MB(3)),
	      "filled");
	/* The translation request went through the IOTLB as well. */
	CHECK(htlb(&e, 1, NOPASID, 0x3000), "IOTLB");

	/* An IOTLB invalidation does not reach the device TLB. */
	CHECK(iotlb_inv(&e, VTK_GRAN_GLOBAL, 0, 0, 0, false) == 0, "iotlb");
	CHECK(hdev(&e, SA, NOPASID, 0x3000), "device TLB kept");

	CHECK(devtlb_inv(&e, SA, 0x3000, 0) == 0, "4K");
	CHECK(!hdev(&e, SA, NOPASID, 0x3000), "0x3000 dropped");
	CHECK(hdev(&e, SA, NOPASID, 0x2000) && hdev(&e, SA, NOPASID, 0x4000),
	      "neighbours kept");
	CHECK(devtlb_inv(&e, SA, 0x4000, 1) == 0, "8K");
	CHECK(!hdev(&e, SA, NOPASID, 0x4000) && !hdev(&e, SA, NOPASID, 0x5000),
	      "8K dropped");
	CHECK(hdev(&e, SA, NOPASID, 0x6000), "0x6000 kept");
	CHECK(devtlb_inv(&e, SA, 0x10000, 4) == 0, "64K");
	for (a = 0x10000; a < 0x20000; a += 0x1000)
		CHECK(!hdev(&e, SA, NOPASID, a), "0x%" PRIx64 " dropped", a);
	CHECK(hdev(&e, SA, NOPASID, 0xf000), "0xf000 kept");
	/* One page inside the 2 MiB translation drops it. */
	CHECK(devtlb_inv(&e, SA, MB(2) + 0x1000, 0) == 0, "in 2M");
	CHECK(!hdev(&e, SA, NOPASID, MB(2)), "2M dropped");
	/* Another endpoint's invalidation: nothing. */
	CHECK(devtlb_inv(&e, SB, 0, 52) == 0, "other sid");
	CHECK(hdev(&e, SA, NOPASID, 0xf000), "kept");
	CHECK(devtlb_inv(&e, SA, 0, 52) == 0, "everything");
	CHECK(!hdev(&e, SA, NOPASID, 0) && !hdev(&e, SA, NOPASID, 0xf000),
	      "everything dropped");
	CHECK(STAT(&e, cache_hits[VTDEMU_CACHE_DEVTLB]) == 0, "no hits yet");
	CHECK_EQ(xl(&e, SA, NOPASID, 0x8000, RD, NULL), 0);
	CHECK_EQ(xl(&e, SA, NOPASID, 0x8000, RD, NULL), 0);
	CHECK_EQ(STAT(&e, cache_hits[VTDEMU_CACHE_DEVTLB]), 1);
	vtk_env_fini(&e);
}

/* PASID-based device-TLB invalidations (type 8) in scalable mode. */
static void test_pasid_devtlb(void)
{
	struct vtk_env e;
	struct vtk_pt fs;
	uint64_t dir, q1, q0;

	REQUIRE(env_up(&e, "server",
		       VTK_START_SCALABLE | VTK_START_QI | VTK_START_TE,
		       NULL) == 0, "env");
	REQUIRE(vtk_pt_init(&fs, &e.arena, VTK_PT_FIRST_STAGE, 4) == 0, "fs");
	CHECK(vtk_pt_map(&fs, 0x1000, vtk_alloc_page(&e.arena), 1, RW) == 0,
	      "map");
	dir = attach_sm_ctx(&e, SA, 1, true);
	REQUIRE(dir, "ctx");
	CHECK(set_pasid_fs(&e, dir, 1, 1, &fs) == 0, "pasid 1");
	CHECK(set_pasid_fs(&e, dir, 5, 1, &fs) == 0, "pasid 5");
	CHECK(set_pasid_fs(&e, dir, 6, 1, &fs) == 0, "pasid 6");
	CHECK(flush_all(&e) == 0, "flush");
	CHECK(vtdemu_set_ats(e.emu, SA, true) == 0, "ats");
	CHECK_EQ(xl(&e, SA, NOPASID, 0x1000, RD, NULL), 0);
	CHECK_EQ(xl(&e, SA, 5, 0x1000, RD, NULL), 0);
	CHECK_EQ(xl(&e, SA, 6, 0x1000, RD, NULL), 0);
	CHECK(hdev(&e, SA, NOPASID, 0x1000) && hdev(&e, SA, 5, 0x1000) &&
	      hdev(&e, SA, 6, 0x1000), "filled");
	q0 = vtk_desc_pdevtlb(SA, 5, false, 0x1000, 0, &q1);
	CHECK(qi_do256(&e, q0, q1) == 0, "pdevtlb 5");
	CHECK(!hdev(&e, SA, 5, 0x1000) && hdev(&e, SA, 6, 0x1000) &&
	      hdev(&e, SA, NOPASID, 0x1000), "PASID 5 only");
	q0 = vtk_desc_pdevtlb(SA, 0, true, 0, 52, &q1);
	CHECK(qi_do256(&e, q0, q1) == 0, "pdevtlb global");
	CHECK(!hdev(&e, SA, 6, 0x1000), "global: every PASID");
	CHECK(hdev(&e, SA, NOPASID, 0x1000), "no-PASID entry: type 3's");
	CHECK(devtlb_inv(&e, SA, 0x1000, 0) == 0, "type 3");
	CHECK(!hdev(&e, SA, NOPASID, 0x1000), "type 3 dropped it");
	vtk_env_fini(&e);
}

static void small_caches(struct vtdemu_config *cfg)
{
	cfg->cache.iotlb_entries = 4;
	cfg->cache.context_entries = 2;
	cfg->cache.pwc_entries = 3;
}

static void test_eviction_small(void)
{
	struct vtk_env e;
	struct vtk_pt pt;
	uint64_t occ[VTDEMU_CACHE_KINDS], a, pa, pa2;
	int round;

	REQUIRE(legacy4(&e, "qemu-cm-off", small_caches, &pt) == 0, "setup");
	for (round = 0; round < 2; round++) {
		for (a = 0; a < 10 * 4096; a += 4096) {
			CHECK_EQ(xl(&e, SA, NOPASID, a, RD, &pa), 0);
			CHECK_EQ(xl(&e, SC, NOPASID, a, RD, &pa2), 0);
			CHECK_EQ(pa, pa2);
		}
		touch_all(&e, GB(3));
		vtdemu_cache_occupancy(e.emu, occ);
		CHECK_EQ(occ[VTDEMU_CACHE_IOTLB], 4);
		CHECK_EQ(occ[VTDEMU_CACHE_CONTEXT], 2);
		CHECK(occ[VTDEMU_CACHE_PWC] <= 3, "pwc %" PRIu64,
		      occ[VTDEMU_CACHE_PWC]);
	}
	CHECK(STAT(&e, cache_evictions[VTDEMU_CACHE_IOTLB]) >= 16,
	      "evictions %" PRIu64,
	      STAT(&e, cache_evictions[VTDEMU_CACHE_IOTLB]));
	CHECK(STAT(&e, cache_evictions[VTDEMU_CACHE_CONTEXT]) > 0, "ctx ev");
	/* Whatever was evicted, translations are right. */
	CHECK_EQ(xl(&e, SD, NOPASID, GB(3) + 8, RD, &pa), 0);
	vtk_env_fini(&e);
}

static void small_devtlb(struct vtdemu_config *cfg)
{
	cfg->cache.devtlb_entries = 2;
}

/* The device-TLB capacity is per endpoint. */
static void test_devtlb_eviction(void)
{
	struct vtk_env e;
	struct vtk_pt pt;
	uint64_t occ[VTDEMU_CACHE_KINDS], a;

	REQUIRE(env_up(&e, "qemu-cm-on-devtlb", VTK_START_QI | VTK_START_TE,
		       small_devtlb) == 0, "env");
	REQUIRE(vtk_pt_init(&pt, &e.arena, VTK_PT_SECOND_STAGE, 3) == 0, "pt");
	CHECK(vtk_pt_map_range(&pt, 0, GB(1), 16 * 4096, RW) == 0, "map");
	CHECK(attach_legacy(&e, SA, 1, &pt, VTK_TT_DEVTLB, false) == 0, "ctx");
	CHECK(attach_legacy(&e, SC, 2, &pt, VTK_TT_DEVTLB, false) == 0, "ctx");
	CHECK(flush_all(&e) == 0, "flush");
	CHECK(vtdemu_set_ats(e.emu, SA, true) == 0, "ats");
	CHECK(vtdemu_set_ats(e.emu, SC, true) == 0, "ats");
	for (a = 0; a < 16 * 4096; a += 4096) {
		CHECK_EQ(xl(&e, SA, NOPASID, a, RD, NULL), 0);
		CHECK_EQ(xl(&e, SC, NOPASID, a, RD, NULL), 0);
	}
	vtdemu_cache_occupancy(e.emu, occ);
	CHECK_EQ(occ[VTDEMU_CACHE_DEVTLB], 4);
	CHECK_EQ(STAT(&e, cache_evictions[VTDEMU_CACHE_DEVTLB]), 28);
	CHECK(hdev(&e, SA, NOPASID, 15 * 4096) &&
	      hdev(&e, SC, NOPASID, 15 * 4096), "last page held");
	vtk_env_fini(&e);
}

static void test_never_evict(void)
{
	struct vtk_env e;
	struct vtk_pt pt;
	uint64_t occ[VTDEMU_CACHE_KINDS], a, buf;
	unsigned int k;

	REQUIRE(env_up(&e, "qemu-cm-off", VTK_START_QI | VTK_START_TE,
		       NULL) == 0, "env");
	REQUIRE(vtk_pt_init(&pt, &e.arena, VTK_PT_SECOND_STAGE, 3) == 0, "pt");
	buf = vtk_alloc(&e.arena, 4096, 4096);
	for (a = 0; a < 3000 * 4096ull; a += 4096)
		CHECK(vtk_pt_map(&pt, a, buf, 1, RW) == 0, "map");
	CHECK(attach_legacy(&e, SA, 1, &pt, VTK_TT_UNTRANSLATED, false) == 0,
	      "ctx");
	CHECK(flush_all(&e) == 0, "flush");
	for (a = 0; a < 3000 * 4096ull; a += 4096)
		CHECK_EQ(xl(&e, SA, NOPASID, a, WR, NULL), 0);
	vtdemu_cache_occupancy(e.emu, occ);
	CHECK_EQ(occ[VTDEMU_CACHE_IOTLB], 3000);
	for (k = 0; k < VTDEMU_CACHE_KINDS; k++)
		CHECK_EQ(STAT(&e, cache_evictions[k]), 0);
	CHECK(htlb(&e, 1, NOPASID, 0) && htlb(&e, 1, NOPASID, 2999 * 4096ull),
	      "all held");
	/* A DSI drops exactly what was there. */
	CHECK(iotlb_inv(&e, VTK_GRAN_DOMAIN, 1, 0, 0, false) == 0, "dsi");
	CHECK_EQ(STAT(&e, cache_invalidated[VTDEMU_CACHE_IOTLB]), 3000);
	vtk_env_fini(&e);
}

/* Counters are exact. */
static void test_stats_exact(void)
{
	struct vtk_env e;
	struct vtk_pt pt;

	REQUIRE(legacy4(&e, "qemu-cm-off", NULL, &pt) == 0, "setup");
	vtdemu_stats_reset(e.emu);
	CHECK_EQ(xl(&e, SA, NOPASID, 0x2000, RD, NULL), 0);
	CHECK_EQ(STAT(&e, cache_misses[VTDEMU_CACHE_CONTEXT]), 1);
	CHECK_EQ(STAT(&e, cache_misses[VTDEMU_CACHE_IOTLB]), 1);
	CHECK_EQ(STAT(&e, cache_misses[VTDEMU_CACHE_PWC]), 1);
	CHECK_EQ(STAT(&e, walks), 1);
	/* root + context + 3 levels */
	CHECK_EQ(STAT(&e, walk_reads), 5);
	CHECK_EQ(xl(&e, SA, NOPASID, 0x2000, RD, NULL), 0);
	CHECK_EQ(xl(&e, SA, NOPASID, 0x3000, RD, NULL), 0);
	CHECK_EQ(STAT(&e, cache_hits[VTDEMU_CACHE_CONTEXT]), 2);
	CHECK_EQ(STAT(&e, cache_hits[VTDEMU_CACHE_IOTLB]), 1);
	CHECK_EQ(STAT(&e, cache_misses[VTDEMU_CACHE_IOTLB]), 2);
	CHECK_EQ(STAT(&e, cache_hits[VTDEMU_CACHE_PWC]), 1);
	CHECK_EQ(STAT(&e, walk_reads), 6);
	CHECK_EQ(STAT(&e, translations), 3);
	vtk_env_fini(&e);
}

/* CAP.CM=1: not-present results are cached and dropped by the
 * invalidation of their stage, in scope. */
static void test_notpresent_scope(void)
{
	struct vtk_env e;
	struct vtk_pt pt;
	const uint16_t snew = 0x0118; /* bus 1 dev 3: no context yet */

	REQUIRE(legacy4(&e, "qemu-cm-on", NULL, &pt) == 0, "setup");
	/* Page stage: 0x80000 is not mapped. */
	CHECK_EQ(xl(&e, SA, NOPASID, 0x80000, RD, NULL), 6);
	CHECK(holds(&e, VTDEMU_CACHE_NOTPRESENT, SA, 0, NOPASID, 0x80000, 0),
	      "cached");
	CHECK(!holds(&e, VTDEMU_CACHE_NOTPRESENT, SA, 0, NOPASID, 0x81000, 0),
	      "one page");
	CHECK(iotlb_inv(&e, VTK_GRAN_PAGE, 2, 0x80000, 0, false) == 0, "psi");
	CHECK(holds(&e, VTDEMU_CACHE_NOTPRESENT, SA, 0, NOPASID, 0x80000, 0),
	      "other DID: kept");
	CHECK(iotlb_inv(&e, VTK_GRAN_PAGE, 1, 0x81000, 0, false) == 0, "psi");
	CHECK(holds(&e, VTDEMU_CACHE_NOTPRESENT, SA, 0, NOPASID, 0x80000, 0),
	      "other page: kept");
	CHECK(cc_inv(&e, VTK_GRAN_GLOBAL, 0, 0, 0) == 0, "cc");
	CHECK(holds(&e, VTDEMU_CACHE_NOTPRESENT, SA, 0, NOPASID, 0x80000, 0),
	      "context invalidation: kept");
	CHECK(iotlb_inv(&e, VTK_GRAN_PAGE, 1, 0x80000, 0, false) == 0, "psi");
	CHECK(!holds(&e, VTDEMU_CACHE_NOTPRESENT, SA, 0, NOPASID, 0x80000, 0),
	      "dropped");

	/* Context stage: tagged with DID 0. */
	CHECK_EQ(xl(&e, snew, NOPASID, 0x1000, RD, NULL), 2);
	CHECK(holds(&e, VTDEMU_CACHE_NOTPRESENT, snew, 0, NOPASID, 0x5000, 0),
	      "whole context");
	CHECK(cc_inv(&e, VTK_GRAN_DEVICE, 4, snew, 0) == 0, "cc dev did 4");
	CHECK(holds(&e, VTDEMU_CACHE_NOTPRESENT, snew, 0, NOPASID, 0x5000, 0),
	      "DID 4: kept");
	CHECK(iotlb_inv(&e, VTK_GRAN_GLOBAL, 0, 0, 0, false) == 0, "iotlb");
	CHECK(holds(&e, VTDEMU_CACHE_NOTPRESENT, snew, 0, NOPASID, 0x5000, 0),
	      "IOTLB invalidation: kept");
	CHECK(cc_inv(&e, VTK_GRAN_DEVICE, 0, snew, 0) == 0, "cc dev did 0");
	CHECK(!holds(&e, VTDEMU_CACHE_NOTPRESENT, snew, 0, NOPASID, 0x5000, 0),
	      "DID 0: dropped");
	vtk_env_fini(&e);
}

/* CAP.CM=1 cost model: a domain-selective invalidation makes the
 * hypervisor re-walk every present leaf of the domain, a page-selective one
 * 2^AM pages. */
static void test_shadow_pages(void)
{
	struct vtk_env e;
	struct vtk_pt pt, pt2;
	uint64_t s0;

	REQUIRE(env_up(&e, "qemu-cm-on", VTK_START_QI | VTK_START_TE,
		       NULL) == 0, "env");
	REQUIRE(vtk_pt_init(&pt, &e.arena, VTK_PT_SECOND_STAGE, 3) == 0, "pt");
	REQUIRE(vtk_pt_init(&pt2, &e.arena, VTK_PT_SECOND_STAGE, 3) == 0, "pt");
	CHECK(vtk_pt_map_range(&pt, 0, GB(1), 10 * 4096, RW) == 0, "map");
	CHECK(vtk_pt_map(&pt, MB(2), GB(2), 2, RW) == 0, "2M");
	CHECK(vtk_pt_map(&pt, GB(7), GB(2), 3, RW) == 0, "1G");
	CHECK(vtk_pt_map_range(&pt2, 0, GB(1), 5 * 4096, RW) == 0, "map2");
	/* Two devices share domain 1's table; domain 2 has its own. */
	CHECK(attach_legacy(&e, SA, 1, &pt, 0, false) == 0, "ctx");
	CHECK(attach_legacy(&e, SB, 1, &pt, 0, false) == 0, "ctx");
	CHECK(attach_legacy(&e, SC, 2, &pt2, 0, false) == 0, "ctx");
	CHECK(flush_all(&e) == 0, "flush");

	s0 = STAT(&e, shadow_pages);
	CHECK(iotlb_inv(&e, VTK_GRAN_DOMAIN, 1, 0, 0, false) == 0, "dsi");
	CHECK_EQ(STAT(&e, shadow_pages) - s0, 12);
	s0 = STAT(&e, shadow_pages);
	CHECK(iotlb_inv(&e, VTK_GRAN_DOMAIN, 2, 0, 0, false) == 0, "dsi");
	CHECK_EQ(STAT(&e, shadow_pages) - s0, 5);
	s0 = STAT(&e, shadow_pages);
	CHECK(iotlb_inv(&e, VTK_GRAN_PAGE, 1, 0x4000, 2, false) == 0, "psi");
	CHECK_EQ(STAT(&e, shadow_pages) - s0, 4);
	s0 = STAT(&e, shadow_pages);
	CHECK(iotlb_inv(&e, VTK_GRAN_GLOBAL, 0, 0, 0, false) == 0, "global");
	CHECK_EQ(STAT(&e, shadow_pages) - s0, 17);
	vtk_env_fini(&e);
}

int main(void)
{
	RUN(test_context_cache_granularity);
	RUN(test_iotlb_granularity);
	RUN(test_pwc_and_ih);
	RUN(test_sm_iotlb_scope);
	RUN(test_pasid_cache);
	RUN(test_devtlb_ranges);
	RUN(test_pasid_devtlb);
	RUN(test_eviction_small);
	RUN(test_devtlb_eviction);
	RUN(test_never_evict);
	RUN(test_stats_exact);
	RUN(test_notpresent_scope);
	RUN(test_shadow_pages);
	return TEST_SUMMARY();
}
