/* SPDX-License-Identifier: BSD-3-Clause
 * vtd-perf: how fast the emulated VT-d unit, the uvtd VT-d driver on it and
 * the uvtd service (per flush policy, caching mode off and on) are.
 *
 *   vtd-perf [EAL options] -- [vtd-perf options]
 *   vtd-perf [vtd-perf options]          (no "--": EAL gets safe defaults)
 *
 * Order of work: parse and check every option (bad usage exits 2 before
 * anything starts), start EAL, run the selected runs one after the other,
 * print the report (table or --json), clean up, exit 0 / 1 (a run failed).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vtd_perf.h"

#define DEFAULT_PRESET   "server"
#define DEFAULT_DURATION 0.25
#define DEFAULT_BATCH    16u
#define DEFAULT_BURST    32u
#define MAX_BURST        256u   /* UVTD_BURST_MAX */
#define DEFAULT_RESIDENT 1024u
#define MAX_LCORES       128u
#define SYS_DMAR         "/sys/firmware/acpi/tables/DMAR"
#define MAX_BATCH        127u   /* + its wait fits a one-page 256-bit queue */
#define MAX_RUNS         64u

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
"Usage: %s [EAL options] -- [vtd-perf options]\n"
"       %s [vtd-perf options]\n"
"\n"
"Measures how fast uvtd is, layer by layer, on an emulated VT-d unit (no\n"
"hardware, no VM): the emulator alone (translations, queued invalidations),\n"
"the VT-d driver (4 KiB and 2 MiB map+unmap pairs, strict and batched), and\n"
"the service (pairs per policy, caching mode off and on, one process: pairs\n"
"per second, map/unmap latency, descriptors, waits, IQT writes, PSI and DSI\n"
"per pair, modelled hypervisor time, stale uses). Prints a table, or one\n"
"JSON document.\n"
"\n"
"The unit:\n"
"  --emu PRESET        capabilities of a preset (default: %s, a modern\n"
"                      server unit; qemu-cm-on is what QEMU's intel-iommu\n"
"                      reports with caching-mode=on). See --list-presets.\n"
"  --emu-cap HEX       CAP register value instead of the preset's\n"
"  --emu-ecap HEX      ECAP register value instead of the preset's\n"
"                      (a combination the specification or the emulator\n"
"                      rejects is bad usage: the reason is printed, exit 2)\n"
"  --mode MODE         inline (default): an IQT write processes the queue\n"
"                      inside the write, as QEMU does in a VM exit;\n"
"                      threaded: a hardware thread fetches asynchronously\n"
"  --no-stale-check    do not compare every cached translation with a fresh\n"
"                      walk (the checker is on by default, as in the tests)\n"
"  --list-presets      print the presets and exit\n"
"                      Service runs use two units made of these: one with\n"
"                      CAP.CM cleared (runs *-cm0), one with it set (*-cm1).\n"
"  --dmar PATH|sys     service runs on the real units of a DMAR table (sys:\n"
"                      the firmware's) instead; only inside a VM given to\n"
"                      uvtd (refused where %s is missing)\n"
"  --dev PCI           with --dmar: the device whose domain the runs use\n"
"\n"
"The runs:\n"
"  --runs A,B,...      run only these, in table order (default: all)\n"
"  --list-runs         print the runs and exit\n"
"  --duration S        seconds per run (default %.1f), after a warm-up of a\n"
"                      tenth of it (at most 20 ms)\n"
"  --count N           stop each run after N operations instead\n"
"  --pairs N           the same, for pair runs: N map+unmap pairs\n"
"  --burst N           pairs per burst (service batched) and per wait\n"
"                      (driver batch runs) (default %u, 1..%u)\n"
"  --lcores N          lcores of every service run (default: 1, and every\n"
"                      EAL lcore for svc-random-*)\n"
"  --page-size 4k|2m   bytes per mapping of the service runs (default 4k)\n"
"  --split-domains     multi-lcore service runs: each lcore maps in a domain\n"
"                      (and device) of its own instead of sharing one\n"
"  --resident N        pages each service domain keeps mapped during the\n"
"                      run (default %u; a DSI under CM re-walks them all)\n"
"  --sample-every N    time (and probe with a device translation) one pair\n"
"                      in N (default %u)\n"
"  --batch N           invalidation descriptors (or waits) per wait\n"
"                      descriptor in inv-psi, inv-dsi, inv-wait\n"
"                      (default %u, 1..%u)\n"
"\n"
"Output:\n"
"  --json              print the report as one JSON document on stdout:\n"
"                      {\"unit\": {...}, \"runs\": [{\"name\": ..., \"status\": ...,\n"
"                      \"ops_per_sec\": ..., \"emu\": {...}}, ...]}\n"
"  --progress          a status line per second on stderr during long runs\n"
"                      (on by default when stderr is a terminal)\n"
"  --plant-skip-invalidation  test hook: service domains skip their unmap\n"
"                      invalidations (uvtd_debug_skip_unmap_invalidation),\n"
"                      so that strict and batched runs must fail\n"
"  -h, --help          this text\n"
"\n"
"EAL options: without any, vtd-perf starts EAL with -l <two CPUs> --no-pci\n"
"--file-prefix vtd-perf-<pid> --no-telemetry, and --in-memory on hugepages\n"
"when it is root and 64 or more 2 MiB pages are free on a mounted hugetlbfs,\n"
"else --no-huge -m 512. Given EAL options are used as they are, plus\n"
"--no-pci unless -a/--allow is among them and a file prefix of its own\n"
"unless --file-prefix is. EAL's runtime folder of vtd-perf's own prefix is\n"
"removed at exit.\n"
"\n"
"Exit status: 0 all runs passed or were skipped (a unit without the feature);\n"
"1 a run failed (the emulator's counts did not match the work submitted, a\n"
"stale use under strict or batched, an error, or EAL did not start); 2 bad\n"
"usage (also --dmar where there is no DMAR table).\n"
"\n"
"Runs:\n", prog, prog, DEFAULT_PRESET, SYS_DMAR, DEFAULT_DURATION,
		DEFAULT_BURST, MAX_BURST, DEFAULT_RESIDENT,
		PERF_SAMPLE_EVERY_DEFAULT, DEFAULT_BATCH, MAX_BATCH);
	for (unsigned int t = 0; perf_run_tables[t]; t++)
		for (const struct perf_run_desc *d = perf_run_tables[t]; d->name; d++)
			fprintf(out, "  %-16s %s\n", d->name, d->help);
	fprintf(out, "\nExamples:\n"
		"  %s                                  every run, server unit\n"
		"  %s -- --emu qemu-cm-on --json       QEMU's vIOMMU, as JSON\n"
		"  %s -- --runs psi-wait --duration 5  the strict-unmap round trip\n"
		"  %s -- --runs svc-auto-cm1 --lcores 2 --progress --duration 10\n"
		"See docs/vtd-perf.md.\n", prog, prog, prog, prog);
}

