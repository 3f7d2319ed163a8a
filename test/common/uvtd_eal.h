/* SPDX-License-Identifier: BSD-3-Clause
 * EAL start-up for uvtd test programs, by the house rules: --no-pci, a
 * file prefix of the test's own, no hugepage files left behind, and the
 * runtime folder (/var/run/dpdk/<prefix>) removed at exit, also on failure.
 *
 *   uvtd_test_eal_init(argv[0], UVTD_EAL_VA);  // --no-huge: IOVA as VA
 *   uvtd_test_eal_init(argv[0], UVTD_EAL_PA);  // hugepages, IOVA as PA;
 *                                              // returns -1 if unavailable
 */
#ifndef UVTD_EAL_H
#define UVTD_EAL_H

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>

enum uvtd_eal_mode {
	UVTD_EAL_VA,   /* --no-huge -m 512: runs anywhere */
	UVTD_EAL_PA,   /* hugepages, --iova-mode=pa (needs root + hugepages) */
	/* Hugepages with nothing preallocated (no -m): the heap grows by the
	 * page and an rte_free of whole pages gives them back, with memory
	 * events. Like PA, returns -1 without root or free hugepages. VA_DYN
	 * addresses may lie above an emulated unit's address width. */
	UVTD_EAL_VA_DYN,
	UVTD_EAL_PA_DYN,
};

static char uvtd_eal_prefix[64];

static void uvtd_eal_cleanup(void)
{
	char cmd[160];

	rte_eal_cleanup();
	/* The runtime folder holds the config and the telemetry socket. */
	snprintf(cmd, sizeof(cmd), "rm -rf /var/run/dpdk/%s", uvtd_eal_prefix);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove /var/run/dpdk/%s\n", uvtd_eal_prefix);
}

/* Extra EAL arguments can be given in UVTD_TEST_EAL_ARGS (space separated).
 * Returns 0, or -1 when EAL could not start (the caller skips with 77 in PA
 * mode). */
static inline int uvtd_test_eal_init(const char *prog, enum uvtd_eal_mode mode)
{
	char name[64], *argv[32];
	int argc = 0;
	static char extra[256];
	const char *env = getenv("UVTD_TEST_EAL_ARGS");

	snprintf(name, sizeof(name), "%s", prog);
	snprintf(uvtd_eal_prefix, sizeof(uvtd_eal_prefix), "uvtd-%s-%d",
		 basename(name), (int)getpid());
	static char prefix_arg[96];
	snprintf(prefix_arg, sizeof(prefix_arg), "--file-prefix=%s", uvtd_eal_prefix);

	argv[argc++] = (char *)"uvtd-test";
	argv[argc++] = (char *)"-l";
	argv[argc++] = (char *)"0-1";
	argv[argc++] = (char *)"--no-pci";
	argv[argc++] = prefix_arg;
	argv[argc++] = (char *)"--no-telemetry";
	argv[argc++] = (char *)"--log-level=lib.eal:error";
	if (mode == UVTD_EAL_VA) {
		argv[argc++] = (char *)"--no-huge";
		argv[argc++] = (char *)"-m";
		argv[argc++] = (char *)"512";
#if defined(__SANITIZE_ADDRESS__)
		/* IOVA = VA here, and an emulated unit reaches only memory
		 * below its host address width (CAP.MGAW: 39 bits on QEMU's
		 * presets). DPDK's default base (4 GiB) lies inside ASan's
		 * shadow, so EAL would map above 2^46: ask for low memory. */
		argv[argc++] = (char *)"--base-virtaddr=0x10000000";
#endif
	} else {
		/* Not in VA mode: --no-huge implies legacy memory, which EAL
		 * refuses to combine with --in-memory ("Option --legacy-mem is
		 * not compatible with --in-memory"); --no-huge leaves no
		 * hugepage files behind anyway. */
		argv[argc++] = (char *)"--in-memory";
		argv[argc++] = mode == UVTD_EAL_VA_DYN ?
			(char *)"--iova-mode=va" : (char *)"--iova-mode=pa";
		if (mode == UVTD_EAL_PA) {
			argv[argc++] = (char *)"-m";
			argv[argc++] = (char *)"256";
		}
	}
	if (env && *env) {
		snprintf(extra, sizeof(extra), "%s", env);
		for (char *tok = strtok(extra, " "); tok && argc < 30; tok = strtok(NULL, " "))
			argv[argc++] = tok;
	}
	argv[argc] = NULL;
	if (rte_eal_init(argc, argv) < 0)
		return -1;
	atexit(uvtd_eal_cleanup);
	return 0;
}

/* rte_eal_remote_launch/rte_eal_wait_lcore with happens-before edges that
 * ThreadSanitizer can see: Debian's DPDK is not instrumented, so the
 * synchronization inside EAL's launch and wait is invisible to it, and
 * everything a worker touched would be reported as racing with the main
 * lcore. A release/acquire pair on each side makes the edges explicit.
 * One launch per worker lcore at a time. */
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_pause.h>

struct uvtd_test_launch {
	lcore_function_t *fn;
	void *arg;
	int go, done;
};
static struct uvtd_test_launch uvtd_test_launches[RTE_MAX_LCORE];

static int uvtd_test_trampoline(void *unused)
{
	struct uvtd_test_launch *l = &uvtd_test_launches[rte_lcore_id()];
	int rc;

	(void)unused;
	while (!__atomic_load_n(&l->go, __ATOMIC_ACQUIRE))
		rte_pause();
	rc = l->fn(l->arg);
	__atomic_store_n(&l->done, 1, __ATOMIC_RELEASE);
	return rc;
}

static inline int uvtd_test_launch(lcore_function_t *fn, void *arg,
				   unsigned int lcore)
{
	struct uvtd_test_launch *l = &uvtd_test_launches[lcore];

	l->fn = fn;
	l->arg = arg;
	__atomic_store_n(&l->done, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&l->go, 1, __ATOMIC_RELEASE);
	return rte_eal_remote_launch(uvtd_test_trampoline, NULL, lcore);
}

/* Returns the worker's return value. */
static inline int uvtd_test_join(unsigned int lcore)
{
	struct uvtd_test_launch *l = &uvtd_test_launches[lcore];
	int rc = rte_eal_wait_lcore(lcore);

	while (!__atomic_load_n(&l->done, __ATOMIC_ACQUIRE))
		rte_pause();
	__atomic_store_n(&l->go, 0, __ATOMIC_RELAXED);
	return rc;
}

#endif /* UVTD_EAL_H */
