/* SPDX-License-Identifier: BSD-3-Clause
 * The emulated unit (lib/vtdemu) as a driver window, and the resolver that
 * lets it read this process's DPDK memory as "physical" memory.
 *
 * The emulator resolves every descriptor, completion word and table entry
 * it reads, so the resolver is on its hot path: on every lcore that rings
 * the doorbell (inline mode) and on the unit's thread (threaded mode). It
 * must not call rte_mem_iova2virt (a walk of every memseg), and a lookup
 * must write no cache line that another thread reads: rte_fbarray_is_used
 * takes the fbarray's read lock, an atomic write to a word every thread
 * shares (measured here: 17 ns a lookup on one lcore, 25 to 45 ns on each
 * of two at once; about 4 ns, one lcore or two, with the bitmap below).
 * Memory that is not DPDK's, or that DPDK has given back, resolves to NULL
 * (the emulator then records a fault instead of reading it).
 *
 * Whether a segment (one page of a memseg list) is allocated comes from the
 * resolver's own bitmap, one per memseg list, written only when memory
 * changes and read with one acquire load:
 *   - filled at first use by rte_memseg_walk, after a DPDK memory event
 *     callback is registered (every event is delivered under the memory
 *     hotplug lock, which the walk also takes: none falls between them);
 *   - the callback clears a segment's bit on RTE_MEM_EVENT_FREE, which DPDK
 *     22.11 delivers before it unmaps the page and marks it free
 *     (malloc_heap_free, a free asked for by a secondary, the roll-back of
 *     an expansion), and sets it on RTE_MEM_EVENT_ALLOC, delivered once the
 *     page is mapped and its IOVA is known. So a lookup that starts after
 *     rte_free returned (on any thread that synchronised with the freeing
 *     one) gets NULL. A lookup racing with the free of the very memory it
 *     reads is the caller's use after free, as it always was;
 *   - legacy memory (--legacy-mem, --no-huge) is never given back nor
 *     added, and registration fails with ENOTSUP: the walk's bitmap stays
 *     true.
 * The bits come from the events alone, never again from DPDK's fbarray:
 * the fbarray still says "used" between the FREE event and the unmap, so a
 * lookup that re-validated through it in that window and remembered the
 * answer would go on serving a page that is gone.
 *
 * Where the events do not arrive in time, a lookup asks the fbarray each
 * time as before (its lock, its cost): in a secondary process (its events
 * come with the IPC sync, after the primary has freed the page and may
 * have given its IOVA to another), for external memory (rte_extmem, heaps
 * added with rte_malloc_heap_memory_add: no bitmap), and in a primary whose
 * callback could not be registered for another reason than ENOTSUP.
 *
 *   VA mode: the IOVA is the address. The memseg lists (a snapshot of their
 *     VA ranges, taken once: the lists never move) say whether it is DPDK
 *     memory; the bitmap says whether it is allocated now.
 *   PA mode: a table of the allocated segments sorted by IOVA, searched by
 *     bisection; a hit is checked against the bitmap and against the
 *     segment itself (same IOVA: a page given back and allocated again
 *     usually has another), so a freed or reallocated segment is never
 *     served stale; a miss rebuilds the table once (memory may have been
 *     added). Old tables are kept until the process ends: readers never
 *     lock.
 *
 * Test switches, each the bug a check of test_drv_resolve must catch
 * (test/driver/meson.build builds this file into it again with one):
 * VTD_EMU_TEST_DROP_FREE_EVENTS, the callback ignores RTE_MEM_EVENT_FREE;
 * VTD_EMU_TEST_SKIP_IOVA_CHECK, a PA-mode hit trusts the bitmap alone.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_fbarray.h>
#include <rte_memory.h>

#include <vtdemu.h>

#include "vtd_tables.h"

/* One memseg list of this process, as the snapshot saw it. */
struct msl_ref {
	uintptr_t start, end;
	unsigned int page_shift;
	unsigned int nr_segs;
	const struct rte_memseg_list *msl;
	/* Bit i: segment i (at start + (i << page_shift)) is allocated.
	 * Written by res_mem_event and resolver_init only. NULL: the lookup
	 * asks the list's fbarray (see the header). */
	uint64_t *live;
};

struct seg_ref {
	uint64_t iova;
	uint64_t len;
	uint8_t *va;
	const struct rte_memseg_list *msl;
	int idx;                            /* in msl->memseg_arr */
	/* With a bitmap: the list, the bit, and the memseg (its array is
	 * mapped as long as the list exists, and internal lists always do). */
	const struct msl_ref *ref;
	unsigned int bit;
	const struct rte_memseg *ms;
};

struct seg_table {
	struct seg_table *older;            /* kept, never freed */
	unsigned int n;
	uint64_t sig;                       /* of the segments it holds */
	struct seg_ref seg[];
};

