/* SPDX-License-Identifier: BSD-3-Clause
 * lib/vtdemu stale-translation checker and caching mode:
 *   - CAP.CM=1 not-present caching: a mapping added without invalidation
 *     faults (and the checker flags it, source NOTPRESENT); with a PSI it
 *     works;
 *   - planted missing invalidations (after an unmap, a remap, a context
 *     change, a device-TLB entry) are caught with the right record: the
 *     tests that must be able to fail;
 *   - zero stale uses when invalidations are done right;
 *   - concurrent DMA threads and invalidations for a bounded time, with
 *     consistent statistics.
 */
#include <pthread.h>
#include <time.h>

#include "emu_helpers.h"

#define SA 0x0108
#define SB 0x0110
#define DID 1

static uint64_t stale_n(struct vtk_env *e)
{
	return vtdemu_stale_count(e->emu);
}

static struct vtdemu_stale_record last_record(struct vtk_env *e)
{
	struct vtdemu_stale_record r[64];
	unsigned int n = vtdemu_stale_records(e->emu, r, 64);

	if (n == 0) {
		struct vtdemu_stale_record z;

		memset(&z, 0, sizeof(z));
		z.source = VTDEMU_CACHE_KINDS;
		return z;
	}
	return r[n - 1];
}

static int legacy_env(struct vtk_env *e, const char *preset,
		      void (*tweak)(struct vtdemu_config *), struct vtk_pt *pt,
		      unsigned int tt)
{
	if (env_up(e, preset, VTK_START_QI | VTK_START_TE, tweak))
		return -1;
	if (vtk_pt_init(pt, &e->arena, VTK_PT_SECOND_STAGE, 3))
		return -1;
	if (attach_legacy(e, SA, DID, pt, tt, false))
		return -1;
	return flush_all(e);
}

/* Caching mode: the unit caches the not-present result, so a map without
 * the map-side flush keeps faulting (VT-d spec §6.1). */
static void test_cm_map_without_flush(void)
{
	struct vtk_env e;
	struct vtk_pt pt;
	struct vtdemu_stale_record r;
	struct vtdemu_fault_info fi;
	uint64_t buf, pa;
	uint32_t v = 0xabcd;

	REQUIRE(legacy_env(&e, "qemu-cm-on", NULL, &pt, 0) == 0, "env");
	buf = vtk_alloc_page(&e.arena);
	CHECK_EQ(xl(&e, SA, NOPASID, 0x40000, RD, NULL), 6);
	CHECK_EQ(stale_n(&e), 0);

	/* The driver maps the page but skips the flush. */
	CHECK(vtk_pt_map(&pt, 0x40000, buf, 1, RW) == 0, "map");
	CHECK(vtdemu_dma_write(e.emu, SA, NOPASID, 0x40010, &v, 4, &fi) ==
	      -EFAULT, "DMA faults although the walk would succeed");
	CHECK_EQ(fi.reason, 5);
	CHECK_EQ(stale_n(&e), 1);
	r = last_record(&e);
	CHECK_EQ(r.source, VTDEMU_CACHE_NOTPRESENT);
	CHECK_EQ(r.sid, SA);
	CHECK_EQ(r.iova, 0x40010);
	CHECK_EQ(r.access, WR);
	CHECK(!r.cached_present, "cached: not present");
	CHECK_EQ(r.walk_fault, 0);
	CHECK_EQ(r.walk_pa, buf + 0x10);
	CHECK_EQ(r.walk_perm, RW);

	/* With the page-selective invalidation it works. */
	CHECK(iotlb_inv(&e, VTK_GRAN_PAGE, DID, 0x40000, 0, false) == 0, "psi");
	CHECK(vtdemu_dma_write(e.emu, SA, NOPASID, 0x40010, &v, 4, NULL) == 4,
	      "DMA after PSI");
	CHECK_EQ(xl(&e, SA, NOPASID, 0x40010, RD, &pa), 0);
	CHECK_EQ(pa, buf + 0x10);
	CHECK_EQ(stale_n(&e), 1);
	vtk_env_fini(&e);
}

