/* SPDX-License-Identifier: BSD-3-Clause
 * vtdemu register file: access semantics of each register (VT-d spec
 * §11.4), GCMD commands and their GSTS status (§10.4.4), register-based
 * invalidation (§6.5.1), fault recording registers (§7.2.1, §11.4.14).
 *
 * It also reads the unit's internal state (root_table, translation_enabled)
 * and calls emu_fault_record() directly: the register side of fault
 * recording is the front end's to test, the faults themselves the back
 * end's.
 */
#include <errno.h>
#include <pthread.h>

#include "uvtd_test.h"
#include "vtdemu.h"
#include "vtdemu_internal.h"
#include "vtdemu_testkit.h"


#define GCMD 0x18
#define GSTS 0x1c
#define RTADDR 0x20
#define CCMD 0x28
#define FSTS 0x34
#define FECTL 0x38
#define FEDATA 0x3c
#define FEADDR 0x40
#define IQH 0x80
#define IQT 0x88
#define IQA 0x90
#define ICS 0x9c
#define IECTL 0xa0
#define IQER 0xb0

#define TE (1u << 31)
#define SRTP (1u << 30)
#define WBF (1u << 27)
#define QIE (1u << 26)
#define IRE (1u << 25)
#define SIRTP (1u << 24)
#define CFI (1u << 23)

static struct vtk_arena arena;

static struct vtdemu *make(const char *preset)
{
	struct vtdemu_config cfg;
	char err[200] = "";

	vtdemu_config_init(&cfg);
	if (vtdemu_preset(preset, &cfg.caps) != 0)
		return NULL;
	cfg.resolve = vtk_resolve;
	cfg.resolve_opaque = &arena;
	struct vtdemu *emu = vtdemu_create(&cfg, err, sizeof(err));
	if (emu == NULL)
		fprintf(stderr, "create %s: %s\n", preset, err);
	return emu;
}

static uint64_t rd(struct vtdemu *e, uint32_t off, unsigned int size)
{
	return vtdemu_reg_read(e, off, size);
}

static void wr(struct vtdemu *e, uint32_t off, uint64_t v, unsigned int size)
{
	vtdemu_reg_write(e, off, v, size);
}

static uint32_t iro(struct vtdemu *e)
{
	return (uint32_t)((vtdemu_get_caps(e)->ecap >> 8) & 0x3ff) * 16;
}

static uint32_t fro(struct vtdemu *e)
{
	return (uint32_t)((vtdemu_get_caps(e)->cap >> 24) & 0x3ff) * 16;
}

/* Read-only registers keep their value whatever is written. */
static void test_read_only(void)
{
	struct vtdemu *e = make("server");
	REQUIRE(e, "unit");
	uint64_t cap = rd(e, 0x08, 8), ecap = rd(e, 0x10, 8);

	wr(e, 0x00, 0xffffffff, 4);
	wr(e, 0x08, 0, 8);
	wr(e, 0x0c, 0, 4);
	wr(e, 0x10, ~0ull, 8);
	wr(e, GSTS, 0xffffffff, 4);
	wr(e, IQH, 0x7fff0, 8);
	wr(e, IQER, ~0ull, 8);
	CHECK_EQ(rd(e, 0x00, 4), 0x40);
	CHECK_EQ(rd(e, 0x08, 8), cap);
	CHECK_EQ(rd(e, 0x10, 8), ecap);
	CHECK_EQ(rd(e, GSTS, 4), 0);
	CHECK_EQ(rd(e, IQH, 8), 0);
	CHECK_EQ(rd(e, IQER, 8), 0);
	/* GCMD is write-only: it reads 0 (software must use GSTS). */
	wr(e, GCMD, TE, 4);
	CHECK_EQ(rd(e, GCMD, 4), 0);
	vtdemu_destroy(e);
}

/* Read-write registers read back with reserved bits masked; halves of a
 * 64-bit register can be written separately. */
