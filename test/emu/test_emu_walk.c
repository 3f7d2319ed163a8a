/* SPDX-License-Identifier: BSD-3-Clause
 * lib/vtdemu table walker: legacy and scalable-mode translation (3/4/5
 * levels, superpages, pass-through, first stage, TE off), a fault for each
 * reason with the recorded content read back through FSTS and the fault
 * recording registers, and fault processing disable.
 */
#include "emu_helpers.h"

#define SID 0x0108       /* bus 1, device 1, function 0 */
#define DID 5

/* Reads fault record i and checks its content. */
static void check_frcd(struct vtk_env *e, unsigned int i, uint8_t reason,
		       uint16_t sid, uint64_t iova, bool read, uint32_t pasid)
{
	struct vtk_frcd r;
	uint32_t fsts = (uint32_t)vtdemu_reg_read(e->emu, VTK_REG_FSTS, 4);

	CHECK(fsts & VTK_FSTS_PPF, "FSTS 0x%x: PPF clear", fsts);
	CHECK(vtk_frcd_read(e->emu, i, &r) == 0, "record %u", i);
	CHECK(r.f, "record %u: F clear", i);
	CHECK_EQ(r.reason, reason);
	CHECK_EQ(r.sid, sid);
	CHECK_EQ(r.fi, iova & ~0xfffull);
	CHECK_EQ(r.t_read, read);
	CHECK_EQ(r.pp, pasid != NOPASID);
	if (pasid != NOPASID)
		CHECK_EQ(r.pasid, pasid);
}

/* One fault: translate, expect reason, check the record, clear. */
static void expect_fault(struct vtk_env *e, uint16_t sid, uint32_t pasid,
			 uint64_t iova, unsigned int access, uint8_t reason)
{
	struct vtdemu_fault_info fi;
	uint32_t fsts;
	uint64_t pa;
	int rc;

	vtk_faults_clear(e->emu);
	memset(&fi, 0, sizeof(fi));
	rc = vtdemu_translate(e->emu, sid, pasid, iova, access, &pa, &fi);
	CHECK(rc == -EFAULT, "rc %d for reason 0x%x", rc, reason);
	CHECK(fi.reason == reason, "reason 0x%x, expected 0x%x", fi.reason,
	      reason);
	CHECK(fi.recorded, "reason 0x%x not recorded", reason);
	CHECK_EQ(fi.sid, sid);
	CHECK_EQ(fi.addr, iova & ~0xfffull);
	fsts = (uint32_t)vtdemu_reg_read(e->emu, VTK_REG_FSTS, 4);
	check_frcd(e, VTK_FSTS_FRI(fsts), reason, sid, iova,
		   !(access & WR), pasid);
	vtk_faults_clear(e->emu);
}

/* ------------------------------------------------------------------------
 * Legacy mode
 */

static void test_legacy_3level_rw(void)
{
	struct vtk_env e;
	struct vtk_pt pt;
	uint64_t buf, pa;
	char out[16] = "";
	uint8_t *host;

	REQUIRE(env_up(&e, "qemu-cm-off", VTK_START_QI | VTK_START_TE,
		       NULL) == 0, "env");
	REQUIRE(vtk_pt_init(&pt, &e.arena, VTK_PT_SECOND_STAGE, 3) == 0, "pt");
	buf = vtk_alloc(&e.arena, 2 * 4096, 4096);
	CHECK(vtk_pt_map(&pt, 0x100000, buf, 1, RW) == 0, "map");
	CHECK(vtk_pt_map(&pt, 0x101000, buf + 4096, 1, RW) == 0, "map");
	CHECK(attach_legacy(&e, SID, DID, &pt, VTK_TT_UNTRANSLATED, false) == 0,
	      "ctx");
	CHECK(flush_all(&e) == 0, "flush");

	CHECK_EQ(xl(&e, SID, NOPASID, 0x100abc, RD, &pa), 0);
	CHECK_EQ(pa, buf + 0xabc);
	/* A DMA that crosses the page boundary. */
	CHECK(vtdemu_dma_write(e.emu, SID, NOPASID, 0x100ffa, "hello world",
			       12, NULL) == 12, "dma write");
	host = vtk_ptr(&e.arena, buf);
	CHECK(memcmp(host + 0xffa, "hello world", 12) == 0, "data in memory");
	CHECK(vtdemu_dma_read(e.emu, SID, NOPASID, 0x100ffa, out, 12,
			      NULL) == 12, "dma read");
	CHECK(strcmp(out, "hello world") == 0, "read back '%s'", out);
	/* Unmapped: a read fault, recorded with the requester. */
	expect_fault(&e, SID, NOPASID, 0x200000, RD, 6);
	expect_fault(&e, SID, NOPASID, 0x200000, WR, 5);
	CHECK(STAT(&e, translations) >= 5, "translations counted");
	vtk_env_fini(&e);
}

