/* SPDX-License-Identifier: BSD-3-Clause
 * vtd-perf runs on the emulated unit alone: how fast lib/vtdemu is.
 *
 * Each run builds its own unit with the test kit (vtdemu_testkit.h: arena,
 * root/context tables, second-stage page tables, a queue), in legacy
 * translation mode, so nothing of the driver is involved: these figures are
 * the floor under every later driver and service figure.
 *
 * Layout of every run's unit:
 *   domain 1, requester 01:00.0: `pages` 4 KiB pages at IOVA 0x10000000,
 *     page i mapped read/write to data page i % 16 (translation never
 *     touches the data, so 16 pages are enough);
 *   domain 2, requester 01:00.1 (invalidation runs only): 1024 pages, each
 *     translated once at setup, so that the IOTLB holds entries the
 *     invalidations must search past but never drop (a realistic occupancy
 *     that does not change during the run).
 * Page tables have 4 levels (48-bit) when CAP.SAGAW allows, else the
 * narrowest supported width.
 *
 * Every run checks that the emulator did the work it was given: its own
 * statistics (translations, descriptors by kind, waits, IQT writes) must
 * equal what the run submitted during the timed loop, with no fault,
 * invalid descriptor or stale use; otherwise the run fails.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vtdemu_testkit.h"
#include "vtd_perf.h"

#define EMU_SID        0x0100u   /* 01:00.0: the measured device */
#define EMU_DID        1u
#define BG_SID         0x0101u   /* 01:00.1: background IOTLB occupancy */
#define BG_DID         2u
#define BG_PAGES       1024u
#define IOVA_BASE      0x10000000ull
#define DATA_PAGES     16u
#define ARENA_BYTES    (64ull << 20)

/* Translations per iteration: a few, so that the TSC read the framework
 * does per iteration stays a small share of what is timed. */
#define TR_PER_ITER    4u

/* translate-hit: a working set the IOTLB always holds. */
#define HIT_PAGES      16u
/* translate-miss/-walk: a working set 64 times the IOTLB capacity, visited
 * in order, so that an LRU or FIFO IOTLB misses every time (the run reports
 * the measured miss ratio, whatever the eviction policy is). */
#define MISS_IOTLB     64u
#define MISS_PAGES     (64u * MISS_IOTLB)
/* Invalidation runs: the domain the PSIs walk through. */
#define INV_PAGES      256u

struct emu_bench {
	const struct perf_opts *o;
	struct vtk_env env;
	bool env_inited;
	bool has_qi;
	struct vtk_pt pt;
	unsigned int levels;
	uint64_t data_pa;
	uint32_t pages;
	uint32_t next;               /* next page to use, cycling */
	uint64_t scratch_pa;         /* status word of the extra waits */
	uint32_t scratch_seq;
	/* What the run submitted since mark(): the emulator must agree. */
	uint64_t translations, wrong_pa;
	uint64_t psi, dsi, waits, iqt_writes;
	struct vtdemu_stats before;
};

struct emu_setup {
	uint32_t pages;
	uint32_t iotlb_entries;      /* 0: unbounded (the default) */
	bool pwc;
	bool need_qi;
	bool need_psi;
	bool background;
};

static uint64_t cap(const struct perf_opts *o, const char *name)
{
	uint64_t v = 0;

	perf_cap_field(&o->caps, name, &v);
	return v;
}

/* Table levels: 4 (48-bit, what Linux and most drivers use) when SAGAW has
 * it, else the narrowest width the unit supports. SAGAW bit n means an
 * (n + 1)-level table (VT-d spec §11.4.2). */
static unsigned int pick_levels(const struct perf_opts *o)
{
	uint64_t sagaw = cap(o, "SAGAW");

	if (sagaw & (1u << 2))
		return 4;
	for (unsigned int lv = 3; lv <= 5; lv++)
		if (sagaw & (1u << (lv - 2)))
			return lv;
	return 0;
}

