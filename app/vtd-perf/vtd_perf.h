/* SPDX-License-Identifier: BSD-3-Clause
 * vtd-perf: a small framework of benchmark "runs" and the reports they feed.
 *
 * Model:
 *   run      a descriptor (struct perf_run_desc): a name, what one operation
 *            is, and four hooks: setup, mark, iterate, finish (+ teardown).
 *            The framework (perf_run.c) owns the timed loop, so every run is
 *            timed, bounded (--duration/--count), sampled and shown progress
 *            the same way; a run only says how to do one iteration.
 *   result   (struct perf_result) an ordered list of named fields. The human
 *            table and the JSON document print the same list, so the two can
 *            never disagree. Fields carry an optional group ("emu": the
 *            emulator's statistics deltas) that becomes a nested object.
 *   unit     the description of the unit the runs ran on (perf_unit.c).
 *
 * Layers: each layer contributes a table of runs (perf_emu_runs.c: the
 * emulator alone; perf_driver_runs.c: the VT-d driver on an emulated unit;
 * perf_service_runs.c: lib/uvtd, per policy, caching mode off and on).
 *
 * Runs execute one after the other on the main lcore. A multi-lcore run
 * (service runs with lcores > 1) launches its workers on the other EAL
 * lcores in setup, lets them go at the first iterate() and counts their
 * pairs in the operations iterate() returns (perf_service_runs.c).
 *
 * Pair runs (driver and service layers) report the same keys through
 * perf_pair_report() (perf_pairs.c), so that other tools can read any of
 * them the same way; every run object carries those keys (null where a run
 * has no such figure: see perf_required_keys).
 */
#ifndef VTD_PERF_H
#define VTD_PERF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vtdemu.h"

#define PERF_VERSION "0.2.0"

/* Exit codes (documented in --help and docs/vtd-perf.md). */
#define PERF_EXIT_OK     0
#define PERF_EXIT_FAILED 1  /* a run failed, or EAL did not start */
#define PERF_EXIT_USAGE  2  /* bad usage: nothing was run */

/* ---------------------------------------------------------------------------
 * Options and the context every run sees
 */
struct perf_opts {
	/* The emulated unit. */
	const char *preset;          /* --emu (default "server") */
	bool cap_set, ecap_set;      /* --emu-cap / --emu-ecap given */
	struct vtdemu_caps caps;     /* resolved: preset, then overrides */
	enum vtdemu_mode mode;       /* --mode */
	bool stale_check;            /* --no-stale-check clears it */
	/* Bounds of each run. */
	double duration_s;           /* --duration, per run */
	uint64_t count;              /* --count: operations per run (0: use
				      * the duration) */
	unsigned int batch;          /* --batch: descriptors per wait */
	/* Pair runs (driver and service layers). */
	unsigned int burst;          /* --burst: pairs per wait (batched) */
	unsigned int lcores;         /* --lcores: service runs (0: the run's) */
	uint64_t page_size;          /* --page-size: service runs (4 KiB) */
	unsigned int resident;       /* --resident: pages kept mapped */
	unsigned int sample_every;   /* --sample-every: latency sampling */
	const char *dmar;            /* --dmar PATH|sys: real units */
	const char *dev;             /* --dev PCI: the device on them */
	bool plant_skip_inv;         /* --plant-skip-invalidation (tests) */
	bool split_domains;          /* --split-domains: a domain per lcore */
	/* Selection and output. */
	const char *runs;            /* --runs: comma-separated names, NULL all */
	bool json;
	bool progress;               /* status line on stderr */
};

struct perf_ctx {
	const struct perf_opts *opts;
	/* Filled once EAL is up; later driver and service runs need them. */
	unsigned int lcores;         /* lcores EAL gave us */
	const char *iova_mode;       /* "PA" or "VA" */
	const void *run_arg;         /* the running descriptor's arg */
};

/* ---------------------------------------------------------------------------
 * Results
 */
enum perf_kind { PERF_U64, PERF_F64, PERF_STR, PERF_BOOL, PERF_NULL };

struct perf_field {
	const char *group;           /* NULL: top level of the run object */
	const char *key;             /* JSON key; also the human label */
	enum perf_kind kind;
	union {
		uint64_t u;
		double f;
		const char *s;       /* points into perf_result.strings */
		bool b;
	} v;
};

enum perf_status { PERF_OK = 0, PERF_SKIPPED, PERF_FAILED };