/* Taken on the slow paths only (first use, a PA-table rebuild), and on a
 * line of its own: a lookup reads res and must not share a line that a
 * mutex writes. */
static pthread_mutex_t res_lock __rte_cache_aligned =
	PTHREAD_MUTEX_INITIALIZER;

/* [I] written once by resolver_init (under res_lock) before init is set;
 * [A] atomic. */
static struct {
	bool init;                          /* [A] lookups may start */
	bool events_ready;                  /* [A] res_mem_event may read msl */
	enum rte_iova_mode mode;            /* [I] */
	unsigned int nr_msl;                /* [I] */
	struct msl_ref msl[RTE_MAX_MEMSEG_LISTS];   /* [I] (bitmap words [A]) */
	struct seg_table *table;            /* [A] PA mode, res_lock to replace */
} res __rte_cache_aligned;

static inline bool live_test(const struct msl_ref *r, unsigned int bit)
{
	/* Pairs with the release in live_set: after an ALLOC event the
	 * segment's memseg (its IOVA) is read as the event left it. */
	return (__atomic_load_n(&r->live[bit / 64], __ATOMIC_ACQUIRE) >>
		(bit % 64)) & 1;
}

static void live_set(const struct msl_ref *r, unsigned int bit, bool on)
{
	uint64_t m = 1ull << (bit % 64);

	if (on)
		__atomic_fetch_or(&r->live[bit / 64], m, __ATOMIC_RELEASE);
	else
		__atomic_fetch_and(&r->live[bit / 64], ~m, __ATOMIC_RELEASE);
}

/* Marks the pages of [a, a + len) that lie in tracked lists. */
static void live_mark(uintptr_t a, size_t len, bool on)
{
	uintptr_t e = a + len;

	for (unsigned int i = 0; i < res.nr_msl; i++) {
		const struct msl_ref *r = &res.msl[i];
		uintptr_t lo = RTE_MAX(a, r->start), hi = RTE_MIN(e, r->end);
		unsigned int bit, last;

		if (r->live == NULL || lo >= hi)
			continue;
		bit = (unsigned int)((lo - r->start) >> r->page_shift);
		last = (unsigned int)((hi - 1 - r->start) >> r->page_shift);
		for (; bit <= last; bit++)
			live_set(r, bit, on);
	}
}

/* DPDK's memory event callback. It runs with the memory hotplug lock held
 * for writing: it must not walk memsegs nor take res_lock (a rebuild holds
 * res_lock while it walks). */
static void res_mem_event(enum rte_mem_event ev, const void *addr,
			  size_t len, void *arg)
{
	RTE_SET_USED(arg);
	/* Set before registration; the acquire makes that visible to
	 * ThreadSanitizer, which cannot see DPDK's own locks. */
	if (!__atomic_load_n(&res.events_ready, __ATOMIC_ACQUIRE) || len == 0)
		return;
#ifdef VTD_EMU_TEST_DROP_FREE_EVENTS
	if (ev == RTE_MEM_EVENT_FREE)
		return;
#endif
	live_mark((uintptr_t)addr, len, ev == RTE_MEM_EVENT_ALLOC);
}

static const struct msl_ref *msl_ref_of(const struct rte_memseg_list *msl)
{
	for (unsigned int i = 0; i < res.nr_msl; i++)
		if (res.msl[i].msl == msl)
			return &res.msl[i];
	return NULL;
}

/* A bitmap of n bits on lines of its own: a neighbour on the heap that
 * is written often must not share a line every lookup reads. */
static uint64_t *live_alloc(unsigned int n)
{
	size_t sz = RTE_ALIGN_CEIL((n + 63) / 64 * sizeof(uint64_t),
				   RTE_CACHE_LINE_SIZE);
	uint64_t *b = aligned_alloc(RTE_CACHE_LINE_SIZE, sz);

	if (b)
		memset(b, 0, sz);
	return b;
}

static int msl_snap(const struct rte_memseg_list *msl, void *arg)
{
	bool track = *(const bool *)arg;

	/* (rte_is_power_of_2 takes 32 bits) */
	if (res.nr_msl < RTE_MAX_MEMSEG_LISTS && msl->base_va && msl->len &&
	    msl->page_sz && (msl->page_sz & (msl->page_sz - 1)) == 0) {
		struct msl_ref *r = &res.msl[res.nr_msl++];

		r->start = (uintptr_t)msl->base_va;
		r->end = r->start + msl->len;
		r->page_shift = (unsigned int)__builtin_ctzll(msl->page_sz);
		r->nr_segs = msl->memseg_arr.len;
		r->msl = msl;
		r->live = NULL;
		/* External lists come and go with their heaps and their
		 * fbarray with them: they keep asking it. */
		if (track && !msl->external && r->nr_segs)
			r->live = live_alloc(r->nr_segs);
	}
	return 0;
}