static uint64_t expected_pa(const struct emu_bench *b, uint32_t page)
{
	return b->data_pa + (uint64_t)(page % DATA_PAGES) * VTK_PAGE_SIZE;
}

static int map_domain(struct emu_bench *b, struct vtk_pt *pt, uint16_t sid,
		      uint16_t did, uint32_t pages, struct perf_result *res)
{
	struct vtk_legacy_ctx ctx = {
		.present = true, .tt = VTK_TT_UNTRANSLATED, .aw = vtk_aw(b->levels),
		.did = did,
	};
	int rc = vtk_pt_init(pt, &b->env.arena, VTK_PT_SECOND_STAGE, b->levels);

	if (rc < 0) {
		perf_res_fail(res, "page table: %s", strerror(-rc));
		return rc;
	}
	for (uint32_t i = 0; i < pages; i++) {
		rc = vtk_pt_map(pt, IOVA_BASE + (uint64_t)i * VTK_PAGE_SIZE,
				expected_pa(b, i), 1,
				VTDEMU_ACCESS_READ | VTDEMU_ACCESS_WRITE);
		if (rc < 0) {
			perf_res_fail(res, "map page %u: %s", i, strerror(-rc));
			return rc;
		}
	}
	ctx.slptptr = pt->root;
	rc = vtk_legacy_set_context(&b->env.arena, b->env.root, sid, &ctx);
	if (rc < 0)
		perf_res_fail(res, "context entry: %s", strerror(-rc));
	return rc;
}

/* A write-buffer flush (VT-d spec §6.8, §11.4.4): set GCMD.WBF with the
 * persistent commands kept on, then poll until GSTS.WBFS reads 0 (hardware
 * sets it when the command arrives and clears it when the flush is done).
 * Not vtk_gcmd(): that one waits for a one-shot status bit to become 1,
 * which is right for RTPS and never happens for WBFS. */
static int write_buffer_flush(struct vtdemu *emu)
{
	uint32_t gsts = (uint32_t)vtdemu_reg_read(emu, VTK_REG_GSTS, 4);
	uint64_t deadline = perf_now_ns() + VTK_TIMEOUT_NS;

	/* TE and QIE report in the same bit positions of GSTS. */
	vtdemu_reg_write(emu, VTK_REG_GCMD,
			 (gsts & (VTK_GSTS_TES | VTK_GSTS_QIES)) | VTK_GCMD_WBF, 4);
	while (vtdemu_reg_read(emu, VTK_REG_GSTS, 4) & VTK_GSTS_WBFS)
		if (perf_now_ns() > deadline)
			return -ETIMEDOUT;
	return 0;
}

