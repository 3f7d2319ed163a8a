/* SPDX-License-Identifier: BSD-3-Clause
 * uvtd-bench: runs inside the QEMU guest (test/qemu/rig, booted with
 * intel_iommu=off so that the unit is ours) and times uvtd's map+unmap of
 * 4 KiB pages on QEMU's real (emulated-by-QEMU) VT-d unit, per flush
 * policy: the other half of test/qemu/bench-vs-vfio (docs/benchmarks.md).
 *
 *   uvtd-bench [EAL options] -- [--dev SSSS:BB:DD.F] [--pairs N | --seconds S]
 *              [--warmup W] [--repeat R] [--phases P,...] [--uvtd ARGS]
 *              [--no-mark] [--cpu-marks]
 *
 * EAL needs hugepages and IOVA as PA (the unit is given physical
 * addresses): e.g. -l 0 --no-pci --iova-mode=pa --file-prefix uvtd-bench.
 *
 * Phases, in the order given (default strict,batched:16,batched:64,lazy),
 * each a domain of that policy with the device attached, bracketed by two
 * trace marks (bench_mark.h) and reported by one BENCH-RESULT line:
 *   empty          (always first) nothing between the marks
 *   POLICY         pairs one at a time: uvtd_map of one page, then
 *                  uvtd_unmap of it
 *   POLICY:B       pairs as rounds of uvtd_map_burst of B pages, then
 *                  uvtd_unmap_burst of them
 * A phase runs exactly N pairs (--pairs: for trace counting), or rounds of
 * CHUNK pairs until S seconds have passed (--seconds: for timing); with
 * --repeat R the list of phases runs R times (one result line each, rep=).
 * A lazy phase ends with uvtd_flush inside the timed window, so that every
 * invalidation its pairs owe is paid for and counted.
 *
 * The result line carries the service's own counters for the phase (svc_*:
 * descriptors by kind, IQT writes, waits, from uvtd_stats_get), which the
 * host compares with what QEMU's trace says the unit processed.
 *
 * Exit: 0 done; 1 a call failed; 2 bad usage, or no unit or device.
 */
#include "bench_mark.h"
#include "guest_util.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_memory.h>

#include "uvtd.h"

#define PAGE 4096ull
#define MAX_BURST 256 /* uvtd's burst limit (UVTD_BURST_MAX) */
#define MAX_PHASES 16
/* Pairs between two clock reads in a --seconds phase (a multiple of every
 * burst size that divides it; others are refused). */
#define CHUNK 1024

struct phase_spec {
	enum uvtd_policy policy;
	unsigned int burst;   /* 0: one pair at a time through uvtd_map/unmap */
	char name[24];
};

struct opts {
	const char *dev;
	uint64_t pairs;
	uint64_t warmup;
	double seconds;   /* 0: exactly `pairs` pairs */
	unsigned int repeat;
	bool mark;
	bool cpu_marks;
	char uvtd_args[256];
	unsigned int nphases;
	struct phase_spec phases[MAX_PHASES];
};

static void usage(const char *prog)
{
	fprintf(stderr,
		"Usage: %s [EAL options] -- [--dev SSSS:BB:DD.F] "
		"[--pairs N | --seconds S]\n"
		"          [--warmup W] [--repeat R] [--phases P,...] [--uvtd ARGS] "
		"[--no-mark]\n"
		"  --dev      the device to attach (default 0000:00:01.0, edu)\n"
		"  --pairs    timed map+unmap pairs per phase (default 100000)\n"
		"  --seconds  instead: pairs in rounds of %d until S seconds passed\n"
		"  --repeat   run the list of phases R times (default 1)\n"
		"  --warmup   untimed pairs before each phase (default 512)\n"
		"  --phases   POLICY or POLICY:BURST, comma-separated (default\n"
		"             strict,batched:16,batched:64,lazy; burst max %d)\n"
		"  --uvtd     more uvtd_init() keys, appended to dmar=sys\n"
		"  --no-mark  do not mark the QEMU trace\n"
		"  --cpu-marks  print a console mark and idle around each phase\n"
		"             (the host reads QEMU's CPU time there)\n",
		prog, CHUNK, MAX_BURST);
}

