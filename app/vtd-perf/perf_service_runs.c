/* SPDX-License-Identifier: BSD-3-Clause
 * vtd-perf runs on the service (lib/uvtd): map+unmap pairs per policy, with
 * caching mode off and on, in one process.
 *
 * Units: the service is started once (at the first service run) with two
 * emulated units made from the chosen capabilities (--emu, --emu-cap,
 * --emu-ecap), one with CAP.CM cleared ("cm0") and one with it set ("cm1"),
 * in --mode. A combination the emulator rejects leaves that unit out, and
 * its runs are skipped with the reason. With --dmar the service opens the
 * real units of a DMAR table instead, and --dev names the device whose
 * domain the runs use: runs whose caching mode is not the unit's skip.
 *
 * Each run creates a domain of its policy on its unit, attaches requester
 * 01:00.0 (--dev on a real unit), maps --resident pages that stay mapped
 * (a device's long-lived buffers: under caching mode a domain-selective
 * flush makes the hypervisor re-walk all of them), then times pairs:
 *
 *   one pair      uvtd_map + uvtd_unmap of --page-size (strict, lazy, auto)
 *   burst         uvtd_map_burst + uvtd_unmap_burst of --burst (batched)
 *   random        uvtd_map + uvtd_unmap of 1..16 pages, auto, every lcore
 *
 * Latency: one pair (or burst) in --sample-every is timed around its map
 * and its unmap, and its IOVA is translated by the device after the map
 * (touch) and after the unmap returned (probe). On the emulated unit a
 * probe that is served from a cache is a stale use (the emulator's
 * checker): strict and batched must have none (the run fails otherwise);
 * lazy and auto may, inside their time bound, and report how many.
 *
 * Multi-lcore runs: setup launches a worker on each further lcore
 * (rte_eal_remote_launch); they start at the first iterate() (so they warm
 * up with the main lcore) and stop in finish(). The hand-off uses release
 * stores and acquire loads on flags of our own, so that ThreadSanitizer
 * sees the happens-before edges that EAL's uninstrumented launch and wait
 * hide (the pattern of test/common/uvtd_eal.h's uvtd_test_launch).
 *
 * The baseline "svc-base-cm0" is the same pair with no service around it:
 * the service's own IOVA allocator (uvtd_iova.h) and the driver's map,
 * then a strict unmap (driver unmap, page-selective invalidation, wait,
 * free). Its map half has no flush code at all, compiled or run: the cost
 * of a build with no flush support. The report compares the service's
 * CM=0 map with it.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_memory.h>
#include <rte_pause.h>

#include "uvtd.h"
#include "uvtd_iova.h"
#include "uvtd_vtd_ops.h"
#include "vtd.h"
#include "vtd_perf.h"

#define SVC_RID          0x0100u
#define SVC_DATA_PAGES   64u
#define SVC_RANDOM_MAX   16u      /* random sizes: 1..16 pages */
#define SVC_PAIRS_PER_IT 4u       /* one-pair runs: pairs per iterate() */
#define SVC_MAP_PROBE    256u     /* maps of the descriptors-per-map probe */
#define SVC_TIMEOUT_NS   (1000ull * 1000 * 1000)

enum svc_kind { SVC_ONE, SVC_BURST, SVC_RANDOM, SVC_BASE };

struct svc_arg {
	const char *policy_name;     /* what the report calls it */
	enum uvtd_policy policy;
	bool lazy_dsi;
	bool cm;                     /* the caching-mode unit */
	enum svc_kind kind;
	unsigned int lcores;         /* 0: every EAL lcore */
};

/* ---------------------------------------------------------------------------
 * The service, started once per process
 */
static struct {
	bool tried, up;
	char why[768];               /* why it did not start */
	int unit[2];                 /* service unit of cm0 / cm1, -1: none */
	char unit_why[2][200];
	struct vtdemu_caps caps[2];
} svc = { .unit = { -1, -1 } };

static int svc_start(const struct perf_opts *o)
{
	char args[512];
	int n = 0;

	if (svc.tried)
		return svc.up ? 0 : -EINVAL;
	svc.tried = true;
	if (o->dmar) {
		n = snprintf(args, sizeof(args), "dmar=%s", o->dmar);
	} else {
		n = snprintf(args, sizeof(args), "emu_mode=%s",
			     o->mode == VTDEMU_THREADED ? "threaded" : "inline");
		for (unsigned int cm = 0, idx = 0; cm < 2; cm++) {
			char err[160] = "";

			svc.caps[cm] = o->caps;
			perf_cap_set(&svc.caps[cm], "CM", cm);
			if (vtdemu_caps_check(&svc.caps[cm], err, sizeof(err)) < 0) {
				snprintf(svc.unit_why[cm], sizeof(svc.unit_why[cm]),
					 "the emulator rejects these capabilities "
					 "with CM=%u: %s", cm, err);
				continue;
			}
			n += snprintf(args + n, sizeof(args) - (size_t)n,
				      ",emu=%" PRIx64 ":%" PRIx64,
				      svc.caps[cm].cap, svc.caps[cm].ecap);
			svc.unit[cm] = (int)idx++;
		}
	}
	int rc = uvtd_init(args);

	if (rc < 0) {
		snprintf(svc.why, sizeof(svc.why), "uvtd_init(\"%s\"): %s (see "
			 "the log)", args, strerror(-rc));
		svc.unit[0] = svc.unit[1] = -1;
		return rc;
	}
	svc.up = true;
	return 0;
}

void perf_service_fini(void)
{
	if (svc.up)
		uvtd_fini();
	svc.up = false;
}

/* ---------------------------------------------------------------------------
 * Per-run state
 */
struct svc_bench;