/* Builds the unit and domain 1 as `how` says. */
static int emu_setup(const struct perf_ctx *ctx, struct emu_bench *b,
		     const struct emu_setup *how, struct perf_result *res)
{
	const struct perf_opts *o = ctx->opts;
	unsigned int flags = VTK_START_TE;
	int rc;

	b->o = o;
	b->pages = how->pages;
	b->has_qi = cap(o, "QI") != 0;
	if (how->need_qi && !b->has_qi) {
		perf_res_skip(res, "the unit has no queued invalidation (ECAP.QI=0)");
		return -ENOTSUP;
	}
	if (how->need_psi && cap(o, "PSI") == 0) {
		perf_res_skip(res, "the unit has no page-selective invalidation (CAP.PSI=0)");
		return -ENOTSUP;
	}
	b->levels = pick_levels(o);
	if (b->levels == 0) {
		perf_res_fail(res, "CAP.SAGAW offers no 3-, 4- or 5-level table");
		return -EINVAL;
	}
	rc = vtk_env_init(&b->env, o->preset, ARENA_BYTES);
	if (rc < 0) {
		perf_res_fail(res, "arena of %llu MiB: %s", ARENA_BYTES >> 20,
			      strerror(-rc));
		return rc;
	}
	b->env_inited = true;
	b->env.cfg.caps = o->caps;
	b->env.cfg.mode = o->mode;
	b->env.cfg.check_stale = o->stale_check;
	b->env.cfg.cache.iotlb_entries = how->iotlb_entries;
	b->env.cfg.cache.pwc_enabled = how->pwc;
	if (b->has_qi)
		flags |= VTK_START_QI;
	rc = vtk_env_start(&b->env, flags);
	if (rc < 0) {
		perf_res_fail(res, "emulated unit did not start: %s (see stderr)",
			      strerror(-rc));
		return rc;
	}

	b->data_pa = vtk_alloc(&b->env.arena, DATA_PAGES * VTK_PAGE_SIZE,
			       VTK_PAGE_SIZE);
	b->scratch_pa = vtk_alloc(&b->env.arena, 64, 64);
	if (b->data_pa == 0 || b->scratch_pa == 0) {
		perf_res_fail(res, "arena exhausted");
		return -ENOMEM;
	}
	rc = map_domain(b, &b->pt, EMU_SID, EMU_DID, b->pages, res);
	if (rc < 0)
		return rc;
	if (how->background) {
		struct vtk_pt bg;
		uint64_t pa;

		rc = map_domain(b, &bg, BG_SID, BG_DID, BG_PAGES, res);
		if (rc < 0)
			return rc;
		for (uint32_t i = 0; i < BG_PAGES; i++) {
			rc = vtdemu_translate(b->env.emu, BG_SID, VTDEMU_NO_PASID,
					      IOVA_BASE + (uint64_t)i * VTK_PAGE_SIZE,
					      VTDEMU_ACCESS_READ, &pa, NULL);
			if (rc < 0) {
				perf_res_fail(res, "background translation: %s",
					      strerror(-rc));
				return rc;
			}
		}
	}
	/* A unit with RWBF=1 may buffer table writes until a write-buffer
	 * flush (VT-d spec §6.8). */
	if (cap(o, "RWBF")) {
		rc = write_buffer_flush(b->env.emu);
		if (rc < 0) {
			perf_res_fail(res, "write-buffer flush: %s", strerror(-rc));
			return rc;
		}
	}

	perf_res_str(res, NULL, "mode",
		     o->mode == VTDEMU_THREADED ? "threaded" : "inline");
	perf_res_str(res, NULL, "translation", "legacy");
	perf_res_u64(res, NULL, "levels", b->levels);
	perf_res_u64(res, NULL, "pages", b->pages);
	perf_res_u64(res, NULL, "iotlb_capacity", how->iotlb_entries);
	perf_res_bool(res, NULL, "pwc", how->pwc);
	if (how->background)
		perf_res_u64(res, NULL, "background_iotlb_entries", BG_PAGES);
	return 0;
}

static void emu_mark(void *state)
{
	struct emu_bench *b = state;

	/* Threaded mode: let the hardware thread finish the warm-up's work
	 * before the snapshot, so it is not counted in the run. */
	vtdemu_quiesce(b->env.emu, VTK_TIMEOUT_NS);
	vtdemu_stats_get(b->env.emu, &b->before);
	b->translations = b->wrong_pa = 0;
	b->psi = b->dsi = b->waits = b->iqt_writes = 0;
}

static void emu_teardown(void *state)
{
	struct emu_bench *b = state;

	if (b->env_inited)
		vtk_env_fini(&b->env);
}

#define DELTA(field) (after.field - b->before.field)

/* One "expected == executed" check; fails the run when they differ. */
static void expect(struct perf_result *res, const char *what, uint64_t done,
		   uint64_t submitted)
{
	if (done != submitted)
		perf_res_fail(res, "the emulator executed %" PRIu64 " %s, vtd-perf "
			      "submitted %" PRIu64, done, what, submitted);
}