static void test_legacy_4level_superpages(void)
{
	struct vtk_env e;
	struct vtk_pt pt;
	uint64_t big, pa;

	REQUIRE(env_up(&e, "qemu-cm-on-aw48", VTK_START_QI | VTK_START_TE,
		       NULL) == 0, "env");
	REQUIRE(vtk_pt_init(&pt, &e.arena, VTK_PT_SECOND_STAGE, 4) == 0, "pt");
	/* A 2 MiB leaf at level 2 and a 1 GiB leaf at level 3 (the frames
	 * need not exist to translate). */
	big = vtk_alloc(&e.arena, MB(2), MB(2));
	CHECK(vtk_pt_map(&pt, GB(1) + MB(4), big, 2, RW) == 0, "2M");
	CHECK(vtk_pt_map(&pt, GB(8), GB(64), 3, RD) == 0, "1G");
	CHECK(vtk_pt_map(&pt, (1ull << 47) + 0x5000, big, 1, RW) == 0, "high");
	CHECK(attach_legacy(&e, SID, DID, &pt, VTK_TT_UNTRANSLATED, false) == 0,
	      "ctx");
	CHECK(flush_all(&e) == 0, "flush");

	CHECK_EQ(xl(&e, SID, NOPASID, GB(1) + MB(4) + 0x12345, RW, &pa), 0);
	CHECK_EQ(pa, big + 0x12345);
	CHECK_EQ(xl(&e, SID, NOPASID, GB(8) + 0x3456789, RD, &pa), 0);
	CHECK_EQ(pa, GB(64) + 0x3456789);
	CHECK_EQ(xl(&e, SID, NOPASID, GB(8) + 0x1000, WR, NULL), 5);
	CHECK_EQ(xl(&e, SID, NOPASID, (1ull << 47) + 0x5008, RD, &pa), 0);
	CHECK_EQ(pa, big + 8);
	/* 48-bit context: bit 48 is beyond the width. */
	expect_fault(&e, SID, NOPASID, 1ull << 48, RD, 4);
	vtk_env_fini(&e);
}

static void test_legacy_5level(void)
{
	struct vtk_env e;
	struct vtk_pt pt;
	uint64_t buf, pa, iova = (1ull << 56) + GB(3) + 0x7000;

	REQUIRE(env_up(&e, "server", VTK_START_QI | VTK_START_TE, NULL) == 0,
		"env");
	REQUIRE(vtk_pt_init(&pt, &e.arena, VTK_PT_SECOND_STAGE, 5) == 0, "pt");
	buf = vtk_alloc_page(&e.arena);
	CHECK(vtk_pt_map(&pt, iova, buf, 1, RW) == 0, "map");
	CHECK(attach_legacy(&e, SID, DID, &pt, VTK_TT_UNTRANSLATED, false) == 0,
	      "ctx");
	CHECK(flush_all(&e) == 0, "flush");
	CHECK_EQ(xl(&e, SID, NOPASID, iova + 0x10, WR, &pa), 0);
	CHECK_EQ(pa, buf + 0x10);
	/* 57 bits: bit 57 faults. */
	CHECK_EQ(xl(&e, SID, NOPASID, 1ull << 57, RD, NULL), 4);
	vtk_env_fini(&e);
}

static void test_legacy_width_3level(void)
{
	struct vtk_env e;
	struct vtk_pt pt;

	REQUIRE(env_up(&e, "qemu-cm-off", VTK_START_QI | VTK_START_TE,
		       NULL) == 0, "env");
	REQUIRE(vtk_pt_init(&pt, &e.arena, VTK_PT_SECOND_STAGE, 3) == 0, "pt");
	CHECK(attach_legacy(&e, SID, DID, &pt, VTK_TT_UNTRANSLATED, false) == 0,
	      "ctx");
	CHECK(flush_all(&e) == 0, "flush");
	expect_fault(&e, SID, NOPASID, 1ull << 39, WR, 4);
	expect_fault(&e, SID, NOPASID, (1ull << 39) - 4096, WR, 5);
	vtk_env_fini(&e);
}

static void test_legacy_passthrough(void)
{
	struct vtk_env e;
	uint64_t pa;

	REQUIRE(env_up(&e, "qemu-cm-off", VTK_START_QI | VTK_START_TE,
		       NULL) == 0, "env");
	CHECK(attach_legacy(&e, SID, DID, NULL, VTK_TT_PASSTHROUGH, false) == 0,
	      "ctx");
	CHECK(flush_all(&e) == 0, "flush");
	CHECK_EQ(xl(&e, SID, NOPASID, 0x123456789, RW, &pa), 0);
	CHECK_EQ(pa, 0x123456789);
	vtk_env_fini(&e);

	/* Without ECAP.PT, TT=10b is invalid programming (reason 3). */
	REQUIRE(env_up(&e, "client", VTK_START_QI | VTK_START_TE, NULL) == 0,
		"env");
	CHECK(attach_legacy(&e, SID, DID, NULL, VTK_TT_PASSTHROUGH, false) == 0,
	      "ctx");
	CHECK(flush_all(&e) == 0, "flush");
	if (vtdemu_get_caps(e.emu)->ecap & (1ull << 6))
		CHECK_EQ(xl(&e, SID, NOPASID, 0x1000, RD, NULL), 0);
	vtk_env_fini(&e);
}

static void no_pt(struct vtdemu_config *cfg)
{
	cfg->caps.ecap &= ~(1ull << 6);
}

static void test_legacy_passthrough_without_pt(void)
{
	struct vtk_env e;

	REQUIRE(env_up(&e, "qemu-cm-off", VTK_START_QI | VTK_START_TE,
		       no_pt) == 0, "env");
	CHECK(attach_legacy(&e, SID, DID, NULL, VTK_TT_PASSTHROUGH, false) == 0,
	      "ctx");
	CHECK(flush_all(&e) == 0, "flush");
	expect_fault(&e, SID, NOPASID, 0x1000, RD, 3);
	vtk_env_fini(&e);
}

