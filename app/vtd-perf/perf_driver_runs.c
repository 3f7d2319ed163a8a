/* SPDX-License-Identifier: BSD-3-Clause
 * vtd-perf runs on the VT-d driver (drivers/iommu/vtd) over an emulated unit
 * of the chosen capabilities (--emu, --emu-cap, --emu-ecap, --mode): map +
 * unmap pairs per second, 4 KiB and 2 MiB, with no service above the driver.
 *
 *   strict   one pair at a time: map (plus, when the domain needs it, the
 *            map-side invalidation and its wait), unmap, its page-selective
 *            invalidation, one wait; the next pair starts after the wait.
 *   batch    --burst maps (their map-side invalidations, when needed, under
 *            one wait), then --burst unmaps and their invalidations under
 *            one wait.
 *
 * IOVAs: a fixed set of slots (64, or --burst when larger) at 0x10000000,
 * reused round robin: a slot is mapped again only after its invalidation
 * completed. Every mapping points at the same data page (4 KiB) or the same
 * 2 MiB block: the unit never reads the data here.
 *
 * Device use and the stale check: one pair in --sample-every is timed, and
 * that pair's IOVA is also translated by the device (requester 01:00.0)
 * after the map ("touch": the IOTLB now holds it, so the invalidation has
 * something to drop) and after the unmap's wait ("probe": it must fault; a
 * translation served from a cache instead is a stale use, which the
 * emulator's checker counts). A driver run fails on any stale use, on a
 * probe that did not fault, on a wrong translation, and when the emulator
 * did not execute exactly the descriptors the driver reports submitting.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_memory.h>

#include "vtd.h"
#include "vtd_perf.h"

#define DRV_SID        0x0100u
#define DRV_IOVA_BASE  0x10000000ull
#define DRV_SLOTS      64u
#define DRV_TIMEOUT_NS (1000ull * 1000 * 1000)

struct drv_arg {
	uint64_t page;               /* bytes per mapping */
	bool batch;
};

struct drv_bench {
	const struct perf_opts *o;
	const struct drv_arg *a;
	struct vtd_unit *u;
	struct vtdemu *emu;
	struct vtd_domain *dom;
	struct vtd_qctx *q;
	bool attached, map_flush, caching_mode;
	void *mem;
	uint64_t phys;
	unsigned int burst, slots;
	uint32_t next, tick;
	struct perf_lat map, unmap;
	struct vtd_gather g[256];
	/* Since mark(). */
	uint64_t touches, probes, probe_faults, wrong_pa;
	struct vtd_qi_stats q0;
	struct vtdemu_stats e0;
};

static void drv_teardown(void *state)
{
	struct drv_bench *b = state;

	if (b->attached)
		vtd_detach(b->dom, b->u, DRV_SID);
	if (b->dom)
		vtd_domain_destroy(b->dom);
	if (b->u)
		vtd_unit_close(b->u);   /* destroys the emulator too */
	rte_free(b->mem);
	perf_lat_free(&b->map);
	perf_lat_free(&b->unmap);
}

static int drv_setup(const struct perf_ctx *ctx, void *state,
		     struct perf_result *res)
{
	struct drv_bench *b = state;
	const struct perf_opts *o = ctx->opts;
	struct vtdemu_config cfg;
	struct vtd_unit_params up;
	struct vtd_domain_params dp;
	struct vtd_attach_params ap = { .sid = DRV_SID, .pasid = VTD_NO_PASID };
	struct vtd_unit_info info;
	int rc;

