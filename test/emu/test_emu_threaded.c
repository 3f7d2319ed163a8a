/* SPDX-License-Identifier: BSD-3-Clause
 * vtdemu under concurrency: threaded mode (a hardware thread fetching the
 * queue with latency) and inline mode, with several submitter threads (each
 * with its own status word and sequence numbers), concurrent DMA, register
 * readers and writers, for a bounded time; the statistics must add up
 * exactly and every wait must be written exactly once, in order per
 * submitter.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "uvtd_test.h"
#include "vtdemu.h"
#include "vtdemu_testkit.h"


#define FSTS 0x34
#define IQH 0x80
#define IQE (1u << 4)
#define NSUB 3
#define DEPTH 2          /* batches a submitter keeps in flight */
#define SID 0x0010
#define DID 7
#define IOVA 0x100000ull
#define MAP_PAGES 16

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct shared {
	struct vtk_env e;
	pthread_mutex_t qlock;     /* the software side of the one queue */
	_Atomic bool stop;
	uint64_t deadline;
	uint64_t status_pa[NSUB];
};

struct sub {
	struct shared *sh;
	int id;
	uint32_t seq;              /* last sequence submitted */
	uint64_t descs, batches;
	int errors;                /* went backwards / timed out / no space */
	uint32_t backwards_from, backwards_to;
};

static uint32_t load_status(struct shared *sh, int id)
{
	return __atomic_load_n((uint32_t *)vtk_ptr(&sh->e.arena,
						   sh->status_pa[id]),
			       __ATOMIC_ACQUIRE);
}

/* Waits until submitter id's status word reaches want, checking that it
 * never goes backwards (the unit runs each submitter's waits in order and
 * writes each once). */
static int wait_status(struct sub *s, uint32_t want, uint32_t *last)
{
	uint64_t end = now_ns() + VTK_TIMEOUT_NS;

	for (;;) {
		uint32_t v = load_status(s->sh, s->id);
		if (v < *last) {
			s->backwards_from = *last;
			s->backwards_to = v;
			return -1;
		}
		*last = v;
		if (v >= want)
			return 0;
		if (now_ns() > end)
			return -ETIMEDOUT;
		sched_yield();
	}
}

static void *submitter(void *arg)
{
	struct sub *s = arg;
	struct shared *sh = s->sh;
	uint32_t last = 0;
	unsigned int rnd = (unsigned int)s->id * 2654435761u + 1;

	while (!atomic_load(&sh->stop) && now_ns() < sh->deadline) {
		unsigned int k = 1 + (rnd >> 16) % 4;
		rnd = rnd * 1103515245u + 12345u;
		uint32_t seq = s->seq + 1;
		int rc = 0;

		pthread_mutex_lock(&sh->qlock);
		for (unsigned int i = 0; i < k && rc == 0; i++) {
			uint64_t q1, q0 = vtk_desc_iotlb(3, DID, IOVA +
				4096ull * ((seq + i) % MAP_PAGES), 0, true, &q1);
			rc = vtk_qi_append(&sh->e.qi, q0, q1);
		}
		if (rc == 0) {
			uint64_t q1, q0 = vtk_desc_wait(seq, sh->status_pa[s->id],
							&q1);
			rc = vtk_qi_append(&sh->e.qi, q0, q1);
		}
		if (rc == 0)
			vtk_qi_submit(&sh->e.qi);
		pthread_mutex_unlock(&sh->qlock);
		if (rc != 0) {
			/* The queue (256 slots) never holds more than
			 * NSUB * DEPTH * 5 descriptors: no space is a bug. */
			s->errors++;
			break;
		}
		s->seq = seq;
		s->descs += k;
		s->batches++;
		if (seq > DEPTH && wait_status(s, seq - DEPTH, &last) != 0) {
			s->errors++;
			break;
		}
	}
	if (s->errors == 0 && wait_status(s, s->seq, &last) != 0)
		s->errors++;
	return NULL;
}

struct dma_ctx {
	struct shared *sh;
	uint64_t ops;
	int64_t bad;
};

/* DMA through translation while invalidations run: the mapping never
 * changes, so every access must succeed and read back what was written. */