static void test_read_write_masks(void)
{
	struct vtdemu *q = make("qemu-cm-on"), *s = make("server");
	REQUIRE(q && s, "units");

	/* RTADDR: TTM (11:10) only with scalable mode (§11.4.6). */
	wr(q, RTADDR, ~0ull, 8);
	CHECK_EQ(rd(q, RTADDR, 8), 0xfffffffffffff000ull);
	wr(s, RTADDR, ~0ull, 8);
	CHECK_EQ(rd(s, RTADDR, 8), 0xfffffffffffffc00ull);
	wr(s, RTADDR, 0x12345000, 4);
	wr(s, RTADDR + 4, 0xab, 4);
	CHECK_EQ(rd(s, RTADDR, 8), 0xab12345000ull);
	/* IQA: DW only with SMTS (§11.4.9.5), bits 10:3 reserved. */
	wr(q, IQA, 0xabcd000ull | 0xfff, 8);
	CHECK_EQ(rd(q, IQA, 8), 0xabcd007ull);
	wr(s, IQA, 0xabcd000ull | 0xfff, 8);
	CHECK_EQ(rd(s, IQA, 8), 0xabcd807ull);
	/* IQT: QT only (18:4). */
	wr(q, IQT, ~0ull, 8);
	CHECK_EQ(rd(q, IQT, 8), 0x7fff0);
	/* FEDATA: 16 bits without EIM, 32 with it; FEADDR 31:2. */
	wr(q, FEDATA, 0xffffffff, 4);
	CHECK_EQ(rd(q, FEDATA, 4), 0xffff);
	wr(s, FEDATA, 0xffffffff, 4);
	CHECK_EQ(rd(s, FEDATA, 4), 0xffffffff);
	wr(q, FEADDR, 0xfee00003, 4);
	CHECK_EQ(rd(q, FEADDR, 4), 0xfee00000);
	/* An 8-byte write over two 32-bit registers (FECTL, FEDATA). */
	wr(q, FECTL, 0x0000123400000000ull, 8);
	CHECK_EQ(rd(q, FECTL, 4), 0);       /* IM cleared, IP read-only */
	CHECK_EQ(rd(q, FEDATA, 4), 0x1234);
	/* Registers of features the unit lacks are reserved (read 0):
	 * IRTA without IR. */
	wr(q, 0xb8, ~0ull, 8);
	CHECK_EQ(rd(q, 0xb8, 8), 0);
	wr(s, 0xb8, ~0ull, 8);
	CHECK_EQ(rd(s, 0xb8, 8), 0xfffffffffffff80full);
	/* IVA is write-only (§11.4.8.2). */
	wr(s, iro(s), 0x5000 | 0x43, 8);
	CHECK_EQ(rd(s, iro(s), 8), 0);
	/* Bad accesses: wrong size, misaligned, out of the window. */
	wr(q, FEDATA, 0x1, 2);
	wr(q, FEDATA + 2, 0x1, 4);
	wr(q, RTADDR + 4, 0x1, 8);
	CHECK_EQ(rd(q, FEDATA, 4), 0x1234);
	CHECK_EQ(rd(q, 0x4, 8), ~0ull);
	CHECK_EQ(rd(q, (uint32_t)vtdemu_regs_size(q), 4), ~0ull);
	vtdemu_destroy(q);
	vtdemu_destroy(s);
}

/* GCMD.SRTP latches RTADDR (and its TTM) as the root table and sets RTPS;
 * a later RTADDR write alone changes nothing in use (§10.4.6). */
static void test_srtp_latch(void)
{
	struct vtdemu *s = make("server");
	REQUIRE(s, "unit");

	wr(s, RTADDR, 0x1000 | (1u << 10), 8);
	CHECK_EQ(s->root_table, 0);
	wr(s, GCMD, SRTP, 4);
	CHECK(rd(s, GSTS, 4) & SRTP, "RTPS");
	CHECK_EQ(s->root_table, 0x1000 | (1u << 10));
	wr(s, RTADDR, 0x2000, 8);
	CHECK_EQ(s->root_table, 0x1000 | (1u << 10));
	wr(s, GCMD, SRTP, 4);
	CHECK_EQ(s->root_table, 0x2000);
	vtdemu_destroy(s);
}

/* Each GCMD command and its status bit; Linux-style writes (persistent
 * shadow | one command) and several commands in one write. */