static int live_fill(const struct rte_memseg_list *msl,
		     const struct rte_memseg *ms, void *arg)
{
	RTE_SET_USED(msl);
	RTE_SET_USED(arg);
	live_mark((uintptr_t)ms->addr, ms->len, true);
	return 0;
}

static void live_drop_all(void)
{
	for (unsigned int i = 0; i < res.nr_msl; i++) {
		free(res.msl[i].live);
		res.msl[i].live = NULL;
	}
}

/* Registers the callback, then fills the bitmaps; res_lock held, no lookup
 * yet. */
static void tracking_start(void)
{
	__atomic_store_n(&res.events_ready, true, __ATOMIC_RELEASE);
	if (rte_mem_event_callback_register("uvtd-vtd-emu-resolver",
					    res_mem_event, NULL) != 0 &&
	    rte_errno != ENOTSUP) {
		/* Memory may change unseen: every lookup asks DPDK. */
		rte_log(RTE_LOG_WARNING, vtd_logtype,
			"vtd: emulated unit: no memory events (%s); every "
			"memory lookup takes DPDK's fbarray lock\n",
			rte_strerror(rte_errno));
		__atomic_store_n(&res.events_ready, false, __ATOMIC_RELEASE);
		live_drop_all();
		return;
	}
	rte_memseg_walk(live_fill, NULL);
}

struct seg_count {
	unsigned int n, max;
	uint64_t sig;
	struct seg_table *t;
};

static int seg_add(const struct rte_memseg_list *msl,
		   const struct rte_memseg *ms, void *arg)
{
	struct seg_count *c = arg;

	c->sig = c->sig * 31 + (ms->iova ^ (uintptr_t)ms->addr) + ms->len;
	if (c->t && c->n < c->max) {
		struct seg_ref *s = &c->t->seg[c->n];
		const struct msl_ref *r = msl_ref_of(msl);

		s->iova = ms->iova;
		s->len = ms->len;
		s->va = ms->addr;
		s->msl = msl;
		s->idx = rte_fbarray_find_idx(&msl->memseg_arr, ms);
		s->ref = NULL;
		s->bit = 0;
		s->ms = ms;
		/* The bitmap stands for this segment only if it is one page
		 * of a tracked list (always so for internal lists). */
		if (r && r->live && ms->len == (1ull << r->page_shift) &&
		    (uintptr_t)ms->addr >= r->start &&
		    (uintptr_t)ms->addr < r->end) {
			s->ref = r;
			s->bit = (unsigned int)(((uintptr_t)ms->addr - r->start)
						>> r->page_shift);
		}
	}
	c->n++;
	return 0;
}

static int seg_cmp(const void *a, const void *b)
{
	const struct seg_ref *x = a, *y = b;

	return x->iova < y->iova ? -1 : x->iova > y->iova;
}

/* Rebuilds the PA-mode table; res_lock held. */
static void seg_rebuild_locked(void)
{
	struct seg_count c = { 0, 0, 0, NULL };
	struct seg_table *t;

	rte_memseg_walk(seg_add, &c);
	/* A miss on memory that is not DPDK's must not grow the list of
	 * tables: rebuild only when the segments changed. */
	if (res.table && res.table->n == c.n && res.table->sig == c.sig)
		return;
	c.max = c.n + 64;
	t = malloc(sizeof(*t) + c.max * sizeof(t->seg[0]));
	if (t == NULL)
		return;
	c.n = 0;
	c.sig = 0;
	c.t = t;
	rte_memseg_walk(seg_add, &c);
	t->n = RTE_MIN(c.n, c.max);
	t->sig = c.sig;
	qsort(t->seg, t->n, sizeof(t->seg[0]), seg_cmp);
	t->older = res.table;
	__atomic_store_n(&res.table, t, __ATOMIC_RELEASE);
}

