/* SPDX-License-Identifier: BSD-3-Clause
 * uvtd service benchmark: map+unmap pairs per second by policy, on the
 * emulated unit in inline mode, 4 KiB pages, one lcore and two. Prints
 * figures (and the emulator's modelled cost per pair); it never fails on a
 * figure: benchmarks report, tests judge.
 *
 *   meson benchmark -C build --suite service
 *   build/test/service/bench_svc [preset] [seconds] [policy] [lcores] [rounds] [burst]
 *                                           (qemu-cm-off, 1, all, 2, 1, 32)
 *
 * Pairs: strict and lazy map then unmap one buffer at a time; batched and
 * lazy-burst (the lazy policy used in bursts) map a burst of 32 (or
 * `burst`, 1..256) (uvtd_map_burst) and unmap it (uvtd_unmap_burst). The policy argument
 * names one of strict, batched, lazy, lazy-burst, or all.
 *
 * On a shared machine the wall-clock figure says as much about the other
 * tenants as about uvtd, so each run also reports the CPU time its lcores
 * got (CLOCK_THREAD_CPUTIME_ID) and the pairs per CPU-second: "eff" is that
 * figure relative to one lcore, so an idle machine would scale by about
 * lcores x eff, and eff below 1 is the cost of sharing (cache lines, the
 * unit's lock), not of the load.
 *
 * Rounds: one run of one lcore and one of two make a round; with several
 * rounds (interleaved, so that a noisy moment hits both sides alike) a
 * summary gives each policy's median two/one scaling and eff and their
 * ranges. One run's ratio swings by 30 % on this shared machine; the
 * median of nine rounds moves by a few percent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "uvtd_eal.h"
#include "uvtd.h"
#include "uvtd_vtd_ops.h"
#include "vtdemu.h"

#define PG 4096ull
/* The burst calls' limit (UVTD_BURST_MAX, internal to lib/uvtd): a larger
 * burst would be refused by them, and the run would report its error. */
#define BURST_MAX 256
/* Pairs per burst of the batched and lazy-burst runs: 32, or the sixth
 * argument (the per-burst cost of the one invalidation queue is spread
 * over this many pairs; docs/benchmarks.md, fifth pass). */
static unsigned int burst_len = 32;

struct run {
	int dom;
	enum uvtd_policy policy;
	bool burst;              /* bursts of burst_len (batched always) */
	uint64_t pa;
	double seconds;
	uint64_t pairs;
	double cpu_s;            /* this lcore's CPU time during the run */
	int err;
	/* Each lcore's run on its own cache line: pairs is written once per
	 * pair, and two runs sharing a line made the benchmark itself the
	 * hottest false sharing of the 2-lcore runs. */
} __rte_cache_aligned;

static double thread_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile int go;

static int worker(void *arg)
{
	struct run *r = arg;
	struct uvtd_map_req m[BURST_MAX];
	struct uvtd_unmap_req u[BURST_MAX];
	int n = (int)burst_len;
	uint64_t end, iova;
	double cpu0;

	while (!go)
		;
	cpu0 = thread_cpu_s();
	end = rte_get_tsc_cycles() + (uint64_t)(r->seconds * rte_get_tsc_hz());
	for (int i = 0; i < n; i++)
		m[i] = (struct uvtd_map_req){ .phys = r->pa + i * PG, .len = PG,
					      .perm = UVTD_PERM_RW };
	while (rte_get_tsc_cycles() < end) {
		for (int rep = 0; rep < 64; rep++) {
			if (r->burst) {
				if (uvtd_map_burst(r->dom, m, burst_len) != n) {
					r->err++;
					goto out;
				}
				for (int i = 0; i < n; i++)
					u[i] = (struct uvtd_unmap_req){ m[i].iova, PG };
				if (uvtd_unmap_burst(r->dom, u, burst_len) != n) {
					r->err++;
					goto out;
				}
				r->pairs += burst_len;
			} else {
				if (uvtd_map(r->dom, r->pa, PG, UVTD_PERM_RW, &iova) ||
				    uvtd_unmap(r->dom, iova, PG)) {
					r->err++;
					goto out;
				}
				r->pairs++;
			}
		}
	}
out:
	r->cpu_s = thread_cpu_s() - cpu0;
	return 0;
}