/* The same sequence on a CM=1 unit that does not cache not-present
 * entries, and on a CM=0 unit: the map needs no flush. */
static void no_np(struct vtdemu_config *cfg)
{
	cfg->cache.cm_cache_not_present = false;
}

static void test_no_np_cache_needs_no_map_flush(void)
{
	static const struct {
		const char *preset;
		void (*tweak)(struct vtdemu_config *);
	} cases[] = { { "qemu-cm-on", no_np }, { "qemu-cm-off", NULL } };
	unsigned int i;

	for (i = 0; i < 2; i++) {
		struct vtk_env e;
		struct vtk_pt pt;
		uint64_t buf;

		REQUIRE(legacy_env(&e, cases[i].preset, cases[i].tweak, &pt,
				   0) == 0, "env");
		buf = vtk_alloc_page(&e.arena);
		CHECK_EQ(xl(&e, SA, NOPASID, 0x40000, RD, NULL), 6);
		CHECK(vtk_pt_map(&pt, 0x40000, buf, 1, RW) == 0, "map");
		CHECK_EQ(xl(&e, SA, NOPASID, 0x40000, RD, NULL), 0);
		CHECK_EQ(stale_n(&e), 0);
		vtk_env_fini(&e);
	}
}

/* A planted bug: unmap without invalidation. The IOTLB keeps serving the
 * old translation and the checker must catch it. */
static void test_planted_missing_unmap_flush(void)
{
	struct vtk_env e;
	struct vtk_pt pt;
	struct vtdemu_stale_record r;
	uint64_t buf, buf2, pa;

	REQUIRE(legacy_env(&e, "qemu-cm-off", NULL, &pt, 0) == 0, "env");
	buf = vtk_alloc_page(&e.arena);
	buf2 = vtk_alloc_page(&e.arena);
	CHECK(vtk_pt_map(&pt, 0x7000, buf, 1, RW) == 0, "map");
	CHECK_EQ(xl(&e, SA, NOPASID, 0x7000, RW, &pa), 0);
	CHECK_EQ(stale_n(&e), 0);

	/* Planted: the unmap's invalidation is missing. */
	CHECK(vtk_pt_unmap(&pt, 0x7000, 1) == 0, "unmap");
	CHECK_EQ(xl(&e, SA, NOPASID, 0x7008, RD, &pa), 0);
	CHECK_EQ(pa, buf + 8);
	CHECK(stale_n(&e) == 1, "the checker missed the planted bug: %" PRIu64,
	      stale_n(&e));
	r = last_record(&e);
	CHECK_EQ(r.source, VTDEMU_CACHE_IOTLB);
	CHECK_EQ(r.sid, SA);
	CHECK_EQ(r.pasid, NOPASID);
	CHECK_EQ(r.iova, 0x7008);
	CHECK_EQ(r.access, RD);
	CHECK(r.cached_present, "cached present");
	CHECK_EQ(r.cached_pa, buf + 8);
	CHECK_EQ(r.cached_perm, RW);
	CHECK_EQ(r.walk_fault, 6);

	/* The invalidation done: the access faults, nothing stale. */
	CHECK(iotlb_inv(&e, VTK_GRAN_PAGE, DID, 0x7000, 0, false) == 0, "psi");
	CHECK_EQ(xl(&e, SA, NOPASID, 0x7008, RD, NULL), 6);
	CHECK_EQ(stale_n(&e), 1);

	/* Planted: remap to another frame without invalidation. */
	CHECK(vtk_pt_map(&pt, 0x7000, buf, 1, RW) == 0, "map");
	CHECK_EQ(xl(&e, SA, NOPASID, 0x7000, RD, NULL), 0);
	CHECK(vtk_pt_map(&pt, 0x7000, buf2, 1, RW) == 0, "remap");
	CHECK_EQ(xl(&e, SA, NOPASID, 0x7000, WR, &pa), 0);
	CHECK_EQ(pa, buf);
	CHECK_EQ(stale_n(&e), 2);
	r = last_record(&e);
	CHECK_EQ(r.cached_pa, buf);
	CHECK_EQ(r.walk_pa, buf2);
	CHECK_EQ(r.walk_fault, 0);

	/* Planted: write permission removed without invalidation; the cached
	 * entry grants more than the tables, a stale use already on a read
	 * (the write it still allows would be one too). */
	CHECK(iotlb_inv(&e, VTK_GRAN_PAGE, DID, 0x7000, 0, false) == 0, "psi");
	CHECK_EQ(xl(&e, SA, NOPASID, 0x7000, RW, NULL), 0);
	CHECK(vtk_pt_map(&pt, 0x7000, buf2, 1, RD) == 0, "read-only");
	CHECK_EQ(xl(&e, SA, NOPASID, 0x7000, RD, NULL), 0);
	CHECK_EQ(stale_n(&e), 3);
	r = last_record(&e);
	CHECK_EQ(r.walk_fault, 0);
	CHECK_EQ(r.cached_perm, RW);
	CHECK_EQ(r.walk_perm, RD);
	CHECK_EQ(xl(&e, SA, NOPASID, 0x7000, WR, NULL), 0);
	CHECK_EQ(stale_n(&e), 4);
	r = last_record(&e);
	CHECK_EQ(r.walk_fault, 5);
	vtk_env_fini(&e);
}