#define PERF_MAX_FIELDS 80
#define PERF_STRINGS    2048

struct perf_result {
	const char *name;
	enum perf_status status;
	char reason[256];            /* why skipped or failed */
	char warning[256];           /* printed, not fatal */
	unsigned int nfields;
	struct perf_field fields[PERF_MAX_FIELDS];
	size_t strings_used;
	char strings[PERF_STRINGS];
};

void perf_res_u64(struct perf_result *r, const char *group, const char *key,
		  uint64_t v);
void perf_res_f64(struct perf_result *r, const char *group, const char *key,
		  double v);
void perf_res_str(struct perf_result *r, const char *group, const char *key,
		  const char *v);
void perf_res_bool(struct perf_result *r, const char *group, const char *key,
		   bool v);
/* JSON null: the run has no such figure (a required key, see below). */
void perf_res_null(struct perf_result *r, const char *group, const char *key);
const struct perf_field *perf_res_find(const struct perf_result *r,
				       const char *group, const char *key);
/* Marks the result failed (first reason wins). */
__attribute__((format(printf, 2, 3)))
void perf_res_fail(struct perf_result *r, const char *fmt, ...);
__attribute__((format(printf, 2, 3)))
void perf_res_skip(struct perf_result *r, const char *fmt, ...);
__attribute__((format(printf, 2, 3)))
void perf_res_warn(struct perf_result *r, const char *fmt, ...);

/* ---------------------------------------------------------------------------
 * Runs
 */

/* What the framework measured; handed to finish(). */
struct perf_measure {
	uint64_t ops;                /* operations (sum of iterate() returns) */
	uint64_t iterations;
	uint64_t wall_ns;            /* the timed loop, clock_gettime */
	double ns_per_tick;          /* TSC calibrated against wall_ns */
	/* Percentiles of one iteration's duration, ns (0 when no samples). */
	double p50_ns, p99_ns, p999_ns;
	uint64_t samples;            /* iterations in the percentile sample */
	bool interrupted;            /* SIGINT ended the loop early */
};

struct perf_run_desc {
	const char *name;
	const char *layer;           /* "emu" (later "driver", "service") */
	const char *op;              /* what one operation is */
	const char *help;            /* one line, for --help */
	size_t state_size;           /* zeroed state handed to every hook */
	/* Builds everything the loop needs. 0; -ENOTSUP to skip (reason set
	 * with perf_res_skip); another negative errno to fail (reason set). */
	int (*setup)(const struct perf_ctx *ctx, void *state,
		     struct perf_result *res);
	/* Called after the warm-up, right before the timed loop: snapshot the
	 * counters finish() reports as deltas. May be NULL. */
	void (*mark)(void *state);
	/* One iteration, the only code inside the timed loop: returns the
	 * operations done (> 0) or a negative errno (the run fails). */
	int64_t (*iterate)(void *state);
	/* Adds the run's own fields and checks the work was real (e.g. the
	 * unit executed as many descriptors as were submitted); fails the
	 * result with perf_res_fail when not. May be NULL. */
	void (*finish)(void *state, const struct perf_measure *m,
		       struct perf_result *res);
	/* Frees what setup built, also after a failed setup. May be NULL. */
	void (*teardown)(void *state);
	/* The run's parameters (ctx->run_arg in setup); may be NULL. */
	const void *arg;
};

/* The runs of every layer, in print order, ending with a NULL name
 * (perf_runs.c), and the emulator's own (perf_emu_runs.c, ends likewise). */
extern const struct perf_run_desc *const perf_run_tables[];
extern const struct perf_run_desc perf_emu_runs[];
extern const struct perf_run_desc perf_driver_runs[];
extern const struct perf_run_desc perf_service_runs[];
/* Closes what the layers opened for the whole process (the service). */
void perf_service_fini(void);
const struct perf_run_desc *perf_run_find(const char *name);

/* Runs one descriptor end to end into res (perf_run.c). */
void perf_run_one(const struct perf_run_desc *d, const struct perf_ctx *ctx,
		  struct perf_result *res);
/* Set by SIGINT: the current run stops early, later runs are not started. */
extern volatile int perf_stop;

/* ---------------------------------------------------------------------------
 * Timing (perf_run.c)
 */
uint64_t perf_now_ns(void);
/* Percentile p (0..1) of n sorted values, nearest rank. */
uint64_t perf_percentile(const uint64_t *sorted, size_t n, double p);