static void test_te_off(void)
{
	struct vtk_env e;
	uint64_t pa, buf;
	uint32_t v = 0x12345678, r = 0;

	REQUIRE(env_up(&e, "qemu-cm-on", VTK_START_QI, NULL) == 0, "env");
	/* No context at all: with TE=0 every address is physical. */
	CHECK_EQ(xl(&e, 0x0300, NOPASID, 0xdead000, WR, &pa), 0);
	CHECK_EQ(pa, 0xdead000);
	buf = vtk_alloc_page(&e.arena);
	CHECK(vtdemu_dma_write(e.emu, 0x0300, NOPASID, buf + 64, &v, 4,
			       NULL) == 4, "dma");
	CHECK(vtdemu_dma_read(e.emu, 0x0300, NOPASID, buf + 64, &r, 4,
			      NULL) == 4, "dma");
	CHECK_EQ(r, v);
	/* Translated, but nothing there: not a remapping fault. */
	CHECK(vtdemu_dma_read(e.emu, 0x0300, NOPASID, 0x1000, &r, 4,
			      NULL) == -EFAULT, "no memory");
	CHECK_EQ(STAT(&e, faults_recorded), 0);
	vtk_env_fini(&e);
}

/* Every legacy fault reason, with its recorded content (Appendix A). */
static void test_legacy_fault_reasons(void)
{
	struct vtk_env e;
	struct vtk_pt pt;
	uint64_t *ent, buf;
	uint16_t sid2 = 0x0210, sid3 = 0x0318;

	REQUIRE(env_up(&e, "qemu-cm-on-devtlb", VTK_START_QI | VTK_START_TE,
		       NULL) == 0, "env");
	REQUIRE(vtk_pt_init(&pt, &e.arena, VTK_PT_SECOND_STAGE, 3) == 0, "pt");
	buf = vtk_alloc_page(&e.arena);
	CHECK(vtk_pt_map(&pt, 0x4000, buf, 1, RD) == 0, "map");
	CHECK(vtk_pt_map(&pt, 0x5000, buf, 1, WR) == 0, "map");
	CHECK(attach_legacy(&e, SID, DID, &pt, VTK_TT_UNTRANSLATED, false) == 0,
	      "ctx");
	CHECK(flush_all(&e) == 0, "flush");

	/* 1: bus 9 has no root entry. */
	expect_fault(&e, 0x0900, NOPASID, 0x4000, RD, 1);
	/* 2: bus 1 present, devfn 0x10 not. */
	expect_fault(&e, 0x0110, NOPASID, 0x4000, RD, 2);
	/* 5, 6: permissions. */
	expect_fault(&e, SID, NOPASID, 0x4000, WR, 5);
	expect_fault(&e, SID, NOPASID, 0x5000, RD, 6);
	/* 4: beyond AW (39 bits). */
	expect_fault(&e, SID, NOPASID, 1ull << 40, RD, 4);

	/* 3: AW the unit does not support (48 bits, SAGAW 39 only). */
	{
		struct vtk_legacy_ctx c = {
			.present = true, .tt = 0, .slptptr = pt.root,
			.aw = 2, .did = 7,
		};
		CHECK(vtk_legacy_set_context(&e.arena, e.root, sid2, &c) == 0,
		      "ctx");
		CHECK(flush_all(&e) == 0, "flush");
		expect_fault(&e, sid2, NOPASID, 0x4000, RD, 3);
		/* TT=11b */
		c.aw = 1;
		c.tt = 3;
		CHECK(vtk_legacy_set_context(&e.arena, e.root, sid2, &c) == 0,
		      "ctx");
		CHECK(flush_all(&e) == 0, "flush");
		expect_fault(&e, sid2, NOPASID, 0x4000, RD, 3);
		/* 7: SLPTPTR points nowhere. */
		c.tt = 0;
		c.slptptr = 0x4000000000ull;
		CHECK(vtk_legacy_set_context(&e.arena, e.root, sid2, &c) == 0,
		      "ctx");
		CHECK(flush_all(&e) == 0, "flush");
		expect_fault(&e, sid2, NOPASID, 0x4000, RD, 7);
		/* 0xB: context reserved bit (hi bit 7). */
		c.slptptr = pt.root;
		CHECK(vtk_legacy_set_context(&e.arena, e.root, sid2, &c) == 0,
		      "ctx");
		ent = vtk_legacy_context_entry(&e.arena, e.root, sid2, false);
		vtk_store64(&ent[1], vtk_load64(&ent[1]) | 0x80);
		CHECK(flush_all(&e) == 0, "flush");
		expect_fault(&e, sid2, NOPASID, 0x4000, RD, 0xb);
	}
	/* 7 (lower level): a PDE pointing nowhere. */
	ent = vtk_pt_entry(&pt, 0x4000, 2);
	REQUIRE(ent, "pde");
	{
		uint64_t old = vtk_load64(ent);

		vtk_store64(ent, 0x4000000000ull | 3);
		CHECK(flush_all(&e) == 0, "flush");
		expect_fault(&e, SID, NOPASID, 0x4000, RD, 7);
		/* 0xC: reserved bit 11 (SNP without ECAP.SC) in the PDE. */
		vtk_store64(ent, old | (1ull << 11));
		CHECK(flush_all(&e) == 0, "flush");
		expect_fault(&e, SID, NOPASID, 0x4000, RD, 0xc);
		vtk_store64(ent, old);
	}
	/* 0xC: a bit above the host address width (39) in a leaf. */
	ent = vtk_pt_entry(&pt, 0x4000, 1);
	vtk_store64(ent, vtk_load64(ent) | (1ull << 45));
	CHECK(flush_all(&e) == 0, "flush");
	expect_fault(&e, SID, NOPASID, 0x4000, RD, 0xc);
	vtk_store64(ent, vtk_load64(ent) & ~(1ull << 45));
	CHECK(flush_all(&e) == 0, "flush");

	/* 9: a root entry whose context table is nowhere. */
	ent = vtk_root_entry(&e.arena, e.root, 3);
	vtk_store64(&ent[0], 0x4000000000ull | 1);
	CHECK(flush_all(&e) == 0, "flush");
	expect_fault(&e, sid3, NOPASID, 0x4000, RD, 9);
	/* 0xA: root entry reserved bit. */
	vtk_store64(&ent[0], vtk_alloc_page(&e.arena) | 1 | 0x10);
	CHECK(flush_all(&e) == 0, "flush");
	expect_fault(&e, sid3, NOPASID, 0x4000, RD, 0xa);

	/* 0xD: an ATS endpoint whose context forbids translation requests
	 * (TT=00b). */
	CHECK(vtdemu_set_ats(e.emu, SID, true) == 0, "ats");
	expect_fault(&e, SID, NOPASID, 0x4000, RD, 0xd);
	CHECK(vtdemu_set_ats(e.emu, SID, false) == 0, "ats off");
	CHECK_EQ(xl(&e, SID, NOPASID, 0x4000, RD, NULL), 0);

	/* Scalable-mode reason in legacy mode: a request with PASID. */
	expect_fault(&e, SID, 5, 0x4000, RD, 0x31);

	/* 8: the root table itself is nowhere. */
	CHECK(vtk_set_root(e.emu, 0x4000000000ull, false) == 0, "srtp");
	CHECK(flush_all(&e) == 0, "flush");
	expect_fault(&e, SID, NOPASID, 0x4000, RD, 8);
	vtk_env_fini(&e);
}

