/* SPDX-License-Identifier: BSD-3-Clause
 * Telemetry answers from a running process. The test forks a child that
 * starts EAL with telemetry on (--no-pci, its own --file-prefix, --no-huge),
 * starts uvtd on two emulated units and does known work; then it queries
 * the child with Debian's dpdk-telemetry.py -f <prefix>, checks every
 * /uvtd/... answer against that work, stops the child by its PID and
 * removes /var/run/dpdk/<prefix>.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_malloc.h>

#include "uvtd_test.h"
#include "uvtd.h"
#include "uvtd_vtd_ops.h"
#include "vtdemu.h"

#define PG 4096ull
#define TELEMETRY_PY "/usr/bin/dpdk-telemetry.py"
/* Debian's script needs Debian's python3 (the PATH one may lack modules). */
#define PYTHON "/usr/bin/python3"

static char prefix[64];
static char out[1 << 16];

/* ---- the child: known work, then wait to be stopped ---- */
static int child(int fd)
{
	char pfx_arg[96];
	char *eargv[] = { "uvtd-tel", "-l", "0", "--no-pci", pfx_arg,
			  "--no-huge", "-m", "128", "--log-level=lib.eal:error",
			  "--log-level=uvtd.svc:critical",
#if defined(__SANITIZE_ADDRESS__)
			  /* IOVA = VA: the emulated units reach only memory
			   * below 39 bits, and ASan's shadow sits where EAL
			   * would map by default (as in uvtd_eal.h). */
			  "--base-virtaddr=0x10000000",
#endif
			  NULL };
	uint64_t iova[16], pa;
	uint8_t *mem;
	int dev0, dev1, d0, d1;
	struct uvtd_domain_conf c;

	snprintf(pfx_arg, sizeof(pfx_arg), "--file-prefix=%s", prefix);
	if (rte_eal_init((int)RTE_DIM(eargv) - 1, eargv) < 0)
		return 2;
	if (uvtd_init("emu=qemu-cm-on,emu=qemu-cm-off") != 0)
		return 3;
	mem = rte_zmalloc(NULL, 16 * PG, PG);
	pa = rte_malloc_virt2iova(mem);
	dev0 = uvtd_dev_open_rid(0, 0x08);
	dev1 = uvtd_dev_open_rid(1, 0x10);
	uvtd_domain_conf_init(&c);
	c.policy = UVTD_POLICY_STRICT;
	d0 = uvtd_domain_create(&c);
	c.policy = UVTD_POLICY_LAZY;
	c.unit = 1;
	d1 = uvtd_domain_create(&c);
	if (mem == NULL || d0 != 0 || d1 != 1 || uvtd_attach(d0, dev0) ||
	    uvtd_attach(d1, dev1))
		return 4;
	/* Domain 0 (strict): 10 maps, 4 unmaps -> 6 mappings. */
	for (int i = 0; i < 10; i++)
		if (uvtd_map(d0, pa + (uint64_t)i * PG, PG, UVTD_PERM_RW, &iova[i]))
			return 5;
	for (int i = 0; i < 4; i++)
		if (uvtd_unmap(d0, iova[i], PG))
			return 6;
	/* Domain 1 (lazy): 5 maps, 5 unmaps -> 5 pending entries. */
	for (int i = 10; i < 15; i++)
		if (uvtd_map(d1, pa + (uint64_t)i * PG, PG, UVTD_PERM_RW, &iova[i]))
			return 7;
	for (int i = 10; i < 15; i++)
		if (uvtd_unmap(d1, iova[i], PG))
			return 8;
	/* Three rejections. */
	if (uvtd_unmap(d0, iova[0], PG) != -ENOENT ||
	    uvtd_unmap(d0, iova[5], 2 * PG) != -EINVAL ||
	    uvtd_map(d0, pa, 0, UVTD_PERM_RW, &iova[0]) != -EINVAL)
		return 9;
	/* One DMA fault: requester 0x08 writes where nothing is mapped. */
	if (vtdemu_dma_write(uvtd_vtd_emu(0), 0x08, VTDEMU_NO_PASID, iova[1],
			     "x", 1, NULL) != -EFAULT)
		return 10;
	if (write(fd, "ready\n", 6) != 6)
		return 11;
	for (;;)
		pause();
	return 0;
}

/* ---- the parent ---- */
static int query(void)
{
	char cmd[512];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd),
		 "printf '/uvtd/units\\n/uvtd/unit,0\\n/uvtd/unit,1\\n"
		 "/uvtd/domains\\n/uvtd/domain,0\\n/uvtd/domain,1\\n"
		 "/uvtd/stats\\n/uvtd/faults\\n/uvtd/domain,7\\n/help,/uvtd/stats\\n' | "
		 PYTHON " " TELEMETRY_PY " -f %s 2>&1", prefix);
	p = popen(cmd, "r");
	if (p == NULL)
		return -1;
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	return pclose(p);
}

/* The line of the answer to cmd. */
static const char *answer(const char *cmd)
{
	static char line[8192];
	char key[64];
	const char *s;
	size_t len;

	snprintf(key, sizeof(key), "{\"%s\": ", cmd);
	s = strstr(out, key);
	if (s == NULL)
		return "";
	len = strcspn(s, "\n");
	if (len >= sizeof(line))
		len = sizeof(line) - 1;
	memcpy(line, s, len);
	line[len] = '\0';
	return line;
}

