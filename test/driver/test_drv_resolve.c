/* SPDX-License-Identifier: BSD-3-Clause
 * The emulated unit's memory resolver (vtd_emu_resolve, vtd_emu.c) against
 * DPDK memory that comes and goes: hugepages with nothing preallocated
 * (UVTD_EAL_VA_DYN, UVTD_EAL_PA_DYN), so that an rte_free of whole pages
 * gives them back to the system. One argument: "va" or "pa" (the IOVA
 * mode). Skips (77) without root or free hugepages.
 *
 * Every lookup is made on the main lcore and on a worker lcore, the same
 * thread each time, which resolved the memory while it was allocated (a
 * resolver that remembers its answers per thread must forget them). Each
 * answer is compared with DPDK's own view (the memseg lists; in PA mode
 * rte_mem_iova2virt):
 *   - test_free: memory resolves while allocated and, once freed and its
 *     pages gone from the memseg lists, resolves to NULL; a neighbouring
 *     allocation still resolves;
 *   - test_realloc: pages given back, the same physical pages taken by a
 *     hugepage mapping outside DPDK, the heap grown again (same addresses,
 *     other IOVAs): the old IOVAs resolve to NULL, the new ones to the
 *     memory;
 *   - test_churn: one lcore allocates and frees while the other resolves an
 *     allocation that stays: it never fails to resolve (and the sanitizer
 *     builds watch the resolver's event callback against its lookups).
 *
 * Planted bugs (test/driver/meson.build builds vtd_emu.c into this program
 * again with a test switch): with VTD_EMU_TEST_DROP_FREE_EVENTS the
 * resolver misses every free, and test_free (run in VA mode) must see a
 * stale answer; with VTD_EMU_TEST_SKIP_IOVA_CHECK a PA-mode lookup trusts a
 * reallocated page's old IOVA, and test_realloc (run in PA mode) must see
 * it.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <rte_fbarray.h>
#include <rte_malloc.h>
#include <rte_memory.h>

#include "uvtd_eal.h"
#include "drv_env.h"

#define MAX_PROBES 64
/* Hugepages are shared with every other test on the machine: when they run
 * out, the test skips instead of failing. */
#define NEED_MEMORY(cond, ...)                                          \
	do {                                                            \
		if (!(cond))                                            \
			SKIP_TEST(__VA_ARGS__);                         \
	} while (0)
#define ROUNDS 6

static bool pa_mode;
static uint64_t hpage;             /* the heap's page size */
static unsigned int worker;        /* the worker lcore */

struct probes {
	unsigned int n;
	uint64_t key[MAX_PROBES];       /* what the emulator would ask for */
	void *got[MAX_PROBES];
};

/* Wrong answers of one test: stale (served, but DPDK says otherwise) and
 * missing (NULL for memory DPDK has). */
struct tally {
	unsigned int stale, missing, checked;
};

static uint64_t key_of(const void *va)
{
	const struct rte_memseg *ms = rte_mem_virt2memseg(va, NULL);

	if (!pa_mode)
		return (uint64_t)(uintptr_t)va;
	return ms ? ms->iova + ((uintptr_t)va - (uintptr_t)ms->addr) :
		    RTE_BAD_IOVA;
}

/* Whether DPDK has the page holding va allocated now. */
static bool dpdk_has_va(const void *va)
{
	struct rte_memseg_list *msl = rte_mem_virt2memseg_list(va);
	unsigned int idx;

	if (msl == NULL)
		return false;
	idx = (unsigned int)(((uintptr_t)va - (uintptr_t)msl->base_va) /
			     msl->page_sz);
	return rte_fbarray_is_used(&msl->memseg_arr, idx) == 1;
}

/* What a correct resolver answers for key now (DPDK's own lookups). */
static void *truth(uint64_t key)
{
	if (pa_mode)
		return rte_mem_iova2virt(key);
	return dpdk_has_va((void *)(uintptr_t)key) ? (void *)(uintptr_t)key :
						      NULL;
}