struct svc_lane {
	struct svc_bench *b;
	unsigned int lcore;
	uint64_t pairs;              /* [A] owner stores, main loads */
	int err;                     /* [A] first error */
	int done;                    /* [A] worker finished */
	int parked;                  /* [A] worker waits for hold to clear */
	uint32_t tick;
	uint64_t rng;
	struct perf_lat map, unmap;
	uint64_t touches, probes, probe_faults, wrong_pa;
	struct uvtd_map_req mreq[256];
	struct uvtd_unmap_req ureq[256];
	/* The domain this lane maps in, and the requester that touches it. */
	int dom;
	uint16_t rid;
	/* --split-domains: a domain and device of the lane's own. */
	int own_dom, own_dev;
	bool own_attached;
	/* Baseline only. */
	struct uvtd_iova_cache *cache;
} __rte_cache_aligned;

struct svc_bench {
	const struct perf_opts *o;
	const struct svc_arg *a;
	int dom, dev;
	bool attached;
	int unit;
	struct vtdemu *emu;          /* NULL on a real unit */
	bool caching_mode;
	uint64_t page;
	unsigned int burst;
	void *mem;
	uint64_t phys;
	unsigned int nlanes;
	struct svc_lane *lanes;
	bool launched;
	int go, stop;                /* [A] */
	int hold;                    /* [A] mark(): workers park */
	uint64_t seen_pairs;         /* pairs iterate() has reported */
	uint64_t pairs_at_mark;
	struct uvtd_stats s0;
	struct vtdemu_stats e0;
	struct vtd_qi_stats q0;
	/* Baseline: the driver and the allocator, no service. */
	struct vtd_unit *bu;
	struct vtd_domain *bdom;
	struct vtd_qctx *bq;
	bool battached;
	struct uvtd_iova *biova;
};

static inline uint64_t lane_rand(struct svc_lane *l)
{
	l->rng ^= l->rng << 13;
	l->rng ^= l->rng >> 7;
	l->rng ^= l->rng << 17;
	return l->rng;
}

static void touch(struct svc_bench *b, struct svc_lane *l, uint64_t iova,
		  uint64_t phys)
{
	uint64_t pa = 0;

	if (b->emu == NULL)
		return;
	l->touches++;
	if (vtdemu_translate(b->emu, l->rid, VTDEMU_NO_PASID, iova,
			     VTDEMU_ACCESS_READ, &pa, NULL) != 0 || pa != phys)
		l->wrong_pa++;
}

static void probe(struct svc_bench *b, struct svc_lane *l, uint64_t iova)
{
	uint64_t pa;
	struct vtdemu_fault_info fi;

	if (b->emu == NULL)
		return;
	l->probes++;
	if (vtdemu_translate(b->emu, l->rid, VTDEMU_NO_PASID, iova,
			     VTDEMU_ACCESS_READ, &pa, &fi) == -EFAULT)
		l->probe_faults++;
}

/* The end of a timed pair (or burst): its map latency, its unmap latency
 * from unmap_t0 to now, and a device probe of the unmapped IOVA. */
static void sampled_pair_done(struct svc_bench *b, struct svc_lane *l,
			      uint64_t map_cycles, uint64_t unmap_t0,
			      uint64_t iova)
{
	perf_lat_add(&l->map, map_cycles);
	perf_lat_add(&l->unmap, rte_rdtsc() - unmap_t0);
	probe(b, l, iova);
}

static inline bool lane_sample(struct svc_bench *b, struct svc_lane *l)
{
	if (++l->tick < b->o->sample_every)
		return false;
	l->tick = 0;
	return true;
}

/* One pair through the service. */
static int pair_one(struct svc_bench *b, struct svc_lane *l, uint64_t len)
{
	bool s = lane_sample(b, l);
	uint64_t iova, t0 = 0, t1 = 0, t2 = 0;
	int rc;

	if (s)
		t0 = rte_rdtsc();
	rc = uvtd_map(l->dom, b->phys, len, UVTD_PERM_RW, &iova);
	if (rc)
		return rc;
	if (s) {
		t1 = rte_rdtsc();
		touch(b, l, iova, b->phys);
		t2 = rte_rdtsc();
	}
	rc = uvtd_unmap(l->dom, iova, len);
	if (rc)
		return rc;
	if (s)
		sampled_pair_done(b, l, t1 - t0, t2, iova);
	return 1;
}

/* A burst: every burst is timed (they are few and long). */
static int pair_burst(struct svc_bench *b, struct svc_lane *l)
{
	unsigned int n = b->burst;
	uint64_t t0, t1, t2;
	int rc;

	for (unsigned int i = 0; i < n; i++)
		l->mreq[i] = (struct uvtd_map_req){
			.phys = b->phys + (b->page == UVTD_PAGE_SIZE ?
				(i % SVC_DATA_PAGES) * UVTD_PAGE_SIZE : 0),
			.len = b->page, .perm = UVTD_PERM_RW };
	t0 = rte_rdtsc();
	rc = uvtd_map_burst(l->dom, l->mreq, n);
	if (rc != (int)n)
		return rc < 0 ? rc : -EIO;
	t1 = rte_rdtsc();
	touch(b, l, l->mreq[0].iova, l->mreq[0].phys);
	for (unsigned int i = 0; i < n; i++)
		l->ureq[i] = (struct uvtd_unmap_req){ l->mreq[i].iova, b->page };
	t2 = rte_rdtsc();
	rc = uvtd_unmap_burst(l->dom, l->ureq, n);
	if (rc != (int)n)
		return rc < 0 ? rc : -EIO;
	sampled_pair_done(b, l, t1 - t0, t2, l->ureq[0].iova);
	return (int)n;
}

/* The baseline pair: the service's allocator and the driver, with no
 * policy, no dispatch and no flush code on the map side. */