	b->o = o;
	b->a = ctx->run_arg;
	b->burst = b->a->batch ? o->burst : 1;
	b->slots = b->burst > DRV_SLOTS ? b->burst : DRV_SLOTS;
	perf_res_str(res, NULL, "method", b->a->batch ?
		     "the driver alone: --burst maps (map-side invalidations, "
		     "when the domain needs them, under one wait), then --burst "
		     "unmaps with a page-selective invalidation each, under one "
		     "wait" :
		     "the driver alone: map (plus map-side invalidation and "
		     "wait when the domain needs it), unmap, page-selective "
		     "invalidation, wait; one pair at a time");
	if (perf_lat_init(&b->map, PERF_LAT_CAP) ||
	    perf_lat_init(&b->unmap, PERF_LAT_CAP)) {
		perf_res_fail(res, "out of memory");
		return -ENOMEM;
	}
	vtdemu_config_init(&cfg);
	cfg.caps = o->caps;
	cfg.mode = o->mode;
	cfg.check_stale = o->stale_check;
	vtd_unit_params_init(&up);
	up.name = "vtd-perf";
	up.enable_translation = true;
	rc = vtd_emu_open(&cfg, &up, &b->u, &b->emu);
	if (rc < 0) {
		perf_res_fail(res, "the driver did not bring the emulated unit "
			      "up: %s (see the log)", strerror(-rc));
		return rc;
	}
	vtd_unit_get_info(b->u, &info);
	b->caching_mode = info.caching_mode;
	if (b->a->page == (2ull << 20) && !info.sl_2m) {
		perf_res_skip(res, "the unit has no 2 MiB second-stage pages "
			      "(CAP.SLLPS)");
		return -ENOTSUP;
	}
	vtd_domain_params_init(&dp);
	dp.superpages = true;
	rc = vtd_domain_create(b->u, &dp, &b->dom);
	if (rc < 0) {
		perf_res_fail(res, "domain: %s", strerror(-rc));
		return rc;
	}
	rc = vtd_attach(b->dom, b->u, &ap);
	if (rc < 0) {
		perf_res_fail(res, "attach: %s", strerror(-rc));
		return rc;
	}
	b->attached = true;
	b->map_flush = vtd_domain_map_flush(b->dom);
	b->q = vtd_qctx_get(b->u, rte_lcore_id());
	if (b->q == NULL) {
		perf_res_fail(res, "no invalidation context for lcore %u",
			      rte_lcore_id());
		return -EINVAL;
	}
	/* One page (or one 2 MiB block, naturally aligned so that the
	 * driver can use a 2 MiB leaf) that every mapping points at. */
	b->mem = rte_malloc("vtd-perf-drv", b->a->page, b->a->page);
	if (b->mem == NULL) {
		perf_res_fail(res, "no DPDK memory for %" PRIu64 " bytes",
			      b->a->page);
		return -ENOMEM;
	}
	b->phys = rte_malloc_virt2iova(b->mem);
	if (b->phys == RTE_BAD_IOVA || b->phys % b->a->page) {
		perf_res_fail(res, "the data block is not IOVA-contiguous and "
			      "aligned");
		return -EINVAL;
	}
	perf_res_str(res, NULL, "mode",
		     o->mode == VTDEMU_THREADED ? "threaded" : "inline");
	perf_res_str(res, NULL, "translation", info.scalable ? "scalable" :
		     "legacy");
	perf_res_bool(res, NULL, "map_flush", b->map_flush);
	perf_res_u64(res, NULL, "iova_slots", b->slots);
	perf_res_u64(res, NULL, "sample_every", o->sample_every);
	return 0;
}

static void drv_mark(void *state)
{
	struct drv_bench *b = state;

	vtdemu_quiesce(b->emu, DRV_TIMEOUT_NS);
	vtd_qi_stats_get(b->u, &b->q0);
	vtdemu_stats_get(b->emu, &b->e0);
	b->touches = b->probes = b->probe_faults = b->wrong_pa = 0;
	b->map.n = b->unmap.n = 0;
	b->map.seen = b->unmap.seen = 0;
}

static inline uint64_t slot_iova(const struct drv_bench *b, uint32_t s)
{
	return DRV_IOVA_BASE + (uint64_t)s * b->a->page;
}

static void touch(struct drv_bench *b, uint64_t iova)
{
	uint64_t pa = 0;

	b->touches++;
	if (vtdemu_translate(b->emu, DRV_SID, VTDEMU_NO_PASID, iova,
			     VTDEMU_ACCESS_READ, &pa, NULL) != 0 || pa != b->phys)
		b->wrong_pa++;
}