/* The emulator's statistics over the timed loop, and the checks. */
static void emu_finish(void *state, const struct perf_measure *m,
		       struct perf_result *res)
{
	struct emu_bench *b = state;
	struct vtdemu_stats after;
	uint64_t descs = 0;

	vtdemu_quiesce(b->env.emu, VTK_TIMEOUT_NS);
	vtdemu_stats_get(b->env.emu, &after);
	for (unsigned int k = 0; k < VTDEMU_DS_KINDS; k++)
		descs += DELTA(desc[k]);
	uint64_t faults = DELTA(faults_recorded) + DELTA(faults_overflow);

	perf_res_u64(res, "emu", "translations", DELTA(translations));
	perf_res_u64(res, "emu", "iotlb_hits", DELTA(cache_hits[VTDEMU_CACHE_IOTLB]));
	perf_res_u64(res, "emu", "iotlb_misses",
		     DELTA(cache_misses[VTDEMU_CACHE_IOTLB]));
	perf_res_u64(res, "emu", "iotlb_evictions",
		     DELTA(cache_evictions[VTDEMU_CACHE_IOTLB]));
	perf_res_u64(res, "emu", "iotlb_invalidated",
		     DELTA(cache_invalidated[VTDEMU_CACHE_IOTLB]));
	perf_res_u64(res, "emu", "pwc_hits", DELTA(cache_hits[VTDEMU_CACHE_PWC]));
	perf_res_u64(res, "emu", "walks", DELTA(walks));
	perf_res_u64(res, "emu", "walk_reads", DELTA(walk_reads));
	perf_res_u64(res, "emu", "descriptors", descs);
	perf_res_u64(res, "emu", "iotlb_page", DELTA(desc[VTDEMU_DS_IOTLB_PAGE]));
	perf_res_u64(res, "emu", "iotlb_domain", DELTA(desc[VTDEMU_DS_IOTLB_DOMAIN]));
	perf_res_u64(res, "emu", "waits", DELTA(waits));
	perf_res_u64(res, "emu", "iqt_writes", DELTA(iqt_writes));
	perf_res_u64(res, "emu", "invalid_descriptors", DELTA(invalid_descs));
	perf_res_u64(res, "emu", "faults", faults);
	perf_res_u64(res, "emu", "stale_uses", DELTA(stale_uses));
	perf_res_u64(res, "emu", "shadow_pages", DELTA(shadow_pages));
	perf_res_u64(res, "emu", "modelled_ns", DELTA(modelled_ns));
	perf_res_f64(res, "emu", "modelled_ns_per_op",
		     m->ops ? (double)DELTA(modelled_ns) / (double)m->ops : 0);
	/* The keys every run object carries (the pair keys are null here:
	 * perf_res_fill_required). */
	perf_res_bool(res, NULL, "caching_mode", cap(b->o, "CM") != 0);
	perf_res_u64(res, NULL, "lcores", 1);
	perf_res_u64(res, NULL, "page_size", VTK_PAGE_SIZE);
	perf_res_u64(res, NULL, "stale_uses", DELTA(stale_uses));

	expect(res, "translations", DELTA(translations), b->translations);
	expect(res, "page-selective IOTLB invalidations",
	       DELTA(desc[VTDEMU_DS_IOTLB_PAGE]), b->psi);
	expect(res, "domain-selective IOTLB invalidations",
	       DELTA(desc[VTDEMU_DS_IOTLB_DOMAIN]), b->dsi);
	expect(res, "wait descriptors", DELTA(waits), b->waits);
	expect(res, "wait status writes", DELTA(wait_status_writes), b->waits);
	expect(res, "IQT writes", DELTA(iqt_writes), b->iqt_writes);
	expect(res, "descriptors in all", descs, b->psi + b->dsi + b->waits);
	if (b->wrong_pa)
		perf_res_fail(res, "%" PRIu64 " translations returned a wrong "
			      "address", b->wrong_pa);
	if (faults || DELTA(invalid_descs) || DELTA(ite) || DELTA(ice))
		perf_res_fail(res, "the unit reported errors: %" PRIu64 " faults, "
			      "%" PRIu64 " invalid descriptors, %" PRIu64 " ITE, "
			      "%" PRIu64 " ICE", faults, DELTA(invalid_descs),
			      DELTA(ite), DELTA(ice));
	/* No table changes during a run: any stale use is an emulator bug. */
	if (DELTA(stale_uses))
		perf_res_fail(res, "%" PRIu64 " stale uses with unchanged tables",
			      DELTA(stale_uses));
}