static void list_presets(void)
{
	for (unsigned int i = 0; vtdemu_preset_name(i); i++) {
		struct vtdemu_caps c;

		vtdemu_preset(vtdemu_preset_name(i), &c);
		printf("%-26s CAP 0x%016" PRIx64 " ECAP 0x%016" PRIx64 "%s\n"
		       "%-26s %s\n", vtdemu_preset_name(i), c.cap, c.ecap,
		       strcmp(vtdemu_preset_name(i), DEFAULT_PRESET) ? "" :
		       " (default)", "", vtdemu_preset_help(i));
	}
}

static void list_runs(void)
{
	for (unsigned int t = 0; perf_run_tables[t]; t++)
		for (const struct perf_run_desc *d = perf_run_tables[t]; d->name; d++)
			printf("%-16s %-6s %-12s %s\n", d->name, d->layer, d->op,
			       d->help);
}

__attribute__((format(printf, 1, 2), noreturn))
static void bad_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("vtd-perf: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (try --help)\n", stderr);
	exit(PERF_EXIT_USAGE);
}

static uint64_t parse_hex(const char *opt, const char *s)
{
	char *end;

	errno = 0;
	uint64_t v = strtoull(s, &end, 16);

	if (errno || end == s || *end != '\0' || s[0] == '-')
		bad_usage("%s: '%s' is not a hexadecimal 64-bit value", opt, s);
	return v;
}