/* A context moved to another table with the IOTLB flushed but not the
 * context cache: the cached context is the stale source. */
static void test_planted_missing_context_flush(void)
{
	struct vtk_env e;
	struct vtk_pt pt, pt2;
	struct vtdemu_stale_record r;
	uint64_t buf, buf2, pa;

	REQUIRE(legacy_env(&e, "qemu-cm-off", NULL, &pt, 0) == 0, "env");
	REQUIRE(vtk_pt_init(&pt2, &e.arena, VTK_PT_SECOND_STAGE, 3) == 0, "pt2");
	buf = vtk_alloc_page(&e.arena);
	buf2 = vtk_alloc_page(&e.arena);
	CHECK(vtk_pt_map(&pt, 0x3000, buf, 1, RW) == 0, "map");
	CHECK(vtk_pt_map(&pt2, 0x3000, buf2, 1, RW) == 0, "map");
	CHECK_EQ(xl(&e, SA, NOPASID, 0x3000, RD, &pa), 0);
	CHECK(attach_legacy(&e, SA, DID, &pt2, 0, false) == 0, "switch");
	CHECK(iotlb_inv(&e, VTK_GRAN_DOMAIN, DID, 0, 0, false) == 0, "dsi");
	CHECK_EQ(xl(&e, SA, NOPASID, 0x3000, RD, &pa), 0);
	CHECK_EQ(pa, buf);
	CHECK_EQ(stale_n(&e), 1);
	r = last_record(&e);
	CHECK_EQ(r.source, VTDEMU_CACHE_CONTEXT);
	CHECK_EQ(r.walk_pa, buf2);
	/* The right sequence: context cache, then IOTLB. */
	CHECK(cc_inv(&e, VTK_GRAN_DEVICE, DID, SA, 0) == 0, "cc");
	CHECK(iotlb_inv(&e, VTK_GRAN_DOMAIN, DID, 0, 0, false) == 0, "dsi");
	CHECK_EQ(xl(&e, SA, NOPASID, 0x3000, RD, &pa), 0);
	CHECK_EQ(pa, buf2);
	CHECK_EQ(stale_n(&e), 1);
	vtk_env_fini(&e);
}