static void test_gcmd_commands(void)
{
	struct vtdemu *s = make("server"), *q = make("qemu-cm-on");
	struct vtdemu *r = make("rwbf");
	REQUIRE(s && q && r, "units");
	struct vtdemu_stats st;

	/* SRTP and TE in one write: the root is set before translation. */
	wr(s, RTADDR, 0x3000, 8);
	wr(s, GCMD, SRTP | TE, 4);
	CHECK_EQ(rd(s, GSTS, 4), SRTP | TE);
	CHECK(s->translation_enabled, "translation on");
	CHECK_EQ(s->root_table, 0x3000);
	/* QIE with the shadow (TE) | QIE: TE stays, QIES set, IQH 0. */
	wr(s, IQA, 0x10000, 8);
	wr(s, GCMD, TE | QIE, 4);
	CHECK_EQ(rd(s, GSTS, 4), SRTP | TE | QIE);
	CHECK_EQ(rd(s, IQH, 8), 0);
	/* IR commands on a unit with IR. */
	wr(s, GCMD, TE | QIE | SIRTP, 4);
	CHECK(rd(s, GSTS, 4) & SIRTP, "IRTPS");
	wr(s, GCMD, TE | QIE | IRE, 4);
	CHECK(rd(s, GSTS, 4) & IRE, "IRES");
	wr(s, GCMD, TE | QIE | IRE | CFI, 4);
	CHECK(rd(s, GSTS, 4) & CFI, "CFIS");
	wr(s, GCMD, TE | QIE, 4);
	CHECK(!(rd(s, GSTS, 4) & (IRE | CFI)), "IRES/CFIS off");
	/* TE off, the rest untouched. */
	wr(s, GCMD, QIE, 4);
	CHECK(!(rd(s, GSTS, 4) & TE) && (rd(s, GSTS, 4) & QIE), "TE off");
	CHECK(!s->translation_enabled, "translation off");
	/* QIE off while idle: QIES clears. */
	wr(s, GCMD, 0, 4);
	CHECK(!(rd(s, GSTS, 4) & QIE), "QIES off");

	/* No IR: IRE/SIRTP/CFI are ignored. */
	wr(q, GCMD, IRE | SIRTP | CFI, 4);
	CHECK_EQ(rd(q, GSTS, 4), 0);

	/* WBF: performed with RWBF (WBFS already clear when the write
	 * returns), ignored and counted without. */
	vtdemu_stats_reset(r);
	wr(r, GCMD, WBF, 4);
	CHECK(!(rd(r, GSTS, 4) & WBF), "WBFS clear");
	vtdemu_stats_get(r, &st);
	CHECK(st.wbf == 1 && st.wbf_ignored == 0, "wbf %" PRIu64, st.wbf);
	wr(q, GCMD, WBF, 4);
	vtdemu_stats_get(q, &st);
	CHECK(st.wbf == 0 && st.wbf_ignored == 1, "wbf_ignored");
	/* QIE on a unit without QI is ignored. */
	wr(r, GCMD, QIE, 4);
	CHECK(!(rd(r, GSTS, 4) & QIE), "no QI");
	vtdemu_destroy(s);
	vtdemu_destroy(q);
	vtdemu_destroy(r);
}

/* Statistics are kept per updating thread (struct emu_stat_shard): every
 * thread's counts add up, in each of more units than a thread remembers
 * shards for (its slots are evicted and found again), across threads that
 * end and new ones that may reuse their ids, and a reset subtracts without
 * writing a shard. With the queue off, an IQT write is latched and counted
 * only. The planted bug is a reader that sums only the calling thread's
 * shard: summed that way, the main thread, which wrote nothing, must see
 * none of the writes (else the cross-thread check could not fail). */
#define STAT_UNITS 6                 /* > EMU_SHARD_TLS */
#define STAT_THREADS 4
#define STAT_WRITES 500

static struct vtdemu *stat_emu[STAT_UNITS];

static void *stat_writer(void *arg)
{
	(void)arg;
	for (int i = 0; i < STAT_WRITES; i++)
		for (int u = 0; u < STAT_UNITS; u++)
			vtdemu_reg_write(stat_emu[u], IQT, 0, 8);
	return NULL;
}

static uint64_t own_shard_only(struct vtdemu *emu)
{
	pthread_t self = pthread_self();

	for (struct emu_stat_shard *sh = emu->shards; sh; sh = sh->next)
		if (pthread_equal(sh->owner, self))
			return sh->s.iqt_writes;
	return 0;
}