/* A superpage leaf at a level CAP.SLLPS does not allow is a reserved-bit
 * fault. */
static void no_1g(struct vtdemu_config *cfg)
{
	cfg->caps.cap &= ~(1ull << 35);
}

static void test_superpage_not_supported(void)
{
	struct vtk_env e;
	struct vtk_pt pt;

	REQUIRE(env_up(&e, "qemu-cm-off", VTK_START_QI | VTK_START_TE,
		       no_1g) == 0, "env");
	REQUIRE(vtk_pt_init(&pt, &e.arena, VTK_PT_SECOND_STAGE, 3) == 0, "pt");
	CHECK(vtk_pt_map(&pt, GB(2), GB(4), 3, RW) == 0, "1G");
	CHECK(vtk_pt_map(&pt, GB(1), GB(4), 2, RW) == 0, "2M");
	CHECK(attach_legacy(&e, SID, DID, &pt, VTK_TT_UNTRANSLATED, false) == 0,
	      "ctx");
	CHECK(flush_all(&e) == 0, "flush");
	expect_fault(&e, SID, NOPASID, GB(2) + 0x1000, RD, 0xc);
	CHECK_EQ(xl(&e, SID, NOPASID, GB(1) + 0x1000, RD, NULL), 0);
	vtk_env_fini(&e);
}

/* Fault processing disable: the access fails, nothing is recorded. */
static void test_fpd(void)
{
	struct vtk_env e;
	struct vtk_pt pt;
	struct vtdemu_fault_info fi;
	uint64_t pa;
	uint32_t fsts;

	REQUIRE(env_up(&e, "qemu-cm-off", VTK_START_QI | VTK_START_TE,
		       NULL) == 0, "env");
	REQUIRE(vtk_pt_init(&pt, &e.arena, VTK_PT_SECOND_STAGE, 3) == 0, "pt");
	CHECK(attach_legacy(&e, SID, DID, &pt, VTK_TT_UNTRANSLATED, true) == 0,
	      "ctx");
	CHECK(flush_all(&e) == 0, "flush");
	vtk_faults_clear(e.emu);
	memset(&fi, 0, sizeof(fi));
	CHECK(vtdemu_translate(e.emu, SID, NOPASID, 0x9000, RD, &pa, &fi) ==
	      -EFAULT, "faults");
	CHECK_EQ(fi.reason, 6);
	CHECK(!fi.recorded, "recorded despite FPD");
	fsts = (uint32_t)vtdemu_reg_read(e.emu, VTK_REG_FSTS, 4);
	CHECK(!(fsts & VTK_FSTS_PPF), "PPF set despite FPD");
	CHECK_EQ(STAT(&e, faults[6]), 1);
	CHECK_EQ(STAT(&e, faults_recorded), 0);
	/* A root-level fault is not qualified: FPD cannot hide it. */
	expect_fault(&e, 0x0a00, NOPASID, 0x9000, RD, 1);
	vtk_env_fini(&e);
}

/* ------------------------------------------------------------------------
 * Scalable mode
 */