/* A table replaced under a PDE with IH=1 (the hint says only leaves
 * changed): the paging-structure cache keeps the old table, and the
 * checker names it. */
static void test_planted_wrong_ih(void)
{
	struct vtk_env e;
	struct vtk_pt pt;
	struct vtdemu_stale_record r;
	uint64_t buf, buf2, pa, *pde, newtab, *leaf;

	REQUIRE(legacy_env(&e, "qemu-cm-off", NULL, &pt, 0) == 0, "env");
	buf = vtk_alloc_page(&e.arena);
	buf2 = vtk_alloc_page(&e.arena);
	CHECK(vtk_pt_map(&pt, 0x6000, buf, 1, RW) == 0, "map");
	CHECK_EQ(xl(&e, SA, NOPASID, 0x6000, RD, &pa), 0);
	/* The driver frees the leaf table and installs a new one. */
	newtab = vtk_alloc_page(&e.arena);
	leaf = vtk_ptr(&e.arena, newtab + ((0x6000 >> 12) & 0x1ff) * 8);
	vtk_store64(leaf, buf2 | VTK_SS_R | VTK_SS_W);
	pde = vtk_pt_entry(&pt, 0x6000, 2);
	vtk_store64(pde, newtab | VTK_SS_R | VTK_SS_W);
	/* Planted: IH=1 although a table changed. */
	CHECK(iotlb_inv(&e, VTK_GRAN_PAGE, DID, 0x6000, 0, true) == 0, "psi");
	CHECK_EQ(xl(&e, SA, NOPASID, 0x6000, RD, &pa), 0);
	CHECK_EQ(pa, buf);
	CHECK_EQ(stale_n(&e), 1);
	r = last_record(&e);
	CHECK_EQ(r.source, VTDEMU_CACHE_PWC);
	CHECK_EQ(r.walk_pa, buf2);
	/* IH=0 drops the paging-structure entries. */
	CHECK(iotlb_inv(&e, VTK_GRAN_PAGE, DID, 0x6000, 0, false) == 0, "psi");
	CHECK_EQ(xl(&e, SA, NOPASID, 0x6000, RD, &pa), 0);
	CHECK_EQ(pa, buf2);
	CHECK_EQ(stale_n(&e), 1);
	vtk_env_fini(&e);
}

/* A device TLB keeps its translation through IOTLB invalidations: only a
 * device-TLB invalidation removes it. */
static void test_planted_missing_devtlb_flush(void)
{
	struct vtk_env e;
	struct vtk_pt pt;
	struct vtdemu_stale_record r;
	uint64_t buf, pa;

	REQUIRE(legacy_env(&e, "qemu-cm-on-devtlb", NULL, &pt,
			   VTK_TT_DEVTLB) == 0, "env");
	CHECK(vtdemu_set_ats(e.emu, SA, true) == 0, "ats");
	buf = vtk_alloc_page(&e.arena);
	CHECK(vtk_pt_map(&pt, 0x5000, buf, 1, RW) == 0, "map");
	CHECK(iotlb_inv(&e, VTK_GRAN_PAGE, DID, 0x5000, 0, false) == 0, "psi");
	CHECK_EQ(xl(&e, SA, NOPASID, 0x5000, RD, &pa), 0);
	CHECK_EQ(pa, buf);
	CHECK(vtk_pt_unmap(&pt, 0x5000, 1) == 0, "unmap");
	CHECK(iotlb_inv(&e, VTK_GRAN_PAGE, DID, 0x5000, 0, false) == 0, "psi");
	/* Planted: no device-TLB invalidation. */
	CHECK_EQ(xl(&e, SA, NOPASID, 0x5000, RD, &pa), 0);
	CHECK_EQ(stale_n(&e), 1);
	r = last_record(&e);
	CHECK_EQ(r.source, VTDEMU_CACHE_DEVTLB);
	CHECK_EQ(r.walk_fault, 6);
	CHECK(devtlb_inv(&e, SA, 0x5000, 0) == 0, "devtlb");
	CHECK_EQ(xl(&e, SA, NOPASID, 0x5000, RD, NULL), 6);
	CHECK_EQ(stale_n(&e), 1);
	vtk_env_fini(&e);
}