static void stat_round(uint64_t want)
{
	pthread_t t[STAT_THREADS];
	struct vtdemu_stats st;

	for (int i = 0; i < STAT_THREADS; i++)
		REQUIRE(pthread_create(&t[i], NULL, stat_writer, NULL) == 0,
			"thread");
	for (int i = 0; i < STAT_THREADS; i++)
		pthread_join(t[i], NULL);
	for (int u = 0; u < STAT_UNITS; u++) {
		vtdemu_stats_get(stat_emu[u], &st);
		CHECK_EQ(st.iqt_writes, want);
		CHECK_EQ(own_shard_only(stat_emu[u]), 0);
	}
}

static void test_stats_shards(void)
{
	for (int u = 0; u < STAT_UNITS; u++)
		REQUIRE((stat_emu[u] = make("qemu-cm-off")) != NULL, "unit");
	stat_round(STAT_THREADS * STAT_WRITES);
	/* New threads (ids may be reused), after a reset. */
	for (int u = 0; u < STAT_UNITS; u++)
		vtdemu_stats_reset(stat_emu[u]);
	stat_round(STAT_THREADS * STAT_WRITES);
	/* Counting goes on from the reset's base. */
	vtdemu_reg_write(stat_emu[0], IQT, 0, 8);
	struct vtdemu_stats st;
	vtdemu_stats_get(stat_emu[0], &st);
	CHECK_EQ(st.iqt_writes, STAT_THREADS * STAT_WRITES + 1);
	for (int u = 0; u < STAT_UNITS; u++)
		vtdemu_destroy(stat_emu[u]);
}

static void put_wait(uint64_t *slot, uint32_t data, uint64_t addr)
{
	vtk_store64(&slot[0], 5 | (1u << 5) | ((uint64_t)data << 32));
	vtk_store64(&slot[1], addr);
}

/* QIE resets IQH to 0; disabling waits for an idle queue (§6.5.2). */
static void test_qie_resets_head(void)
{
	struct vtdemu *q = make("qemu-cm-on");
	REQUIRE(q, "unit");
	uint64_t base = vtk_alloc_page(&arena), st = vtk_alloc(&arena, 64, 64);
	uint64_t *d = vtk_ptr(&arena, base);
	uint32_t *status = vtk_ptr(&arena, st);

	wr(q, IQT, 0, 8);
	wr(q, IQA, base, 8);
	wr(q, GCMD, QIE, 4);
	for (int i = 0; i < 3; i++)
		put_wait(d + 2 * i, (uint32_t)i + 1, st);
	wr(q, IQT, 3 << 4, 8);
	CHECK_EQ(*status, 3);
	CHECK_EQ(rd(q, IQH, 8), 3 << 4);
	/* Not idle: a stalled queue with a pending descriptor. */
	struct vtdemu_injection inj = { .kind = VTDEMU_INJECT_STALL };
	TRY(vtdemu_inject(q, &inj), "stall");
	put_wait(d + 6, 4, st);
	wr(q, IQT, 4 << 4, 8);
	wr(q, GCMD, 0, 4);
	CHECK(rd(q, GSTS, 4) & QIE, "disable refused while busy");
	vtdemu_inject_clear(q);
	CHECK_EQ(*status, 4);
	wr(q, GCMD, 0, 4);
	CHECK(!(rd(q, GSTS, 4) & QIE), "disabled when idle");
	CHECK_EQ(rd(q, IQH, 8), 0);
	/* Enable again from slot 0. */
	wr(q, IQT, 0, 8);
	wr(q, GCMD, QIE, 4);
	CHECK_EQ(rd(q, IQH, 8), 0);
	put_wait(d, 9, st);
	wr(q, IQT, 1 << 4, 8);
	CHECK_EQ(*status, 9);
	vtdemu_destroy(q);
}

/* FSTS bits are RW1C; FECTL.IP follows them; ICS.IWC is RW1C and raises
 * IECTL.IP while IM is set. */