static uint64_t parse_uint(const char *opt, const char *s, uint64_t min,
			   uint64_t max)
{
	char *end;

	errno = 0;
	uint64_t v = strtoull(s, &end, 0);

	if (errno || end == s || *end != '\0' || s[0] == '-' || v < min || v > max)
		bad_usage("%s: '%s' is not a number from %" PRIu64 " to %" PRIu64,
			  opt, s, min, max);
	return v;
}

/* Options after "--" (or all of them without it). argv[0] is the program. */
static void parse_opts(int argc, char **argv, struct perf_opts *o)
{
	enum { O_EMU = 256, O_CAP, O_ECAP, O_MODE, O_NO_STALE, O_LIST_PRESETS,
	       O_RUNS, O_LIST_RUNS, O_DURATION, O_COUNT, O_BATCH, O_JSON,
	       O_PROGRESS, O_PAIRS, O_BURST, O_LCORES, O_PAGE_SIZE, O_RESIDENT,
	       O_SAMPLE, O_DMAR, O_DEV, O_PLANT, O_SPLIT };
	static const struct option longopts[] = {
		{ "emu", required_argument, NULL, O_EMU },
		{ "emu-cap", required_argument, NULL, O_CAP },
		{ "emu-ecap", required_argument, NULL, O_ECAP },
		{ "mode", required_argument, NULL, O_MODE },
		{ "no-stale-check", no_argument, NULL, O_NO_STALE },
		{ "list-presets", no_argument, NULL, O_LIST_PRESETS },
		{ "runs", required_argument, NULL, O_RUNS },
		{ "list-runs", no_argument, NULL, O_LIST_RUNS },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "count", required_argument, NULL, O_COUNT },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "json", no_argument, NULL, O_JSON },
		{ "progress", no_argument, NULL, O_PROGRESS },
		{ "pairs", required_argument, NULL, O_PAIRS },
		{ "burst", required_argument, NULL, O_BURST },
		{ "lcores", required_argument, NULL, O_LCORES },
		{ "page-size", required_argument, NULL, O_PAGE_SIZE },
		{ "resident", required_argument, NULL, O_RESIDENT },
		{ "sample-every", required_argument, NULL, O_SAMPLE },
		{ "dmar", required_argument, NULL, O_DMAR },
		{ "dev", required_argument, NULL, O_DEV },
		{ "plant-skip-invalidation", no_argument, NULL, O_PLANT },
		{ "split-domains", no_argument, NULL, O_SPLIT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t cap_v = 0, ecap_v = 0;
	int c;

	opterr = 0; /* our own messages, with the exit code 2 */
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case O_EMU: o->preset = optarg; break;
		case O_CAP: cap_v = parse_hex("--emu-cap", optarg); o->cap_set = true; break;
		case O_ECAP: ecap_v = parse_hex("--emu-ecap", optarg); o->ecap_set = true; break;
		case O_MODE:
			if (strcmp(optarg, "inline") == 0)
				o->mode = VTDEMU_INLINE;
			else if (strcmp(optarg, "threaded") == 0)
				o->mode = VTDEMU_THREADED;
			else
				bad_usage("--mode: '%s' is neither inline nor threaded",
					  optarg);
			break;
		case O_NO_STALE: o->stale_check = false; break;
		case O_LIST_PRESETS: list_presets(); exit(PERF_EXIT_OK);
		case O_RUNS: o->runs = optarg; break;
		case O_LIST_RUNS: list_runs(); exit(PERF_EXIT_OK);
		case O_DURATION: {
			char *end;

			errno = 0;
			o->duration_s = strtod(optarg, &end);
			if (errno || end == optarg || *end != '\0' ||
			    !(o->duration_s > 0 && o->duration_s <= 86400))
				bad_usage("--duration: '%s' is not a number of seconds "
					  "above 0", optarg);
			break;
		}
		case O_COUNT:
			o->count = parse_uint("--count", optarg, 1, UINT64_MAX / 2);
			break;
		case O_BATCH:
			o->batch = (unsigned int)parse_uint("--batch", optarg, 1,
							     MAX_BATCH);
			break;
		case O_PAIRS:
			o->count = parse_uint("--pairs", optarg, 1, UINT64_MAX / 2);
			break;
		case O_BURST:
			o->burst = (unsigned int)parse_uint("--burst", optarg, 1,
							     MAX_BURST);
			break;
		case O_LCORES:
			o->lcores = (unsigned int)parse_uint("--lcores", optarg, 1,
							      MAX_LCORES);
			break;
		case O_PAGE_SIZE:
			if (strcmp(optarg, "4k") == 0 || strcmp(optarg, "4096") == 0)
				o->page_size = 4096;
			else if (strcmp(optarg, "2m") == 0 ||
				 strcmp(optarg, "2097152") == 0)
				o->page_size = 2ull << 20;
			else
				bad_usage("--page-size: '%s' is neither 4k nor 2m",
					  optarg);
			break;
		case O_RESIDENT:
			o->resident = (unsigned int)parse_uint("--resident", optarg,
								0, 1u << 20);
			break;
		case O_SAMPLE:
			o->sample_every = (unsigned int)parse_uint("--sample-every",
								    optarg, 1, 1u << 20);
			break;
		case O_DMAR: o->dmar = optarg; break;
		case O_DEV: o->dev = optarg; break;
		case O_PLANT: o->plant_skip_inv = true; break;
		case O_SPLIT: o->split_domains = true; break;
		case O_JSON: o->json = true; break;
		case O_PROGRESS: o->progress = true; break;
		case 'h': usage(stdout, "vtd-perf"); exit(PERF_EXIT_OK);
		case ':': bad_usage("%s needs a value", argv[optind - 1]);
		default:
			/* Most likely an EAL option given without "--". */
			bad_usage("unknown option '%s'; EAL options go before "
				  "'--', vtd-perf's after it", argv[optind - 1]);
		}
	}
	if (optind < argc)
		bad_usage("unexpected argument '%s'", argv[optind]);
	/* Real units only where the firmware describes some: on a machine
	 * without a DMAR table (this project's hosts) there is nothing uvtd
	 * may touch, so refuse before EAL starts or /dev/mem is opened. */
	if (o->dmar) {
		if (access(SYS_DMAR, R_OK) != 0)
			bad_usage("--dmar: this machine has no DMAR table (%s): "
				  "no VT-d unit to run on; real units are for a "
				  "VM given to uvtd (test/qemu)", SYS_DMAR);
		if (strcmp(o->dmar, "sys") != 0 && access(o->dmar, R_OK) != 0)
			bad_usage("--dmar: cannot read '%s'", o->dmar);
		if (o->dev == NULL)
			bad_usage("--dmar needs --dev PCI: the device whose domain "
				  "the runs use");
	} else if (o->dev) {
		bad_usage("--dev goes with --dmar");
	}

	int rc = vtdemu_preset(o->preset, &o->caps);

	if (rc < 0)
		bad_usage("--emu: no preset named '%s' (--list-presets shows them)",
			  o->preset);
	if (o->cap_set)
		o->caps.cap = cap_v;
	if (o->ecap_set)
		o->caps.ecap = ecap_v;
	char err[256] = "";

	if (vtdemu_caps_check(&o->caps, err, sizeof(err)) < 0) {
		fprintf(stderr, "vtd-perf: the emulator rejects VER 0x%" PRIx32
			" CAP 0x%016" PRIx64 " ECAP 0x%016" PRIx64 ": %s\n",
			o->caps.ver, o->caps.cap, o->caps.ecap, err);
		exit(PERF_EXIT_USAGE);
	}
}

