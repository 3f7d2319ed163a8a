/* SPDX-License-Identifier: BSD-3-Clause
 * vtd-perf pair runs: latency samples and the keys every map+unmap pair run
 * reports (driver and service layers alike).
 *
 * Latency: a pair run reads the TSC around the map and around the unmap of
 * one pair in --sample-every (default 8), so that sampling costs a few ns
 * per pair on average and barely moves the throughput figure. The samples
 * of each lcore go to a reservoir of their own (no sharing on the fast
 * path) and are merged after the run; ticks become ns with the ratio the
 * framework calibrated against the wall clock over the same run.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vtd_perf.h"

const char *const perf_required_keys[] = {
	"name", "policy", "caching_mode", "lcores", "page_size", "burst",
	"pairs", "pairs_per_sec", "map_ns_p50", "map_ns_p99", "unmap_ns_p50",
	"unmap_ns_p99", "descriptors_per_pair", "waits_per_pair",
	"iqt_writes_per_pair", "psi_per_pair", "dsi_per_pair",
	"modelled_ns_per_pair", "stale_uses", NULL,
};

void perf_res_fill_required(struct perf_result *r)
{
	for (unsigned int i = 0; perf_required_keys[i]; i++)
		if (perf_res_find(r, NULL, perf_required_keys[i]) == NULL)
			perf_res_null(r, NULL, perf_required_keys[i]);
}

int perf_lat_init(struct perf_lat *l, uint32_t cap)
{
	memset(l, 0, sizeof(*l));
	l->v = malloc((size_t)cap * sizeof(*l->v));
	if (l->v == NULL)
		return -ENOMEM;
	l->cap = cap;
	l->rng = 0x2545f4914f6cdd1dull;
	return 0;
}

void perf_lat_free(struct perf_lat *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int perf_lat_merge(struct perf_lat *dst, const struct perf_lat *src)
{
	if (src->n == 0)
		return 0;
	if (dst->n + src->n > dst->cap) {
		uint32_t cap = dst->n + src->n;
		uint64_t *v = realloc(dst->v, (size_t)cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		dst->v = v;
		dst->cap = cap;
	}
	memcpy(dst->v + dst->n, src->v, (size_t)src->n * sizeof(*src->v));
	dst->n += src->n;
	dst->seen += src->seen;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

double perf_lat_ns(struct perf_lat *l, double p, double ns_per_tick)
{
	if (l == NULL || l->n == 0)
		return 0;
	qsort(l->v, l->n, sizeof(*l->v), cmp_u64);
	return (double)perf_percentile(l->v, l->n, p) * ns_per_tick;
}

static void per_pair(struct perf_result *r, const char *key, uint64_t v,
		     uint64_t pairs)
{
	perf_res_f64(r, NULL, key, pairs ? (double)v / (double)pairs : 0);
}

void perf_pair_report(struct perf_result *r, const struct perf_measure *m,
		      const struct perf_pair_fig *f)
{
	double secs = (double)m->wall_ns / 1e9;
	uint64_t pairs = f->counted_pairs ? f->counted_pairs : m->ops;

	perf_res_str(r, NULL, "policy", f->policy);
	perf_res_bool(r, NULL, "caching_mode", f->caching_mode);
	perf_res_u64(r, NULL, "lcores", f->lcores);
	perf_res_u64(r, NULL, "page_size", f->page_size);
	perf_res_u64(r, NULL, "burst", f->burst);
	perf_res_u64(r, NULL, "pairs", m->ops);
	perf_res_f64(r, NULL, "pairs_per_sec", secs > 0 ? (double)m->ops / secs : 0);
	/* Latency of one call: a map (or a map burst) and an unmap (or an
	 * unmap burst), as the caller sees it. */
	perf_res_f64(r, NULL, "map_ns_p50", perf_lat_ns(f->map, 0.50, m->ns_per_tick));
	perf_res_f64(r, NULL, "map_ns_p99", perf_lat_ns(f->map, 0.99, m->ns_per_tick));
	perf_res_f64(r, NULL, "map_ns_p999", perf_lat_ns(f->map, 0.999, m->ns_per_tick));
	perf_res_f64(r, NULL, "unmap_ns_p50", perf_lat_ns(f->unmap, 0.50, m->ns_per_tick));
	perf_res_f64(r, NULL, "unmap_ns_p99", perf_lat_ns(f->unmap, 0.99, m->ns_per_tick));
	perf_res_f64(r, NULL, "unmap_ns_p999", perf_lat_ns(f->unmap, 0.999, m->ns_per_tick));
	perf_res_u64(r, NULL, "latency_samples", f->map ? f->map->n : 0);
	per_pair(r, "descriptors_per_pair", f->descriptors, pairs);
	per_pair(r, "waits_per_pair", f->waits, pairs);
	per_pair(r, "iqt_writes_per_pair", f->iqt_writes, pairs);
	per_pair(r, "psi_per_pair", f->psi, pairs);
	per_pair(r, "dsi_per_pair", f->dsi, pairs);
	if (isnan(f->modelled_ns))
		perf_res_null(r, NULL, "modelled_ns_per_pair");
	else
		perf_res_f64(r, NULL, "modelled_ns_per_pair",
			     pairs ? f->modelled_ns / (double)pairs : 0);
	if (f->stale_uses < 0)
		perf_res_null(r, NULL, "stale_uses");
	else
		perf_res_u64(r, NULL, "stale_uses", (uint64_t)f->stale_uses);
	if (f->ranges >= 0)
		per_pair(r, "ranges_per_pair", (uint64_t)f->ranges, pairs);
}
