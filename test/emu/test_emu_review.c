/* SPDX-License-Identifier: BSD-3-Clause
 * lib/vtdemu review findings, one test each (each failed before its fix):
 *   - CAP.ND bounds the domain ids of context and PASID entries: bits of
 *     the DID field above the supported width are reserved (VT-d spec §9.3
 *     and §9.6, "unused bits of this field are treated as reserved").
 *   - the CM=1 shadowing cost of a domain-selective invalidation walks a
 *     buggy driver's table that points back at itself in bounded time.
 *   - SRTP with CAP.ESRTPS leaves the endpoints' device TLBs alone.
 *   - requests with a PASID wider than 20 bits or no access are refused.
 *   - the stale checker counts a cached translation granting more than the
 *     tables, as the checker's definition (more permission) says.
 *   - the cost model has a figure per descriptor kind and granularity.
 */
#include "emu_helpers.h"

#define SID 0x0108
#define SID2 0x0110

/* ------------------------------------------------------------------------
 * CAP.ND: a context entry whose DID does not fit the unit's domain-id
 * width has reserved bits set (fault 0xB); one that fits translates.
 */
static void test_nd_legacy_did_width(void)
{
	struct vtk_env e;
	struct vtk_pt pt;
	uint64_t buf, pa;

	REQUIRE(env_up(&e, "nd0", VTK_START_QI | VTK_START_TE, NULL) == 0,
		"env");
	REQUIRE(vtk_pt_init(&pt, &e.arena, VTK_PT_SECOND_STAGE, 3) == 0, "pt");
	buf = vtk_alloc_page(&e.arena);
	CHECK(vtk_pt_map(&pt, 0x1000, buf, 1, RW) == 0, "map");
	/* ND=0: 16 domain ids, DID 15 is the last valid one. */
	CHECK(attach_legacy(&e, SID, 15, &pt, VTK_TT_UNTRANSLATED, false) == 0,
	      "ctx");
	CHECK(attach_legacy(&e, SID2, 16, &pt, VTK_TT_UNTRANSLATED, false) ==
		      0, "ctx2");
	CHECK(flush_all(&e) == 0, "flush");
	CHECK_EQ(xl(&e, SID, NOPASID, 0x1000, RD, &pa), 0);
	CHECK_EQ(pa, buf);
	CHECK_EQ(xl(&e, SID2, NOPASID, 0x1000, RD, NULL), 0xb);
	vtk_env_fini(&e);

	/* The same DID on a 16-bit (ND=6) unit is fine. */
	REQUIRE(env_up(&e, "qemu-cm-off", VTK_START_QI | VTK_START_TE, NULL) ==
			0, "env");
	REQUIRE(vtk_pt_init(&pt, &e.arena, VTK_PT_SECOND_STAGE, 3) == 0, "pt");
	buf = vtk_alloc_page(&e.arena);
	CHECK(vtk_pt_map(&pt, 0x1000, buf, 1, RW) == 0, "map");
	CHECK(attach_legacy(&e, SID2, 0xffff, &pt, VTK_TT_UNTRANSLATED,
			    false) == 0, "ctx");
	CHECK(flush_all(&e) == 0, "flush");
	CHECK_EQ(xl(&e, SID2, NOPASID, 0x1000, RD, NULL), 0);
	vtk_env_fini(&e);
}

static void server_nd2(struct vtdemu_config *cfg)
{
	cfg->caps.cap = (cfg->caps.cap & ~7ull) | 2; /* 256 domain ids */
}