/* --runs A,B into the run list (table order, each once); all runs without. */
static unsigned int select_runs(const char *spec,
				const struct perf_run_desc **out)
{
	unsigned int n = 0;

	if (spec != NULL) {
		char *copy = strdup(spec), *save = NULL;

		if (copy == NULL)
			bad_usage("out of memory");
		for (char *tok = strtok_r(copy, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save))
			if (perf_run_find(tok) == NULL)
				bad_usage("--runs: no run named '%s' (--list-runs "
					  "shows them)", tok);
		free(copy);
	}
	for (unsigned int t = 0; perf_run_tables[t]; t++) {
		for (const struct perf_run_desc *d = perf_run_tables[t]; d->name; d++) {
			bool want = spec == NULL;

			if (spec) {
				/* Whole-name match inside the comma list. */
				size_t len = strlen(d->name);

				for (const char *p = spec; (p = strstr(p, d->name)); p += len)
					if ((p == spec || p[-1] == ',') &&
					    (p[len] == ',' || p[len] == '\0'))
						want = true;
			}
			if (want && n < MAX_RUNS)
				out[n++] = d;
		}
	}
	if (n == 0)
		bad_usage("--runs: nothing selected");
	return n;
}

static void on_signal(int sig)
{
	(void)sig;
	perf_stop = 1;
}

