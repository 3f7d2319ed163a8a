/* SPDX-License-Identifier: BSD-3-Clause
 * vtdemu queued invalidation (VT-d spec §6.5.2): every descriptor type and
 * granularity counted and executed, every invalid descriptor ending in IQE
 * with IQH at it and recovery only after clearing IQE *and* writing IQT,
 * 128- and 256-bit queues, wrap-around, tail errors, the cost model.
 * (What each invalidation does to the caches is the back end's tests.)
 */
#include <errno.h>

#include "uvtd_test.h"
#include "vtdemu.h"
#include "vtdemu_testkit.h"


#define FSTS 0x34
#define IQH 0x80
#define IQT 0x88
#define IQA 0x90
#define ICS 0x9c
#define IQER 0xb0
#define IQE (1u << 4)

struct env {
	struct vtk_env e;
	uint64_t st[2];     /* two status words */
};

static int env_start(struct env *v, const char *preset, bool dw)
{
	memset(v, 0, sizeof(*v));
	if (vtk_env_init(&v->e, preset, 4 << 20) != 0)
		return -1;
	if (vtk_env_start(&v->e, VTK_START_QI | (dw ? VTK_START_SCALABLE : 0)))
		return -1;
	v->st[0] = vtk_alloc(&v->e.arena, 64, 64);
	v->st[1] = vtk_alloc(&v->e.arena, 64, 64);
	vtdemu_stats_reset(v->e.emu);
	return 0;
}

static uint32_t *status(struct env *v, int i)
{
	return vtk_ptr(&v->e.arena, v->st[i]);
}

static uint32_t rd32(struct env *v, uint32_t off)
{
	return (uint32_t)vtdemu_reg_read(v->e.emu, off, 4);
}

static unsigned int head_slot(struct env *v)
{
	return (unsigned int)(vtdemu_reg_read(v->e.emu, IQH, 8) >>
			      (v->e.qi.dw ? 5 : 4));
}

/* ------------------------------------------------------------------------
 * Valid descriptors: counted by kind, and the wait after them written.
 */
struct good {
	const char *preset;
	bool dw;
	uint64_t qw[4];
	enum vtdemu_desc_stat kind;
	bool coarsened;
};

static void run_good(const struct good *g, const char *what)
{
	struct env v;
	struct vtdemu_stats s;

	TRY(env_start(&v, g->preset, g->dw), "%s: env", what);
	if (g->dw)
		TRY(vtk_qi_append256(&v.e.qi, g->qw), "%s: append", what);
	else
		TRY(vtk_qi_append(&v.e.qi, g->qw[0], g->qw[1]),
			"%s: append", what);
	CHECK(vtk_qi_sync(&v.e.qi, VTK_TIMEOUT_NS) == 0, "%s: sync, FSTS %x",
	      what, rd32(&v, FSTS));
	vtdemu_stats_get(v.e.emu, &s);
	uint64_t expect_waits = g->kind == VTDEMU_DS_WAIT ? 2 : 1;
	CHECK(s.desc[g->kind] == (g->kind == VTDEMU_DS_WAIT ? 2 : 1),
	      "%s: %s = %" PRIu64, what, vtdemu_desc_stat_name(g->kind),
	      s.desc[g->kind]);
	CHECK(s.waits == expect_waits && s.invalid_descs == 0,
	      "%s: waits %" PRIu64 " invalid %" PRIu64, what, s.waits,
	      s.invalid_descs);
	CHECK(s.desc_coarsened == (g->coarsened ? 1u : 0u), "%s: coarsened %"
	      PRIu64, what, s.desc_coarsened);
	CHECK_EQ(head_slot(&v), 2);
	vtk_env_fini(&v.e);
}