/* Scalable mode: the PASID entry's DID (fault 0x5A, reserved field). */
static void test_nd_pasid_did_width(void)
{
	struct vtk_env e;
	struct vtk_pt pt;
	uint64_t buf, dir, pa;

	REQUIRE(env_up(&e, "server",
		       VTK_START_SCALABLE | VTK_START_QI | VTK_START_TE,
		       server_nd2) == 0, "env");
	REQUIRE(vtk_pt_init(&pt, &e.arena, VTK_PT_SECOND_STAGE, 4) == 0, "pt");
	buf = vtk_alloc_page(&e.arena);
	CHECK(vtk_pt_map(&pt, 0x1000, buf, 1, RW) == 0, "map");
	dir = attach_sm_ctx(&e, SID, 0, false);
	REQUIRE(dir != 0, "ctx");
	CHECK(set_pasid_ss(&e, dir, 0, 255, &pt) == 0, "pasid 0");
	CHECK(set_pasid_ss(&e, dir, 1, 256, &pt) == 0, "pasid 1");
	CHECK(flush_all(&e) == 0, "flush");
	CHECK_EQ(xl(&e, SID, NOPASID, 0x1000, RD, &pa), 0);
	CHECK_EQ(pa, buf);
	CHECK_EQ(xl(&e, SID, 1, 0x1000, RD, NULL), 0x5a);
	vtk_env_fini(&e);
}

/* ------------------------------------------------------------------------
 * A buggy driver's 5-level table whose page points at itself from every
 * entry: 2^45 leaf paths. Under CM=1 a domain-selective invalidation
 * counts the pages a shadowing hypervisor re-walks; that count must come
 * from each (table, level) once, not from 512^5 entry reads (before the fix
 * this invalidation did not return: the test ran into its timeout).
 */
static void cm_aw57(struct vtdemu_config *cfg)
{
	/* qemu-cm-on-aw48 plus 5-level tables (SAGAW bit 3, MGAW 57). */
	cfg->caps.cap = (cfg->caps.cap & ~((0x1full << 8) | (0x3full << 16))) |
			(0xcull << 8) | (56ull << 16);
}

static void test_cm_shadow_count_cyclic_table(void)
{
	struct vtk_env e;
	uint64_t tab, *t;
	unsigned int i;

	REQUIRE(env_up(&e, "qemu-cm-on-aw48", VTK_START_QI | VTK_START_TE,
		       cm_aw57) == 0, "env");
	tab = vtk_alloc_page(&e.arena);
	t = vtk_ptr(&e.arena, tab);
	for (i = 0; i < 512; i++)
		vtk_store64(&t[i], tab | VTK_SS_R | VTK_SS_W);
	struct vtk_legacy_ctx c = {
		.present = true, .tt = VTK_TT_UNTRANSLATED, .slptptr = tab,
		.aw = vtk_aw(5), .did = 3,
	};
	CHECK(vtk_legacy_set_context(&e.arena, e.root, SID, &c) == 0, "ctx");
	vtdemu_stats_reset(e.emu);
	CHECK(iotlb_inv(&e, VTK_GRAN_DOMAIN, 3, 0, 0, false) == 0, "dsi");
	/* Every path through the table ends in a leaf: 512^5 of them. */
	CHECK_EQ(STAT(&e, shadow_pages), 1ull << 45);
	/* The walker itself is bounded by the levels: the translation reads
	 * the same page five times and ends at it. */
	uint64_t pa;
	CHECK_EQ(xl(&e, SID, NOPASID, 0x1234, RD, &pa), 0);
	CHECK_EQ(pa, tab + 0x234);
	vtk_env_fini(&e);
}

/* ------------------------------------------------------------------------
 * SRTP with CAP.ESRTPS invalidates the unit's own caches (§10.4.6), not the
 * device TLBs of ATS endpoints, which only device-TLB invalidations reach
 * (§6.5.2.5; Linux sends none after SRTP): a driver that counts on the
 * SRTP is caught by the checker when the endpoint uses its old entry.
 */