static void resolver_init(void)
{
	pthread_mutex_lock(&res_lock);
	if (!res.init) {
		/* A secondary learns of a free only at the IPC sync, after
		 * the primary has freed: it asks the shared fbarray. */
		bool track = rte_eal_process_type() == RTE_PROC_PRIMARY;

		res.mode = rte_eal_iova_mode();
		rte_memseg_list_walk(msl_snap, &track);
		if (track)
			tracking_start();
		if (res.mode == RTE_IOVA_PA)
			seg_rebuild_locked();
		__atomic_store_n(&res.init, true, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&res_lock);
}

/* The slow check, for lists without a bitmap. */
static bool fbarray_used(const struct rte_memseg_list *msl, int idx)
{
	return idx >= 0 && rte_fbarray_is_used(
		(struct rte_fbarray *)(uintptr_t)&msl->memseg_arr,
		(unsigned int)idx) == 1;
}

static bool seg_live(const struct seg_ref *s)
{
	const struct rte_memseg *ms;

	if (s->ref != NULL) {
		/* A page given back and allocated again at the same VA has
		 * its bit set again, with a new IOVA in its memseg. */
#ifdef VTD_EMU_TEST_SKIP_IOVA_CHECK
		return live_test(s->ref, s->bit);
#else
		return live_test(s->ref, s->bit) && s->ms->iova == s->iova;
#endif
	}
	/* An external list's fbarray may be destroyed: ask it first. */
	if (!fbarray_used(s->msl, s->idx))
		return false;
	ms = rte_fbarray_get(&s->msl->memseg_arr, (unsigned int)s->idx);
	return ms != NULL && ms->iova == s->iova;
}

static void *resolve_va(uint64_t addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr, last = a + len - 1;

	for (unsigned int i = 0; i < res.nr_msl; i++) {
		const struct msl_ref *r = &res.msl[i];
		unsigned int bit, end;

		if (a < r->start || last >= r->end)
			continue;
		/* Every segment the range touches must be allocated now. */
		bit = (unsigned int)((a - r->start) >> r->page_shift);
		end = (unsigned int)((last - r->start) >> r->page_shift);
		for (; bit <= end; bit++) {
			if (r->live ? !live_test(r, bit) :
				      !fbarray_used(r->msl, (int)bit))
				return NULL;
		}
		return (void *)a;
	}
	return NULL;
}

static const struct seg_ref *seg_find(const struct seg_table *t,
				      uint64_t addr)
{
	unsigned int lo = 0, hi = t ? t->n : 0;

	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;
		const struct seg_ref *s = &t->seg[mid];

		if (addr < s->iova)
			hi = mid;
		else if (addr >= s->iova + s->len)
			lo = mid + 1;
		else
			return s;
	}
	return NULL;
}

static void *resolve_pa(uint64_t addr, size_t len)
{
	for (int pass = 0; pass < 2; pass++) {
		const struct seg_table *t =
			__atomic_load_n(&res.table, __ATOMIC_ACQUIRE);
		const struct seg_ref *s = seg_find(t, addr);

		if (s && addr + len <= s->iova + s->len && seg_live(s))
			return s->va + (addr - s->iova);
		if (pass == 0) {
			pthread_mutex_lock(&res_lock);
			if (__atomic_load_n(&res.table, __ATOMIC_RELAXED) == t)
				seg_rebuild_locked();
			pthread_mutex_unlock(&res_lock);
		}
	}
	return NULL;
}

void *vtd_emu_resolve(void *opaque, uint64_t addr, size_t len)
{
	RTE_SET_USED(opaque);
	if (unlikely(!__atomic_load_n(&res.init, __ATOMIC_ACQUIRE)))
		resolver_init();
	if (len == 0 || addr + len < addr)
		return NULL;
	if (res.mode == RTE_IOVA_PA)
		return resolve_pa(addr, len);
	return resolve_va(addr, len);
}

int vtd_emu_open(const struct vtdemu_config *cfg,
		 const struct vtd_unit_params *p, struct vtd_unit **out,
		 struct vtdemu **emu_out)
{
	struct vtd_unit_params up;
	struct vtdemu_config c;
	struct vtdemu *emu;
	char err[160] = "";
	int rc;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (emu_out)
		*emu_out = NULL;
	if (p == NULL)
		vtd_unit_params_init(&up);
	else
		up = *p;
	if (cfg == NULL)
		vtdemu_config_init(&c);
	else
		c = *cfg;
	resolver_init();
	c.resolve = vtd_emu_resolve;
	c.resolve_opaque = NULL;
	emu = vtdemu_create(&c, err, sizeof(err));
	if (emu == NULL) {
		rte_log(RTE_LOG_ERR, vtd_logtype, "vtd %s: emulated unit: %s\n",
			up.name ? up.name : "-", err);
		return -EINVAL;
	}
	up.win.base = vtdemu_regs(emu);
	up.win.size = vtdemu_regs_size(emu);
	up.win.write_hook = vtdemu_reg_write_hook;
	up.win.hook_opaque = emu;
	up.real_hw = false;
	rc = vtd_unit_open(&up, out);
	if (rc) {
		vtdemu_destroy(emu);
		return rc;
	}
	(*out)->emu = emu;
	(*out)->owns_emu = true;
	if (emu_out)
		*emu_out = emu;
	return 0;
}

void vtd_emu_release(struct vtd_unit *u)
{
	if (u->owns_emu && u->emu) {
		vtdemu_destroy(u->emu);
		u->emu = NULL;
		u->owns_emu = false;
	}
}