static double bench(enum uvtd_policy p, bool burst, unsigned int nlcores,
		    double secs, uint64_t pa, double *modelled_ns, double *descs,
		    double *iqt, double *per_cpu_s)
{
	struct uvtd_domain_conf c;
	struct run runs[2];
	struct vtdemu_stats a, b;
	struct uvtd_stats sa, sb;
	unsigned int w = rte_get_next_lcore(-1, 1, 0);
	uint64_t pairs = 0;
	double cpu = 0;
	int dev, d;

	uvtd_domain_conf_init(&c);
	c.policy = p;
	d = uvtd_domain_create(&c);
	dev = uvtd_dev_open_rid(0, 0x08);
	if (d < 0 || dev < 0 || uvtd_attach(d, dev))
		return -1;
	memset(runs, 0, sizeof(runs));
	for (unsigned int i = 0; i < 2; i++)
		runs[i] = (struct run){ .dom = d, .policy = p, .burst = burst,
					.pa = pa + i * burst_len * PG, .seconds = secs };
	/* UVTD_BENCH_SPLIT=1: the second lcore on a domain of its own (for
	 * telling shared-domain costs from the unit's). */
	int d2 = -1, dev2 = -1;

	if (nlcores > 1 && getenv("UVTD_BENCH_SPLIT")) {
		d2 = uvtd_domain_create(&c);
		dev2 = uvtd_dev_open_rid(0, 0x09);
		if (d2 < 0 || dev2 < 0 || uvtd_attach(d2, dev2))
			return -1;
		runs[1].dom = d2;
	}
	vtdemu_stats_get(uvtd_vtd_emu(0), &b);
	uvtd_stats_get(&sb);
	go = 0;
	if (nlcores > 1)
		uvtd_test_launch(worker, &runs[1], w);
	go = 1;
	worker(&runs[0]);
	if (nlcores > 1)
		uvtd_test_join(w);
	uvtd_flush(d);
	vtdemu_stats_get(uvtd_vtd_emu(0), &a);
	uvtd_stats_get(&sa);
	for (unsigned int i = 0; i < nlcores; i++) {
		pairs += runs[i].pairs;
		cpu += runs[i].cpu_s;
		if (runs[i].err)
			fprintf(stderr, "lcore %u: error\n", i);
	}
	*modelled_ns = (double)(a.modelled_ns - b.modelled_ns) / (double)pairs;
	*descs = (double)(sa.descs - sb.descs) / (double)pairs;
	*iqt = (double)(sa.iqt_writes - sb.iqt_writes) / (double)pairs;
	*per_cpu_s = cpu > 0 ? (double)pairs / cpu : 0;
	uvtd_detach(d, dev);
	uvtd_dev_close(dev);
	uvtd_domain_destroy(d);
	if (d2 >= 0) {
		uvtd_flush(d2);
		uvtd_detach(d2, dev2);
		uvtd_dev_close(dev2);
		uvtd_domain_destroy(d2);
	}
	return (double)pairs / secs;
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), dcmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define MAX_ROUNDS 64