static void test_esrtps_keeps_devtlb(void)
{
	struct vtk_env e;
	struct vtk_pt pt;
	struct vtdemu_stale_record r;
	uint64_t buf, pa;

	REQUIRE(env_up(&e, "server", VTK_START_QI | VTK_START_TE, NULL) == 0,
		"env");
	REQUIRE(vtk_pt_init(&pt, &e.arena, VTK_PT_SECOND_STAGE, 4) == 0, "pt");
	buf = vtk_alloc_page(&e.arena);
	CHECK(vtk_pt_map(&pt, 0x5000, buf, 1, RW) == 0, "map");
	CHECK(attach_legacy(&e, SID, 9, &pt, VTK_TT_DEVTLB, false) == 0, "ctx");
	CHECK(flush_all(&e) == 0, "flush");
	CHECK(vtdemu_set_ats(e.emu, SID, true) == 0, "ats");
	CHECK_EQ(xl(&e, SID, NOPASID, 0x5000, RD, &pa), 0);
	CHECK_EQ(pa, buf);
	CHECK(holds(&e, VTDEMU_CACHE_DEVTLB, SID, 0, NOPASID, 0x5000, 0),
	      "device TLB filled");
	CHECK(vtk_pt_unmap(&pt, 0x5000, 1) == 0, "unmap");
	CHECK(iotlb_inv(&e, VTK_GRAN_PAGE, 9, 0x5000, 0, false) == 0, "psi");
	/* Planted: a root-table switch instead of the device-TLB flush. */
	CHECK(vtk_set_root(e.emu, e.root, false) == 0, "SRTP");
	CHECK(holds(&e, VTDEMU_CACHE_DEVTLB, SID, 0, NOPASID, 0x5000, 0),
	      "SRTP emptied the endpoint's device TLB");
	CHECK(!holds(&e, VTDEMU_CACHE_IOTLB, 0, 9, NOPASID, 0x5000, 0),
	      "SRTP kept the IOTLB");
	CHECK_EQ(xl(&e, SID, NOPASID, 0x5000, RD, &pa), 0);
	CHECK_EQ(vtdemu_stale_count(e.emu), 1);
	CHECK(vtdemu_stale_records(e.emu, &r, 1) == 1, "record");
	CHECK_EQ(r.source, VTDEMU_CACHE_DEVTLB);
	CHECK_EQ(r.walk_fault, 6);
	/* The device-TLB invalidation is what ends it. */
	CHECK(devtlb_inv(&e, SID, 0x5000, 0) == 0, "devtlb");
	CHECK_EQ(xl(&e, SID, NOPASID, 0x5000, RD, NULL), 6);
	CHECK_EQ(vtdemu_stale_count(e.emu), 1);
	vtk_env_fini(&e);
}

/* ------------------------------------------------------------------------
 * Arguments: a PASID is 20 bits (§3.4.4); a request with a wider value is
 * an invalid argument, not PASID & 0xfffff (before the fix PASID 0x100005
 * translated through PASID 5's entry). Access must be READ and/or WRITE.
 */
static void test_bad_request_arguments(void)
{
	struct vtk_env e;
	struct vtk_pt pt;
	struct vtdemu_fault_info fi;
	uint64_t buf, dir, pa = 0;
	uint8_t byte;

	REQUIRE(env_up(&e, "server",
		       VTK_START_SCALABLE | VTK_START_QI | VTK_START_TE,
		       NULL) == 0, "env");
	REQUIRE(vtk_pt_init(&pt, &e.arena, VTK_PT_SECOND_STAGE, 4) == 0, "pt");
	buf = vtk_alloc_page(&e.arena);
	CHECK(vtk_pt_map(&pt, 0x1000, buf, 1, RW) == 0, "map");
	dir = attach_sm_ctx(&e, SID, 0, false);
	REQUIRE(dir != 0, "ctx");
	CHECK(set_pasid_ss(&e, dir, 5, 7, &pt) == 0, "pasid 5");
	CHECK(flush_all(&e) == 0, "flush");
	CHECK_EQ(xl(&e, SID, 5, 0x1000, RD, &pa), 0);
	CHECK_EQ(pa, buf);

	memset(&fi, 0, sizeof(fi));
	CHECK_EQ(vtdemu_translate(e.emu, SID, 0x100005, 0x1000, RD, &pa, &fi),
		 -EINVAL);
	CHECK_EQ(vtdemu_translate(e.emu, SID, 5, 0x1000, 0, &pa, &fi), -EINVAL);
	CHECK_EQ(vtdemu_translate(e.emu, SID, 5, 0x1000, 4, &pa, &fi), -EINVAL);
	CHECK_EQ(vtdemu_translate(NULL, SID, 5, 0x1000, RD, &pa, &fi), -EINVAL);
	CHECK_EQ(vtdemu_dma_read(e.emu, SID, 0x100005, 0x1000, &byte, 1, NULL),
		 -EINVAL);
	CHECK_EQ(vtdemu_dma_write(e.emu, SID, 5, 0x1000, NULL, 1, NULL),
		 -EINVAL);
	CHECK_EQ(vtdemu_dma_read(NULL, SID, 5, 0x1000, &byte, 1, NULL),
		 -EINVAL);
	CHECK_EQ(vtdemu_set_ats(NULL, SID, true), -EINVAL);
	/* Nothing of it reached the unit. */
	CHECK_EQ(STAT(&e, faults_recorded), 0);
	CHECK_EQ(vtdemu_stale_count(e.emu), 0);
	vtk_env_fini(&e);
}