/* ---------------------------------------------------------------------------
 * Translations
 */
static int64_t translate_iter(void *state)
{
	struct emu_bench *b = state;
	uint32_t i = b->next;

	for (unsigned int k = 0; k < TR_PER_ITER; k++) {
		uint64_t pa;
		int rc = vtdemu_translate(b->env.emu, EMU_SID, VTDEMU_NO_PASID,
					  IOVA_BASE + (uint64_t)i * VTK_PAGE_SIZE,
					  VTDEMU_ACCESS_READ, &pa, NULL);

		if (rc < 0)
			return rc;
		b->wrong_pa += pa != expected_pa(b, i);
		if (++i == b->pages)
			i = 0;
	}
	b->next = i;
	b->translations += TR_PER_ITER;
	return TR_PER_ITER;
}

static int translate_hit_setup(const struct perf_ctx *ctx, void *state,
			       struct perf_result *res)
{
	struct emu_bench *b = state;
	const struct emu_setup how = { .pages = HIT_PAGES, .pwc = true };
	int rc;

	perf_res_str(res, NULL, "method", "vtdemu_translate over 16 mapped 4 KiB "
		     "pages in turn, all held by an unbounded IOTLB (warmed up)");
	rc = emu_setup(ctx, b, &how, res);
	if (rc < 0)
		return rc;
	/* Fill the IOTLB before the warm-up even starts. */
	for (uint32_t i = 0; i < b->pages; i++)
		translate_iter(b);
	return 0;
}

static void translate_hit_finish(void *state, const struct perf_measure *m,
				 struct perf_result *res)
{
	emu_finish(state, m, res);
	const struct perf_field *h = perf_res_find(res, "emu", "iotlb_hits");

	if (h && h->v.u != m->ops)
		perf_res_warn(res, "%" PRIu64 " of %" PRIu64 " translations hit "
			      "the IOTLB; expected all", h->v.u, m->ops);
}

static int translate_miss_common(const struct perf_ctx *ctx, void *state,
				 struct perf_result *res, bool pwc)
{
	struct emu_bench *b = state;
	const struct emu_setup how = {
		.pages = MISS_PAGES, .iotlb_entries = MISS_IOTLB, .pwc = pwc,
	};

	perf_res_str(res, NULL, "method", pwc ?
		     "vtdemu_translate over 4096 pages in order with an IOTLB of "
		     "64 entries: each translation misses the IOTLB and walks, "
		     "the paging-structure cache serving the upper levels" :
		     "vtdemu_translate over 4096 pages in order with an IOTLB of "
		     "64 entries and no paging-structure cache: each translation "
		     "walks every level from the root");
	return emu_setup(ctx, b, &how, res);
}

static int translate_miss_setup(const struct perf_ctx *ctx, void *state,
				struct perf_result *res)
{
	return translate_miss_common(ctx, state, res, true);
}

static int translate_walk_setup(const struct perf_ctx *ctx, void *state,
				struct perf_result *res)
{
	return translate_miss_common(ctx, state, res, false);
}

static void translate_miss_finish(void *state, const struct perf_measure *m,
				  struct perf_result *res)
{
	emu_finish(state, m, res);
	const struct perf_field *miss = perf_res_find(res, "emu", "iotlb_misses");
	double ratio = miss && m->ops ? (double)miss->v.u / (double)m->ops : 0;