static int parse_phase(const char *word, struct phase_spec *p)
{
	static const struct { const char *name; enum uvtd_policy p; } pol[] = {
		{ "strict", UVTD_POLICY_STRICT },
		{ "batched", UVTD_POLICY_BATCHED },
		{ "lazy", UVTD_POLICY_LAZY },
		{ "auto", UVTD_POLICY_AUTO },
	};
	char buf[32], *colon;
	uint64_t b = 0;
	size_t i;

	if (strlen(word) >= sizeof(buf)) {
		fprintf(stderr, "uvtd-bench: --phases: '%s' is too long\n", word);
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", word);
	colon = strchr(buf, ':');
	if (colon) {
		*colon = '\0';
		if (bench_parse_u64("uvtd-bench", "--phases burst", colon + 1, 1, MAX_BURST, &b))
			return -EINVAL;
		if (CHUNK % b) {
			fprintf(stderr, "uvtd-bench: --phases: burst %" PRIu64
				" does not divide %d\n", b, CHUNK);
			return -EINVAL;
		}
	}
	for (i = 0; i < sizeof(pol) / sizeof(pol[0]); i++)
		if (strcmp(buf, pol[i].name) == 0)
			break;
	if (i == sizeof(pol) / sizeof(pol[0])) {
		fprintf(stderr, "uvtd-bench: --phases: no policy '%s' (strict, "
			"batched, lazy, auto)\n", buf);
		return -EINVAL;
	}
	p->policy = pol[i].p;
	p->burst = (unsigned int)b;
	if (b)
		snprintf(p->name, sizeof(p->name), "%s%u", pol[i].name, p->burst);
	else
		snprintf(p->name, sizeof(p->name), "%s", pol[i].name);
	return 0;
}

static int parse_phases(const char *list, struct opts *o)
{
	char buf[256], *save = NULL, *w;

	if (strlen(list) >= sizeof(buf)) {
		fprintf(stderr, "uvtd-bench: --phases: list too long\n");
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", list);
	o->nphases = 0;
	for (w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (o->nphases == MAX_PHASES) {
			fprintf(stderr, "uvtd-bench: --phases: more than %d\n",
				MAX_PHASES);
			return -EINVAL;
		}
		if (parse_phase(w, &o->phases[o->nphases++]))
			return -EINVAL;
	}
	if (o->nphases == 0) {
		fprintf(stderr, "uvtd-bench: --phases: nothing given\n");
		return -EINVAL;
	}
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "pairs", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "phases", required_argument, NULL, 'p' },
		{ "uvtd", required_argument, NULL, 'u' },
		{ "seconds", required_argument, NULL, 's' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "no-mark", no_argument, NULL, 'M' },
		{ "cpu-marks", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	o->dev = "0000:00:01.0";
	o->pairs = 100000;
	o->warmup = 512;
	o->seconds = 0;
	o->repeat = 1;
	o->mark = true;
	o->cpu_marks = false;
	snprintf(o->uvtd_args, sizeof(o->uvtd_args), "dmar=sys");
	if (parse_phases("strict,batched:16,batched:64,lazy", o))
		return -EINVAL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o->dev = optarg; break;
		case 'n':
			if (bench_parse_u64("uvtd-bench", "--pairs", optarg, 1, UINT64_C(1) << 40, &o->pairs))
				return -EINVAL;
			break;
		case 'w':
			if (bench_parse_u64("uvtd-bench", "--warmup", optarg, 0, UINT64_C(1) << 40, &o->warmup))
				return -EINVAL;
			break;
		case 'p':
			if (parse_phases(optarg, o))
				return -EINVAL;
			break;
		case 'u':
			if ((size_t)snprintf(o->uvtd_args, sizeof(o->uvtd_args),
					     "dmar=sys,%s", optarg) >=
			    sizeof(o->uvtd_args)) {
				fprintf(stderr, "uvtd-bench: --uvtd: too long\n");
				return -EINVAL;
			}
			break;
		case 's':
			if (bench_parse_seconds("uvtd-bench", optarg, &o->seconds))
				return -EINVAL;
			break;
		case 'r':
			if (bench_parse_u64("uvtd-bench", "--repeat", optarg, 1, 1000, &v))
				return -EINVAL;
			o->repeat = (unsigned int)v;
			break;
		case 'M': o->mark = false; break;
		case 'C': o->cpu_marks = true; break;
		case 'h': usage(argv[0]); exit(0);
		default: return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "uvtd-bench: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* The pages mapped: physical addresses of MAX_BURST hugepage-backed pages
 * (IOVA-as-PA mode: the IOVA DPDK reports is the physical address). */
static uint64_t phys[MAX_BURST];
static struct uvtd_map_req mreq[MAX_BURST];
static struct uvtd_unmap_req ureq[MAX_BURST];

static int run_pairs(int dom, const struct phase_spec *p, uint64_t n)
{
	int rc;

	if (p->burst == 0) {
		for (uint64_t i = 0; i < n; i++) {
			uint64_t iova;

			rc = uvtd_map(dom, phys[0], PAGE, UVTD_PERM_RW, &iova);
			if (rc == 0)
				rc = uvtd_unmap(dom, iova, PAGE);
			if (rc) {
				fprintf(stderr, "uvtd-bench: %s: pair %" PRIu64
					": %s\n", p->name, i, strerror(-rc));
				return rc;
			}
		}
		return 0;
	}
	while (n > 0) {
		unsigned int k = n < p->burst ? (unsigned int)n : p->burst;

		for (unsigned int i = 0; i < k; i++) {
			mreq[i].phys = phys[i];
			mreq[i].len = PAGE;
			mreq[i].perm = UVTD_PERM_RW;
		}
		rc = uvtd_map_burst(dom, mreq, k);
		if (rc != (int)k) {
			fprintf(stderr, "uvtd-bench: %s: map_burst of %u: %d\n",
				p->name, k, rc);
			return rc < 0 ? rc : -EIO;
		}
		for (unsigned int i = 0; i < k; i++) {
			ureq[i].iova = mreq[i].iova;
			ureq[i].len = PAGE;
		}
		rc = uvtd_unmap_burst(dom, ureq, k);
		if (rc != (int)k) {
			fprintf(stderr, "uvtd-bench: %s: unmap_burst of %u: %d\n",
				p->name, k, rc);
			return rc < 0 ? rc : -EIO;
		}
		n -= k;
	}
	return 0;
}

static int phase(int dev, const struct phase_spec *p, unsigned int rep,
		 const struct opts *o)
{
	struct uvtd_domain_conf conf;
	struct uvtd_stats s0, s1;
	uint64_t t0, t1, n = 0, limit = (uint64_t)(o->seconds * 1e9);
	unsigned int cpu0 = 0, cpu1 = 0;
	char extra[320];
	int dom, rc, unit = uvtd_dev_unit(dev);

	if (unit < 0)
		return unit;
	uvtd_domain_conf_init(&conf);
	conf.policy = p->policy;
	conf.unit = (unsigned int)unit;
	dom = uvtd_domain_create(&conf);
	if (dom < 0) {
		fprintf(stderr, "uvtd-bench: %s: domain: %s\n", p->name, strerror(-dom));
		return dom;
	}
	rc = uvtd_attach(dom, dev);
	if (rc) {
		fprintf(stderr, "uvtd-bench: %s: attach: %s\n", p->name, strerror(-rc));
		uvtd_domain_destroy(dom);
		return rc;
	}
	rc = run_pairs(dom, p, o->warmup);
	if (rc == 0 && p->policy == UVTD_POLICY_LAZY)
		rc = uvtd_flush(dom);
	if (rc == 0)
		rc = uvtd_stats_get(&s0);
	if (rc)
		goto out;
	if (o->cpu_marks)
		cpu0 = bench_cpu_mark();
	if (o->mark)
		bench_mark();
	t0 = guest_now_ns();
	if (limit == 0) {
		rc = run_pairs(dom, p, o->pairs);
		n = o->pairs;
	} else {
		do {
			rc = run_pairs(dom, p, CHUNK);
			n += CHUNK;
		} while (rc == 0 && guest_now_ns() - t0 < limit);
	}
	/* Lazy pairs owe their invalidation until a flush: pay it in the
	 * window, so that the rate and the counts include it. */
	if (rc == 0 && p->policy == UVTD_POLICY_LAZY)
		rc = uvtd_flush(dom);
	t1 = guest_now_ns();
	if (o->mark)
		bench_mark();
	if (o->cpu_marks)
		cpu1 = bench_cpu_mark();
	if (rc == 0)
		rc = uvtd_stats_get(&s1);
	if (rc)
		goto out;
	snprintf(extra, sizeof(extra),
		 "burst=%u rep=%u policy=%s svc_descs=%" PRIu64 " svc_iqt=%" PRIu64
		 " svc_psi=%" PRIu64 " svc_dsi=%" PRIu64 " svc_global=%" PRIu64
		 " svc_cc=%" PRIu64 " svc_waits=%" PRIu64, p->burst, rep,
		 uvtd_policy_name(uvtd_domain_policy(dom)), s1.descs - s0.descs,
		 s1.iqt_writes - s0.iqt_writes, s1.psi - s0.psi, s1.dsi - s0.dsi,
		 s1.global - s0.global, s1.cc - s0.cc,
		 s1.unit_waits - s0.unit_waits);
	if (o->cpu_marks) {
		size_t len = strlen(extra);

		snprintf(extra + len, sizeof(extra) - len, " cpu_marks=%u,%u",
			 cpu0, cpu1);
	}
	bench_result("uvtd", p->name, n, t1 - t0, extra);
out:
	uvtd_detach(dom, dev);
	uvtd_domain_destroy(dom);
	return rc;
}

int main(int argc, char **argv)
{
	struct uvtd_unit_info ui;
	struct opts o;
	uint8_t *buf = NULL;
	int ret, dev = -1, rc = 1;

	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "uvtd-bench: rte_eal_init: %s\n", rte_strerror(rte_errno));
		return 2;
	}
	argv[ret] = argv[0];
	if (parse_opts(argc - ret, argv + ret, &o)) {
		usage(argv[0]);
		rc = 2;
		goto eal;
	}
	if (o.mark && bench_mark_open()) {
		rc = 2;
		goto eal;
	}
	ret = uvtd_init(o.uvtd_args);
	if (ret) {
		fprintf(stderr, "uvtd-bench: uvtd_init(%s): %s\n", o.uvtd_args,
			strerror(-ret));
		rc = 2;
		goto marks;
	}
	dev = uvtd_dev_open_pci(o.dev);
	if (dev < 0) {
		fprintf(stderr, "uvtd-bench: device %s: %s\n", o.dev, strerror(-dev));
		rc = 2;
		goto fini;
	}
	if (uvtd_unit_info_get((unsigned int)uvtd_dev_unit(dev), &ui) == 0)
		printf("uvtd-bench: %s on unit %s: caching mode %d, psi %d, "
		       "queue %u entries\n", o.dev, ui.name, ui.caching_mode,
		       ui.psi, ui.qi_entries);
	buf = rte_malloc("uvtd-bench", MAX_BURST * PAGE, PAGE);
	if (buf == NULL) {
		fprintf(stderr, "uvtd-bench: rte_malloc of %llu bytes failed\n",
			MAX_BURST * PAGE);
		goto fini;
	}
	for (unsigned int i = 0; i < MAX_BURST; i++) {
		phys[i] = rte_mem_virt2iova(buf + i * PAGE);
		if (phys[i] == RTE_BAD_IOVA) {
			fprintf(stderr, "uvtd-bench: no IOVA for page %u\n", i);
			goto fini;
		}
	}
	if (o.mark) {
		bench_mark();
		bench_mark();
		bench_result("uvtd", "empty", 0, 0, "burst=0");
	}
	for (unsigned int r = 0; r < o.repeat; r++)
		for (unsigned int i = 0; i < o.nphases; i++)
			if (phase(dev, &o.phases[i], r, &o))
				goto fini;
	rc = 0;
fini:
	rte_free(buf);
	if (dev >= 0)
		uvtd_dev_close(dev);
	ret = uvtd_fini();
	if (ret && rc == 0) {
		fprintf(stderr, "uvtd-bench: uvtd_fini: %s\n", strerror(-ret));
		rc = 1;
	}
marks:
	bench_mark_close();
eal:
	rte_eal_cleanup();
	return rc;
}