/* A driver that does it right leaves no stale use (legacy CM=1 with the
 * map-side flush, CM=0 without it, and first stage with PASID-based
 * invalidations). */
static void test_zero_stale_when_right(void)
{
	const char *presets[] = { "qemu-cm-on", "qemu-cm-off" };
	unsigned int p, i;

	for (p = 0; p < 2; p++) {
		struct vtk_env e;
		struct vtk_pt pt;
		uint64_t buf;
		bool cm = p == 0;

		REQUIRE(legacy_env(&e, presets[p], NULL, &pt, 0) == 0, "env");
		buf = vtk_alloc(&e.arena, 16 * 4096, 4096);
		for (i = 0; i < 400; i++) {
			uint64_t iova = 0x100000 + (i % 37) * 4096ull;
			uint64_t frame = buf + (i % 16) * 4096ull;
			uint32_t v = i, r = 0;

			/* A fault first, so a not-present entry is cached. */
			CHECK_EQ(xl(&e, SA, NOPASID, iova, RD, NULL), 6);
			CHECK(vtk_pt_map(&pt, iova, frame, 1, RW) == 0, "map");
			if (cm)
				CHECK(iotlb_inv(&e, VTK_GRAN_PAGE, DID, iova, 0,
						true) == 0, "map flush");
			CHECK(vtdemu_dma_write(e.emu, SA, NOPASID, iova + 4,
					       &v, 4, NULL) == 4, "write");
			CHECK(vtdemu_dma_read(e.emu, SA, NOPASID, iova + 4,
					      &r, 4, NULL) == 4, "read");
			CHECK_EQ(r, v);
			CHECK(vtk_pt_unmap(&pt, iova, 1) == 0, "unmap");
			CHECK(iotlb_inv(&e, VTK_GRAN_PAGE, DID, iova, 0,
					true) == 0, "unmap flush");
		}
		CHECK_EQ(stale_n(&e), 0);
		CHECK(STAT(&e, cache_hits[VTDEMU_CACHE_IOTLB]) >= 400, "hits");
		vtk_env_fini(&e);
	}

	{
		struct vtk_env e;
		struct vtk_pt fs;
		uint64_t dir, buf;

		REQUIRE(env_up(&e, "server",
			       VTK_START_SCALABLE | VTK_START_QI | VTK_START_TE,
			       NULL) == 0, "env");
		REQUIRE(vtk_pt_init(&fs, &e.arena, VTK_PT_FIRST_STAGE, 4) == 0,
			"fs");
		dir = attach_sm_ctx(&e, SA, 1, false);
		REQUIRE(dir, "ctx");
		CHECK(set_pasid_fs(&e, dir, 3, 2, &fs) == 0, "pasid");
		CHECK(flush_all(&e) == 0, "flush");
		buf = vtk_alloc_page(&e.arena);
		for (i = 0; i < 200; i++) {
			uint64_t iova = 0x200000 + (i % 9) * 4096ull;

			CHECK(vtk_pt_map(&fs, iova, buf, 1, RW) == 0, "map");
			CHECK_EQ(xl(&e, SA, 3, iova, RW, NULL), 0);
			CHECK(vtk_pt_unmap(&fs, iova, 1) == 0, "unmap");
			CHECK(piotlb_inv(&e, VTK_GRAN_PAGE, 2, 3, iova, 0,
					 true) == 0, "flush");
			CHECK_EQ(xl(&e, SA, 3, iova, RD, NULL), 0x71);
		}
		CHECK_EQ(stale_n(&e), 0);
		vtk_env_fini(&e);
	}
}