int main(int argc, char **argv)
{
	const char *preset = argc > 1 ? argv[1] : "qemu-cm-off";
	double secs = argc > 2 ? atof(argv[2]) : 1.0;
	unsigned int max_lcores = argc > 4 && atoi(argv[4]) == 1 ? 1 : 2;
	int rounds = argc > 5 ? atoi(argv[5]) : 1;

	if (argc > 6) {
		char *e;
		long b = strtol(argv[6], &e, 10);

		if (*argv[6] == '\0' || *e != '\0' || b < 1 || b > BURST_MAX) {
			fprintf(stderr, "burst: 1..%d\n", BURST_MAX);
			return 1;
		}
		burst_len = (unsigned int)b;
	}
	/* The runs: a policy, one pair at a time or in bursts. */
	static const struct {
		const char *name;
		enum uvtd_policy policy;
		bool burst;
	} pol[] = {
		{ "strict", UVTD_POLICY_STRICT, false },
		{ "batched", UVTD_POLICY_BATCHED, true },
		{ "lazy", UVTD_POLICY_LAZY, false },
		{ "lazy-burst", UVTD_POLICY_LAZY, true },
	};
	static double scal[RTE_DIM(pol)][MAX_ROUNDS]; /* as pol[] */
	static double effs[RTE_DIM(scal)][MAX_ROUNDS];
	char args[128];
	uint8_t *mem;

	if (uvtd_test_eal_init(argv[0], UVTD_EAL_VA) < 0)
		return 1;
	snprintf(args, sizeof(args), "emu=%s,emu_mode=inline", preset);
	if (uvtd_init(args)) {
		fprintf(stderr, "uvtd_init(%s) failed\n", args);
		return 1;
	}
	mem = rte_zmalloc(NULL, 2 * burst_len * PG, PG);
	if (mem == NULL)
		return 1;
	printf("uvtd service benchmark: unit %s (inline), 4 KiB pages, %.1f s "
	       "per run, bursts of %u\n", preset, secs, burst_len);
	printf("%-10s %5s %14s %10s %10s %14s %8s %14s %6s\n", "policy",
	       "lcores", "pairs/s", "descs/pair", "IQT/pair", "modelled ns/pr",
	       "scaling", "pairs/cpu-s", "eff");
	if (rounds < 1 || rounds > MAX_ROUNDS) {
		fprintf(stderr, "rounds: 1..%d\n", MAX_ROUNDS);
		return 1;
	}
	for (int rd = 0; rd < rounds; rd++) {
		for (unsigned int i = 0; i < RTE_DIM(pol); i++) {
			double one = 0, one_cpu = 0;

			/* A third argument runs one policy only (for
			 * profiling); "all" runs every one. */
			if (argc > 3 && strcmp(argv[3], "all") &&
			    strcmp(argv[3], pol[i].name))
				continue;

			/* A fourth argument caps the lcores (1: profiling the
			 * single lcore path alone, e.g. under callgrind). */
			for (unsigned int n = 1; n <= max_lcores; n++) {
				double mns, descs, iqt, pcpu;
				double r = bench(pol[i].policy, pol[i].burst,
						 n, secs,
						 rte_malloc_virt2iova(mem),
						 &mns, &descs, &iqt, &pcpu);

				if (n == 1) {
					one = r;
					one_cpu = pcpu;
				}
				printf("%-10s %5u %14.0f %10.3f %10.3f %14.1f "
				       "%8.2f %14.0f %6.2f\n",
				       pol[i].name, n, r, descs,
				       iqt, mns, r / one, pcpu,
				       one_cpu > 0 ? pcpu / one_cpu : 0);
				scal[i][rd] = one > 0 ? r / one : 0;
				effs[i][rd] = one_cpu > 0 ? pcpu / one_cpu : 0;
			}
		}
	}
	if (rounds > 1 && max_lcores > 1) {
		printf("\n%d interleaved rounds: two lcores against one\n"
		       "%-10s %14s %16s %8s %16s\n", rounds, "policy",
		       "scaling median", "(min..max)", "eff", "(min..max)");
		for (unsigned int i = 0; i < RTE_DIM(pol); i++) {
			if (argc > 3 && strcmp(argv[3], "all") &&
			    strcmp(argv[3], pol[i].name))
				continue;
			double ms = median(scal[i], (unsigned int)rounds);
			double me = median(effs[i], (unsigned int)rounds);

			printf("%-10s %13.2fx %7.2f..%-7.2f %8.2f %7.2f..%-7.2f\n",
			       pol[i].name, ms, scal[i][0],
			       scal[i][rounds - 1], me, effs[i][0],
			       effs[i][rounds - 1]);
		}
	}
	rte_free(mem);
	uvtd_fini();
	return 0;
}