/* Two probes per page of [p, p + len): its first and its last 8 bytes. */
static void probes_add(struct probes *pr, const uint8_t *p, size_t len)
{
	for (size_t off = 0; off < len && pr->n + 2 <= MAX_PROBES;
	     off += hpage) {
		pr->key[pr->n++] = key_of(p + off);
		pr->key[pr->n++] = key_of(p + off + hpage - 8);
	}
}

static int resolve_all(void *arg)
{
	struct probes *pr = arg;

	for (unsigned int i = 0; i < pr->n; i++)
		pr->got[i] = vtd_emu_resolve(NULL, pr->key[i], 8);
	return 0;
}

/* Resolves every probe on this lcore and on the worker, and tallies the
 * answers that differ from DPDK's. */
static void resolve_check(const struct probes *pr, struct tally *t,
			  const char *when)
{
	static struct probes on_main, on_worker;

	on_main = *pr;
	on_worker = *pr;
	resolve_all(&on_main);
	if (uvtd_test_launch(resolve_all, &on_worker, worker) != 0 ||
	    uvtd_test_join(worker) != 0) {
		CHECK(false, "worker lcore %u did not run", worker);
		return;
	}
	for (unsigned int i = 0; i < pr->n; i++) {
		void *want = truth(pr->key[i]);

		for (int w = 0; w < 2; w++) {
			void *got = w ? on_worker.got[i] : on_main.got[i];

			t->checked++;
			if (got == want)
				continue;
			if (got == NULL) {
				t->missing++;
				fprintf(stderr, "# %s: 0x%" PRIx64 " not resolved "
					"on the %s lcore (DPDK: %p)\n", when,
					pr->key[i], w ? "worker" : "main",
					want);
			} else {
				t->stale++;
				if (t->stale <= 4)
					fprintf(stderr, "# %s: 0x%" PRIx64
						" resolved to %p on the %s "
						"lcore (DPDK: %p)\n", when,
						pr->key[i], got,
						w ? "worker" : "main", want);
			}
		}
	}
}

/* Pages of [p, p + len) DPDK no longer has. */
static unsigned int pages_gone(const uint8_t *p, size_t len)
{
	unsigned int n = 0;

	for (size_t off = 0; off < len; off += hpage)
		n += !dpdk_has_va(p + off);
	return n;
}

/* Judges a test's tally: never a missing answer; no stale one, or, where
 * this build planted the bug the test is there to catch, at least one. */
static void judge(const struct tally *t, bool planted_here)
{
	printf("# %u answers checked, %u stale, %u missing\n", t->checked,
	       t->stale, t->missing);
	CHECK(t->checked > 0, "nothing checked");
	CHECK_EQ(t->missing, 0);
	if (planted_here)
		CHECK(t->stale > 0, "the planted bug was not caught: no stale "
		      "answer");
	else
		CHECK_EQ(t->stale, 0);
}

/* (unused in a planted build that does not run it) */
static void __rte_unused test_free(void)
{
	struct tally t = { 0, 0, 0 };
	uint8_t *nb = rte_malloc("resolve-neighbour", 2 * hpage, hpage);
	bool planted = false;

#ifdef VTD_EMU_TEST_DROP_FREE_EVENTS
	planted = !pa_mode;
#endif
	NEED_MEMORY(nb != NULL, "no 2 free hugepages");
	for (unsigned int r = 0; r < ROUNDS; r++) {
		size_t len = (1 + r % 3) * hpage;
		uint8_t *p = rte_malloc("resolve-free", len, hpage);
		struct probes pr = { .n = 0 };
		struct tally before = { 0, 0, 0 };
		unsigned int gone;

		if (p == NULL) {
			rte_free(nb);
			NEED_MEMORY(false, "no %zu bytes of hugepages", len);
		}
		probes_add(&pr, p, len);
		probes_add(&pr, nb, 2 * hpage);
		resolve_check(&pr, &before, "allocated");
		CHECK(before.stale == 0 && before.missing == 0,
		      "round %u: allocated memory misresolved", r);
		/* Each probe resolves to memory while it is allocated. */
		for (unsigned int i = 0; i < pr.n; i++)
			CHECK(truth(pr.key[i]) != NULL, "probe %u not DPDK's",
			      i);
		rte_free(p);
		/* The free gave pages back (else this tests nothing): the
		 * heap grew by whole pages for p alone. */
		gone = pages_gone(p, len);
		REQUIRE(gone > 0, "round %u: rte_free gave no page back", r);
		resolve_check(&pr, &t, "freed");
	}
	rte_free(nb);
	judge(&t, planted);
}