static void test_sm_second_stage(void)
{
	struct vtk_env e;
	struct vtk_pt pt;
	uint64_t dir, buf, pa;
	uint16_t hi_sid = 0x0190; /* devfn 0x90: the root entry's upper half */

	REQUIRE(env_up(&e, "qemu-cm-on-scalable",
		       VTK_START_SCALABLE | VTK_START_QI | VTK_START_TE,
		       NULL) == 0, "env");
	REQUIRE(vtk_pt_init(&pt, &e.arena, VTK_PT_SECOND_STAGE, 3) == 0, "pt");
	buf = vtk_alloc_page(&e.arena);
	CHECK(vtk_pt_map(&pt, 0x8000, buf, 1, RW) == 0, "map");
	/* Requests without PASID use RID_PASID (here 0). */
	dir = attach_sm_ctx(&e, SID, 0, false);
	REQUIRE(dir, "ctx");
	CHECK(set_pasid_ss(&e, dir, 0, DID, &pt) == 0, "pasid");
	dir = attach_sm_ctx(&e, hi_sid, 0, false);
	REQUIRE(dir, "ctx hi");
	CHECK(set_pasid_ss(&e, dir, 0, DID, &pt) == 0, "pasid");
	CHECK(flush_all(&e) == 0, "flush");

	CHECK_EQ(xl(&e, SID, NOPASID, 0x8010, RW, &pa), 0);
	CHECK_EQ(pa, buf + 0x10);
	CHECK_EQ(xl(&e, hi_sid, NOPASID, 0x8020, RW, &pa), 0);
	CHECK_EQ(pa, buf + 0x20);
	/* Scalable-mode reasons for the second stage. */
	expect_fault(&e, SID, NOPASID, 0x9000, RD, 0x86);
	expect_fault(&e, SID, NOPASID, 0x9000, WR, 0x85);
	expect_fault(&e, SID, NOPASID, 1ull << 39, RD, 0x83);
	/* Upper half of bus 1 present, bus 1 devfn 0x98 has no context. */
	expect_fault(&e, 0x0198, NOPASID, 0x8000, RD, 0x41);
	/* Bus 4: no root entry. */
	expect_fault(&e, 0x0400, NOPASID, 0x8000, RD, 0x39);
	/* With PASID: the context has PASIDE; PASID 9's table exists (that of
	 * PASID 0) but its entry is not present; PASID 100's directory entry
	 * is not present. */
	expect_fault(&e, SID, 9, 0x8000, RD, 0x59);
	expect_fault(&e, SID, 100, 0x8000, RD, 0x51);
	vtk_env_fini(&e);
}

static void test_sm_first_stage(void)
{
	struct vtk_env e;
	struct vtk_pt pt4, pt5;
	uint64_t dir, buf, pa, *ent;
	uint64_t hi_va = 0xffff800000001000ull; /* canonical, upper half */

	REQUIRE(env_up(&e, "server",
		       VTK_START_SCALABLE | VTK_START_QI | VTK_START_TE,
		       NULL) == 0, "env");
	REQUIRE(vtk_pt_init(&pt4, &e.arena, VTK_PT_FIRST_STAGE, 4) == 0, "pt");
	REQUIRE(vtk_pt_init(&pt5, &e.arena, VTK_PT_FIRST_STAGE, 5) == 0, "pt");
	buf = vtk_alloc_page(&e.arena);
	CHECK(vtk_pt_map(&pt4, 0x10000, buf, 1, RW) == 0, "map");
	CHECK(vtk_pt_map(&pt4, 0x11000, buf, 1, RD) == 0, "map ro");
	CHECK(vtk_pt_map(&pt4, hi_va, buf, 1, RW) == 0, "map hi");
	CHECK(vtk_pt_map(&pt4, MB(8), GB(2), 2, RW) == 0, "2M");
	CHECK(vtk_pt_map(&pt4, GB(4), GB(8), 3, RW) == 0, "1G");
	CHECK(vtk_pt_map(&pt5, 1ull << 55, buf, 1, RW) == 0, "5-level");

	dir = attach_sm_ctx(&e, SID, 1, false);
	REQUIRE(dir, "ctx");
	CHECK(set_pasid_fs(&e, dir, 1, DID, &pt4) == 0, "pasid 1");
	CHECK(set_pasid_fs(&e, dir, 77, DID + 1, &pt5) == 0, "pasid 77");
	{
		struct vtk_pasid_entry pe = {
			.present = true, .pgtt = VTK_PGTT_PASSTHROUGH,
			.did = DID + 2,
		};
		CHECK(vtk_pasid_set(&e.arena, dir, 300, &pe) == 0, "pt");
		pe.pgtt = VTK_PGTT_NESTED;
		CHECK(vtk_pasid_set(&e.arena, dir, 301, &pe) == 0, "nested");
	}
	CHECK(flush_all(&e) == 0, "flush");

	/* Without PASID: RID_PASID 1. */
	CHECK_EQ(xl(&e, SID, NOPASID, 0x10008, RW, &pa), 0);
	CHECK_EQ(pa, buf + 8);
	CHECK_EQ(xl(&e, SID, 1, 0x10008, RW, &pa), 0);
	CHECK_EQ(pa, buf + 8);
	CHECK_EQ(xl(&e, SID, 1, hi_va + 4, RD, &pa), 0);
	CHECK_EQ(pa, buf + 4);
	CHECK_EQ(xl(&e, SID, 1, MB(8) + 0x1234, RD, &pa), 0);
	CHECK_EQ(pa, GB(2) + 0x1234);
	CHECK_EQ(xl(&e, SID, 1, GB(4) + MB(3), WR, &pa), 0);
	CHECK_EQ(pa, GB(8) + MB(3));
	CHECK_EQ(xl(&e, SID, 77, (1ull << 55) + 0x40, RW, &pa), 0);
	CHECK_EQ(pa, buf + 0x40);
	CHECK_EQ(xl(&e, SID, 300, 0xabcdef000ull, RW, &pa), 0);
	CHECK_EQ(pa, 0xabcdef000ull);

	expect_fault(&e, SID, 1, 0x11000, WR, 0x85);
	CHECK_EQ(xl(&e, SID, 1, 0x11000, RD, NULL), 0);
	expect_fault(&e, SID, 1, 0x12000, RD, 0x71);
	/* 4-level first stage: bit 47 set without sign extension. */
	expect_fault(&e, SID, 1, 0x0000800000000000ull, RD, 0x80);
	expect_fault(&e, SID, 301, 0x1000, RD, 0x5b);
	expect_fault(&e, SID, 2, 0x1000, RD, 0x59);
	/* U/S clear in the leaf. */
	ent = vtk_pt_entry(&pt4, 0x10000, 1);
	vtk_store64(ent, vtk_load64(ent) & ~VTK_FS_US);
	CHECK(piotlb_inv(&e, VTK_GRAN_PASID, DID, 1, 0, 0, false) == 0, "inv");
	expect_fault(&e, SID, 1, 0x10000, RD, 0x81);
	/* Reserved: PS at level 4. */
	ent = vtk_pt_entry(&pt4, 0x10000, 4);
	vtk_store64(ent, vtk_load64(ent) | VTK_FS_PS);
	CHECK(piotlb_inv(&e, VTK_GRAN_PASID, DID, 1, 0, 0, false) == 0, "inv");
	expect_fault(&e, SID, 1, 0x10000, RD, 0x72);
	/* FSPTPTR nowhere. */
	{
		struct vtk_pasid_entry pe = {
			.present = true, .pgtt = VTK_PGTT_FIRST_STAGE,
			.fsptptr = 0x100000000000ull, .did = DID + 3,
		};
		CHECK(vtk_pasid_set(&e.arena, dir, 5, &pe) == 0, "pasid 5");
		CHECK(pc_inv(&e, VTK_PC_GLOBAL, 0, 0) == 0, "pc");
		expect_fault(&e, SID, 5, 0x1000, RD, 0x73);
	}
	vtk_env_fini(&e);
}