static void *dma_thread(void *arg)
{
	struct dma_ctx *d = arg;
	struct shared *sh = d->sh;
	uint8_t out[64], in[64];
	unsigned int i = 0;

	while (!atomic_load(&sh->stop) && now_ns() < sh->deadline) {
		uint64_t iova = IOVA + 4096ull * (i % MAP_PAGES) + (i % 61);
		memset(out, (int)(i & 0xff), sizeof(out));
		int64_t w = vtdemu_dma_write(sh->e.emu, SID, VTDEMU_NO_PASID,
					     iova, out, sizeof(out), NULL);
		int64_t r = vtdemu_dma_read(sh->e.emu, SID, VTDEMU_NO_PASID,
					    iova, in, sizeof(in), NULL);
		if (w != (int64_t)sizeof(out) || r != (int64_t)sizeof(in) ||
		    memcmp(in, out, sizeof(in)) != 0) {
			d->bad = w != (int64_t)sizeof(out) ? w : r;
			break;
		}
		d->ops++;
		i++;
	}
	return NULL;
}

/* Other register traffic: readers of IQH/FSTS/GSTS and a writer of a
 * harmless register, as a driver's other threads would do. */
static void *reg_thread(void *arg)
{
	struct shared *sh = arg;
	uint64_t n = 0;

	while (!atomic_load(&sh->stop) && now_ns() < sh->deadline) {
		(void)vtdemu_reg_read(sh->e.emu, IQH, 8);
		(void)vtdemu_reg_read(sh->e.emu, FSTS, 4);
		(void)vtdemu_reg_read(sh->e.emu, 0x1c, 4);
		vtdemu_reg_write(sh->e.emu, 0x3c, (uint32_t)n++, 4); /* FEDATA */
		sched_yield();
	}
	return NULL;
}

static void stress(enum vtdemu_mode mode, uint64_t duration_ns)
{
	struct shared *sh = calloc(1, sizeof(*sh));
	REQUIRE(sh != NULL, "alloc");
	struct sub subs[NSUB];
	struct dma_ctx dma = { .sh = sh };
	pthread_t ts[NSUB], td, tr;
	struct vtdemu_stats st;

	TRY(vtk_env_init(&sh->e, "qemu-cm-on", 16 << 20), "env init");
	sh->e.cfg.mode = mode;
	sh->e.cfg.cost.threaded_latency_ns = 2000;
	TRY(vtk_env_start(&sh->e, VTK_START_QI | VTK_START_TE), "env start");
	pthread_mutex_init(&sh->qlock, NULL);
	for (int i = 0; i < NSUB; i++)
		sh->status_pa[i] = vtk_alloc(&sh->e.arena, 64, 64);

	/* One device, one domain, MAP_PAGES pages mapped read-write. */
	struct vtk_pt pt;
	TRY(vtk_pt_init(&pt, &sh->e.arena, VTK_PT_SECOND_STAGE, 3), "pt");
	uint64_t buf = vtk_alloc(&sh->e.arena, 4096ull * MAP_PAGES, 4096);
	TRY(vtk_pt_map_range(&pt, IOVA, buf, 4096ull * MAP_PAGES,
			     VTDEMU_ACCESS_READ | VTDEMU_ACCESS_WRITE), "map");
	struct vtk_legacy_ctx ctx = { .present = true,
		.tt = VTK_TT_UNTRANSLATED, .slptptr = pt.root,
		.aw = vtk_aw(3), .did = DID };
	TRY(vtk_legacy_set_context(&sh->e.arena, sh->e.root, SID, &ctx), "ctx");
	TRY(vtk_qi_append(&sh->e.qi, vtk_desc_cc(1, 0, 0, 0), 0), "cc");
	TRY(vtk_qi_sync(&sh->e.qi, VTK_TIMEOUT_NS), "cc sync");
	vtdemu_stats_reset(sh->e.emu);

	sh->deadline = now_ns() + duration_ns;
	for (int i = 0; i < NSUB; i++) {
		subs[i] = (struct sub){ .sh = sh, .id = i };
		pthread_create(&ts[i], NULL, submitter, &subs[i]);
	}
	pthread_create(&td, NULL, dma_thread, &dma);
	pthread_create(&tr, NULL, reg_thread, sh);
	for (int i = 0; i < NSUB; i++)
		pthread_join(ts[i], NULL);
	atomic_store(&sh->stop, true);
	pthread_join(td, NULL);
	pthread_join(tr, NULL);
	CHECK(vtdemu_quiesce(sh->e.emu, VTK_TIMEOUT_NS) == 0, "quiesce");

	uint64_t descs = 0, batches = 0;
	for (int i = 0; i < NSUB; i++) {
		CHECK(subs[i].errors == 0, "submitter %d: %d errors (status %u -> %u)",
		      i, subs[i].errors, subs[i].backwards_from,
		      subs[i].backwards_to);
		CHECK(load_status(sh, i) == subs[i].seq, "submitter %d: status %u"
		      " last seq %u", i, load_status(sh, i), subs[i].seq);
		descs += subs[i].descs;
		batches += subs[i].batches;
	}
	/* Progress, not fairness: under a sanitizer on 2 shared cores one
	 * submitter may get very few turns at the queue lock. */
	CHECK(batches > 10 * NSUB, "%" PRIu64 " batches", batches);
	vtdemu_stats_get(sh->e.emu, &st);
	CHECK(st.desc[VTDEMU_DS_IOTLB_PAGE] == descs, "executed %" PRIu64
	      " submitted %" PRIu64, st.desc[VTDEMU_DS_IOTLB_PAGE], descs);
	CHECK(st.waits == batches && st.wait_status_writes == batches,
	      "waits %" PRIu64 " writes %" PRIu64 " batches %" PRIu64,
	      st.waits, st.wait_status_writes, batches);
	CHECK(st.iqt_writes == batches, "iqt_writes %" PRIu64, st.iqt_writes);
	CHECK(st.invalid_descs == 0 && st.ite == 0 && st.ice == 0, "errors");
	CHECK(vtdemu_reg_read(sh->e.emu, FSTS, 4) == 0, "FSTS");
	CHECK(dma.bad == 0 && dma.ops > 10, "DMA: %" PRIu64 " ops, bad %" PRId64,
	      dma.ops, dma.bad);
	CHECK(vtdemu_stale_count(sh->e.emu) == 0, "stale uses");
	uint64_t k = 0;
	for (int i = 0; i < VTDEMU_DS_KINDS; i++)
		k += st.desc[i];
	CHECK(k == descs + batches, "nothing else executed");
	printf("# %s: %" PRIu64 " descriptors in %" PRIu64 " batches, %"
	       PRIu64 " fetch runs, %" PRIu64 " DMA pairs\n",
	       mode == VTDEMU_THREADED ? "threaded" : "inline", descs, batches,
	       st.qi_batches, dma.ops);

	vtk_env_fini(&sh->e);
	pthread_mutex_destroy(&sh->qlock);
	free(sh);
}