static void test_rw1c_status(void)
{
	struct vtdemu *q = make("qemu-cm-on");
	REQUIRE(q, "unit");
	uint64_t base = vtk_alloc_page(&arena), st = vtk_alloc(&arena, 64, 64);
	uint64_t *d = vtk_ptr(&arena, base);

	wr(q, IQA, base, 8);
	wr(q, GCMD, QIE, 4);
	/* A tail beyond the queue (256 slots): IQE with IQEI 1. */
	wr(q, IQT, 0x7fff0, 8);         /* slot 0x7ff >= 256 */
	CHECK(rd(q, FSTS, 4) & (1u << 4), "IQE");
	CHECK_EQ(rd(q, IQER, 8) & 0xf, 1);
	CHECK(rd(q, FECTL, 4) & (1u << 30), "FECTL.IP with IM set");
	wr(q, FSTS, 0, 4);
	CHECK(rd(q, FSTS, 4) & (1u << 4), "writing 0 keeps IQE");
	wr(q, FSTS, 0xffff0000u | (1u << 1), 4); /* FRI/PPF are RO */
	CHECK(rd(q, FSTS, 4) & (1u << 4), "writing other bits keeps IQE");
	wr(q, FSTS, 1u << 4, 4);
	CHECK_EQ(rd(q, FSTS, 4), 0);
	CHECK(!(rd(q, FECTL, 4) & (1u << 30)), "FECTL.IP cleared");

	/* Wait with IF: ICS.IWC, IECTL.IP (IM resets to 1). */
	CHECK_EQ(rd(q, IECTL, 4), 1u << 31);
	wr(q, IQT, 0, 8);
	wr(q, GCMD, 0, 4);
	wr(q, GCMD, QIE, 4);
	vtk_store64(&d[0], 5 | (1u << 4));
	vtk_store64(&d[1], st);
	wr(q, IQT, 1 << 4, 8);
	CHECK_EQ(rd(q, ICS, 4), 1);
	CHECK_EQ(rd(q, IECTL, 4), (1u << 31) | (1u << 30));
	wr(q, ICS, 0, 4);
	CHECK_EQ(rd(q, ICS, 4), 1);
	wr(q, ICS, 1, 4);
	CHECK_EQ(rd(q, ICS, 4), 0);
	CHECK_EQ(rd(q, IECTL, 4), 1u << 31);
	vtdemu_destroy(q);
}

/* Register-based context-cache invalidation (§6.5.1.1, §11.4.7.1). */
static void test_ccmd(void)
{
	struct vtdemu *r = make("rwbf");
	REQUIRE(r, "unit");
	struct vtdemu_stats st;
	const uint64_t ICC = 1ull << 63;

	for (unsigned int g = 1; g <= 3; g++) {
		uint64_t v = ICC | ((uint64_t)g << 61) | (2ull << 32) |
			     (0x0108ull << 16) | 7;
		wr(r, CCMD, v, 8);
		uint64_t got = rd(r, CCMD, 8);
		CHECK(!(got & ICC), "ICC clear (g %u)", g);
		CHECK_EQ((got >> 59) & 3, g);
		CHECK_EQ(got & 0xffff, 7);             /* DID reads back */
		CHECK_EQ((got >> 16) & 0x3ffff, 0);    /* SID/FM write-only */
	}
	vtdemu_stats_get(r, &st);
	CHECK(st.reg_inv[VTDEMU_DS_CC_GLOBAL] == 1 &&
	      st.reg_inv[VTDEMU_DS_CC_DOMAIN] == 1 &&
	      st.reg_inv[VTDEMU_DS_CC_DEVICE] == 1, "counted");
	/* CIRG 0 is invalid: CAIG 0, nothing done. */
	wr(r, CCMD, ICC, 8);
	CHECK_EQ(rd(r, CCMD, 8) >> 59, 0);
	/* Low half then high half: it acts once, on the high half. */
	wr(r, CCMD, 9, 4);
	vtdemu_stats_get(r, &st);
	CHECK_EQ(st.reg_inv[VTDEMU_DS_CC_DOMAIN], 1);
	wr(r, CCMD + 4, (uint32_t)((ICC | (2ull << 61)) >> 32), 4);
	vtdemu_stats_get(r, &st);
	CHECK_EQ(st.reg_inv[VTDEMU_DS_CC_DOMAIN], 2);
	CHECK_EQ(rd(r, CCMD, 8), (2ull << 61) | (2ull << 59) | 9);
	vtdemu_destroy(r);
}