/* ---------------------------------------------------------------------------
 * Pair runs (perf_pairs.c): latency samples and the keys every pair run
 * reports.
 */
/* A reservoir of latency samples in TSC ticks (one per lcore and kind). */
struct perf_lat {
	uint64_t *v;
	uint32_t n, cap;
	uint64_t seen;
	uint64_t rng;
};
int perf_lat_init(struct perf_lat *l, uint32_t cap);
void perf_lat_free(struct perf_lat *l);
static inline void perf_lat_add(struct perf_lat *l, uint64_t ticks)
{
	l->seen++;
	if (l->n < l->cap) {
		l->v[l->n++] = ticks;
		return;
	}
	/* Algorithm R: a uniform sample of every measured operation. */
	l->rng ^= l->rng << 13;
	l->rng ^= l->rng >> 7;
	l->rng ^= l->rng << 17;
	uint64_t j = l->rng % l->seen;

	if (j < l->cap)
		l->v[j] = ticks;
}
/* Appends src's samples to dst (grown as needed; -ENOMEM). */
int perf_lat_merge(struct perf_lat *dst, const struct perf_lat *src);
/* Sorts, then percentile p (0..1) in ns; 0 with no sample. */
double perf_lat_ns(struct perf_lat *l, double p, double ns_per_tick);

/* Keys every run object carries (the JSON contract other tools read). */
extern const char *const perf_required_keys[];
/* Adds a null for each required key r lacks (emulator runs, skips). */
void perf_res_fill_required(struct perf_result *r);

/* What a pair run measured, in the order perf_pair_report writes it. NAN
 * (or a negative count where noted) for "not measured": written as null. */
struct perf_pair_fig {
	const char *policy;          /* strict, batched, lazy, auto */
	bool caching_mode;
	unsigned int lcores;
	uint64_t page_size;          /* bytes per mapping (0: random sizes) */
	unsigned int burst;          /* pairs under one call / wait */
	struct perf_lat *map, *unmap;  /* merged samples (ticks) */
	uint64_t descriptors, waits, iqt_writes, psi, dsi;
	double modelled_ns;          /* NAN: not an emulated unit */
	int64_t stale_uses;          /* < 0: not an emulated unit */
	int64_t ranges;              /* < 0: not a service run */
	/* Pairs the counters above cover (0: m->ops). Multi-lcore runs count
	 * their workers' pairs up to the moment they stopped. */
	uint64_t counted_pairs;
};
void perf_pair_report(struct perf_result *res, const struct perf_measure *m,
		      const struct perf_pair_fig *f);
/* How many pairs sample their latency: 1 in --sample-every. */
#define PERF_SAMPLE_EVERY_DEFAULT 8u
#define PERF_LAT_CAP (1u << 15)
/* Sets a CAP/ECAP field by the specification's name, through the driver's
 * decode table (the app knows no bit). false: no such field. */
bool perf_cap_set(struct vtdemu_caps *caps, const char *name, uint64_t value);

/* ---------------------------------------------------------------------------
 * The unit description and the reports (perf_unit.c, perf_report.c)
 */
/* A capability field by the specification's name ("CM", "PSI", "MAMV"...),
 * decoded by the driver's field table: the app itself knows no VT-d bit.
 * Returns false when the name is unknown. */
bool perf_cap_field(const struct vtdemu_caps *caps, const char *name,
		    uint64_t *value);
/* Fills a perf_result (name "unit") describing the unit and its model. */
void perf_unit_describe(const struct perf_opts *o, struct perf_result *unit);

void perf_report_human(FILE *out, const struct perf_result *unit,
		       const struct perf_result *runs, unsigned int n);
void perf_report_json(FILE *out, const struct perf_result *unit,
		      const struct perf_result *runs, unsigned int n);

/* ---------------------------------------------------------------------------
 * EAL (perf_eal.c)
 */
/* Starts EAL with the user's arguments (argv[0..argc)), or safe defaults
 * when there are none, adding --no-pci and a file prefix of our own where
 * the user left them out. Returns 0 or -1 (the reason printed). */
int perf_eal_init(const char *prog, int argc, char **argv,
		  struct perf_ctx *ctx);
/* rte_eal_cleanup and removal of our runtime folder; safe to call twice. */
void perf_eal_fini(void);

#endif /* VTD_PERF_H */