static int pair_base(struct svc_bench *b, struct svc_lane *l)
{
	bool s = lane_sample(b, l);
	uint64_t iova, t0 = 0, t1 = 0, t2 = 0;
	struct vtd_gather g = VTD_GATHER_INIT;
	int rc;

	if (s)
		t0 = rte_rdtsc();
	rc = uvtd_iova_alloc(b->biova, l->cache, b->page, &iova);
	if (rc)
		return rc;
	rc = vtd_map(b->bdom, iova, b->phys, b->page,
		     VTD_PERM_READ | VTD_PERM_WRITE);
	if (rc)
		return rc;
	uvtd_iova_map_done(b->biova, iova, b->page);
	if (s) {
		t1 = rte_rdtsc();
		touch(b, l, iova, b->phys);
		t2 = rte_rdtsc();
	}
	rc = uvtd_iova_claim(b->biova, iova, b->page);
	if (rc)
		return rc;
	rc = vtd_unmap(b->bdom, iova, b->page, &g);
	if (rc)
		return rc;
	rc = vtd_inv_range(b->bq, b->bdom, iova, b->page,
			   g.nr_freed ? VTD_INV_TABLES_FREED : 0);
	if (rc == 0)
		rc = vtd_qctx_sync(b->bq);
	if (g.freelist)
		vtd_gather_release(b->bdom, &g);
	if (rc)
		return rc;
	uvtd_iova_free(b->biova, l->cache, iova, b->page);
	if (s)
		sampled_pair_done(b, l, t1 - t0, t2, iova);
	return 1;
}

/* One chunk of a lane's work: pairs done, or a negative errno. */
static int lane_chunk(struct svc_bench *b, struct svc_lane *l)
{
	int done = 0, rc;

	switch (b->a->kind) {
	case SVC_BURST:
		return pair_burst(b, l);
	case SVC_BASE:
		for (unsigned int i = 0; i < SVC_PAIRS_PER_IT; i++) {
			rc = pair_base(b, l);
			if (rc < 0)
				return rc;
			done += rc;
		}
		return done;
	case SVC_RANDOM:
		for (unsigned int i = 0; i < SVC_PAIRS_PER_IT; i++) {
			uint64_t len = (1 + lane_rand(l) % SVC_RANDOM_MAX) *
				       UVTD_PAGE_SIZE;

			rc = pair_one(b, l, len);
			if (rc < 0)
				return rc;
			done += rc;
		}
		return done;
	default:
		for (unsigned int i = 0; i < SVC_PAIRS_PER_IT; i++) {
			rc = pair_one(b, l, b->page);
			if (rc < 0)
				return rc;
			done += rc;
		}
		return done;
	}
}

static void lane_reset_samples(struct svc_lane *l)
{
	l->map.n = l->unmap.n = 0;
	l->map.seen = l->unmap.seen = 0;
	l->touches = l->probes = l->probe_faults = l->wrong_pa = 0;
}

static int worker_main(void *arg)
{
	struct svc_lane *l = arg;
	struct svc_bench *b = l->b;

	/* Pairs with the release store of go in svc_iterate: everything the
	 * main lcore set up happens before this worker's first pair. */
	while (!__atomic_load_n(&b->go, __ATOMIC_ACQUIRE)) {
		if (__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE))
			goto out;
		rte_pause();
	}
	while (!__atomic_load_n(&b->stop, __ATOMIC_RELAXED)) {
		if (__atomic_load_n(&b->hold, __ATOMIC_ACQUIRE)) {
			/* mark(): park between chunks, so that the counters
			 * the run reports as deltas are read while nothing
			 * moves; the main lcore resets this lane meanwhile.
			 * Release/acquire both ways: TSan sees the edges. */
			__atomic_store_n(&l->parked, 1, __ATOMIC_RELEASE);
			while (__atomic_load_n(&b->hold, __ATOMIC_ACQUIRE) &&
			       !__atomic_load_n(&b->stop, __ATOMIC_RELAXED))
				rte_pause();
			__atomic_store_n(&l->parked, 0, __ATOMIC_RELAXED);
			continue;
		}
		int rc = lane_chunk(b, l);

		if (rc < 0) {
			__atomic_store_n(&l->err, rc, __ATOMIC_RELAXED);
			break;
		}
		__atomic_store_n(&l->pairs, l->pairs + (uint64_t)rc,
				 __ATOMIC_RELAXED);
	}
out:
	/* Pairs with the acquire load in stop_workers. */
	__atomic_store_n(&l->done, 1, __ATOMIC_RELEASE);
	return 0;
}

static void stop_workers(struct svc_bench *b)
{
	if (!b->launched)
		return;
	__atomic_store_n(&b->stop, 1, __ATOMIC_RELEASE);
	for (unsigned int i = 1; i < b->nlanes; i++) {
		rte_eal_wait_lcore(b->lanes[i].lcore);
		while (!__atomic_load_n(&b->lanes[i].done, __ATOMIC_ACQUIRE))
			rte_pause();
	}
	b->launched = false;
}

static uint64_t total_pairs(struct svc_bench *b)
{
	uint64_t t = b->lanes[0].pairs;

	for (unsigned int i = 1; i < b->nlanes; i++)
		t += __atomic_load_n(&b->lanes[i].pairs, __ATOMIC_RELAXED);
	return t;
}

static int64_t svc_iterate(void *state)
{
	struct svc_bench *b = state;
	struct svc_lane *l = &b->lanes[0];

	if (!b->go && b->nlanes > 1)
		__atomic_store_n(&b->go, 1, __ATOMIC_RELEASE);
	int rc = lane_chunk(b, l);

	if (rc < 0)
		return rc;
	l->pairs += (uint64_t)rc;
	if (b->nlanes == 1)
		return rc;
	for (unsigned int i = 1; i < b->nlanes; i++) {
		int e = __atomic_load_n(&b->lanes[i].err, __ATOMIC_RELAXED);

		if (e)
			return e;
	}
	/* Workers' pairs count as they are reported. */
	uint64_t t = total_pairs(b);
	int64_t n = (int64_t)(t - b->seen_pairs);

	b->seen_pairs = t;
	return n > 0 ? n : 0;
}