/* Register-based IOTLB invalidation (§6.5.1.2, §11.4.8.1). */
static void test_iotlb_reg(void)
{
	struct vtdemu *r = make("rwbf"), *c = make("client");
	REQUIRE(r && c, "units");
	struct vtdemu_stats st;
	const uint64_t IVT = 1ull << 63;
	uint32_t reg = iro(r) + 8;

	for (unsigned int g = 1; g <= 3; g++) {
		wr(r, iro(r), 0x40000 | 2, 8);         /* addr, AM 2 */
		wr(r, reg, IVT | ((uint64_t)g << 60) | (5ull << 32), 8);
		uint64_t got = rd(r, reg, 8);
		CHECK(!(got & IVT), "IVT clear (g %u)", g);
		CHECK_EQ((got >> 57) & 3, g);
		CHECK_EQ((got >> 32) & 0xffff, 5);
	}
	vtdemu_stats_get(r, &st);
	CHECK(st.reg_inv[VTDEMU_DS_IOTLB_GLOBAL] == 1 &&
	      st.reg_inv[VTDEMU_DS_IOTLB_DOMAIN] == 1 &&
	      st.reg_inv[VTDEMU_DS_IOTLB_PAGE] == 1, "counted");
	/* AM beyond MAMV (9): IAIG 0 and nothing done (QEMU). */
	wr(r, iro(r), 10, 8);
	wr(r, reg, IVT | (3ull << 60), 8);
	CHECK_EQ((rd(r, reg, 8) >> 57) & 3, 0);
	/* IIRG 0: IAIG 0. */
	wr(r, reg, IVT, 8);
	CHECK_EQ((rd(r, reg, 8) >> 57) & 3, 0);
	/* Unaligned address: low bits ignored, counted. */
	wr(r, iro(r), 0x41000 | 2, 8);
	wr(r, reg, IVT | (3ull << 60), 8);
	vtdemu_stats_get(r, &st);
	CHECK(st.reg_inv[VTDEMU_DS_IOTLB_PAGE] == 2 && st.psi_unaligned == 1,
	      "unaligned PSI");
	/* No PSI (client): a page request is done domain-selective and
	 * IAIG says so. */
	wr(c, iro(c), 0x40000, 8);
	wr(c, iro(c) + 8, IVT | (3ull << 60) | (1ull << 32), 8);
	CHECK_EQ((rd(c, iro(c) + 8, 8) >> 57) & 3, 2);
	vtdemu_stats_get(c, &st);
	CHECK(st.reg_inv[VTDEMU_DS_IOTLB_DOMAIN] == 1 && st.desc_coarsened == 1,
	      "coarsened");
	vtdemu_destroy(r);
	vtdemu_destroy(c);
}

/* With QI enabled the register interface is refused (§6.5.2): as in QEMU,
 * ICC/IVT stay set (the command never completes) and nothing is done. */
static void test_reg_inv_refused_with_qi(void)
{
	struct vtdemu *q = make("qemu-cm-on");
	REQUIRE(q, "unit");
	struct vtdemu_stats st;

	wr(q, IQA, vtk_alloc_page(&arena), 8);
	wr(q, GCMD, QIE, 4);
	wr(q, CCMD, (1ull << 63) | (1ull << 61), 8);
	CHECK(rd(q, CCMD, 8) >> 63, "ICC still set");
	CHECK_EQ((rd(q, CCMD, 8) >> 59) & 3, 0);
	wr(q, iro(q) + 8, (1ull << 63) | (1ull << 60), 8);
	CHECK(rd(q, iro(q) + 8, 8) >> 63, "IVT still set");
	vtdemu_stats_get(q, &st);
	CHECK_EQ(st.reg_inv_refused, 2);
	for (int k = 0; k < VTDEMU_DS_KINDS; k++)
		CHECK(st.reg_inv[k] == 0, "%s done",
		      vtdemu_desc_stat_name((enum vtdemu_desc_stat)k));
	/* With QI off again the same command completes. */
	wr(q, GCMD, 0, 4);
	wr(q, CCMD, (1ull << 63) | (1ull << 61), 8);
	CHECK_EQ((rd(q, CCMD, 8) >> 59) & 3, 1);
	vtdemu_destroy(q);
}

/* SRTP with CAP.ESRTPS invalidates every cache (§10.4.6, Linux then skips
 * its global invalidations); without it the caches keep what they hold
 * and software must invalidate. */