int main(int argc, char **argv)
{
	struct perf_opts o = {
		.preset = DEFAULT_PRESET,
		.mode = VTDEMU_INLINE,
		.stale_check = true,
		.duration_s = DEFAULT_DURATION,
		.batch = DEFAULT_BATCH,
		.burst = DEFAULT_BURST,
		.page_size = 4096,
		.resident = DEFAULT_RESIDENT,
		.sample_every = PERF_SAMPLE_EVERY_DEFAULT,
	};
	struct perf_ctx ctx = { .opts = &o };
	const struct perf_run_desc *sel[MAX_RUNS];
	int sep = -1;

	/* EAL options before "--", ours after; without "--", all are ours. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			sep = i;
			break;
		}
	}
	int eal_argc = sep < 0 ? 0 : sep - 1;
	char **eal_argv = argv + 1;
	int app_argc = sep < 0 ? argc : argc - sep;
	char **app_argv = sep < 0 ? argv : argv + sep;
	char *saved = app_argv[0];

	app_argv[0] = argv[0]; /* getopt wants a program name first */
	parse_opts(app_argc, app_argv, &o);
	app_argv[0] = saved;
	unsigned int nsel = select_runs(o.runs, sel);

	if (perf_eal_init(argv[0], eal_argc, eal_argv, &ctx) < 0)
		return PERF_EXIT_FAILED;

	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	struct perf_result *unit = calloc(1, sizeof(*unit));
	struct perf_result *res = calloc(nsel, sizeof(*res));
	unsigned int done = 0;
	int status = PERF_EXIT_OK;

	if (unit == NULL || res == NULL) {
		fprintf(stderr, "vtd-perf: out of memory\n");
		free(unit);
		free(res);
		perf_eal_fini();
		return PERF_EXIT_FAILED;
	}
	perf_unit_describe(&o, unit);
	for (unsigned int i = 0; i < nsel && !perf_stop; i++) {
		perf_run_one(sel[i], &ctx, &res[done]);
		if (res[done].status == PERF_FAILED) {
			fprintf(stderr, "vtd-perf: %s FAILED: %s\n", sel[i]->name,
				res[done].reason);
			status = PERF_EXIT_FAILED;
		} else if (res[done].warning[0]) {
			fprintf(stderr, "vtd-perf: %s: warning: %s\n", sel[i]->name,
				res[done].warning);
		}
		done++;
	}
	if (o.json)
		perf_report_json(stdout, unit, res, done);
	else
		perf_report_human(stdout, unit, res, done);
	fflush(stdout);
	if (perf_stop) {
		fprintf(stderr, "vtd-perf: interrupted after %u of %u runs\n",
			done, nsel);
		status = PERF_EXIT_FAILED;
	}
	free(res);
	free(unit);
	perf_service_fini();
	perf_eal_fini();
	return status;
}