/* ---------------------------------------------------------------------------
 * Setup, mark, finish, teardown
 */
static int base_setup(struct svc_bench *b, struct perf_result *res)
{
	struct vtdemu_config cfg;
	struct vtd_unit_params up;
	struct vtd_domain_params dp;
	struct vtd_attach_params ap = { .sid = SVC_RID, .pasid = VTD_NO_PASID };
	struct uvtd_iova_conf ic = { .socket = SOCKET_ID_ANY };
	int rc;

	if (b->o->dmar) {
		perf_res_skip(res, "the baseline runs on an emulated unit only");
		return -ENOTSUP;
	}
	vtdemu_config_init(&cfg);
	cfg.caps = svc.caps[0];
	cfg.mode = b->o->mode;
	cfg.check_stale = b->o->stale_check;
	vtd_unit_params_init(&up);
	up.name = "vtd-perf-base";
	up.enable_translation = true;
	rc = vtd_emu_open(&cfg, &up, &b->bu, &b->emu);
	if (rc < 0) {
		perf_res_fail(res, "driver unit: %s", strerror(-rc));
		return rc;
	}
	vtd_domain_params_init(&dp);
	rc = vtd_domain_create(b->bu, &dp, &b->bdom);
	if (rc < 0) {
		perf_res_fail(res, "domain: %s", strerror(-rc));
		return rc;
	}
	if (vtd_domain_map_flush(b->bdom)) {
		perf_res_skip(res, "maps on this unit need a flush (RWBF): there "
			      "is no flush-free build to compare with");
		return -ENOTSUP;
	}
	rc = vtd_attach(b->bdom, b->bu, &ap);
	if (rc < 0) {
		perf_res_fail(res, "attach: %s", strerror(-rc));
		return rc;
	}
	b->battached = true;
	b->bq = vtd_qctx_get(b->bu, rte_lcore_id());
	/* The service's default window: 4 GiB at the top of the width. */
	unsigned int w = vtd_domain_width(b->bdom);

	ic.size = 4ull << 30;
	ic.base = (w >= 64 ? 0 : (1ull << w)) - ic.size;
	rc = uvtd_iova_create(&ic, &b->biova);
	if (rc < 0) {
		perf_res_fail(res, "IOVA allocator: %s", strerror(-rc));
		return rc;
	}
	b->lanes[0].cache = uvtd_iova_cache_create(b->biova);
	if (b->lanes[0].cache == NULL || b->bq == NULL) {
		perf_res_fail(res, "no allocator cache or queue context");
		return -ENOMEM;
	}
	/* The same resident set as the service runs, so that the page tables
	 * and the allocator are in the same shape. */
	for (unsigned int i = 0; i < b->o->resident; i++) {
		uint64_t iova;

		rc = uvtd_iova_alloc(b->biova, b->lanes[0].cache, UVTD_PAGE_SIZE,
				     &iova);
		if (rc == 0)
			rc = vtd_map(b->bdom, iova, b->phys + (i % SVC_DATA_PAGES) *
				     UVTD_PAGE_SIZE, UVTD_PAGE_SIZE,
				     VTD_PERM_READ | VTD_PERM_WRITE);
		if (rc < 0) {
			perf_res_fail(res, "resident map %u: %s", i, strerror(-rc));
			return rc;
		}
		uvtd_iova_map_done(b->biova, iova, UVTD_PAGE_SIZE);
	}
	perf_res_u64(res, NULL, "resident_pages", b->o->resident);
	return 0;
}

static const char *method_of(const struct svc_arg *a)
{
	switch (a->kind) {
	case SVC_BASE:
		return "no service: the service's IOVA allocator and the driver's "
		       "map (no flush code), then a strict unmap (driver unmap, "
		       "page-selective invalidation, wait, free); one pair at a "
		       "time: the cost of a build with no flush support";
	case SVC_BURST:
		return "uvtd_map_burst then uvtd_unmap_burst of --burst mappings";
	case SVC_RANDOM:
		return "uvtd_map + uvtd_unmap of 1..16 pages (uniform), one pair "
		       "at a time, on every lcore";
	default:
		return a->lazy_dsi ?
		       "uvtd_map + uvtd_unmap, one pair at a time; lazy flushes "
		       "forced domain-selective (conf.lazy_dsi: Linux's flush "
		       "queue)" :
		       "uvtd_map + uvtd_unmap, one pair at a time";
	}
}

/* A service domain of the run's policy with a device attached and the
 * resident set mapped. *dom, *dev, *attached are set as far as it got, so
 * that teardown undoes exactly that. */