static void esrtps(const char *preset, unsigned int levels,
		   bool expect_flush)
{
	struct vtk_env e;
	struct vtk_pt pt;
	uint64_t before[VTDEMU_CACHE_KINDS], after[VTDEMU_CACHE_KINDS];
	uint32_t word;

	TRY(vtk_env_init(&e, preset, 8 << 20), "init");
	TRY(vtk_env_start(&e, VTK_START_QI | VTK_START_TE), "start");
	TRY(vtk_pt_init(&pt, &e.arena, VTK_PT_SECOND_STAGE, levels), "pt");
	uint64_t buf = vtk_alloc_page(&e.arena);
	TRY(vtk_pt_map(&pt, 0x10000, buf, 1, VTDEMU_ACCESS_READ), "map");
	struct vtk_legacy_ctx ctx = { .present = true,
		.tt = VTK_TT_UNTRANSLATED, .slptptr = pt.root,
		.aw = vtk_aw(levels), .did = 3 };
	TRY(vtk_legacy_set_context(&e.arena, e.root, 0x20, &ctx), "ctx");
	CHECK(vtdemu_dma_read(e.emu, 0x20, VTDEMU_NO_PASID, 0x10000, &word,
			      4, NULL) == 4, "DMA");
	vtdemu_cache_occupancy(e.emu, before);
	CHECK(before[VTDEMU_CACHE_IOTLB] > 0 && before[VTDEMU_CACHE_CONTEXT] > 0,
	      "%s: caches filled", preset);
	TRY(vtk_set_root(e.emu, e.root, false), "SRTP");
	vtdemu_cache_occupancy(e.emu, after);
	for (int k = 0; k < VTDEMU_CACHE_KINDS; k++)
		CHECK(expect_flush ? after[k] == 0 : after[k] == before[k],
		      "%s: %s %" PRIu64 " -> %" PRIu64, preset,
		      vtdemu_cache_name((enum vtdemu_cache_kind)k), before[k],
		      after[k]);
	vtk_env_fini(&e);
}

static void test_srtp_esrtps(void)
{
	esrtps("server", 4, true);       /* SAGAW 48/57 */
	esrtps("qemu-cm-off", 3, false); /* SAGAW 39 */
}

static struct vtdemu_fault_info fault(uint16_t sid, uint32_t pasid,
				      uint64_t addr, unsigned int access,
				      uint8_t reason)
{
	struct vtdemu_fault_info f = { .reason = reason, .sid = sid,
		.pasid = pasid, .addr = addr, .access = access };
	return f;
}