/* A cached translation with less permission than the tables is not a
 * stale use: the unit walks again and the access succeeds. */
static void test_less_permission_not_counted(void)
{
	struct vtk_env e;
	struct vtk_pt pt;
	uint64_t buf;

	REQUIRE(legacy_env(&e, "qemu-cm-off", NULL, &pt, 0) == 0, "env");
	buf = vtk_alloc_page(&e.arena);
	CHECK(vtk_pt_map(&pt, 0x9000, buf, 1, RD) == 0, "map ro");
	CHECK_EQ(xl(&e, SA, NOPASID, 0x9000, RD, NULL), 0);
	CHECK(vtk_pt_map(&pt, 0x9000, buf, 1, RW) == 0, "upgrade");
	CHECK_EQ(xl(&e, SA, NOPASID, 0x9000, WR, NULL), 0);
	CHECK_EQ(stale_n(&e), 0);
	vtk_env_fini(&e);
}

static void log_two(struct vtdemu_config *cfg)
{
	cfg->stale_log_max = 2;
}

static void test_stale_count_exact_log_bounded(void)
{
	struct vtk_env e;
	struct vtk_pt pt;
	struct vtdemu_stale_record r[8];
	unsigned int i;

	REQUIRE(legacy_env(&e, "qemu-cm-off", log_two, &pt, 0) == 0, "env");
	CHECK(vtk_pt_map(&pt, 0x1000, vtk_alloc_page(&e.arena), 1, RW) == 0,
	      "map");
	CHECK_EQ(xl(&e, SA, NOPASID, 0x1000, RD, NULL), 0);
	CHECK(vtk_pt_unmap(&pt, 0x1000, 1) == 0, "unmap");
	for (i = 0; i < 5; i++)
		CHECK_EQ(xl(&e, SA, NOPASID, 0x1000 + i, RD, NULL), 0);
	CHECK_EQ(stale_n(&e), 5);
	CHECK_EQ(STAT(&e, stale_uses), 5);
	CHECK_EQ(vtdemu_stale_records(e.emu, r, 8), 2);
	CHECK_EQ(r[1].iova, 0x1001);
	vtdemu_stale_reset(e.emu);
	CHECK_EQ(stale_n(&e), 0);
	CHECK_EQ(vtdemu_stale_records(e.emu, r, 8), 0);
	vtk_env_fini(&e);
}

/* ------------------------------------------------------------------------
 * Concurrency: DMA threads and an invalidating thread, for a bounded time.
 */

#define RO_BASE   0x100000ull  /* read-only pages with a pattern */
#define RO_PAGES  32
#define W_BASE    0x200000ull  /* per-thread writable pages */
#define W_PAGES   8
#define CH_BASE   0x400000ull  /* pages mapped and unmapped meanwhile */
#define CH_PAGES  32
#define NTHREADS  3

struct conc {
	struct vtk_env *e;
	struct vtk_pt *pt;
	int stop;                 /* atomic */
	uint64_t ro_buf, ch_buf;
};

struct worker {
	struct conc *c;
	unsigned int id;
	uint64_t calls, errors, churn_faults, churn_ok;
	pthread_t th;
};

static uint32_t pattern(uint64_t iova)
{
	return (uint32_t)(iova * 2654435761u) ^ 0x5a5a5a5au;
}