	perf_res_f64(res, NULL, "iotlb_miss_ratio", ratio);
	/* The eviction policy is the emulator's business; a run that mostly
	 * hits measures the wrong thing, so say so loudly. */
	if (ratio < 0.9)
		perf_res_warn(res, "only %.1f%% of translations missed the IOTLB",
			      ratio * 100);
}

/* ---------------------------------------------------------------------------
 * Queued invalidation
 */
static int inv_setup(const struct perf_ctx *ctx, void *state,
		     struct perf_result *res, bool psi, const char *method)
{
	struct emu_bench *b = state;
	const struct emu_setup how = {
		.pages = INV_PAGES, .pwc = true, .need_qi = true, .need_psi = psi,
		.background = true,
	};
	int rc;

	perf_res_str(res, NULL, "method", method);
	rc = emu_setup(ctx, b, &how, res);
	if (rc < 0)
		return rc;
	/* Every batch plus its wait must fit the queue at once (one slot
	 * stays empty: full is tail + 1 == head). */
	if (ctx->opts->batch + 1 >= b->env.qi.slots) {
		perf_res_fail(res, "--batch %u does not fit a queue of %u slots",
			      ctx->opts->batch, b->env.qi.slots);
		return -EINVAL;
	}
	/* psi-wait ignores --batch: one descriptor per wait, always. */
	if (res->name && strcmp(res->name, "psi-wait") != 0)
		perf_res_u64(res, NULL, "batch", ctx->opts->batch);
	perf_res_u64(res, NULL, "queue_slots", b->env.qi.slots);
	return 0;
}

/* Submits what was appended plus a wait, and polls its status word. */
static int sync_queue(struct emu_bench *b)
{
	int rc = vtk_qi_sync(&b->env.qi, VTK_TIMEOUT_NS);

	b->waits++;
	b->iqt_writes++;
	return rc;
}

static int append_psi(struct emu_bench *b)
{
	uint64_t qw1, qw0 = vtk_desc_iotlb(VTK_GRAN_PAGE, EMU_DID,
					   IOVA_BASE + (uint64_t)b->next * VTK_PAGE_SIZE,
					   0, false, &qw1);

	if (++b->next == b->pages)
		b->next = 0;
	b->psi++;
	return vtk_qi_append(&b->env.qi, qw0, qw1);
}

static int64_t inv_psi_iter(void *state)
{
	struct emu_bench *b = state;
	unsigned int n = b->o->batch;

	for (unsigned int k = 0; k < n; k++) {
		int rc = append_psi(b);

		if (rc < 0)
			return rc;
	}
	int rc = sync_queue(b);

	return rc < 0 ? rc : (int64_t)n;
}

static int64_t inv_dsi_iter(void *state)
{
	struct emu_bench *b = state;
	unsigned int n = b->o->batch;

	for (unsigned int k = 0; k < n; k++) {
		uint64_t qw1, qw0 = vtk_desc_iotlb(VTK_GRAN_DOMAIN, EMU_DID, 0, 0,
						   false, &qw1);
		int rc = vtk_qi_append(&b->env.qi, qw0, qw1);

		if (rc < 0)
			return rc;
		b->dsi++;
	}
	int rc = sync_queue(b);

	return rc < 0 ? rc : (int64_t)n;
}

/* batch waits per IQT write: batch - 1 to a scratch status word, then the
 * kit's own wait, which the run polls. */
static int64_t inv_wait_iter(void *state)
{
	struct emu_bench *b = state;
	unsigned int n = b->o->batch;

	for (unsigned int k = 0; k + 1 < n; k++) {
		uint64_t qw1, qw0 = vtk_desc_wait(++b->scratch_seq, b->scratch_pa,
						  &qw1);
		int rc = vtk_qi_append(&b->env.qi, qw0, qw1);

		if (rc < 0)
			return rc;
		b->waits++;
	}
	int rc = sync_queue(b);

	return rc < 0 ? rc : (int64_t)n;
}