/* Fault recording (§7.2.1): records, PPF, FRI, PFO, RW1C F. */
static void test_fault_records(void)
{
	struct vtdemu *s = make("server");  /* 8 records at 0x400 */
	REQUIRE(s, "unit");
	uint32_t f0 = fro(s);
	struct vtdemu_stats st;

	struct vtdemu_fault_info fi = fault(0x0108, VTDEMU_NO_PASID,
					    0x12345678, VTDEMU_ACCESS_READ, 6);
	emu_fault_record(s, &fi);
	CHECK(fi.recorded, "recorded");
	CHECK_EQ(rd(s, f0, 8), 0x12345000);
	uint64_t hi = rd(s, f0 + 8, 8);
	CHECK_EQ(hi & 0xffff, 0x0108);
	CHECK_EQ((hi >> 32) & 0xff, 6);
	CHECK(hi >> 63, "F");
	CHECK((hi >> 62) & 1, "T = 1 for a read");
	CHECK(!((hi >> 31) & 1), "no PASID");
	CHECK_EQ(rd(s, FSTS, 4), (1u << 1) | (0u << 8));

	fi = fault(0x0200, 0x1234, 0x9000, VTDEMU_ACCESS_WRITE, 5);
	emu_fault_record(s, &fi);
	hi = rd(s, f0 + 16 + 8, 8);
	CHECK(!((hi >> 62) & 1), "T = 0 for a write");
	CHECK(((hi >> 31) & 1) && ((hi >> 40) & 0xfffff) == 0x1234, "PASID");
	/* FRI stays at the first pending record. */
	CHECK_EQ((rd(s, FSTS, 4) >> 8) & 0xff, 0);

	/* Clear record 0 through its top dword: PPF stays (record 1). */
	wr(s, f0 + 12, 1u << 31, 4);
	CHECK(!(rd(s, f0 + 8, 8) >> 63), "F cleared");
	CHECK(rd(s, FSTS, 4) & 2, "PPF while record 1 pends");
	/* Writing 0, or to the read-only low qword, changes nothing. */
	wr(s, f0 + 16 + 12, 0, 4);
	wr(s, f0 + 16, 0, 8);
	CHECK(rd(s, f0 + 16 + 8, 8) >> 63, "F kept");
	CHECK_EQ(rd(s, f0 + 16, 8), 0x9000);
	/* Clear record 1 with an 8-byte write at +8: PPF clears. */
	wr(s, f0 + 16 + 8, 1ull << 63, 8);
	CHECK(!(rd(s, FSTS, 4) & 2), "PPF clear");

	/* Fill the remaining records (next index 2..7, then 0, 1), then one
	 * more: the next record (2) still holds a fault, so PFO. */
	for (int i = 0; i < 8; i++) {
		fi = fault((uint16_t)i, VTDEMU_NO_PASID, 0x1000ull * i,
			   VTDEMU_ACCESS_READ, 6);
		emu_fault_record(s, &fi);
		CHECK(fi.recorded, "record %d", i);
	}
	CHECK_EQ((rd(s, FSTS, 4) >> 8) & 0xff, 2);
	fi = fault(0x99, VTDEMU_NO_PASID, 0, VTDEMU_ACCESS_READ, 6);
	emu_fault_record(s, &fi);
	CHECK(!fi.recorded, "overflow not recorded");
	CHECK(rd(s, FSTS, 4) & 1, "PFO");
	vtdemu_stats_get(s, &st);
	CHECK(st.faults_recorded == 10 && st.faults_overflow == 1,
	      "recorded %" PRIu64 " overflow %" PRIu64, st.faults_recorded,
	      st.faults_overflow);
	/* While PFO is set nothing is recorded, even into a freed record. */
	wr(s, f0 + 2 * 16 + 12, 1u << 31, 4);
	emu_fault_record(s, &fi);
	CHECK(!fi.recorded, "PFO blocks");
	wr(s, FSTS, 1, 4);
	emu_fault_record(s, &fi);
	CHECK(fi.recorded, "recorded after PFO cleared");
	CHECK_EQ(rd(s, f0 + 2 * 16 + 8, 8) & 0xffff, 0x99);
	/* Clear them all: PPF off, FECTL.IP off. */
	for (int i = 0; i < 8; i++)
		wr(s, f0 + 16 * i + 12, 1u << 31, 4);
	CHECK_EQ(rd(s, FSTS, 4) & 3, 0);
	CHECK(!(rd(s, FECTL, 4) & (1u << 30)), "FECTL.IP");
	vtdemu_destroy(s);

	/* One record (QEMU): the second fault overflows. */
	struct vtdemu *q = make("qemu-cm-on");
	REQUIRE(q, "unit");
	fi = fault(1, VTDEMU_NO_PASID, 0x1000, VTDEMU_ACCESS_READ, 6);
	emu_fault_record(q, &fi);
	CHECK(fi.recorded, "first");
	emu_fault_record(q, &fi);
	CHECK(!fi.recorded && (rd(q, FSTS, 4) & 1), "second overflows");
	vtdemu_destroy(q);
}

static void test_dump(void)
{
	struct vtdemu *s = make("server");
	REQUIRE(s, "unit");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	REQUIRE(f, "memstream");
	struct vtdemu_fault_info fi = fault(0x0108, 3, 0x5000,
					    VTDEMU_ACCESS_READ, 6);
	emu_fault_record(s, &fi);
	vtdemu_dump(s, f);
	fclose(f);
	CHECK(strstr(buf, "SAGAW 0xc") && strstr(buf, "SMTS") &&
	      strstr(buf, "ESRTPS") && strstr(buf, "FRCD[0]") &&
	      strstr(buf, "pasid 0x3") && strstr(buf, "PPF"), "dump:\n%s", buf);
	free(buf);
	vtdemu_destroy(s);
}

int main(void)
{
	if (vtk_arena_init(&arena, 0, 8 << 20) != 0)
		return 1;
	RUN(test_read_only);
	RUN(test_stats_shards);
	RUN(test_read_write_masks);
	RUN(test_srtp_latch);
	RUN(test_srtp_esrtps);
	RUN(test_gcmd_commands);
	RUN(test_qie_resets_head);
	RUN(test_rw1c_status);
	RUN(test_ccmd);
	RUN(test_iotlb_reg);
	RUN(test_reg_inv_refused_with_qi);
	RUN(test_fault_records);
	RUN(test_dump);
	vtk_arena_fini(&arena);
	return TEST_SUMMARY();
}