static void probe(struct drv_bench *b, uint64_t iova)
{
	uint64_t pa;
	struct vtdemu_fault_info fi;

	b->probes++;
	if (vtdemu_translate(b->emu, DRV_SID, VTDEMU_NO_PASID, iova,
			     VTDEMU_ACCESS_READ, &pa, &fi) == -EFAULT)
		b->probe_faults++;
}

/* Maps slots [first, first + n): map-side invalidations (when needed)
 * under one wait. */
static int map_slots(struct drv_bench *b, uint32_t first, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		uint64_t iova = slot_iova(b, first + i);
		int rc = vtd_map(b->dom, iova, b->phys, b->a->page,
				 VTD_PERM_READ | VTD_PERM_WRITE);

		if (rc < 0)
			return rc;
		if (b->map_flush) {
			rc = vtd_inv_range(b->q, b->dom, iova, b->a->page,
					   VTD_INV_MAP);
			if (rc < 0)
				return rc;
		}
	}
	return b->map_flush ? vtd_qctx_sync(b->q) : 0;
}

static int unmap_slots(struct drv_bench *b, uint32_t first, unsigned int n)
{
	int rc;

	for (unsigned int i = 0; i < n; i++) {
		uint64_t iova = slot_iova(b, first + i);
		struct vtd_gather g = VTD_GATHER_INIT;

		rc = vtd_unmap(b->dom, iova, b->a->page, &g);
		if (rc < 0)
			return rc;
		rc = vtd_inv_range(b->q, b->dom, iova, b->a->page,
				   g.nr_freed ? VTD_INV_TABLES_FREED : 0);
		if (rc < 0)
			return rc;
		b->g[i] = g;
	}
	rc = vtd_qctx_sync(b->q);
	/* Table pages go only after the invalidation completed. */
	for (unsigned int i = 0; i < n; i++)
		if (b->g[i].freelist)
			vtd_gather_release(b->dom, &b->g[i]);
	return rc;
}

static int64_t drv_iterate(void *state)
{
	struct drv_bench *b = state;
	unsigned int n = b->burst;
	uint32_t first = b->next;
	/* Bursts are few and long: time every one. */
	bool sample = n > 1 || ++b->tick >= b->o->sample_every;
	uint64_t t0 = 0, t1 = 0, t2 = 0;
	int rc;

	if (first + n > b->slots)
		first = 0;
	b->next = first + n;
	if (sample) {
		b->tick = 0;
		t0 = rte_rdtsc();
	}
	rc = map_slots(b, first, n);
	if (rc < 0)
		return rc;
	if (sample) {
		t1 = rte_rdtsc();
		touch(b, slot_iova(b, first));
		t2 = rte_rdtsc();
	}
	rc = unmap_slots(b, first, n);
	if (rc < 0)
		return rc;
	if (sample) {
		uint64_t t3 = rte_rdtsc();

		perf_lat_add(&b->map, t1 - t0);
		perf_lat_add(&b->unmap, t3 - t2);
		probe(b, slot_iova(b, first));
	}
	return n;
}

static void drv_finish(void *state, const struct perf_measure *m,
		       struct perf_result *res)
{
	struct drv_bench *b = state;
	struct vtd_qi_stats q1;
	struct vtdemu_stats e1;
	uint64_t edescs = 0;

	vtdemu_quiesce(b->emu, DRV_TIMEOUT_NS);
	vtd_qi_stats_get(b->u, &q1);
	vtdemu_stats_get(b->emu, &e1);
	for (unsigned int k = 0; k < VTDEMU_DS_KINDS; k++)
		edescs += e1.desc[k] - b->e0.desc[k];