static void *dma_worker(void *arg)
{
	struct worker *w = arg;
	struct conc *c = w->c;
	uint64_t x = 0x9e3779b97f4a7c15ull * (w->id + 1);

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		uint64_t iova;
		uint32_t v, r;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* A stable read-only page: must always work. */
		iova = RO_BASE + (x % RO_PAGES) * 4096 + 64;
		w->calls++;
		if (vtdemu_dma_read(c->e->emu, SA, NOPASID, iova, &r, 4,
				    NULL) != 4 || r != pattern(iova))
			w->errors++;
		/* The thread's own writable pages. */
		iova = W_BASE + ((w->id * W_PAGES) + (x >> 8) % W_PAGES) * 4096;
		v = (uint32_t)x;
		w->calls += 2;
		if (vtdemu_dma_write(c->e->emu, SA, NOPASID, iova, &v, 4,
				     NULL) != 4 ||
		    vtdemu_dma_read(c->e->emu, SA, NOPASID, iova, &r, 4,
				    NULL) != 4 || r != v)
			w->errors++;
		/* A churning page: it may or may not be mapped. */
		iova = CH_BASE + ((x >> 16) % CH_PAGES) * 4096;
		w->calls++;
		if (vtdemu_dma_read(c->e->emu, SA, NOPASID, iova, &r, 4,
				    NULL) == 4)
			w->churn_ok++;
		else
			w->churn_faults++;
	}
	return NULL;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void run_concurrent(const char *preset, enum vtdemu_mode mode)
{
	struct vtk_env e;
	struct vtk_pt pt;
	struct conc c;
	struct worker w[NTHREADS];
	struct vtdemu_stale_record recs[64];
	uint64_t a, calls = 0, errors = 0, churn_faults = 0, start, end;
	uint64_t rounds = 0;
	unsigned int i, n;
	uint32_t *host;

	REQUIRE(vtk_env_init(&e, preset, 64ull << 20) == 0, "init");
	e.cfg.mode = mode;
	e.cfg.stale_log_max = 64;
	REQUIRE(vtk_env_start(&e, VTK_START_QI | VTK_START_TE) == 0, "start");
	REQUIRE(vtk_pt_init(&pt, &e.arena, VTK_PT_SECOND_STAGE, 3) == 0, "pt");
	memset(&c, 0, sizeof(c));
	c.e = &e;
	c.pt = &pt;
	c.ro_buf = vtk_alloc(&e.arena, RO_PAGES * 4096, 4096);
	c.ch_buf = vtk_alloc(&e.arena, CH_PAGES * 4096, 4096);
	CHECK(vtk_pt_map_range(&pt, RO_BASE, c.ro_buf, RO_PAGES * 4096, RD) == 0,
	      "ro");
	CHECK(vtk_pt_map_range(&pt, W_BASE,
			       vtk_alloc(&e.arena, NTHREADS * W_PAGES * 4096,
					 4096),
			       NTHREADS * W_PAGES * 4096, RW) == 0, "w");
	for (a = 0; a < RO_PAGES; a++) {
		host = vtk_ptr(&e.arena, c.ro_buf + a * 4096 + 64);
		*host = pattern(RO_BASE + a * 4096 + 64);
	}
	CHECK(attach_legacy(&e, SA, DID, &pt, 0, false) == 0, "ctx");
	CHECK(flush_all(&e) == 0, "flush");
	vtdemu_stats_reset(e.emu);
	vtdemu_stale_reset(e.emu);

	memset(w, 0, sizeof(w));
	for (i = 0; i < NTHREADS; i++) {
		w[i].c = &c;
		w[i].id = i;
		REQUIRE(pthread_create(&w[i].th, NULL, dma_worker, &w[i]) == 0,
			"thread");
	}
	/* This thread is the driver: map, flush (CM=1), unmap, flush, with
	 * now and then a domain-wide and a context flush. At least 300 ms
	 * and 20 rounds, at most 10 s (a loaded machine may starve the
	 * hardware thread of threaded mode). */
	start = now_ms();
	end = start + 300;
	while ((now_ms() < end || rounds < 20) && now_ms() < start + 10000) {
		uint64_t j = rounds % CH_PAGES, iova = CH_BASE + j * 4096;

		CHECK(vtk_pt_map(&pt, iova, c.ch_buf + j * 4096, 1, RD) == 0,
		      "map");
		CHECK(iotlb_inv(&e, VTK_GRAN_PAGE, DID, iova, 0, true) == 0,
		      "psi");
		CHECK(vtk_pt_unmap(&pt, iova, 1) == 0, "unmap");
		CHECK(iotlb_inv(&e, VTK_GRAN_PAGE, DID, iova, 0, true) == 0,
		      "psi");
		if (rounds % 64 == 63)
			CHECK(iotlb_inv(&e, VTK_GRAN_DOMAIN, DID, 0, 0, false) ==
			      0, "dsi");
		if (rounds % 256 == 255)
			CHECK(cc_inv(&e, VTK_GRAN_DEVICE, DID, SA, 0) == 0, "cc");
		rounds++;
	}
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(w[i].th, NULL);
		calls += w[i].calls;
		errors += w[i].errors;
		churn_faults += w[i].churn_faults;
	}
	CHECK(vtdemu_quiesce(e.emu, VTK_TIMEOUT_NS) == 0, "quiesce");

	CHECK(rounds >= 20, "driver rounds %" PRIu64, rounds);
	CHECK(calls > 100, "DMA calls %" PRIu64, calls);
	CHECK_EQ(errors, 0);
	/* Every DMA here is one page: one translation each. */
	CHECK_EQ(STAT(&e, translations), calls);
	CHECK_EQ(STAT(&e, faults[6]), churn_faults);
	CHECK_EQ(STAT(&e, faults_recorded) + STAT(&e, faults_overflow),
		 churn_faults);
	CHECK(STAT(&e, cache_hits[VTDEMU_CACHE_IOTLB]) +
		      STAT(&e, cache_misses[VTDEMU_CACHE_IOTLB]) <= calls,
	      "IOTLB lookups");
	CHECK_EQ(STAT(&e, stale_uses), vtdemu_stale_count(e.emu));
	/* Stale uses are possible only on churning pages, in the window
	 * between an unmap and its invalidation. */
	n = vtdemu_stale_records(e.emu, recs, 64);
	CHECK(n == (stale_n(&e) < 64 ? stale_n(&e) : 64), "records %u", n);
	for (i = 0; i < n; i++)
		CHECK(recs[i].iova >= CH_BASE &&
		      recs[i].iova < CH_BASE + CH_PAGES * 4096,
		      "stale use outside the churn range: 0x%" PRIx64,
		      recs[i].iova);
	printf("# %s %s: %" PRIu64 " DMA calls, %" PRIu64 " driver rounds, "
	       "%" PRIu64 " stale (churn window)\n", preset,
	       mode == VTDEMU_THREADED ? "threaded" : "inline", calls, rounds,
	       stale_n(&e));

	/* Quiet again: everything flushed, nothing stale. */
	vtdemu_stale_reset(e.emu);
	CHECK(flush_all(&e) == 0, "flush");
	for (a = 0; a < CH_PAGES; a++)
		CHECK_EQ(xl(&e, SA, NOPASID, CH_BASE + a * 4096, RD, NULL), 6);
	CHECK_EQ(stale_n(&e), 0);
	vtk_env_fini(&e);
}

static void test_concurrent_cm_on(void)
{
	run_concurrent("qemu-cm-on", VTDEMU_INLINE);
}

static void test_concurrent_cm_off_threaded(void)
{
	run_concurrent("qemu-cm-off", VTDEMU_THREADED);
}

int main(void)
{
	RUN(test_cm_map_without_flush);
	RUN(test_no_np_cache_needs_no_map_flush);
	RUN(test_planted_missing_unmap_flush);
	RUN(test_planted_missing_context_flush);
	RUN(test_planted_wrong_ih);
	RUN(test_planted_missing_devtlb_flush);
	RUN(test_zero_stale_when_right);
	RUN(test_less_permission_not_counted);
	RUN(test_stale_count_exact_log_bounded);
	RUN(test_concurrent_cm_on);
	RUN(test_concurrent_cm_off_threaded);
	return TEST_SUMMARY();
}