static void test_stress_threaded(void)
{
	stress(VTDEMU_THREADED, 1000000000ull);
}

static void test_stress_inline(void)
{
	stress(VTDEMU_INLINE, 700000000ull);
}

/* Threaded mode applies the modelled latency before a fetched batch takes
 * effect; quiesce waits for it. */
static void test_threaded_latency(void)
{
	struct vtk_env e;

	TRY(vtk_env_init(&e, "server", 4 << 20), "init");
	e.cfg.mode = VTDEMU_THREADED;
	e.cfg.cost.threaded_latency_ns = 20000000; /* 20 ms */
	TRY(vtk_env_start(&e, VTK_START_QI | VTK_START_SCALABLE), "start");
	uint64_t t0 = now_ns();
	TRY(vtk_qi_sync(&e.qi, VTK_TIMEOUT_NS), "sync");
	uint64_t dt = now_ns() - t0;
	CHECK(dt >= 19000000, "completed after %" PRIu64 " ns", dt);
	CHECK(vtdemu_quiesce(e.emu, VTK_TIMEOUT_NS) == 0, "quiesce");
	vtk_env_fini(&e);
}

/* IQE in threaded mode: the hardware thread stops at the bad descriptor;
 * quiesce returns (stopped on an error); recovery as inline. */
static void test_threaded_iqe(void)
{
	struct vtk_env e;

	TRY(vtk_env_init(&e, "qemu-cm-on", 4 << 20), "init");
	e.cfg.mode = VTDEMU_THREADED;
	TRY(vtk_env_start(&e, VTK_START_QI), "start");
	TRY(vtk_qi_append(&e.qi, 0x1f /* type 15 */, 0), "bad");
	CHECK(vtk_qi_sync(&e.qi, VTK_TIMEOUT_NS) == -EIO, "IQE seen");
	CHECK(vtdemu_quiesce(e.emu, VTK_TIMEOUT_NS) == 0, "quiesce");
	CHECK_EQ(vtdemu_reg_read(e.emu, IQH, 8), 0);
	uint64_t *slot = vtk_ptr(&e.arena, e.qi.base);
	vtk_store64(&slot[0], 5); /* a fence-only wait */
	vtdemu_reg_write(e.emu, FSTS, IQE, 4);
	TRY(vtk_qi_sync(&e.qi, VTK_TIMEOUT_NS), "resumed");
	vtk_env_fini(&e);
}

int main(void)
{
	RUN(test_threaded_latency);
	RUN(test_threaded_iqe);
	RUN(test_stress_threaded);
	RUN(test_stress_inline);
	return TEST_SUMMARY();
}