#define HAS(cmd, text)                                                       \
	CHECK(strstr(answer(cmd), text) != NULL, "%s: no '%s' in: %s", cmd,  \
	      text, answer(cmd))

static pid_t pid;

static void test_answers(void)
{
	char capstr[64];

	REQUIRE(query() == 0, "dpdk-telemetry.py failed:\n%s", out);
	HAS("/uvtd/units", "[0, 1]");
	HAS("/uvtd/unit", "\"name\": \"emu0\"");
	HAS("/uvtd/unit", "\"caching_mode\": 1");
	/* The driver's decoding: QEMU 7.2's caching-mode=on CAP. */
	snprintf(capstr, sizeof(capstr), "\"cap\": %" PRIu64,
		 (uint64_t)0x00D2008C22260286ull);
	HAS("/uvtd/unit", capstr);
	HAS("/uvtd/unit", "\"cap_cm\": 1");
	/* One thread did the work: no publication met another. */
	HAS("/uvtd/unit", "\"qi_publish_waits\": 0");
	HAS("/uvtd/unit", "\"qi_handoffs\": 0");
	HAS("/uvtd/domains", "[0, 1]");
	HAS("/uvtd/domain", "\"policy\": \"strict\"");
	HAS("/uvtd/domain", "\"mappings\": 6");
	HAS("/uvtd/domain", "\"map_flush\": 1");
	HAS("/uvtd/stats", "\"maps\": 15");
	HAS("/uvtd/stats", "\"unmaps\": 9");
	HAS("/uvtd/stats", "\"rejected\": 3");
	HAS("/uvtd/stats", "\"enoent\": 1");
	HAS("/uvtd/stats", "\"einval\": 2");
	HAS("/uvtd/stats", "\"wait_hist_64ns_log2\": [");
	/* The strict caching-mode domain waited once per map (the map-side
	 * flush) and once per unmap, each for one page-selective range; the
	 * lazy domain (CM=0) sent nothing: its 5 entries are queued. */
	HAS("/uvtd/stats", "\"waits\": 14,");
	HAS("/uvtd/stats", "\"inv_ranges_psi\": 14,");
	HAS("/uvtd/stats", "\"inv_ranges_dsi\": 0,");
	HAS("/uvtd/stats", "\"lazy_queued\": 5,");
	HAS("/uvtd/stats", "\"map_bytes\": 61440,");
	HAS("/uvtd/stats", "\"unmap_bytes\": 36864,");
	/* Every wait is in the histogram once. */
	{
		const char *h = strstr(answer("/uvtd/stats"),
				       "\"wait_hist_64ns_log2\": [");
		uint64_t sum = 0;
		char *e;

		if (h != NULL) {
			h = strchr(h, '[') + 1;
			for (;;) {
				sum += strtoull(h, &e, 10);
				if (e == h || *e != ',')
					break;
				h = e + 1;
			}
		}
		CHECK(h != NULL && sum == 14, "wait histogram sums to %"
		      PRIu64 ", not 14: %s", sum, answer("/uvtd/stats"));
	}
	HAS("/uvtd/faults", "\"total\": 1");
	HAS("/uvtd/faults", "rid 0008 write");
	HAS("/help", "/uvtd/stats");
	/* The second /uvtd/domain answer: the lazy one. */
	{
		const char *first = strstr(out, "{\"/uvtd/domain\": ");
		const char *second = first ? strstr(first + 1,
						    "{\"/uvtd/domain\": ") : NULL;

		CHECK(second && strstr(second, "\"policy\": \"lazy\"") &&
		      strstr(second, "\"lazy_pending\": 5"),
		      "lazy domain answer: %s", second ? second : "(none)");
	}
	/* A bad id is answered with an error (null), not a crash. */
	CHECK(strstr(out, "{\"/uvtd/domain\": null}") != NULL,
	      "bad id answer in:\n%s", out);
}

int main(int argc, char **argv)
{
	int fds[2], status, rc;
	struct pollfd pf;
	char buf[16] = "";
	char cmd[128];

	(void)argc;
	(void)argv;
	if (access(TELEMETRY_PY, R_OK) || access(PYTHON, X_OK)) {
		printf("skip: %s or %s missing\n", TELEMETRY_PY, PYTHON);
		return 77;
	}
	snprintf(prefix, sizeof(prefix), "uvtd-svc-tel-%d", (int)getpid());
	if (pipe(fds))
		return 1;
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		_exit(child(fds[1]));
	}
	close(fds[1]);
	pf = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	rc = poll(&pf, 1, 60000);
	if (rc == 1 && read(fds[0], buf, sizeof(buf) - 1) > 0 &&
	    strncmp(buf, "ready", 5) == 0) {
		RUN(test_answers);
	} else {
		fprintf(stderr, "child did not get ready\n");
		uvtd_test_state.failed++;
	}
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	if (WIFEXITED(status))
		fprintf(stderr, "child exited early with %d\n", WEXITSTATUS(status));
	snprintf(cmd, sizeof(cmd), "rm -rf /var/run/dpdk/%s", prefix);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove /var/run/dpdk/%s\n", prefix);
	return TEST_SUMMARY();
}