static void __rte_unused test_realloc(void)
{
	struct tally t = { 0, 0, 0 };
	unsigned int moved = 0;
	bool planted = false;

#ifdef VTD_EMU_TEST_SKIP_IOVA_CHECK
	planted = pa_mode;
#endif
	for (unsigned int r = 0; r < ROUNDS; r++) {
		size_t len = (1 + r % 2) * hpage;
		uint8_t *p = rte_malloc("resolve-old", len, hpage), *q;
		struct probes pr = { .n = 0 };
		uint64_t old_key[MAX_PROBES];
		void *grab;
		unsigned int gone;

		NEED_MEMORY(p != NULL, "no %zu bytes of hugepages", len);
		probes_add(&pr, p, len);
		memcpy(old_key, pr.key, sizeof(old_key));
		resolve_check(&pr, &t, "allocated");
		rte_free(p);
		gone = pages_gone(p, len);
		REQUIRE(gone > 0, "round %u: rte_free gave no page back", r);
		/* The kernel hands out the hugepage freed last first: take
		 * the ones DPDK just gave back, so that growing the heap
		 * again gets the same addresses on other physical pages. */
		grab = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		NEED_MEMORY(grab != MAP_FAILED, "no %zu bytes of hugepages "
			    "outside DPDK", len);
		memset(grab, 0x5a, len);
		q = rte_malloc("resolve-new", len, hpage);
		if (q == NULL) {
			munmap(grab, len);
			NEED_MEMORY(false, "no %zu bytes of hugepages", len);
		}
		/* The old IOVAs: DPDK no longer has them wherever the page
		 * moved. */
		for (unsigned int i = 0; i < pr.n; i++)
			moved += truth(old_key[i]) == NULL;
		resolve_check(&pr, &t, "reallocated, old IOVAs");
		pr.n = 0;
		probes_add(&pr, q, len);
		resolve_check(&pr, &t, "reallocated, new IOVAs");
		rte_free(q);
		munmap(grab, len);
	}
	printf("# %u old IOVAs no longer DPDK's after reallocation\n", moved);
	/* In VA mode the IOVA is the address: it comes back with the page. */
	if (pa_mode)
		CHECK(moved > 0, "no page came back at another IOVA: the "
		      "stale-IOVA case was not exercised");
	judge(&t, planted);
}

/* test_churn's worker: resolves a stable allocation (and whatever main has
 * just allocated or freed, unchecked) until told to stop. */
struct churn {
	const struct probes *stable;
	uint64_t moving;                /* [A] a key of main's last buffer */
	int stop;                       /* [A] */
	unsigned long lookups, failures;
};

static int churn_worker(void *arg)
{
	struct churn *c = arg;

	/* Bounded: main stops it long before. */
	for (unsigned long i = 0; i < 200000000ul; i++) {
		if (__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE))
			break;
		for (unsigned int k = 0; k < c->stable->n; k++) {
			c->lookups++;
			if (vtd_emu_resolve(NULL, c->stable->key[k], 8) ==
			    NULL)
				c->failures++;
		}
		/* Only resolved, never read: it may be going away. */
		(void)vtd_emu_resolve(NULL, __atomic_load_n(&c->moving,
							    __ATOMIC_RELAXED),
				      8);
	}
	return 0;
}