	struct perf_pair_fig f = {
		.policy = b->a->batch ? "batched" : "strict",
		.caching_mode = b->caching_mode,
		.lcores = 1,
		.page_size = b->a->page,
		.burst = b->burst,
		.map = &b->map, .unmap = &b->unmap,
		.descriptors = q1.descs - b->q0.descs,
		.waits = q1.waits - b->q0.waits,
		.iqt_writes = q1.iqt_writes - b->q0.iqt_writes,
		.psi = q1.psi - b->q0.psi,
		.dsi = q1.dsi - b->q0.dsi,
		.modelled_ns = (double)(e1.modelled_ns - b->e0.modelled_ns),
		.stale_uses = (int64_t)(e1.stale_uses - b->e0.stale_uses),
		.ranges = -1,
	};

	perf_pair_report(res, m, &f);
	perf_res_u64(res, NULL, "device_touches", b->touches);
	perf_res_u64(res, NULL, "device_probes", b->probes);
	perf_res_u64(res, "emu", "descriptors", edescs);
	perf_res_u64(res, "emu", "waits", e1.waits - b->e0.waits);
	perf_res_u64(res, "emu", "iqt_writes", e1.iqt_writes - b->e0.iqt_writes);
	perf_res_u64(res, "emu", "iotlb_invalidated",
		     e1.cache_invalidated[VTDEMU_CACHE_IOTLB] -
		     b->e0.cache_invalidated[VTDEMU_CACHE_IOTLB]);
	perf_res_u64(res, "emu", "shadow_pages", e1.shadow_pages - b->e0.shadow_pages);
	perf_res_u64(res, "emu", "stale_uses", (uint64_t)f.stale_uses);

	/* The work was real: the unit executed what the driver submitted,
	 * and every invalidation took effect before its wait returned. */
	if (edescs != f.descriptors)
		perf_res_fail(res, "the emulator executed %" PRIu64 " descriptors, "
			      "the driver reports %" PRIu64, edescs, f.descriptors);
	if (e1.iqt_writes - b->e0.iqt_writes != f.iqt_writes)
		perf_res_fail(res, "the emulator saw %" PRIu64 " IQT writes, the "
			      "driver reports %" PRIu64,
			      e1.iqt_writes - b->e0.iqt_writes, f.iqt_writes);
	if (f.stale_uses)
		perf_res_fail(res, "%" PRId64 " stale uses after completed "
			      "invalidations", f.stale_uses);
	if (b->wrong_pa)
		perf_res_fail(res, "%" PRIu64 " device translations of a mapped "
			      "IOVA failed or were wrong", b->wrong_pa);
	if (b->probe_faults != b->probes)
		perf_res_fail(res, "%" PRIu64 " of %" PRIu64 " probes of an "
			      "unmapped IOVA did not fault",
			      b->probes - b->probe_faults, b->probes);
	if (q1.iqe != b->q0.iqe || q1.ite != b->q0.ite || q1.timeouts != b->q0.timeouts)
		perf_res_fail(res, "the queue reported errors (IQE %" PRIu64
			      ", ITE %" PRIu64 ", timeouts %" PRIu64 ")",
			      q1.iqe - b->q0.iqe, q1.ite - b->q0.ite,
			      q1.timeouts - b->q0.timeouts);
}

static const struct drv_arg drv_4k_strict = { 4096, false };
static const struct drv_arg drv_4k_batch = { 4096, true };
static const struct drv_arg drv_2m_strict = { 2ull << 20, false };
static const struct drv_arg drv_2m_batch = { 2ull << 20, true };

#define DRV_RUN(name_, help_, arg_)                                          \
	{ name_, "driver", "pair", help_, sizeof(struct drv_bench),          \
	  drv_setup, drv_mark, drv_iterate, drv_finish, drv_teardown, arg_ }

const struct perf_run_desc perf_driver_runs[] = {
	DRV_RUN("drv-4k-strict", "driver: 4 KiB map+unmap, a wait per pair",
		&drv_4k_strict),
	DRV_RUN("drv-4k-batch", "driver: 4 KiB, --burst pairs under one wait",
		&drv_4k_batch),
	DRV_RUN("drv-2m-strict", "driver: 2 MiB map+unmap, a wait per pair",
		&drv_2m_strict),
	DRV_RUN("drv-2m-batch", "driver: 2 MiB, --burst pairs under one wait",
		&drv_2m_batch),
	{ .name = NULL },
};