static void test_sm_context_faults(void)
{
	struct vtk_env e;
	struct vtk_pt pt;
	uint64_t dir, *ce;
	struct vtk_sm_ctx c;

	REQUIRE(env_up(&e, "server",
		       VTK_START_SCALABLE | VTK_START_QI | VTK_START_TE,
		       NULL) == 0, "env");
	REQUIRE(vtk_pt_init(&pt, &e.arena, VTK_PT_SECOND_STAGE, 4) == 0, "pt");
	dir = vtk_pasid_dir_new(&e.arena, 0);
	memset(&c, 0, sizeof(c));
	c.present = true;
	c.pasid_dir = dir;
	c.rid_pasid = 0;
	CHECK(vtk_sm_set_context(&e.arena, e.root, SID, &c) == 0, "ctx");
	CHECK(set_pasid_ss(&e, dir, 0, DID, &pt) == 0, "pasid");
	CHECK(flush_all(&e) == 0, "flush");
	/* A request with PASID and PASIDE=0. */
	expect_fault(&e, SID, 3, 0x1000, RD, 0x45);
	/* RID_PASID beyond the directory (PDTS 0: 128 entries, PASID <
	 * 8192). */
	c.rid_pasid = 9000;
	CHECK(vtk_sm_set_context(&e.arena, e.root, SID, &c) == 0, "ctx");
	CHECK(flush_all(&e) == 0, "flush");
	expect_fault(&e, SID, NOPASID, 0x1000, RD, 0x48);
	c.paside = true;
	c.rid_pasid = 0;
	CHECK(vtk_sm_set_context(&e.arena, e.root, SID, &c) == 0, "ctx");
	CHECK(flush_all(&e) == 0, "flush");
	expect_fault(&e, SID, 9000, 0x1000, RD, 0x46);
	/* Reserved: qword 2 of the context entry. */
	ce = vtk_sm_context_entry(&e.arena, e.root, SID, false);
	vtk_store64(&ce[2], 1);
	CHECK(flush_all(&e) == 0, "flush");
	expect_fault(&e, SID, NOPASID, 0x1000, RD, 0x42);
	vtk_store64(&ce[2], 0);
	/* ATS endpoint without DTE: 0x44. */
	CHECK(flush_all(&e) == 0, "flush");
	CHECK(vtdemu_set_ats(e.emu, SID, true) == 0, "ats");
	expect_fault(&e, SID, NOPASID, 0x1000, RD, 0x44);
	CHECK(vtdemu_set_ats(e.emu, SID, false) == 0, "ats");
	/* Leaf not present in the second stage: 0x86. */
	expect_fault(&e, SID, NOPASID, 0x1000, RD, 0x86);
	/* PASID directory entry pointing nowhere. */
	vtk_store64(vtk_pasid_dir_entry(&e.arena, dir, 0),
		    0x100000000000ull | 1);
	CHECK(flush_all(&e) == 0, "flush");
	expect_fault(&e, SID, NOPASID, 0x1000, RD, 0x58);
	/* Context table nowhere. */
	vtk_store64(&vtk_root_entry(&e.arena, e.root, 6)[0],
		    0x100000000000ull | 1);
	CHECK(flush_all(&e) == 0, "flush");
	expect_fault(&e, 0x0601, NOPASID, 0x1000, RD, 0x40);
	/* Root entry reserved bit (upper half, devfn >= 128). */
	vtk_store64(&vtk_root_entry(&e.arena, e.root, 7)[1],
		    vtk_alloc_page(&e.arena) | 1 | 0x20);
	CHECK(flush_all(&e) == 0, "flush");
	expect_fault(&e, 0x0781, NOPASID, 0x1000, RD, 0x3a);
	vtk_env_fini(&e);
}