/* ------------------------------------------------------------------------
 * The checker counts a cached translation that grants more than the
 * tables do, even when the access made is within both: a permission
 * reduction without invalidation is a missing invalidation (§6.5) whether
 * or not the device has written yet.
 */
static void test_stale_more_permission(void)
{
	struct vtk_env e;
	struct vtk_pt pt;
	struct vtdemu_stale_record r;
	uint64_t buf, pa;

	REQUIRE(env_up(&e, "qemu-cm-off", VTK_START_QI | VTK_START_TE, NULL) ==
			0, "env");
	REQUIRE(vtk_pt_init(&pt, &e.arena, VTK_PT_SECOND_STAGE, 3) == 0, "pt");
	buf = vtk_alloc_page(&e.arena);
	CHECK(vtk_pt_map(&pt, 0x9000, buf, 1, RW) == 0, "map");
	CHECK(attach_legacy(&e, SID, 4, &pt, VTK_TT_UNTRANSLATED, false) == 0,
	      "ctx");
	CHECK(flush_all(&e) == 0, "flush");
	CHECK_EQ(xl(&e, SID, NOPASID, 0x9000, WR, &pa), 0);
	/* Planted: write permission removed without invalidation. */
	CHECK(vtk_pt_map(&pt, 0x9000, buf, 1, RD) == 0, "read-only");
	CHECK_EQ(xl(&e, SID, NOPASID, 0x9010, RD, &pa), 0);
	CHECK_EQ(pa, buf + 0x10);
	CHECK_EQ(vtdemu_stale_count(e.emu), 1);
	CHECK(vtdemu_stale_records(e.emu, &r, 1) == 1, "record");
	CHECK_EQ(r.source, VTDEMU_CACHE_IOTLB);
	CHECK_EQ(r.cached_pa, buf + 0x10);
	CHECK_EQ(r.walk_pa, buf + 0x10);
	CHECK_EQ(r.cached_perm, RW);
	CHECK_EQ(r.walk_perm, RD);
	CHECK_EQ(r.walk_fault, 0);
	/* Invalidated: the IOTLB refills read-only, nothing more is stale. */
	CHECK(iotlb_inv(&e, VTK_GRAN_PAGE, 4, 0x9000, 0, false) == 0, "psi");
	CHECK_EQ(xl(&e, SID, NOPASID, 0x9010, RD, NULL), 0);
	CHECK_EQ(xl(&e, SID, NOPASID, 0x9010, RD, NULL), 0);
	CHECK_EQ(vtdemu_stale_count(e.emu), 1);
	/* More permission in the tables than cached is not stale: the unit
	 * walks again for a write the cached entry does not grant. */
	CHECK(vtk_pt_map(&pt, 0x9000, buf, 1, RW) == 0, "read-write");
	CHECK_EQ(xl(&e, SID, NOPASID, 0x9010, RD, NULL), 0);
	CHECK_EQ(xl(&e, SID, NOPASID, 0x9010, WR, NULL), 0);
	CHECK_EQ(vtdemu_stale_count(e.emu), 1);
	vtk_env_fini(&e);
}