static void __rte_unused test_churn(void)
{
	static struct probes stable;
	static struct churn c;
	uint8_t *keep = rte_malloc("resolve-keep", 2 * hpage, hpage);
	unsigned int given_back = 0;

	NEED_MEMORY(keep != NULL, "no 2 free hugepages");
	stable.n = 0;
	probes_add(&stable, keep, 2 * hpage);
	c.stable = &stable;
	c.moving = stable.key[0];
	c.stop = 0;
	c.lookups = c.failures = 0;
	if (uvtd_test_launch(churn_worker, &c, worker) != 0) {
		rte_free(keep);
		REQUIRE(false, "launch");
	}
	for (unsigned int r = 0; r < 40; r++) {
		size_t len = (1 + r % 3) * hpage;
		uint8_t *p = rte_malloc("resolve-churn", len, hpage);

		if (p == NULL)
			continue;
		__atomic_store_n(&c.moving, key_of(p + len / 2),
				 __ATOMIC_RELAXED);
		CHECK(vtd_emu_resolve(NULL, key_of(p), 8) == p,
		      "round %u: fresh memory not resolved", r);
		rte_free(p);
		given_back += pages_gone(p, len) > 0;
	}
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
	CHECK_EQ(uvtd_test_join(worker), 0);
	printf("# worker: %lu lookups, %lu failed; %u frees gave pages "
	       "back\n", c.lookups, c.failures, given_back);
	CHECK(c.lookups > 0, "the worker resolved nothing");
	CHECK_EQ(c.failures, 0);
	CHECK(given_back > 0, "no free gave pages back");
	rte_free(keep);
}

int main(int argc, char **argv)
{
	void *probe;

	if (argc != 2 || (strcmp(argv[1], "va") && strcmp(argv[1], "pa"))) {
		fprintf(stderr, "usage: %s va|pa\n", argv[0]);
		return 2;
	}
	pa_mode = strcmp(argv[1], "pa") == 0;
	if (uvtd_test_eal_init(argv[0], pa_mode ? UVTD_EAL_PA_DYN :
						 UVTD_EAL_VA_DYN) != 0) {
		printf("skip: dynamic hugepage memory needs root and free "
		       "hugepages\n");
		return 77;
	}
	if ((rte_eal_iova_mode() == RTE_IOVA_PA) != pa_mode) {
		fprintf(stderr, "EAL chose the other IOVA mode\n");
		return 1;
	}
	worker = rte_get_next_lcore(-1, 1, 0);
	if (worker >= RTE_MAX_LCORE) {
		fprintf(stderr, "no worker lcore\n");
		return 1;
	}
	probe = rte_malloc("resolve-probe", 64, 0);
	if (probe == NULL || rte_mem_virt2memseg_list(probe) == NULL) {
		printf("skip: no hugepage memory\n");
		return 77;
	}
	hpage = rte_mem_virt2memseg_list(probe)->page_sz;
	rte_free(probe);
	printf("# IOVA as %s, %" PRIu64 " KiB pages\n", pa_mode ? "PA" : "VA",
	       hpage >> 10);
	/* A planted build runs the test that must catch its bug, and only
	 * that one: the others would see the bug too, and fail. */
#if !defined(VTD_EMU_TEST_SKIP_IOVA_CHECK)
	RUN(test_free);
#endif
#if !defined(VTD_EMU_TEST_DROP_FREE_EVENTS)
	RUN(test_realloc);
#endif
#if !defined(VTD_EMU_TEST_DROP_FREE_EVENTS) && \
	!defined(VTD_EMU_TEST_SKIP_IOVA_CHECK)
	RUN(test_churn);
#endif
	return TEST_SUMMARY();
}