static int open_domain(struct svc_bench *b, uint16_t rid, int *dom, int *dev,
		       bool *attached, struct perf_result *res)
{
	const struct perf_opts *o = b->o;
	const struct svc_arg *a = b->a;
	struct uvtd_domain_conf conf;
	int rc;

	uvtd_domain_conf_init(&conf);
	conf.policy = a->policy;
	conf.lazy_dsi = a->lazy_dsi;
	conf.unit = (unsigned int)b->unit;
	*dom = uvtd_domain_create(&conf);
	if (*dom < 0) {
		perf_res_fail(res, "domain: %s", strerror(-*dom));
		return *dom;
	}
	if (!o->dmar) {
		*dev = uvtd_dev_open_rid((unsigned int)b->unit, rid);
		if (*dev < 0) {
			perf_res_fail(res, "device: %s", strerror(-*dev));
			return *dev;
		}
	}
	rc = uvtd_attach(*dom, *dev);
	if (rc < 0) {
		perf_res_fail(res, "attach: %s", strerror(-rc));
		return rc;
	}
	*attached = true;
	if (o->plant_skip_inv) {
		/* The planted bug the smoke tests use to prove that a stale
		 * use under strict or batched fails the run. */
		rc = uvtd_debug_skip_unmap_invalidation(*dom, true);
		if (rc < 0) {
			perf_res_fail(res, "planting the bug: %s", strerror(-rc));
			return rc;
		}
	}
	/* The resident set: mappings that live through the run. */
	for (unsigned int i = 0; i < o->resident; i++) {
		uint64_t iova;

		rc = uvtd_map(*dom, b->phys + (i % SVC_DATA_PAGES) *
			      UVTD_PAGE_SIZE, UVTD_PAGE_SIZE, UVTD_PERM_RW, &iova);
		if (rc < 0) {
			perf_res_fail(res, "resident map %u: %s", i, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static int svc_setup(const struct perf_ctx *ctx, void *state,
		     struct perf_result *res)
{
	struct svc_bench *b = state;
	const struct perf_opts *o = ctx->opts;
	const struct svc_arg *a = ctx->run_arg;
	unsigned int want;
	int rc;

	b->o = o;
	b->a = a;
	b->dom = b->dev = -1;
	b->unit = -1;
	perf_res_str(res, NULL, "method", method_of(a));
	want = a->kind == SVC_BASE ? 1 :
	       o->lcores ? o->lcores : a->lcores ? a->lcores : ctx->lcores;
	if (want > ctx->lcores) {
		perf_res_fail(res, "%u lcores asked, EAL has %u (give EAL -l)",
			      want, ctx->lcores);
		return -EINVAL;
	}
	b->page = a->kind == SVC_RANDOM ? UVTD_PAGE_SIZE : o->page_size;
	b->burst = a->kind == SVC_BURST ? o->burst : 1;
	b->nlanes = want;
	b->lanes = rte_zmalloc("vtd-perf-lanes", want * sizeof(*b->lanes),
			       RTE_CACHE_LINE_SIZE);
	if (b->lanes == NULL) {
		perf_res_fail(res, "out of memory");
		return -ENOMEM;
	}
	unsigned int lc = rte_lcore_id(), i = 0;

	b->lanes[i++].lcore = lc;
	RTE_LCORE_FOREACH_WORKER(lc) {
		if (i == want)
			break;
		b->lanes[i++].lcore = lc;
	}
	for (i = 0; i < want; i++) {
		struct svc_lane *l = &b->lanes[i];

		l->b = b;
		l->rng = 0x9e3779b97f4a7c15ull * (i + 1);
		l->dom = l->own_dom = l->own_dev = -1;
		l->rid = SVC_RID;
		if (perf_lat_init(&l->map, PERF_LAT_CAP) ||
		    perf_lat_init(&l->unmap, PERF_LAT_CAP)) {
			perf_res_fail(res, "out of memory");
			return -ENOMEM;
		}
	}
	/* Data every mapping points at: 64 pages, or one naturally aligned
	 * block of --page-size. */
	uint64_t bytes = b->page > SVC_DATA_PAGES * UVTD_PAGE_SIZE ? b->page :
			 SVC_DATA_PAGES * UVTD_PAGE_SIZE;

	b->mem = rte_malloc("vtd-perf-svc", bytes, b->page);
	b->phys = b->mem ? rte_malloc_virt2iova(b->mem) : RTE_BAD_IOVA;
	if (b->phys == RTE_BAD_IOVA || b->phys % b->page) {
		perf_res_fail(res, "no IOVA-contiguous, aligned DPDK memory of "
			      "%" PRIu64 " bytes", bytes);
		return -ENOMEM;
	}

	rc = svc_start(o);
	if (rc < 0) {
		perf_res_fail(res, "%s", svc.why);
		return rc;
	}
	if (o->dmar) {
		struct uvtd_unit_info ui;

		b->dev = uvtd_dev_open_pci(o->dev);
		if (b->dev < 0) {
			perf_res_fail(res, "device %s: %s", o->dev,
				      strerror(-b->dev));
			return b->dev;
		}
		b->unit = uvtd_dev_unit(b->dev);
		if (b->unit < 0 || uvtd_unit_info_get((unsigned int)b->unit, &ui)) {
			perf_res_fail(res, "no unit serves %s", o->dev);
			return -ENODEV;
		}
		b->caching_mode = ui.caching_mode;
		if (ui.caching_mode != a->cm) {
			perf_res_skip(res, "the unit serving %s has CM=%d",
				      o->dev, ui.caching_mode);
			return -ENOTSUP;
		}
		b->emu = uvtd_vtd_emu((unsigned int)b->unit);
	} else {
		b->unit = svc.unit[a->cm];
		if (b->unit < 0) {
			perf_res_skip(res, "%s", svc.unit_why[a->cm]);
			return -ENOTSUP;
		}
		b->caching_mode = a->cm;
		b->emu = uvtd_vtd_emu((unsigned int)b->unit);
	}
	perf_res_str(res, NULL, "unit", o->dmar ? "real" : "emulated");
	perf_res_str(res, NULL, "mode", o->dmar ? "hardware" :
		     o->mode == VTDEMU_THREADED ? "threaded" : "inline");
	perf_res_u64(res, NULL, "sample_every", o->sample_every);
	if (a->kind == SVC_RANDOM)
		perf_res_str(res, NULL, "sizes", "1..16 pages");

	if (a->kind == SVC_BASE)
		return base_setup(b, res);
	if (o->split_domains && o->dmar && b->nlanes > 1) {
		perf_res_skip(res, "--split-domains needs a device per lcore: "
			      "emulated units only");
		return -ENOTSUP;
	}

	struct uvtd_domain_info di;

	rc = open_domain(b, SVC_RID, &b->dom, &b->dev, &b->attached, res);
	if (rc < 0)
		return rc;
	for (i = 1; i < b->nlanes; i++) {
		struct svc_lane *l = &b->lanes[i];

		l->dom = b->dom;
		l->rid = SVC_RID;
		if (!o->split_domains)
			continue;
		/* --split-domains: this lcore on a domain and device of its
		 * own, to tell shared-domain costs from the unit's. */
		l->rid = (uint16_t)(SVC_RID + i);
		rc = open_domain(b, l->rid, &l->own_dom, &l->own_dev,
				 &l->own_attached, res);
		if (rc < 0)
			return rc;
		l->dom = l->own_dom;
	}
	b->lanes[0].dom = b->dom;
	b->lanes[0].rid = SVC_RID;
	perf_res_bool(res, NULL, "split_domains", o->split_domains);
	uvtd_domain_info_get(b->dom, &di);
	perf_res_str(res, NULL, "resolved_policy", uvtd_policy_name(di.policy));
	if (di.policy == UVTD_POLICY_LAZY)
		perf_res_str(res, NULL, "lazy_flush", a->lazy_dsi ?
			     "domain-selective (forced)" : di.lazy_ranges ?
			     "cost model: page-selective ranges or one DSI" :
			     "domain-selective (the cost model's only choice)");
	perf_res_bool(res, NULL, "map_flush", di.map_flush);
	perf_res_u64(res, NULL, "resident_pages", o->resident);
	if (o->plant_skip_inv)
		perf_res_bool(res, NULL, "planted_skip_invalidation", true);

	/* Workers wait for go (first iterate) or stop (teardown). */
	for (i = 1; i < b->nlanes; i++) {
		rc = rte_eal_remote_launch(worker_main, &b->lanes[i],
					   b->lanes[i].lcore);
		if (rc < 0) {
			perf_res_fail(res, "lcore %u busy: %s", b->lanes[i].lcore,
				      strerror(-rc));
			/* Those launched so far see stop in teardown. */
			b->nlanes = i;
			b->launched = i > 1;
			return rc;
		}
	}
	b->launched = b->nlanes > 1;
	return 0;
}

static void svc_mark(void *state)
{
	struct svc_bench *b = state;

	lane_reset_samples(&b->lanes[0]);
	if (b->launched) {
		__atomic_store_n(&b->hold, 1, __ATOMIC_RELEASE);
		for (unsigned int i = 1; i < b->nlanes; i++) {
			struct svc_lane *l = &b->lanes[i];

			/* A worker that failed has stopped for good. */
			while (!__atomic_load_n(&l->parked, __ATOMIC_ACQUIRE) &&
			       !__atomic_load_n(&l->done, __ATOMIC_ACQUIRE))
				rte_pause();
			lane_reset_samples(l);
		}
	}
	b->pairs_at_mark = total_pairs(b);
	if (b->emu) {
		vtdemu_quiesce(b->emu, SVC_TIMEOUT_NS);
		vtdemu_stats_get(b->emu, &b->e0);
	}
	if (b->a->kind == SVC_BASE)
		vtd_qi_stats_get(b->bu, &b->q0);
	else
		uvtd_stats_get(&b->s0);
	if (b->launched)
		__atomic_store_n(&b->hold, 0, __ATOMIC_RELEASE);
}

/* Descriptors a single map issues, counted over SVC_MAP_PROBE maps outside
 * the timed loop (one 4 KiB map at a time; the pages are unmapped after). */
static double descriptors_per_map(struct svc_bench *b, double *modelled)
{
	static uint64_t iovas[SVC_MAP_PROBE];
	struct vtdemu_stats e0, e1;
	unsigned int n = 0;
	uint64_t d0, d1;

	if (b->emu) {
		vtdemu_quiesce(b->emu, SVC_TIMEOUT_NS);
		vtdemu_stats_get(b->emu, &e0);
	}

	if (b->a->kind == SVC_BASE) {
		struct vtd_qi_stats q;

		vtd_qi_stats_get(b->bu, &q);
		d0 = q.descs;
		for (; n < SVC_MAP_PROBE; n++) {
			if (uvtd_iova_alloc(b->biova, b->lanes[0].cache,
					    UVTD_PAGE_SIZE, &iovas[n]) ||
			    vtd_map(b->bdom, iovas[n], b->phys, UVTD_PAGE_SIZE,
				    VTD_PERM_READ))
				break;
			uvtd_iova_map_done(b->biova, iovas[n], UVTD_PAGE_SIZE);
		}
		vtd_qi_stats_get(b->bu, &q);
		d1 = q.descs;
		if (b->emu) {
			vtdemu_quiesce(b->emu, SVC_TIMEOUT_NS);
			vtdemu_stats_get(b->emu, &e1);
		}
		for (unsigned int i = 0; i < n; i++) {
			struct vtd_gather g = VTD_GATHER_INIT;

			uvtd_iova_claim(b->biova, iovas[i], UVTD_PAGE_SIZE);
			vtd_unmap(b->bdom, iovas[i], UVTD_PAGE_SIZE, &g);
			vtd_inv_range(b->bq, b->bdom, iovas[i], UVTD_PAGE_SIZE,
				      g.nr_freed ? VTD_INV_TABLES_FREED : 0);
			vtd_qctx_sync(b->bq);
			if (g.freelist)
				vtd_gather_release(b->bdom, &g);
			uvtd_iova_free(b->biova, b->lanes[0].cache, iovas[i],
				       UVTD_PAGE_SIZE);
		}
	} else {
		struct uvtd_stats s;

		uvtd_stats_get(&s);
		d0 = s.descs;
		for (; n < SVC_MAP_PROBE; n++)
			if (uvtd_map(b->dom, b->phys, UVTD_PAGE_SIZE,
				     UVTD_PERM_READ, &iovas[n]))
				break;
		uvtd_stats_get(&s);
		d1 = s.descs;
		if (b->emu) {
			vtdemu_quiesce(b->emu, SVC_TIMEOUT_NS);
			vtdemu_stats_get(b->emu, &e1);
		}
	}
	*modelled = NAN;
	if (b->emu && n)
		*modelled = (double)(e1.modelled_ns - e0.modelled_ns) / n;
	if (b->a->kind != SVC_BASE)
		for (unsigned int i = 0; i < n; i++)
			uvtd_unmap(b->dom, iovas[i], UVTD_PAGE_SIZE);
	return n ? (double)(d1 - d0) / n : NAN;
}

static void svc_finish(void *state, const struct perf_measure *m,
		       struct perf_result *res)
{
	struct svc_bench *b = state;
	const struct svc_arg *a = b->a;
	struct svc_lane *l0 = &b->lanes[0];
	struct uvtd_stats s1;
	struct vtdemu_stats e1;
	uint64_t touches = 0, probes = 0, faulted = 0, wrong = 0;
	uint64_t counted = 0;

	stop_workers(b);
	if (b->nlanes > 1) {
		counted = total_pairs(b) - b->pairs_at_mark;
		for (unsigned int i = 1; i < b->nlanes; i++) {
			if (b->lanes[i].err)
				perf_res_fail(res, "lcore %u: %s", b->lanes[i].lcore,
					      strerror(-b->lanes[i].err));
			if (perf_lat_merge(&l0->map, &b->lanes[i].map) ||
			    perf_lat_merge(&l0->unmap, &b->lanes[i].unmap))
				perf_res_warn(res, "latency samples of lcore %u "
					      "dropped (no memory)",
					      b->lanes[i].lcore);
		}
	}
	for (unsigned int i = 0; i < b->nlanes; i++) {
		touches += b->lanes[i].touches;
		probes += b->lanes[i].probes;
		faulted += b->lanes[i].probe_faults;
		wrong += b->lanes[i].wrong_pa;
	}
	if (b->emu) {
		vtdemu_quiesce(b->emu, SVC_TIMEOUT_NS);
		vtdemu_stats_get(b->emu, &e1);
	}

	struct perf_pair_fig f = {
		.policy = a->policy_name,
		.caching_mode = b->caching_mode,
		.lcores = b->nlanes,
		.page_size = b->page,
		.burst = b->burst,
		.map = &l0->map, .unmap = &l0->unmap,
		.modelled_ns = b->emu ? (double)(e1.modelled_ns - b->e0.modelled_ns) :
			       NAN,
		.stale_uses = b->emu ? (int64_t)(e1.stale_uses - b->e0.stale_uses) : -1,
		.ranges = -1,
		.counted_pairs = counted,
	};
	if (a->kind == SVC_BASE) {
		struct vtd_qi_stats q1;

		vtd_qi_stats_get(b->bu, &q1);
		f.descriptors = q1.descs - b->q0.descs;
		f.waits = q1.waits - b->q0.waits;
		f.iqt_writes = q1.iqt_writes - b->q0.iqt_writes;
		f.psi = q1.psi - b->q0.psi;
		f.dsi = q1.dsi - b->q0.dsi;
	} else {
		uvtd_stats_get(&s1);
		f.descriptors = s1.descs - b->s0.descs;
		f.waits = s1.unit_waits - b->s0.unit_waits;
		f.iqt_writes = s1.iqt_writes - b->s0.iqt_writes;
		f.psi = s1.psi - b->s0.psi;
		f.dsi = s1.dsi - b->s0.dsi;
		f.ranges = (int64_t)(s1.lazy_ranges_tracked -
				     b->s0.lazy_ranges_tracked);
	}
	perf_pair_report(res, m, &f);
	double mod_map = NAN;
	double dpm = descriptors_per_map(b, &mod_map);

	/* Measured after the timed loop, one 4 KiB map at a time: what the
	 * map half of a pair issues (0 on CM=0 RWBF=0: no flush work). */
	perf_res_f64(res, NULL, "descriptors_per_map", dpm);
	if (isnan(mod_map))
		perf_res_null(res, NULL, "modelled_ns_per_map");
	else
		perf_res_f64(res, NULL, "modelled_ns_per_map", mod_map);
	perf_res_u64(res, NULL, "device_touches", touches);
	perf_res_u64(res, NULL, "device_probes", probes);
	perf_res_u64(res, NULL, "probes_faulted", faulted);
	if (a->kind != SVC_BASE) {
		perf_res_u64(res, "service", "waits", s1.waits - b->s0.waits);
		perf_res_u64(res, "service", "ranges_psi",
			     s1.inv_ranges_psi - b->s0.inv_ranges_psi);
		perf_res_u64(res, "service", "flushes_dsi",
			     s1.inv_ranges_dsi - b->s0.inv_ranges_dsi);
		perf_res_u64(res, "service", "lazy_flush_full",
			     s1.lazy_flush_full - b->s0.lazy_flush_full);
		perf_res_u64(res, "service", "lazy_flush_timer",
			     s1.lazy_flush_timer - b->s0.lazy_flush_timer);
		perf_res_u64(res, "service", "lazy_ranges_tracked",
			     s1.lazy_ranges_tracked - b->s0.lazy_ranges_tracked);
		perf_res_u64(res, "service", "iova_misses",
			     s1.iova_misses - b->s0.iova_misses);
	}
	if (b->emu) {
		uint64_t edescs = 0;

		for (unsigned int k = 0; k < VTDEMU_DS_KINDS; k++)
			edescs += e1.desc[k] - b->e0.desc[k];
		perf_res_u64(res, "emu", "descriptors", edescs);
		perf_res_u64(res, "emu", "iqt_writes", e1.iqt_writes - b->e0.iqt_writes);
		perf_res_u64(res, "emu", "shadow_pages",
			     e1.shadow_pages - b->e0.shadow_pages);
		perf_res_u64(res, "emu", "stale_uses", (uint64_t)f.stale_uses);
		perf_res_u64(res, "emu", "modelled_ns", (uint64_t)f.modelled_ns);
		/* The work was real: the unit executed what was submitted. */
		if (edescs != f.descriptors)
			perf_res_fail(res, "the emulator executed %" PRIu64
				      " descriptors, the driver reports %" PRIu64,
				      edescs, f.descriptors);
	}
	if (wrong)
		perf_res_fail(res, "%" PRIu64 " device translations of a mapped "
			      "IOVA failed or were wrong", wrong);
	/* Strict and batched promise that an unmapped IOVA is unreachable
	 * when the call returns: a stale use, or a probe that did not fault,
	 * is a bug. Lazy and auto allow it until the flush. */
	if (a->kind == SVC_BASE || a->policy == UVTD_POLICY_STRICT ||
	    a->policy == UVTD_POLICY_BATCHED) {
		if (f.stale_uses > 0)
			perf_res_fail(res, "%" PRId64 " stale uses under %s",
				      f.stale_uses, a->policy_name);
		if (faulted != probes)
			perf_res_fail(res, "%" PRIu64 " of %" PRIu64 " probes of an "
				      "unmapped IOVA did not fault",
				      probes - faulted, probes);
	}
}

static void svc_teardown(void *state)
{
	struct svc_bench *b = state;

	if (b->lanes) {
		/* A run that failed after setup launched its workers: they
		 * wait for go or stop. */
		stop_workers(b);
	}
	for (unsigned int i = 1; b->lanes && i < b->nlanes; i++) {
		struct svc_lane *l = &b->lanes[i];

		if (l->own_attached)
			uvtd_detach(l->own_dom, l->own_dev);
		if (l->own_dom >= 0)
			uvtd_domain_destroy(l->own_dom);
		if (l->own_dev >= 0)
			uvtd_dev_close(l->own_dev);
	}
	if (b->dom >= 0) {
		if (b->attached)
			uvtd_detach(b->dom, b->dev);
		uvtd_domain_destroy(b->dom);   /* unmaps what is left */
	}
	if (b->dev >= 0)
		uvtd_dev_close(b->dev);
	if (b->biova) {
		if (b->lanes && b->lanes[0].cache)
			uvtd_iova_cache_destroy(b->biova, b->lanes[0].cache);
		uvtd_iova_destroy(b->biova);
	}
	if (b->battached)
		vtd_detach(b->bdom, b->bu, SVC_RID);
	if (b->bdom)
		vtd_domain_destroy(b->bdom);
	if (b->bu)
		vtd_unit_close(b->bu);        /* and its emulator */
	if (b->lanes) {
		for (unsigned int i = 0; i < b->nlanes; i++) {
			perf_lat_free(&b->lanes[i].map);
			perf_lat_free(&b->lanes[i].unmap);
		}
		rte_free(b->lanes);
	}
	rte_free(b->mem);
}

#define A(var, pol, penum, dsi, cm_, kind_, lc)                              \
	static const struct svc_arg var = { pol, penum, dsi, cm_, kind_, lc }
A(a_base0, "none", UVTD_POLICY_DEFAULT, false, false, SVC_BASE, 1);
A(a_strict0, "strict", UVTD_POLICY_STRICT, false, false, SVC_ONE, 1);
A(a_batched0, "batched", UVTD_POLICY_BATCHED, false, false, SVC_BURST, 1);
A(a_lazy0, "lazy", UVTD_POLICY_LAZY, false, false, SVC_ONE, 1);
A(a_lazydsi0, "lazy", UVTD_POLICY_LAZY, true, false, SVC_ONE, 1);
A(a_auto0, "auto", UVTD_POLICY_AUTO, false, false, SVC_ONE, 1);
A(a_random0, "auto", UVTD_POLICY_AUTO, false, false, SVC_RANDOM, 0);
A(a_strict1, "strict", UVTD_POLICY_STRICT, false, true, SVC_ONE, 1);
A(a_batched1, "batched", UVTD_POLICY_BATCHED, false, true, SVC_BURST, 1);
A(a_lazy1, "lazy", UVTD_POLICY_LAZY, false, true, SVC_ONE, 1);
A(a_lazydsi1, "lazy", UVTD_POLICY_LAZY, true, true, SVC_ONE, 1);
A(a_auto1, "auto", UVTD_POLICY_AUTO, false, true, SVC_ONE, 1);
A(a_random1, "auto", UVTD_POLICY_AUTO, false, true, SVC_RANDOM, 0);
#undef A

#define SVC_RUN(name_, help_, arg_)                                          \
	{ name_, "service", "pair", help_, sizeof(struct svc_bench),         \
	  svc_setup, svc_mark, svc_iterate, svc_finish, svc_teardown, arg_ }

const struct perf_run_desc perf_service_runs[] = {
	SVC_RUN("svc-base-cm0", "baseline: allocator + driver map, no flush "
		"code (CM=0)", &a_base0),
	SVC_RUN("svc-strict-cm0", "service, strict, CM=0", &a_strict0),
	SVC_RUN("svc-batched-cm0", "service, batched bursts of --burst, CM=0",
		&a_batched0),
	SVC_RUN("svc-lazy-cm0", "service, lazy, CM=0", &a_lazy0),
	SVC_RUN("svc-lazy-dsi-cm0", "service, lazy with domain-selective "
		"flushes, CM=0", &a_lazydsi0),
	SVC_RUN("svc-auto-cm0", "service, auto, CM=0", &a_auto0),
	SVC_RUN("svc-random-cm0", "service, auto, 1..16 pages, every lcore, "
		"CM=0", &a_random0),
	SVC_RUN("svc-strict-cm1", "service, strict, CM=1", &a_strict1),
	SVC_RUN("svc-batched-cm1", "service, batched bursts of --burst, CM=1",
		&a_batched1),
	SVC_RUN("svc-lazy-cm1", "service, lazy, CM=1", &a_lazy1),
	SVC_RUN("svc-lazy-dsi-cm1", "service, lazy with domain-selective "
		"flushes, CM=1", &a_lazydsi1),
	SVC_RUN("svc-auto-cm1", "service, auto, CM=1", &a_auto1),
	SVC_RUN("svc-random-cm1", "service, auto, 1..16 pages, every lcore, "
		"CM=1", &a_random1),
	{ .name = NULL },
};