/* Second- and first-stage table pointers to nowhere and reserved bits in
 * scalable mode, the PASID-entry stage. */
static void test_sm_table_faults(void)
{
	struct vtk_env e;
	struct vtk_pt ss, fs;
	uint64_t dir, *ent, buf;
	struct vtk_pasid_entry pe;

	REQUIRE(env_up(&e, "server",
		       VTK_START_SCALABLE | VTK_START_QI | VTK_START_TE,
		       NULL) == 0, "env");
	REQUIRE(vtk_pt_init(&ss, &e.arena, VTK_PT_SECOND_STAGE, 4) == 0, "ss");
	REQUIRE(vtk_pt_init(&fs, &e.arena, VTK_PT_FIRST_STAGE, 4) == 0, "fs");
	buf = vtk_alloc_page(&e.arena);
	CHECK(vtk_pt_map(&ss, 0x1000, buf, 1, RW) == 0, "map");
	CHECK(vtk_pt_map(&fs, 0x1000, buf, 1, RW) == 0, "map");
	dir = attach_sm_ctx(&e, SID, 0, false);
	REQUIRE(dir, "ctx");
	CHECK(set_pasid_ss(&e, dir, 0, DID, &ss) == 0, "pasid 0");
	CHECK(set_pasid_fs(&e, dir, 1, DID, &fs) == 0, "pasid 1");
	memset(&pe, 0, sizeof(pe));
	pe.present = true;
	pe.pgtt = VTK_PGTT_SECOND_STAGE;
	pe.aw = vtk_aw(4);
	pe.ssptptr = 0x100000000000ull;
	pe.did = DID;
	CHECK(vtk_pasid_set(&e.arena, dir, 2, &pe) == 0, "pasid 2");
	/* AW 1 (39 bits): the server supports 48 and 57 only. */
	pe.ssptptr = ss.root;
	pe.aw = 1;
	CHECK(vtk_pasid_set(&e.arena, dir, 3, &pe) == 0, "pasid 3");
	CHECK(flush_all(&e) == 0, "flush");

	CHECK_EQ(xl(&e, SID, 1, 0x1000, RW, NULL), 0);
	expect_fault(&e, SID, 2, 0x1000, RD, 0x7b);
	expect_fault(&e, SID, 3, 0x1000, RD, 0x5b);
	/* A second-stage PDE pointing nowhere, then a reserved bit in it. */
	ent = vtk_pt_entry(&ss, 0x1000, 2);
	REQUIRE(ent, "pde");
	vtk_store64(ent, 0x100000000000ull | 3);
	CHECK(flush_all(&e) == 0, "flush");
	expect_fault(&e, SID, NOPASID, 0x1000, WR, 0x78);
	vtk_store64(ent, vtk_alloc_page(&e.arena) | 3 | (1ull << 11));
	CHECK(flush_all(&e) == 0, "flush");
	expect_fault(&e, SID, NOPASID, 0x1000, WR, 0x7a);
	/* A first-stage PDE pointing nowhere. */
	ent = vtk_pt_entry(&fs, 0x1000, 2);
	REQUIRE(ent, "fs pde");
	vtk_store64(ent, 0x100000000000ull | 7);
	CHECK(flush_all(&e) == 0, "flush");
	expect_fault(&e, SID, 1, 0x1000, RD, 0x70);
	/* A PASID directory entry with a reserved bit; a PASID entry with
	 * one (qword 1 bit 16). */
	ent = vtk_pasid_dir_entry(&e.arena, dir, 64);
	vtk_store64(ent, vtk_alloc_page(&e.arena) | 1 | 0x10);
	CHECK(flush_all(&e) == 0, "flush");
	expect_fault(&e, SID, 64, 0x1000, RD, 0x52);
	ent = vtk_pasid_entry(&e.arena, dir, 0, false);
	vtk_store64(&ent[1], vtk_load64(&ent[1]) | (1ull << 16));
	CHECK(flush_all(&e) == 0, "flush");
	expect_fault(&e, SID, NOPASID, 0x1000, RD, 0x5a);
	vtk_env_fini(&e);
}

