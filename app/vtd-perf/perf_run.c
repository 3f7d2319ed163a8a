/* SPDX-License-Identifier: BSD-3-Clause
 * vtd-perf: the timed loop every run goes through.
 *
 * One place times every run, so that all figures mean the same thing:
 *   - a warm-up (a tenth of the budget, at most 20 ms) first, so that page
 *     faults in fresh memory and cold caches are not measured;
 *   - then iterate() until --duration has passed or --count operations are
 *     done; wall time from CLOCK_MONOTONIC around the whole loop gives the
 *     rate;
 *   - the TSC is read once per iteration (the iteration's duration goes
 *     into a bounded reservoir sample for the percentiles) and converted to
 *     ns with a ratio calibrated against that same wall time, so the
 *     percentiles do not depend on EAL's TSC frequency estimate.
 * The TSC read costs a few ns per iteration and is inside the measured
 * time; runs whose operations are that short do several per iteration.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>

#include "vtd_perf.h"

volatile int perf_stop;

/* Reservoir of iteration durations (TSC ticks): 1 MiB, enough for a
 * p99.9 that rests on more than a hundred samples above it. */
#define SAMPLE_CAP (1u << 17)

#define WARMUP_MAX_NS (20ull * 1000 * 1000)

uint64_t perf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

uint64_t perf_percentile(const uint64_t *sorted, size_t n, double p)
{
	if (n == 0)
		return 0;
	/* Nearest rank: the smallest value with at least p of the sample at
	 * or below it. */
	size_t rank = (size_t)ceil(p * (double)n);

	if (rank == 0)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

/* TSC ticks per second for the loop's deadline checks only (the reported
 * figures use the wall clock). EAL knows it; measure it if it does not. */
static uint64_t tsc_hz(void)
{
	static uint64_t hz;

	if (hz)
		return hz;
	hz = rte_get_tsc_hz();
	if (hz == 0) {
		uint64_t t0 = perf_now_ns(), c0 = rte_rdtsc();

		usleep(10000);
		uint64_t dt = perf_now_ns() - t0, dc = rte_rdtsc() - c0;

		hz = dt ? (uint64_t)((double)dc * 1e9 / (double)dt) : 1000000000ull;
	}
	return hz;
}

struct sampler {
	uint64_t *v;
	size_t n;
	uint64_t seen;
	uint64_t rng;
};

static inline void sample_add(struct sampler *s, uint64_t ticks)
{
	if (s->v == NULL)
		return;
	s->seen++;
	if (s->n < SAMPLE_CAP) {
		s->v[s->n++] = ticks;
		return;
	}
	/* Reservoir sampling (Vitter's algorithm R) keeps a uniform sample of
	 * every iteration, not only the first ones. xorshift64 is plenty. */
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	uint64_t j = s->rng % s->seen;

	if (j < SAMPLE_CAP)
		s->v[j] = ticks;
}

static bool progress_is_tty;

static void progress_line(const struct perf_run_desc *d, double elapsed_s,
			  double budget_s, uint64_t ops)
{
	static const char *const pfx[] = { "", "k", "M", "G" };
	double rate = elapsed_s > 0 ? (double)ops / elapsed_s : 0;
	unsigned int p = 0;
	char budget[32] = "";

	while (rate >= 1000 && p < 3) {
		rate /= 1000;
		p++;
	}
	if (budget_s > 0)
		snprintf(budget, sizeof(budget), " of %.1f", budget_s);
	fprintf(stderr, "%s%s: %.0f s%s, %.2f %s%s/s%s",
		progress_is_tty ? "\r\033[K" : "", d->name, floor(elapsed_s), budget,
		rate, pfx[p], d->op, progress_is_tty ? "" : "\n");
	fflush(stderr);
}

/* Warm-up: a tenth of the budget, at most WARMUP_MAX_NS. Returns 0 or the
 * negative errno iterate() returned. */
static int warm_up(const struct perf_run_desc *d, void *state,
		   const struct perf_opts *o)
{
	uint64_t budget_ns = (uint64_t)(o->duration_s * 1e9 / 10);
	uint64_t max_ops = o->count ? (o->count + 9) / 10 : UINT64_MAX;
	uint64_t ops = 0, start = perf_now_ns();

	if (budget_ns > WARMUP_MAX_NS)
		budget_ns = WARMUP_MAX_NS;
	do {
		int64_t n = d->iterate(state);

		if (n < 0)
			return (int)n;
		ops += (uint64_t)n;
	} while (ops < max_ops && perf_now_ns() - start < budget_ns &&
		 !perf_stop);
	return 0;
}

void perf_run_one(const struct perf_run_desc *d, const struct perf_ctx *ctx_in,
		  struct perf_result *res)
{
	struct perf_ctx run_ctx = *ctx_in;
	const struct perf_ctx *ctx = &run_ctx;
	const struct perf_opts *o = ctx->opts;
	struct perf_measure m;
	struct sampler s;
	void *state;
	int rc;

	memset(res, 0, sizeof(*res));
	memset(&m, 0, sizeof(m));
	memset(&s, 0, sizeof(s));
	res->name = d->name;
	perf_res_str(res, NULL, "name", d->name);
	perf_res_str(res, NULL, "layer", d->layer);
	perf_res_str(res, NULL, "op", d->op);
	progress_is_tty = isatty(STDERR_FILENO);
	run_ctx.run_arg = d->arg;

	state = calloc(1, d->state_size ? d->state_size : 1);
	if (state == NULL) {
		perf_res_fail(res, "out of memory");
		return;
	}
	rc = d->setup(ctx, state, res);
	if (rc == -ENOTSUP) {
		if (res->status != PERF_SKIPPED)
			perf_res_skip(res, "not supported by this unit");
		goto out;
	}
	if (rc < 0) {
		if (res->status != PERF_FAILED)
			perf_res_fail(res, "setup: %s", strerror(-rc));
		goto out;
	}
	rc = warm_up(d, state, o);
	if (rc < 0) {
		perf_res_fail(res, "warm-up: %s", strerror(-rc));
		goto out;
	}
	s.v = malloc(SAMPLE_CAP * sizeof(*s.v));
	s.rng = 0x9e3779b97f4a7c15ull;
	if (d->mark)
		d->mark(state);

	/* The timed loop. Keep it lean: everything here is measured. */
	const uint64_t hz = tsc_hz();
	const uint64_t budget_ticks = o->count ? UINT64_MAX :
		(uint64_t)(o->duration_s * (double)hz);
	const bool show = o->progress || progress_is_tty;
	uint64_t next_progress = hz; /* ticks since start */
	uint64_t ops = 0, iters = 0;
	uint64_t t0 = perf_now_ns();
	uint64_t c0 = rte_rdtsc(), prev = c0, now = c0;

	for (;;) {
		int64_t n = d->iterate(state);

		now = rte_rdtsc();
		if (n < 0) {
			perf_res_fail(res, "iteration %" PRIu64 ": %s", iters,
				      strerror((int)-n));
			break;
		}
		sample_add(&s, now - prev);
		prev = now;
		ops += (uint64_t)n;
		iters++;
		if (o->count ? ops >= o->count : now - c0 >= budget_ticks)
			break;
		if (perf_stop) {
			m.interrupted = true;
			break;
		}
		if (show && now - c0 >= next_progress) {
			progress_line(d, (double)(now - c0) / (double)hz,
				      o->count ? 0 : o->duration_s, ops);
			/* The next whole second: after a stall (the process
			 * descheduled) one line, not a burst of catch-up lines
			 * naming the same second. */
			next_progress = ((now - c0) / hz + 1) * hz;
		}
	}
	uint64_t t1 = perf_now_ns();

	if (show && next_progress > hz && progress_is_tty)
		fputs("\r\033[K", stderr); /* clear the status line */

	m.ops = ops;
	m.iterations = iters;
	m.wall_ns = t1 - t0;
	m.ns_per_tick = now > c0 ? (double)m.wall_ns / (double)(now - c0) : 0;
	if (s.v && s.n) {
		qsort(s.v, s.n, sizeof(*s.v), cmp_u64);
		m.samples = s.n;
		m.p50_ns = (double)perf_percentile(s.v, s.n, 0.50) * m.ns_per_tick;
		m.p99_ns = (double)perf_percentile(s.v, s.n, 0.99) * m.ns_per_tick;
		m.p999_ns = (double)perf_percentile(s.v, s.n, 0.999) * m.ns_per_tick;
	}
	free(s.v);

	double secs = (double)m.wall_ns / 1e9;

	perf_res_u64(res, NULL, "ops", m.ops);
	perf_res_u64(res, NULL, "iterations", m.iterations);
	perf_res_f64(res, NULL, "seconds", secs);
	perf_res_f64(res, NULL, "ops_per_sec", secs > 0 ? (double)m.ops / secs : 0);
	perf_res_f64(res, NULL, "ns_per_op",
		     m.ops ? (double)m.wall_ns / (double)m.ops : 0);
	/* The percentiles are per iteration; ops_per_iteration says how many
	 * operations one sample covers. */
	perf_res_f64(res, NULL, "ops_per_iteration",
		     iters ? (double)ops / (double)iters : 0);
	/* The median iteration per operation: a figure that preemption on a
	 * busy machine (which inflates the mean) barely moves. */
	perf_res_f64(res, NULL, "ns_per_op_p50",
		     ops ? m.p50_ns * (double)iters / (double)ops : 0);
	perf_res_f64(res, NULL, "iteration_ns_p50", m.p50_ns);
	perf_res_f64(res, NULL, "iteration_ns_p99", m.p99_ns);
	perf_res_f64(res, NULL, "iteration_ns_p999", m.p999_ns);
	if (m.interrupted)
		perf_res_bool(res, NULL, "interrupted", true);
	if (res->status == PERF_OK && d->finish)
		d->finish(state, &m, res);
	if (res->status == PERF_OK && m.ops == 0)
		perf_res_fail(res, "no operation completed");
out:
	if (d->teardown)
		d->teardown(state);
	free(state);
	/* Every run object has the keys other tools read (null when the run
	 * has no such figure). */
	perf_res_fill_required(res);
}