/* One page-selective invalidation and its wait, submitted and completed
 * before the next: the cost under one strict unmap. */
static int64_t psi_wait_iter(void *state)
{
	struct emu_bench *b = state;
	int rc = append_psi(b);

	if (rc < 0)
		return rc;
	rc = sync_queue(b);
	return rc < 0 ? rc : 1;
}

static int inv_psi_setup(const struct perf_ctx *ctx, void *state,
			 struct perf_result *res)
{
	return inv_setup(ctx, state, res, true,
			 "batches of --batch page-selective IOTLB invalidations "
			 "(AM=0, successive pages of a 256-page domain, none of "
			 "them in the IOTLB: the unit searches, drops nothing) "
			 "and one wait per IQT write; ops are the PSIs");
}

static int inv_dsi_setup(const struct perf_ctx *ctx, void *state,
			 struct perf_result *res)
{
	return inv_setup(ctx, state, res, false,
			 "batches of --batch domain-selective IOTLB invalidations "
			 "of a 256-page domain (the IOTLB holds 1024 entries of "
			 "another domain, which stay) and one wait per IQT "
			 "write; ops are the DSIs");
}

static int inv_wait_setup(const struct perf_ctx *ctx, void *state,
			  struct perf_result *res)
{
	return inv_setup(ctx, state, res, false,
			 "batches of --batch wait descriptors (status write) per "
			 "IQT write, the last one polled; ops are the waits");
}

static int psi_wait_setup(const struct perf_ctx *ctx, void *state,
			  struct perf_result *res)
{
	return inv_setup(ctx, state, res, true,
			 "one page-selective invalidation plus one wait per IQT "
			 "write, polled to completion before the next: ns/op is "
			 "the round trip of a strict unmap's invalidation "
			 "(--batch does not apply)");
}

const struct perf_run_desc perf_emu_runs[] = {
	{ "translate-hit", "emu", "translation",
	  "DMA translations served by the IOTLB",
	  sizeof(struct emu_bench), translate_hit_setup, emu_mark,
	  translate_iter, translate_hit_finish, emu_teardown },
	{ "translate-miss", "emu", "translation",
	  "translations that miss the IOTLB (paging-structure cache on)",
	  sizeof(struct emu_bench), translate_miss_setup, emu_mark,
	  translate_iter, translate_miss_finish, emu_teardown },
	{ "translate-walk", "emu", "translation",
	  "translations that walk every level (no IOTLB hit, no PWC)",
	  sizeof(struct emu_bench), translate_walk_setup, emu_mark,
	  translate_iter, translate_miss_finish, emu_teardown },
	{ "inv-psi", "emu", "descriptor",
	  "queued page-selective IOTLB invalidations, --batch per wait",
	  sizeof(struct emu_bench), inv_psi_setup, emu_mark, inv_psi_iter,
	  emu_finish, emu_teardown },
	{ "inv-dsi", "emu", "descriptor",
	  "queued domain-selective IOTLB invalidations, --batch per wait",
	  sizeof(struct emu_bench), inv_dsi_setup, emu_mark, inv_dsi_iter,
	  emu_finish, emu_teardown },
	{ "inv-wait", "emu", "wait",
	  "wait descriptors alone, --batch per IQT write",
	  sizeof(struct emu_bench), inv_wait_setup, emu_mark, inv_wait_iter,
	  emu_finish, emu_teardown },
	{ "psi-wait", "emu", "round trip",
	  "one PSI + one wait, submitted and completed one at a time",
	  sizeof(struct emu_bench), psi_wait_setup, emu_mark, psi_wait_iter,
	  emu_finish, emu_teardown },
	{ .name = NULL },
};