/* vtk_gcmd: WBF completes when WBFS reads 0 again. */
static void test_kit_gcmd_wbf(void)
{
	struct vtk_env e;

	REQUIRE(env_up(&e, "rwbf", VTK_START_TE, NULL) == 0, "env");
	CHECK(vtk_gcmd(e.emu, VTK_GCMD_WBF, 0, VTK_TIMEOUT_NS) == 0, "wbf");
	CHECK_EQ(STAT(&e, wbf), 1);
	CHECK(vtdemu_reg_read(e.emu, VTK_REG_GSTS, 4) & VTK_GSTS_TES, "TE on");
	CHECK(vtk_gcmd(e.emu, 0, VTK_GCMD_TE, VTK_TIMEOUT_NS) == 0, "te off");
	CHECK(!(vtdemu_reg_read(e.emu, VTK_REG_GSTS, 4) & VTK_GSTS_TES),
	      "TE off");
	vtk_env_fini(&e);
}

/* The kit's arena resolves only its own range. */
static void test_kit_arena(void)
{
	struct vtk_arena a;
	uint64_t p, q;

	REQUIRE(vtk_arena_init(&a, 0, 64 * 1024) == 0, "arena");
	CHECK(vtk_resolve(&a, a.base, 4096) != NULL, "first page");
	CHECK(vtk_resolve(&a, a.base - 8, 8) == NULL, "below");
	CHECK(vtk_resolve(&a, a.base + a.size - 8, 8) != NULL, "last bytes");
	CHECK(vtk_resolve(&a, a.base + a.size - 8, 16) == NULL, "past end");
	CHECK(vtk_resolve(&a, UINT64_MAX - 4, 8) == NULL, "wrap");
	CHECK(vtk_resolve(&a, 0, 8) == NULL, "zero");
	p = vtk_alloc(&a, 100, 64);
	q = vtk_alloc(&a, 8, 4096);
	CHECK(p && (p & 63) == 0, "alloc 64");
	CHECK(q && (q & 4095) == 0 && q > p, "alloc page");
	CHECK_EQ(vtk_pa(&a, vtk_ptr(&a, q)), q);
	CHECK(vtk_alloc(&a, 1ull << 20, 8) == 0, "exhausted");
	vtk_arena_fini(&a);
}

/* Second stage in scalable mode, 4 and 5 levels, with a PASID entry per
 * width; pass-through for requests without PASID. */
static void test_sm_levels_and_pt(void)
{
	struct vtk_env e;
	struct vtk_pt pt4, pt5;
	uint64_t dir, buf, pa;

	REQUIRE(env_up(&e, "server",
		       VTK_START_SCALABLE | VTK_START_QI | VTK_START_TE,
		       NULL) == 0, "env");
	REQUIRE(vtk_pt_init(&pt4, &e.arena, VTK_PT_SECOND_STAGE, 4) == 0, "pt");
	REQUIRE(vtk_pt_init(&pt5, &e.arena, VTK_PT_SECOND_STAGE, 5) == 0, "pt");
	buf = vtk_alloc_page(&e.arena);
	CHECK(vtk_pt_map(&pt4, (1ull << 47) + 0x3000, buf, 1, RW) == 0, "map");
	CHECK(vtk_pt_map(&pt5, (1ull << 56) + 0x3000, buf, 1, RW) == 0, "map");
	CHECK(vtk_pt_map(&pt5, GB(5), GB(1), 3, RW) == 0, "1G");
	dir = attach_sm_ctx(&e, SID, 0, false);
	REQUIRE(dir, "ctx");
	{
		struct vtk_pasid_entry pe = {
			.present = true, .pgtt = VTK_PGTT_PASSTHROUGH,
			.did = 1,
		};
		CHECK(vtk_pasid_set(&e.arena, dir, 0, &pe) == 0, "pt");
	}
	CHECK(set_pasid_ss(&e, dir, 10, DID, &pt4) == 0, "pasid 10");
	CHECK(set_pasid_ss(&e, dir, 11, DID + 1, &pt5) == 0, "pasid 11");
	CHECK(flush_all(&e) == 0, "flush");
	CHECK_EQ(xl(&e, SID, NOPASID, 0x777000, RW, &pa), 0);
	CHECK_EQ(pa, 0x777000);
	CHECK_EQ(xl(&e, SID, 10, (1ull << 47) + 0x3008, RW, &pa), 0);
	CHECK_EQ(pa, buf + 8);
	CHECK_EQ(xl(&e, SID, 11, (1ull << 56) + 0x3008, RW, &pa), 0);
	CHECK_EQ(pa, buf + 8);
	CHECK_EQ(xl(&e, SID, 11, GB(5) + 0x5000, RD, &pa), 0);
	CHECK_EQ(pa, GB(1) + 0x5000);
	expect_fault(&e, SID, 10, 1ull << 48, RD, 0x83);
	vtk_env_fini(&e);
}

int main(void)
{
	RUN(test_legacy_3level_rw);
	RUN(test_legacy_4level_superpages);
	RUN(test_legacy_5level);
	RUN(test_legacy_width_3level);
	RUN(test_legacy_passthrough);
	RUN(test_legacy_passthrough_without_pt);
	RUN(test_te_off);
	RUN(test_legacy_fault_reasons);
	RUN(test_superpage_not_supported);
	RUN(test_fpd);
	RUN(test_sm_second_stage);
	RUN(test_sm_first_stage);
	RUN(test_sm_context_faults);
	RUN(test_sm_levels_and_pt);
	RUN(test_sm_table_faults);
	RUN(test_kit_arena);
	RUN(test_kit_gcmd_wbf);
	return TEST_SUMMARY();
}
