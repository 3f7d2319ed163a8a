/* SPDX-License-Identifier: BSD-3-Clause
 * vtd-perf: EAL start-up by the house rules.
 *
 * Every DPDK process of uvtd runs with --no-pci (or an explicit allow-list)
 * and a file prefix of its own: without --no-pci, DPDK would probe this
 * machine's own NIC. So:
 *   - no EAL options at all: safe defaults (two lcores from our affinity,
 *     --no-pci, --file-prefix vtd-perf-<pid>, --no-telemetry, quiet EAL
 *     logs; hugepages with --in-memory when some are free to us, else
 *     --no-huge -m 512, IOVA as VA);
 *   - user EAL options: used as given, plus --no-pci unless they allow-list
 *     devices (-a/--allow), plus our file prefix unless they chose one.
 * At exit the runtime folder of our own prefix is removed (EAL leaves it
 * behind even with --in-memory). A prefix the user chose is left alone: it
 * may belong to another process.
 *
 * EAL's log goes to stderr, not to its default stdout, so that --json
 * output stays one clean document.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_log.h>

#include "vtd_perf.h"

#define MAX_EAL_ARGS 96

static bool eal_up;
static bool own_prefix;
static char prefix[64];
static char runtime_dir[PATH_MAX];

static bool starts_with(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* "a,b": the first two CPUs we may run on (lcore 0 on the first). */
static void default_lcores(char *buf, size_t len)
{
	cpu_set_t set;
	int found = 0;

	snprintf(buf, len, "0");
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return;
	buf[0] = '\0';
	for (int cpu = 0; cpu < CPU_SETSIZE && found < 2; cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		size_t used = strlen(buf);

		snprintf(buf + used, len - used, "%s%d", found ? "," : "", cpu);
		found++;
	}
	if (found == 0)
		snprintf(buf, len, "0");
}

/* Whether hugepages are usable here: root (IOVA as PA needs pagemap),
 * hugetlbfs mounted, and at least 64 free 2 MiB pages (128 MiB: enough for
 * EAL and later driver runs without starving parallel tests). */
static bool hugepages_available(void)
{
	char line[512];
	bool mounted = false;
	long free_pages = 0;
	FILE *f;

	if (geteuid() != 0)
		return false;
	f = fopen("/proc/mounts", "r");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (strstr(line, " hugetlbfs "))
				mounted = true;
		fclose(f);
	}
	f = fopen("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "r");
	if (f) {
		if (fscanf(f, "%ld", &free_pages) != 1)
			free_pages = 0;
		fclose(f);
	}
	return mounted && free_pages >= 64;
}

/* Where EAL puts the runtime folder of a prefix (eal_create_runtime_dir):
 * /var/run/dpdk/<prefix> for root, else under XDG_RUNTIME_DIR or /tmp. */
static void guess_runtime_dir(void)
{
	const char *base = "/var/run";

	if (getuid() != 0) {
		base = getenv("XDG_RUNTIME_DIR");
		if (base == NULL || *base == '\0')
			base = "/tmp";
	}
	snprintf(runtime_dir, sizeof(runtime_dir), "%s/dpdk/%s", base, prefix);
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
			struct FTW *ftw)
{
	if (remove(path) != 0 && errno != ENOENT)
		fprintf(stderr, "vtd-perf: could not remove %s: %s\n", path,
			strerror(errno));
	return 0;
}

static void remove_runtime_dir(void)
{
	/* Never remove anything that is not the folder of our own prefix. */
	if (!own_prefix || runtime_dir[0] == '\0' || prefix[0] == '\0')
		return;
	size_t dl = strlen(runtime_dir), pl = strlen(prefix);

	if (dl < pl || strcmp(runtime_dir + dl - pl, prefix) != 0)
		return;
	if (access(runtime_dir, F_OK) == 0)
		nftw(runtime_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int perf_eal_init(const char *prog, int argc, char **argv,
		  struct perf_ctx *ctx)
{
	static char lcores[32], prefix_arg[96];
	char *eargv[MAX_EAL_ARGS + 16];
	int n = 0;
	bool has_prefix = false, has_nopci = false, has_allow = false;

	if (argc > MAX_EAL_ARGS) {
		fprintf(stderr, "vtd-perf: too many EAL options (%d)\n", argc);
		return -1;
	}
	eargv[n++] = (char *)prog;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (starts_with(a, "--file-prefix")) {
			has_prefix = true;
			/* Remember it for messages; "--file-prefix X" or "=X". */
			const char *v = strchr(a, '=') ? strchr(a, '=') + 1 :
				(i + 1 < argc ? argv[i + 1] : "");
			snprintf(prefix, sizeof(prefix), "%s", v);
		} else if (strcmp(a, "--no-pci") == 0) {
			has_nopci = true;
		} else if (starts_with(a, "-a") || starts_with(a, "--allow") ||
			   starts_with(a, "-w") || starts_with(a, "--pci-whitelist")) {
			has_allow = true;
		}
		eargv[n++] = argv[i];
	}
	if (!has_prefix) {
		own_prefix = true;
		snprintf(prefix, sizeof(prefix), "vtd-perf-%d", (int)getpid());
		snprintf(prefix_arg, sizeof(prefix_arg), "--file-prefix=%s", prefix);
		eargv[n++] = prefix_arg;
	}
	if (!has_nopci && !has_allow)
		eargv[n++] = (char *)"--no-pci";
	if (argc == 0) {
		default_lcores(lcores, sizeof(lcores));
		eargv[n++] = (char *)"-l";
		eargv[n++] = lcores;
		eargv[n++] = (char *)"--no-telemetry";
		eargv[n++] = (char *)"--log-level=lib.eal:error";
		/* --no-huge implies legacy memory, which EAL refuses to
		 * combine with --in-memory; it leaves no hugepage file
		 * behind anyway. */
		if (hugepages_available()) {
			eargv[n++] = (char *)"--in-memory";
		} else {
			eargv[n++] = (char *)"--no-huge";
			eargv[n++] = (char *)"-m";
			eargv[n++] = (char *)"512";
		}
	}
	eargv[n] = NULL;
	if (own_prefix)
		guess_runtime_dir();

	rte_openlog_stream(stderr);
	if (rte_eal_init(n, eargv) < 0) {
		fprintf(stderr, "vtd-perf: EAL did not start: %s\n",
			rte_strerror(rte_errno));
		fprintf(stderr, "vtd-perf: EAL arguments were:");
		for (int i = 1; i < n; i++)
			fprintf(stderr, " %s", eargv[i]);
		fputc('\n', stderr);
		remove_runtime_dir();
		return -1;
	}
	eal_up = true;
	if (own_prefix)
		snprintf(runtime_dir, sizeof(runtime_dir), "%s",
			 rte_eal_get_runtime_dir());
	ctx->lcores = rte_lcore_count();
	ctx->iova_mode = rte_eal_iova_mode() == RTE_IOVA_PA ? "PA" : "VA";
	return 0;
}

void perf_eal_fini(void)
{
	if (eal_up) {
		eal_up = false;
		rte_eal_cleanup();
	}
	remove_runtime_dir();
}