static void test_every_type(void)
{
	uint64_t q1;
	struct good g;
#define GOOD(P, DW, Q0, K, CO) do { \
		memset(&g, 0, sizeof(g)); g.preset = P; g.dw = DW; \
		q1 = 0; g.qw[0] = (Q0); g.qw[1] = q1; g.kind = K; \
		g.coarsened = CO; run_good(&g, #Q0 " on " P); } while (0)

	/* Legacy 128-bit queue. */
	GOOD("qemu-cm-on", false, vtk_desc_cc(1, 0, 0, 0), VTDEMU_DS_CC_GLOBAL, false);
	GOOD("qemu-cm-on", false, vtk_desc_cc(2, 3, 0, 0), VTDEMU_DS_CC_DOMAIN, false);
	GOOD("qemu-cm-on", false, vtk_desc_cc(3, 3, 0x108, 2), VTDEMU_DS_CC_DEVICE, false);
	GOOD("qemu-cm-on", false, vtk_desc_iotlb(1, 0, 0, 0, false, &q1), VTDEMU_DS_IOTLB_GLOBAL, false);
	GOOD("qemu-cm-on", false, vtk_desc_iotlb(2, 4, 0, 0, false, &q1), VTDEMU_DS_IOTLB_DOMAIN, false);
	GOOD("qemu-cm-on", false, vtk_desc_iotlb(3, 4, 0x40000000, 18, true, &q1), VTDEMU_DS_IOTLB_PAGE, false);
	GOOD("qemu-cm-on", false, vtk_desc_wait(7, 0, &q1) & ~(1ull << 5), VTDEMU_DS_WAIT, false); /* fence */
	GOOD("qemu-cm-on-devtlb", false, vtk_desc_devtlb(0x108, 0x5000, 0, &q1), VTDEMU_DS_DEVTLB, false);
	GOOD("qemu-cm-on-devtlb", false, vtk_desc_devtlb(0x108, 0x10000, 4, &q1), VTDEMU_DS_DEVTLB, false);
	GOOD("qemu-cm-on-devtlb", false, vtk_desc_devtlb(0x108, 0, 52, &q1), VTDEMU_DS_DEVTLB, false);
	/* No PSI: a page-selective IOTLB invalidation is done per domain. */
	GOOD("client", false, vtk_desc_iotlb(3, 4, 0x1000, 0, false, &q1), VTDEMU_DS_IOTLB_DOMAIN, true);
	GOOD("client", false, 4 | (1u << 4), VTDEMU_DS_IEC, false);
	/* Scalable 256-bit queue: 128-bit types zero-extended, 256-bit ones. */
	GOOD("server", true, vtk_desc_cc(1, 0, 0, 0), VTDEMU_DS_CC_GLOBAL, false);
	GOOD("server", true, vtk_desc_iotlb(3, 4, 0x200000, 9, false, &q1), VTDEMU_DS_IOTLB_PAGE, false);
	GOOD("server", true, vtk_desc_devtlb(0x108, 0x5000, 0, &q1), VTDEMU_DS_DEVTLB, false);
	GOOD("server", true, 4, VTDEMU_DS_IEC, false);
	GOOD("server", true, vtk_desc_piotlb(2, 1, 5, 0, 0, false, &q1), VTDEMU_DS_PIOTLB_PASID, false);
	GOOD("server", true, vtk_desc_piotlb(3, 1, 5, 0x3000, 0, true, &q1), VTDEMU_DS_PIOTLB_PAGE, false);
	/* AM above MAMV (9) for a PASID-IOTLB: done PASID-selective. */
	GOOD("server", true, vtk_desc_piotlb(3, 1, 5, 0, 12, false, &q1), VTDEMU_DS_PIOTLB_PASID, true);
	GOOD("server", true, vtk_desc_pc(0, 1, 0), VTDEMU_DS_PC_DOMAIN, false);
	GOOD("server", true, vtk_desc_pc(1, 1, 5), VTDEMU_DS_PC_PASID, false);
	GOOD("server", true, vtk_desc_pc(3, 0, 0), VTDEMU_DS_PC_GLOBAL, false);
	GOOD("server", true, vtk_desc_pdevtlb(0x108, 5, false, 0x4000, 1, &q1), VTDEMU_DS_PDEVTLB, false);
	GOOD("server", true, vtk_desc_pdevtlb(0x108, 0, true, 0, 52, &q1), VTDEMU_DS_PDEVTLB, false);
	GOOD("qemu-cm-on-scalable", true, vtk_desc_pc(3, 0, 0), VTDEMU_DS_PC_GLOBAL, false);
#undef GOOD
}

/* Wait descriptor flavours (§6.5.2.8): SW writes the data, IF sets
 * ICS.IWC, both together do both. */
static void test_wait_flavours(void)
{
	struct env v;
	uint64_t q1;
	struct vtdemu_stats s;

	TRY(env_start(&v, "qemu-cm-on", false), "env");
	uint64_t q0 = vtk_desc_wait(0xabc, v.st[0], &q1);
	TRY(vtk_qi_append(&v.e.qi, q0 | (1u << 4), q1), "SW|IF");
	TRY(vtk_qi_append(&v.e.qi, 5 | (1u << 4), 0), "IF");
	vtk_qi_submit(&v.e.qi);
	CHECK_EQ(*status(&v, 0), 0xabc);
	CHECK_EQ(rd32(&v, ICS), 1);
	vtdemu_stats_get(v.e.emu, &s);
	CHECK(s.waits == 2 && s.wait_status_writes == 1, "waits %" PRIu64
	      " writes %" PRIu64, s.waits, s.wait_status_writes);
	/* SW|IF is valid but would abort QEMU 7.2: counted. */
	CHECK_EQ(s.qemu72_unsafe_waits, 1);
	vtk_env_fini(&v.e);
}

/* ------------------------------------------------------------------------
 * Invalid descriptors.
 */
struct bad {
	const char *what;
	const char *preset;
	bool dw;
	uint64_t qw[4];
	unsigned int iqei;
};

static void run_bad(const struct bad *b)
{
	struct env v;
	uint64_t q1, q0;

	TRY(env_start(&v, b->preset, b->dw), "%s: env", b->what);
	/* wait A, the bad descriptor, wait B. */
	q0 = vtk_desc_wait(0x111, v.st[0], &q1);
	TRY(vtk_qi_append(&v.e.qi, q0, q1), "A");
	unsigned int bad_slot = v.e.qi.tail;
	uint64_t *slot = vtk_ptr(&v.e.arena, v.e.qi.base +
				 (uint64_t)bad_slot * (b->dw ? 32 : 16));
	TRY(vtk_qi_append(&v.e.qi, 0, 0), "bad");
	for (int i = 0; i < (b->dw ? 4 : 2); i++)
		vtk_store64(&slot[i], b->qw[i]);
	q0 = vtk_desc_wait(0x222, v.st[1], &q1);
	TRY(vtk_qi_append(&v.e.qi, q0, q1), "B");
	vtk_qi_submit(&v.e.qi);

	CHECK(*status(&v, 0) == 0x111, "%s: wait before the bad one", b->what);
	CHECK(*status(&v, 1) == 0, "%s: wait after it ran", b->what);
	CHECK(rd32(&v, FSTS) & IQE, "%s: no IQE", b->what);
	CHECK((vtdemu_reg_read(v.e.emu, IQER, 8) & 0xf) == b->iqei,
	      "%s: IQEI %" PRIu64 ", expected %u", b->what,
	      vtdemu_reg_read(v.e.emu, IQER, 8) & 0xf, b->iqei);
	CHECK(head_slot(&v) == bad_slot, "%s: IQH at %u, bad at %u", b->what,
	      head_slot(&v), bad_slot);

	/* Writing IQT again without clearing IQE: nothing moves. */
	vtk_qi_submit(&v.e.qi);
	CHECK(*status(&v, 1) == 0 && head_slot(&v) == bad_slot,
	      "%s: IQT without clearing resumed", b->what);
	/* Fix the descriptor (a fence-only wait) and clear IQE, but do not
	 * write IQT: nothing moves either. */
	vtk_store64(&slot[0], 5);
	for (int i = 1; i < (b->dw ? 4 : 2); i++)
		vtk_store64(&slot[i], 0);
	vtdemu_reg_write(v.e.emu, FSTS, IQE, 4);
	CHECK(!(rd32(&v, FSTS) & IQE), "%s: IQE not cleared", b->what);
	CHECK(*status(&v, 1) == 0 && head_slot(&v) == bad_slot,
	      "%s: clearing without IQT resumed", b->what);
	/* IQT now: the queue resumes at the fixed descriptor. */
	vtk_qi_submit(&v.e.qi);
	CHECK(*status(&v, 1) == 0x222, "%s: not resumed", b->what);
	CHECK(head_slot(&v) == v.e.qi.tail, "%s: head %u tail %u", b->what,
	      head_slot(&v), v.e.qi.tail);
	struct vtdemu_stats s;
	vtdemu_stats_get(v.e.emu, &s);
	CHECK(s.invalid_descs == 1, "%s: invalid_descs %" PRIu64, b->what,
	      s.invalid_descs);
	vtk_env_fini(&v.e);
}

static void test_invalid_descriptors(void)
{
	uint64_t q1 = 0;
	const uint64_t W = 5 | (1u << 5); /* wait, SW */
	struct bad cases[] = {
		/* Types (IQEI 3). */
		{ "type 0", "qemu-cm-on", false, { 0 }, 3 },
		{ "type 9 (page response, no PRS)", "qemu-cm-on", false, { 9 }, 3 },
		{ "type 0x15 (high type bits)", "qemu-cm-on", false, { 5 | (1u << 9) }, 3 },
		{ "device-TLB without ECAP.DT", "qemu-cm-on", false,
		  { vtk_desc_devtlb(1, 0, 0, &q1), 0 }, 3 },
		{ "IEC without ECAP.IR", "qemu-cm-on", false, { 4 }, 3 },
		{ "PASID-IOTLB without SMTS", "qemu-cm-on", false, { 6 | (2u << 4) }, 3 },
		{ "PASID-cache without SMTS", "qemu-cm-on", false, { 7 }, 3 },
		/* 256-bit-only types in a 128-bit queue (IQEI 5). */
		{ "PASID-IOTLB in a 128-bit queue", "qemu-cm-on-scalable", false,
		  { 6 | (2u << 4) }, 5 },
		{ "PASID-cache in a 128-bit queue", "server", false, { 7 }, 5 },
		{ "PASID-devTLB in a 128-bit queue", "server", false, { 8 }, 5 },
		/* Reserved fields and values (IQEI 4). */
		{ "CC bit 6", "qemu-cm-on", false, { 1 | (1u << 4) | (1u << 6) }, 4 },
		{ "CC qw1", "qemu-cm-on", false, { 1 | (1u << 4), 1 }, 4 },
		{ "CC G=0", "qemu-cm-on", false, { 1 }, 4 },
		{ "CC bit 50", "qemu-cm-on", false, { 1 | (1u << 4) | (1ull << 50) }, 4 },
		{ "IOTLB bit 8", "qemu-cm-on", false, { 2 | (1u << 4) | (1u << 8) }, 4 },
		{ "IOTLB bit 32", "qemu-cm-on", false, { 2 | (1u << 4) | (1ull << 32) }, 4 },
		{ "IOTLB qw1 bit 7", "qemu-cm-on", false, { 2 | (3u << 4), 1u << 7 }, 4 },
		{ "IOTLB G=0", "qemu-cm-on", false, { 2 }, 4 },
		{ "IOTLB AM 19 > MAMV 18", "qemu-cm-on", false, { 2 | (3u << 4), 19 }, 4 },
		{ "IOTLB AM 10 > MAMV 9", "server", true, { 2 | (3u << 4), 10 }, 4 },
		{ "device-TLB bit 4", "qemu-cm-on-devtlb", false, { 3 | (1u << 4) }, 4 },
		{ "device-TLB PFSID without DIT", "qemu-cm-on-devtlb", false,
		  { 3 | (1u << 12) }, 4 },
		{ "device-TLB qw1 bit 1", "qemu-cm-on-devtlb", false, { 3, 2 }, 4 },
		{ "IEC bit 5", "client", false, { 4 | (1u << 5) }, 4 },
		{ "IEC qw1", "client", false, { 4, 1 }, 4 },
		{ "wait status address not 4-byte aligned", "qemu-cm-on", false,
		  { W, 0x40000002 }, 4 },
		{ "wait PD without PRS", "qemu-cm-on", false, { W | (1u << 7), 0 }, 4 },
		{ "wait bit 8", "qemu-cm-on", false, { W | (1u << 8), 0 }, 4 },
		{ "wait bit 31", "qemu-cm-on", false, { W | (1u << 31), 0 }, 4 },
		{ "128-bit type with qw2 set", "server", true, { 1 | (1u << 4), 0, 1 }, 4 },
		{ "128-bit type with qw3 set", "server", true, { 1 | (1u << 4), 0, 0, 1 }, 4 },
		{ "PASID-IOTLB G=0", "server", true, { 6 }, 4 },
		{ "PASID-IOTLB G=1", "server", true, { 6 | (1u << 4) }, 4 },
		{ "PASID-IOTLB bit 6", "server", true, { 6 | (2u << 4) | (1u << 6) }, 4 },
		{ "PASID-IOTLB bit 52", "server", true, { 6 | (2u << 4) | (1ull << 52) }, 4 },
		{ "PASID-IOTLB qw1 bit 7", "server", true, { 6 | (3u << 4), 1u << 7 }, 4 },
		{ "PASID-cache G=2", "server", true, { 7 | (2u << 4) }, 4 },
		{ "PASID-cache qw1", "server", true, { 7, 1 }, 4 },
		{ "PASID-devTLB qw1 bit 1", "server", true, { 8, 2 }, 4 },
		{ "PASID-devTLB PFSID without DIT", "server", true, { 8 | (1ull << 52) }, 4 },
		/* A status write that cannot be performed: IQE (as QEMU), with
		 * no IQEI code for it. */
		{ "wait status address unresolvable", "qemu-cm-on", false,
		  { W, 0x1000 }, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_bad(&cases[i]);
}

/* A tail beyond the queue, or bit 4 with 256-bit descriptors: IQE with
 * IQEI 1, the tail ignored (§11.4.9.4). */
static void test_bad_tail(void)
{
	struct env v;

	TRY(env_start(&v, "server", true), "env");
	vtdemu_reg_write(v.e.emu, IQT, 1u << 4, 8);
	CHECK(rd32(&v, FSTS) & IQE, "bit 4 with DW");
	CHECK_EQ(vtdemu_reg_read(v.e.emu, IQER, 8) & 0xf, 1);
	vtdemu_reg_write(v.e.emu, FSTS, IQE, 4);
	vtdemu_reg_write(v.e.emu, IQT, 128u << 5, 8); /* 128 slots: 0..127 */
	CHECK(rd32(&v, FSTS) & IQE, "tail == size");
	vtdemu_reg_write(v.e.emu, FSTS, IQE, 4);
	vtdemu_reg_write(v.e.emu, IQT, 0, 8);
	CHECK(vtk_qi_sync(&v.e.qi, VTK_TIMEOUT_NS) == 0, "queue still works");
	vtk_env_fini(&v.e);
}

/* A queue whose memory does not resolve: IQE with IQEI 2 at slot 0. */
static void test_fetch_error(void)
{
	struct env v;

	TRY(env_start(&v, "qemu-cm-on", false), "env");
	vtdemu_reg_write(v.e.emu, 0x18, 0, 4);             /* QIE off */
	vtdemu_reg_write(v.e.emu, IQT, 0, 8);
	vtdemu_reg_write(v.e.emu, IQA, 0x7000000000ull, 8); /* nowhere */
	vtdemu_reg_write(v.e.emu, 0x18, 1u << 26, 4);
	vtdemu_reg_write(v.e.emu, IQT, 1u << 4, 8);
	CHECK(rd32(&v, FSTS) & IQE, "IQE");
	CHECK_EQ(vtdemu_reg_read(v.e.emu, IQER, 8) & 0xf, 2);
	CHECK_EQ(head_slot(&v), 0);
	vtk_env_fini(&v.e);
}

/* The queue wraps: many more descriptors than slots, 128- and 256-bit. */
static void wrap(const char *preset, bool dw)
{
	struct env v;
	uint64_t q1;
	struct vtdemu_stats s;
	const unsigned int rounds = 300;

	TRY(env_start(&v, preset, dw), "env");
	for (unsigned int r = 0; r < rounds; r++) {
		for (unsigned int i = 0; i < 2; i++) {
			uint64_t q0 = vtk_desc_iotlb(3, 1, 0x1000ull * (r * 2 + i),
						     0, true, &q1);
			TRY(vtk_qi_append(&v.e.qi, q0, q1), "append");
		}
		TRY(vtk_qi_sync(&v.e.qi, VTK_TIMEOUT_NS),
			"round %u: FSTS %x", r, rd32(&v, FSTS));
	}
	vtdemu_stats_get(v.e.emu, &s);
	CHECK(s.desc[VTDEMU_DS_IOTLB_PAGE] == 2 * rounds, "%" PRIu64,
	      s.desc[VTDEMU_DS_IOTLB_PAGE]);
	CHECK(s.waits == rounds && s.wait_status_writes == rounds, "waits");
	CHECK(3 * rounds > 2 * v.e.qi.slots, "wrapped at least twice");
	CHECK(s.iqt_writes == rounds, "iqt_writes %" PRIu64, s.iqt_writes);
	CHECK_EQ(*(uint32_t *)vtk_ptr(&v.e.arena, v.e.qi.status_pa), rounds);
	vtk_env_fini(&v.e);
}

static void test_wrap_128(void) { wrap("qemu-cm-on", false); }
static void test_wrap_256(void) { wrap("server", true); }

/* Several descriptors per IQT write; a batch of 200 in one doorbell. */
static void test_batch(void)
{
	struct env v;
	uint64_t q1;
	struct vtdemu_stats s;

	TRY(env_start(&v, "qemu-cm-on", false), "env");
	for (unsigned int i = 0; i < 200; i++) {
		uint64_t q0 = vtk_desc_iotlb(3, 1, 0x1000ull * i, 0, true, &q1);
		TRY(vtk_qi_append(&v.e.qi, q0, q1), "append");
	}
	TRY(vtk_qi_sync(&v.e.qi, VTK_TIMEOUT_NS), "sync");
	vtdemu_stats_get(v.e.emu, &s);
	CHECK(s.iqt_writes == 1 && s.desc[VTDEMU_DS_IOTLB_PAGE] == 200, "batch");
	vtk_env_fini(&v.e);
}

/* Unaligned page-selective addresses: low bits ignored and counted. */
static void test_psi_unaligned(void)
{
	struct env v;
	uint64_t q1;
	struct vtdemu_stats s;

	TRY(env_start(&v, "qemu-cm-on", false), "env");
	uint64_t q0 = vtk_desc_iotlb(3, 1, 0, 2, false, &q1);
	TRY(vtk_qi_append(&v.e.qi, q0, q1 | 0x1000), "append");
	TRY(vtk_qi_sync(&v.e.qi, VTK_TIMEOUT_NS), "sync");
	vtdemu_stats_get(v.e.emu, &s);
	CHECK(s.psi_unaligned == 1 && s.desc[VTDEMU_DS_IOTLB_PAGE] == 1,
	      "unaligned %" PRIu64, s.psi_unaligned);
	vtk_env_fini(&v.e);
}

/* Cost model: per IQT write, per descriptor, and under CM=1 the shadowing
 * of the pages a page-selective invalidation covers (2^AM). */
static void test_cost_model(void)
{
	struct vtdemu_cost_model c;
	vtdemu_cost_default(&c);
	CHECK(c.iqt_write_ns >= 1000 && c.iqt_write_ns <= 2000, "VM exit");
	CHECK(c.shadow_ns_per_page >= 100 && c.shadow_ns_per_page <= 1000,
	      "shadow per page");

	const char *presets[] = { "qemu-cm-on", "qemu-cm-off" };
	for (int p = 0; p < 2; p++) {
		struct env v;
		uint64_t q1;
		struct vtdemu_stats s;

		TRY(env_start(&v, presets[p], false), "env");
		uint64_t q0 = vtk_desc_iotlb(3, 1, 0x8000, 3, false, &q1);
		TRY(vtk_qi_append(&v.e.qi, q0, q1), "append");
		TRY(vtk_qi_sync(&v.e.qi, VTK_TIMEOUT_NS), "sync");
		vtdemu_stats_get(v.e.emu, &s);
		uint64_t shadow = p == 0 ? 8 : 0;
		CHECK(s.shadow_pages == shadow, "%s: shadow pages %" PRIu64,
		      presets[p], s.shadow_pages);
		CHECK(s.modelled_shadow_ns == shadow * c.shadow_ns_per_page,
		      "%s: shadow ns", presets[p]);
		CHECK(s.modelled_ns == c.iqt_write_ns + c.iotlb_page_ns +
		      c.wait_ns + shadow * c.shadow_ns_per_page,
		      "%s: modelled %" PRIu64, presets[p], s.modelled_ns);
		vtk_env_fini(&v.e);
	}
}

int main(void)
{
	RUN(test_every_type);
	RUN(test_wait_flavours);
	RUN(test_invalid_descriptors);
	RUN(test_bad_tail);
	RUN(test_fetch_error);
	RUN(test_wrap_128);
	RUN(test_wrap_256);
	RUN(test_batch);
	RUN(test_psi_unaligned);
	RUN(test_cost_model);
	return TEST_SUMMARY();
}