/* ------------------------------------------------------------------------
 * The cost model charges each descriptor kind by its granularity: a
 * global, domain- and device-selective context-cache invalidation, a
 * PASID-selective and a page-selective PASID-IOTLB one, and the three
 * PASID-cache granularities each have their own figure (before, one figure
 * per kind). Distinct powers of two make every charge visible in the sum.
 */
static void distinct_costs(struct vtdemu_config *cfg)
{
	struct vtdemu_cost_model *c = &cfg->cost;

	memset(c, 0, sizeof(*c));
	c->cc_ns = 1u << 0;
	c->cc_domain_ns = 1u << 1;
	c->cc_device_ns = 1u << 2;
	c->pasid_iotlb_ns = 1u << 3;
	c->pasid_iotlb_page_ns = 1u << 4;
	c->pasid_cache_ns = 1u << 5;
	c->pasid_cache_pasid_ns = 1u << 6;
	c->pasid_cache_global_ns = 1u << 7;
	c->wait_ns = 1u << 8;
	c->iqt_write_ns = 1u << 9;
}

static void test_cost_per_granularity(void)
{
	struct vtk_env e;

	REQUIRE(env_up(&e, "server", VTK_START_SCALABLE | VTK_START_QI,
		       distinct_costs) == 0, "env");
	vtdemu_stats_reset(e.emu); /* the IQT = 0 write of the set-up */
	struct {
		int rc;
		uint32_t ns;
	} step[] = {
		{ cc_inv(&e, VTK_GRAN_GLOBAL, 0, 0, 0), 1u << 0 },
		{ cc_inv(&e, VTK_GRAN_DOMAIN, 3, 0, 0), 1u << 1 },
		{ cc_inv(&e, VTK_GRAN_DEVICE, 3, SID, 0), 1u << 2 },
		{ piotlb_inv(&e, VTK_GRAN_PASID, 3, 5, 0, 0, false), 1u << 3 },
		{ piotlb_inv(&e, VTK_GRAN_PAGE, 3, 5, 0x1000, 0, false), 1u << 4 },
		{ pc_inv(&e, VTK_PC_DOMAIN, 3, 0), 1u << 5 },
		{ pc_inv(&e, VTK_PC_PASID, 3, 5), 1u << 6 },
		{ pc_inv(&e, VTK_PC_GLOBAL, 0, 0), 1u << 7 },
	};
	uint64_t want = 0;
	for (unsigned int i = 0; i < sizeof(step) / sizeof(step[0]); i++) {
		CHECK(step[i].rc == 0, "step %u", i);
		want += step[i].ns + (1u << 8) + (1u << 9); /* + wait, IQT */
	}
	CHECK_EQ(STAT(&e, modelled_ns), want);
	/* The defaults keep one figure per kind for every granularity. */
	struct vtdemu_cost_model d;
	vtdemu_cost_default(&d);
	CHECK(d.cc_domain_ns == d.cc_ns && d.cc_device_ns == d.cc_ns, "cc");
	CHECK_EQ(d.pasid_iotlb_page_ns, d.pasid_iotlb_ns);
	CHECK(d.pasid_cache_pasid_ns == d.pasid_cache_ns &&
	      d.pasid_cache_global_ns == d.pasid_cache_ns, "pc");
	vtk_env_fini(&e);
}

int main(void)
{
	RUN(test_nd_legacy_did_width);
	RUN(test_nd_pasid_did_width);
	RUN(test_cm_shadow_count_cyclic_table);
	RUN(test_esrtps_keeps_devtlb);
	RUN(test_bad_request_arguments);
	RUN(test_stale_more_permission);
	RUN(test_cost_per_granularity);
	return TEST_SUMMARY();
}
