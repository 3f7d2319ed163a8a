/* SPDX-License-Identifier: BSD-3-Clause
 * uvtd fast path: map, unmap, bursts, lazy flush queues, flush and poll.
 *
 * Nothing here takes a lock except fixed-IOVA maps (a sorted record under
 * a spinlock: those are long-lived identity maps) and the allocator's
 * depot on a magazine miss. No malloc, no syscall, no memseg lookup.
 *
 * Policies (docs/service.md has the reasoning):
 *   strict   unmap: clear, invalidate, wait, recycle. A burst waits per
 *            unmap (that is what strict promises).
 *   batched  a burst: clear all, invalidate all, one wait per unit,
 *            recycle. A single unmap is a burst of one.
 *   lazy     unmap: clear, queue in the lcore's flush queue; the queue
 *            flushes when full or when its oldest entry reaches the time
 *            bound. Linux's two counters (flush started / finished) let a
 *            domain-selective flush by any lcore cover every lcore's
 *            entries. With lazy_ranges (caching mode) a flush chooses
 *            page-selective ranges or one domain-selective invalidation by
 *            the cost model; otherwise it is one domain-selective
 *            invalidation and no per-page range is ever built.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <rte_atomic.h>
#include <rte_cycles.h>
#include <rte_malloc.h>

#include "uvtd_internal.h"

struct uvtd_fp_domain uvtd_fp_domains[UVTD_MAX_DOMAINS];

/* ---------------------------------------------------------------------------
 * Closed slots
 */
static int closed_map(void *priv, uint64_t phys, uint64_t len,
		      unsigned int perm, uint64_t *iova)
{
	RTE_SET_USED(priv);
	RTE_SET_USED(phys);
	RTE_SET_USED(len);
	RTE_SET_USED(perm);
	RTE_SET_USED(iova);
	return uvtd_reject(-1, "map", -ENODEV, "closed or never created domain");
}

static int closed_map_fixed(void *priv, uint64_t iova, uint64_t phys,
			    uint64_t len, unsigned int perm)
{
	RTE_SET_USED(priv);
	RTE_SET_USED(iova);
	RTE_SET_USED(phys);
	RTE_SET_USED(len);
	RTE_SET_USED(perm);
	return uvtd_reject(-1, "map_fixed", -ENODEV,
			   "closed or never created domain");
}

static int closed_unmap(void *priv, uint64_t iova, uint64_t len)
{
	RTE_SET_USED(priv);
	RTE_SET_USED(iova);
	RTE_SET_USED(len);
	return uvtd_reject(-1, "unmap", -ENODEV,
			   "closed or never created domain");
}

void uvtd_fast_uninstall(int id)
{
	struct uvtd_fp_domain *fp = &uvtd_fp_domains[id];

	fp->map = closed_map;
	fp->map_fixed = closed_map_fixed;
	fp->unmap = closed_unmap;
	__atomic_store_n(&fp->priv, NULL, __ATOMIC_RELEASE);
}

RTE_INIT(uvtd_fast_init)
{
	for (int i = 0; i < UVTD_MAX_DOMAINS; i++)
		uvtd_fast_uninstall(i);
}

/* ---------------------------------------------------------------------------
 * Helpers
 */
static inline unsigned int dom_units(const struct uvtd_domain *d,
				     unsigned int *out)
{
	/* Pairs with the release store of nunits in attach/detach. */
	unsigned int n = __atomic_load_n(&d->nunits, __ATOMIC_ACQUIRE);

	for (unsigned int i = 0; i < n; i++)
		out[i] = __atomic_load_n(&d->units[i], __ATOMIC_RELAXED);
	return n;
}

/* The qctx of lcore context lc on unit u, or the driver's context for the
 * calling thread when there is none (slow path callers). */
static inline struct uvtd_drv_qctx *qctx_of(struct uvtd_lcore_dom *lc,
					    unsigned int u)
{
	if (likely(lc != NULL))
		return lc->q[u];
	return uvtd.ops->qctx_get(uvtd.units[u].drv, rte_lcore_id());
}

static inline void note_wait(struct uvtd_lcore_dom *lc, uint64_t cycles)
{
	/* Bucket log2(cycles / cycles-per-64-ns), in integers: a division
	 * per wait is measurable in strict mode. */
	int b = (cycles ? 63 - __builtin_clzll(cycles) : 0) -
		(int)uvtd.hist_shift;

	if (lc == NULL)
		return;
	if (b < 0)
		b = 0;
	if (b >= UVTD_WAIT_HIST_BUCKETS)
		b = UVTD_WAIT_HIST_BUCKETS - 1;
	STAT_INC(lc->st.waits);
	STAT_INC(lc->st.wait_hist[b]);
}

/* Submits what lc has queued on each unit and waits for all of it: one
 * wait descriptor per unit. */
static int sync_units(struct uvtd_lcore_dom *lc, const unsigned int *units,
		      unsigned int n)
{
	const struct uvtd_driver_ops *ops = uvtd.ops;
	uint32_t seq[UVTD_MAX_UNITS];
	uint64_t t0;
	int rc = 0, r;

	for (unsigned int i = 0; i < n; i++) {
		r = ops->submit(qctx_of(lc, units[i]), &seq[i]);
		if (unlikely(r))
			rc = rc ? rc : r;
	}
	if (unlikely(rc))
		return rc;
	t0 = rte_rdtsc();
	for (unsigned int i = 0; i < n; i++) {
		r = ops->wait(qctx_of(lc, units[i]), seq[i]);
		if (unlikely(r))
			rc = rc ? rc : r;
	}
	note_wait(lc, rte_rdtsc() - t0);
	if (unlikely(rc))
		UVTD_LOG(ERR, "invalidation wait failed: %s", strerror(-rc));
	return rc;
}

/* Invalidates [iova, iova + len) on every unit of d and waits. */
static int inv_sync(struct uvtd_domain *d, struct uvtd_lcore_dom *lc,
		    uint64_t iova, uint64_t len, unsigned int flags)
{
	unsigned int units[UVTD_MAX_UNITS];
	unsigned int n = dom_units(d, units);

	for (unsigned int i = 0; i < n; i++)
		uvtd.ops->inv_range(qctx_of(lc, units[i]), d->drv, iova, len,
				    flags);
	if (lc)
		STAT_INC(lc->st.inv_psi);
	return n ? sync_units(lc, units, n) : 0;
}

/* Adds [iova, iova + len) to the burst's range list, merged with the last
 * range when they touch (a magazine hands out neighbouring blocks, up or
 * down): 32 one-page unmaps usually become one range, and the driver's
 * exact split makes it one page-selective descriptor instead of 32. */
static inline unsigned int add_range(struct uvtd_range *r, unsigned int n,
				     uint64_t iova, uint64_t len, bool freed)
{
	if (n) {
		struct uvtd_range *l = &r[n - 1];

		if (l->end == iova) {
			l->end = iova + len;
			l->freed |= freed;
			return n;
		}
		if (iova + len == l->start) {
			l->start = iova;
			l->freed |= freed;
			return n;
		}
	}
	r[n] = (struct uvtd_range){ iova, iova + len, freed };
	return n + 1;
}

/* Sends the ranges to every unit of d (nothing is waited for here). */
static inline void inv_ranges(struct uvtd_domain *d, struct uvtd_lcore_dom *lc,
			      const unsigned int *units, unsigned int nu,
			      const struct uvtd_range *r, unsigned int n,
			      unsigned int flags)
{
	for (unsigned int u = 0; u < nu; u++)
		for (unsigned int i = 0; i < n; i++)
			uvtd.ops->inv_range(lc->q[units[u]], d->drv, r[i].start,
				r[i].end - r[i].start,
				flags | (r[i].freed ? UVTD_DRV_INV_TABLES_FREED : 0));
	STAT_ADD(lc->st.inv_psi, n);
}

static inline int check_map(int dom, const char *op, uint64_t phys,
			    uint64_t len, unsigned int perm)
{
	if (unlikely(len == 0))
		return uvtd_reject(dom, op, -EINVAL, "zero length");
	if (unlikely((phys | len) & (UVTD_PAGE_SIZE - 1)))
		return uvtd_reject(dom, op, -EINVAL, "phys 0x%" PRIx64 " len 0x%"
				   PRIx64 " not 4 KiB aligned", phys, len);
	if (unlikely(phys + len < phys))
		return uvtd_reject(dom, op, -ERANGE, "phys 0x%" PRIx64 " + 0x%"
				   PRIx64 " overflows", phys, len);
	if (unlikely(perm == 0 || (perm & ~UVTD_PERM_RW)))
		return uvtd_reject(dom, op, -EINVAL, "permission 0x%x", perm);
	return 0;
}

static inline int check_iova(const struct uvtd_domain *d, const char *op,
			     uint64_t iova, uint64_t len)
{
	if (unlikely(len == 0))
		return uvtd_reject(d->id, op, -EINVAL, "zero length");
	if (unlikely((iova | len) & (UVTD_PAGE_SIZE - 1)))
		return uvtd_reject(d->id, op, -EINVAL, "IOVA 0x%" PRIx64
				   " len 0x%" PRIx64 " not 4 KiB aligned",
				   iova, len);
	if (unlikely(iova + len < iova))
		return uvtd_reject(d->id, op, -ERANGE, "IOVA 0x%" PRIx64
				   " + 0x%" PRIx64 " overflows", iova, len);
	if (unlikely(iova + len > d->limit))
		return uvtd_reject(d->id, op, -ERANGE, "IOVA 0x%" PRIx64
				   " + 0x%" PRIx64 " beyond the domain's %u "
				   "bits", iova, len, d->width);
	return 0;
}

#define GET_LCD(d, lc, op)                                                   \
	do {                                                                 \
		(lc) = uvtd_lcd(d);                                          \
		if (unlikely((lc) == NULL))                                  \
			return uvtd_reject((d)->id, op, -EPERM, "lcore %u "  \
				"has no context: call uvtd_thread_register()",\
				rte_lcore_id());                             \
	} while (0)

/* The driver's map and unmap inside a burst, with the burst's table-walk
 * cache where the driver has one (neighbouring pages share a last-level
 * table: one walk instead of 32). */
static inline int drv_map_w(const struct uvtd_domain *d, uint64_t iova,
			    uint64_t phys, uint64_t len, unsigned int perm,
			    struct uvtd_drv_walk *w)
{
	if (uvtd.ops->map_walk)
		return uvtd.ops->map_walk(d->drv, iova, phys, len, perm, w);
	return uvtd.ops->map(d->drv, iova, phys, len, perm);
}

static inline int drv_unmap_w(const struct uvtd_domain *d, uint64_t iova,
			      uint64_t len, struct uvtd_drv_gather *g,
			      struct uvtd_drv_walk *w)
{
	if (uvtd.ops->unmap_walk)
		return uvtd.ops->unmap_walk(d->drv, iova, len, g, w);
	return uvtd.ops->unmap(d->drv, iova, len, g);
}

/* ---------------------------------------------------------------------------
 * Fixed-IOVA record
 */
/* Index of the last record starting at or below iova, or -1. */
static int fixed_find(const struct uvtd_domain *d, uint64_t iova)
{
	int lo = 0, hi = (int)d->nfixed - 1, ans = -1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;

		if (d->fixed[mid].iova <= iova) {
			ans = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return ans;
}

static int fixed_insert_locked(struct uvtd_domain *d, uint64_t iova,
			       uint64_t len, uint64_t phys, unsigned int perm)
{
	int at = fixed_find(d, iova);

	/* Overlap with the record below, or with the one above. */
	if (at >= 0 && d->fixed[at].iova + d->fixed[at].len > iova)
		return -EEXIST;
	if ((uint32_t)(at + 1) < d->nfixed && d->fixed[at + 1].iova < iova + len)
		return -EEXIST;
	if (d->nfixed == d->fixed_cap) {
		uint32_t cap = d->fixed_cap ? d->fixed_cap * 2 : 16;
		void *p = rte_realloc(d->fixed, cap * sizeof(*d->fixed), 0);

		if (p == NULL)
			return -ENOMEM;
		d->fixed = p;
		d->fixed_cap = cap;
	}
	at++;
	memmove(&d->fixed[at + 1], &d->fixed[at],
		(d->nfixed - (uint32_t)at) * sizeof(*d->fixed));
	d->fixed[at].iova = iova;
	d->fixed[at].len = len;
	d->fixed[at].phys = phys;
	d->fixed[at].perm = perm;
	d->fixed[at].pending = true;   /* until the map is complete */
	d->fixed[at].retired = false;
	d->nfixed++;
	return 0;
}

static void fixed_remove(struct uvtd_domain *d, uint64_t iova)
{
	uvtd_lock(&d->fixed_lock);
	int at = fixed_find(d, iova);

	if (at >= 0 && d->fixed[at].iova == iova) {
		memmove(&d->fixed[at], &d->fixed[at + 1],
			(d->nfixed - (uint32_t)at - 1) * sizeof(*d->fixed));
		d->nfixed--;
	}
	uvtd_unlock(&d->fixed_lock);
}

static void fixed_set_pending(struct uvtd_domain *d, uint64_t iova, bool p)
{
	uvtd_lock(&d->fixed_lock);
	int at = fixed_find(d, iova);

	if (at >= 0 && d->fixed[at].iova == iova)
		d->fixed[at].pending = p;
	uvtd_unlock(&d->fixed_lock);
}

static void fixed_retire(struct uvtd_domain *d, uint64_t iova)
{
	uvtd_lock(&d->fixed_lock);
	int at = fixed_find(d, iova);

	if (at >= 0 && d->fixed[at].iova == iova) {
		d->fixed[at].pending = true;
		d->fixed[at].retired = true;
	}
	uvtd_unlock(&d->fixed_lock);
}

uint32_t uvtd_fast_fixed_live(struct uvtd_domain *d)
{
	uint32_t n = 0;

	uvtd_lock(&d->fixed_lock);
	for (uint32_t i = 0; i < d->nfixed; i++)
		n += !d->fixed[i].retired;
	uvtd_unlock(&d->fixed_lock);
	return n;
}

static int fixed_claim(struct uvtd_domain *d, uint64_t iova, uint64_t len)
{
	int rc = -ENOENT;

	uvtd_lock(&d->fixed_lock);
	int at = fixed_find(d, iova);

	if (at >= 0 && !d->fixed[at].pending &&
	    iova < d->fixed[at].iova + d->fixed[at].len) {
		if (d->fixed[at].iova == iova && d->fixed[at].len == len) {
			d->fixed[at].pending = true;
			rc = 0;
		} else {
			rc = -EINVAL;
		}
	}
	uvtd_unlock(&d->fixed_lock);
	return rc;
}

/* ---------------------------------------------------------------------------
 * Claiming and recycling, for both kinds of mapping
 */
static inline bool in_window(const struct uvtd_domain *d, uint64_t iova)
{
	return d->iova && iova - d->iova_base < d->iova_size;
}

static inline int claim(struct uvtd_domain *d, uint64_t iova, uint64_t len)
{
	if (in_window(d, iova))
		return uvtd_iova_claim(d->iova, iova, len);
	return fixed_claim(d, iova, len);
}

static inline void unclaim(struct uvtd_domain *d, uint64_t iova, uint64_t len)
{
	if (in_window(d, iova))
		uvtd_iova_unclaim(d->iova, iova, len);
	else
		fixed_set_pending(d, iova, false);
}

/* The invalidation covering the unmap of [iova, +len) has completed. */
static inline void recycle(struct uvtd_domain *d, struct uvtd_lcore_dom *lc,
			   uint64_t iova, uint64_t len)
{
	if (in_window(d, iova)) {
		if (lc)
			uvtd_iova_free(d->iova, lc->cache, iova, len);
		/* Without a context (slow-path teardown) the allocator is
		 * about to be destroyed: nothing to recycle into. */
	} else {
		fixed_remove(d, iova);
	}
}

static inline int claim_error(struct uvtd_domain *d, const char *op, int rc,
			      uint64_t iova, uint64_t len)
{
	if (rc == -EINVAL)
		return uvtd_reject(d->id, op, rc, "[0x%" PRIx64 ", +0x%" PRIx64
				   ") is part of a mapping, not all of it "
				   "(partial unmap)", iova, len);
	return uvtd_reject(d->id, op, rc, "[0x%" PRIx64 ", +0x%" PRIx64
			   ") is not mapped", iova, len);
}

/* ---------------------------------------------------------------------------
 * Lazy flush queue
 */
/* Domain-selective invalidation on every unit, bracketed by Linux's
 * flush counters so that it covers every lcore's queued entries. */
static int flush_dsi(struct uvtd_domain *d, struct uvtd_lcore_dom *lc)
{
	unsigned int units[UVTD_MAX_UNITS];
	unsigned int n;
	int rc = 0;

	/* Entries read flush_started after clearing their PTE (a full
	 * fence there); this increment comes before the descriptors. */
	__atomic_fetch_add(&d->flush_started, 1, __ATOMIC_SEQ_CST);
	n = dom_units(d, units);
	for (unsigned int i = 0; i < n; i++)
		uvtd.ops->inv_range(qctx_of(lc, units[i]), d->drv, 0, 0,
				    UVTD_DRV_INV_DOMAIN |
				    UVTD_DRV_INV_TABLES_FREED);
	if (n)
		rc = sync_units(lc, units, n);
	if (rc == 0)
		__atomic_fetch_add(&d->flush_finished, 1, __ATOMIC_RELEASE);
	if (lc)
		STAT_INC(lc->st.inv_dsi);
	return rc;
}

static inline void publish_oldest(struct uvtd_lcore_dom *lc)
{
	if (lc->fq_head == lc->fq_tail) {
		__atomic_store_n(&lc->oldest_tsc, 0, __ATOMIC_RELAXED);
	} else {
		const struct uvtd_lazy_ent *e = &lc->fq[lc->fq_head & lc->fq_mask];

		__atomic_store_n(&lc->oldest_counter, e->counter, __ATOMIC_RELAXED);
		__atomic_store_n(&lc->oldest_tsc, e->tsc, __ATOMIC_RELAXED);
	}
}

static inline void release_entry(struct uvtd_domain *d,
				 struct uvtd_lcore_dom *lc,
				 struct uvtd_lazy_ent *e)
{
	if (e->freelist) {
		struct uvtd_drv_gather g = { .freelist = e->freelist,
					     .nr_freed = e->nr_freed };

		uvtd.ops->gather_release(d->drv, &g);
	}
	recycle(d, lc, e->iova, e->len);
}

/* Recycles the entries a completed flush covers. */
static unsigned int lazy_reap(struct uvtd_domain *d, struct uvtd_lcore_dom *lc)
{
	/* Pairs with the release increment in flush_dsi. */
	uint64_t fin = __atomic_load_n(&d->flush_finished, __ATOMIC_ACQUIRE);
	uint32_t head = lc->fq_head;
	unsigned int n = 0;

	while (head != lc->fq_tail && lc->fq[head & lc->fq_mask].counter < fin) {
		release_entry(d, lc, &lc->fq[head & lc->fq_mask]);
		head++;
		n++;
	}
	if (n) {
		__atomic_store_n(&lc->fq_head, head, __ATOMIC_RELAXED);
		publish_oldest(lc);
	}
	return n;
}

/* Modelled cost, in ns, of invalidating what lc's queue holds page by
 * page versus one domain-selective invalidation. The figures are the
 * emulator's default cost model (lib/vtdemu/vtdemu_cost.c, from QEMU's
 * behaviour): under caching mode the hypervisor re-walks every page a
 * flush covers, so a DSI costs the whole domain and a PSI only its range. */
#define COST_PSI_NS        60
#define COST_DSI_NS        200
#define COST_SHADOW_NS     300   /* per page, caching mode only */

static bool psi_cheaper(struct uvtd_domain *d, struct uvtd_lcore_dom *lc)
{
	uint64_t psi = 0, pages = 0, dom_pages;
	struct uvtd_lstats s;

	for (uint32_t i = lc->fq_head; i != lc->fq_tail; i++) {
		const struct uvtd_lazy_ent *e = &lc->fq[i & lc->fq_mask];
		uint64_t np = e->len / UVTD_PAGE_SIZE;

		/* Naturally aligned blocks: one descriptor per set bit of
		 * the page count is the exact split's worst case. */
		psi += (uint64_t)__builtin_popcountll(np) * COST_PSI_NS;
		pages += np;
	}
	uvtd_lstats_sum(d, &s);
	dom_pages = (s.map_bytes - s.unmap_bytes) / UVTD_PAGE_SIZE + pages;
	return psi + pages * COST_SHADOW_NS <=
	       COST_DSI_NS + dom_pages * COST_SHADOW_NS;
}

enum flush_why { WHY_FULL, WHY_TIMER, WHY_EXPLICIT };

static int lazy_flush(struct uvtd_domain *d, struct uvtd_lcore_dom *lc,
		      enum flush_why why)
{
	int rc;

	if (why == WHY_FULL)
		STAT_INC(lc->st.lazy_flush_full);
	else if (why == WHY_TIMER)
		STAT_INC(lc->st.lazy_flush_timer);
	lazy_reap(d, lc);
	if (lc->fq_head == lc->fq_tail)
		return 0;
	if (d->lazy_ranges && psi_cheaper(d, lc)) {
		unsigned int units[UVTD_MAX_UNITS];
		unsigned int n = dom_units(d, units), nr = 0;
		uint32_t head = lc->fq_head;

		/* Page-selective, neighbours merged; a queue longer than the
		 * range list is sent in pieces under the same wait. */
		for (uint32_t i = head; i != lc->fq_tail; i++) {
			const struct uvtd_lazy_ent *e = &lc->fq[i & lc->fq_mask];

			if (nr == UVTD_BURST_MAX) {
				inv_ranges(d, lc, units, n, lc->ranges, nr, 0);
				nr = 0;
			}
			nr = add_range(lc->ranges, nr, e->iova, e->len,
				       e->freelist != NULL);
		}
		STAT_ADD(lc->st.lazy_ranges, lc->fq_tail - head);
		inv_ranges(d, lc, units, n, lc->ranges, nr, 0);
		rc = n ? sync_units(lc, units, n) : 0;
		if (rc)
			return rc;
		for (; head != lc->fq_tail; head++)
			release_entry(d, lc, &lc->fq[head & lc->fq_mask]);
		__atomic_store_n(&lc->fq_head, head, __ATOMIC_RELAXED);
		publish_oldest(lc);
		return 0;
	}
	rc = flush_dsi(d, lc);
	if (rc == 0)
		lazy_reap(d, lc);
	return rc;
}

static void lazy_enqueue(struct uvtd_domain *d, struct uvtd_lcore_dom *lc,
			 uint64_t iova, uint64_t len,
			 const struct uvtd_drv_gather *g)
{
	struct uvtd_lazy_ent *e;
	uint64_t now;

	lazy_reap(d, lc);
	if (unlikely(lc->fq_tail - lc->fq_head > lc->fq_mask)) {
		lazy_flush(d, lc, WHY_FULL);
		if (unlikely(lc->fq_tail - lc->fq_head > lc->fq_mask)) {
			/* The flush failed (the unit reported an error): this
			 * range cannot be proven invalidated, so its IOVA and
			 * table pages are never reused. A leak, not a hole. */
			UVTD_LOG(ERR, "domain %d: lazy flush failed; IOVA 0x%"
				 PRIx64 " retired", d->id, iova);
			return;
		}
	}
	/* The cleared PTE is visible before flush_started is read (Linux's
	 * smp_mb() in queue_iova): a flush that starts after this read
	 * covers the entry. */
	rte_atomic_thread_fence(__ATOMIC_SEQ_CST);
	/* A timestamp every 8 entries: rdtsc is a good part of a lazy
	 * unmap's cost (reading it at every unmap cut the lazy rate by a
	 * third), and in a busy loop 8 unmaps' time is nothing next to the
	 * bound. An lcore that unmaps rarely relies on uvtd_poll() or the
	 * service for the bound (uvtd.h); an entry stamped early is only
	 * flushed early. */
	if ((lc->fq_tail & 7) == 0 || lc->fq_tail == lc->fq_head)
		lc->now_tsc = rte_rdtsc();
	now = lc->now_tsc;
	e = &lc->fq[lc->fq_tail & lc->fq_mask];
	e->iova = iova;
	e->len = len;
	e->counter = __atomic_load_n(&d->flush_started, __ATOMIC_SEQ_CST);
	e->tsc = now;
	e->freelist = g->freelist;
	e->nr_freed = g->nr_freed;
	e->fixed = !in_window(d, iova);
	__atomic_store_n(&lc->fq_tail, lc->fq_tail + 1, __ATOMIC_RELAXED);
	if (lc->fq_tail - lc->fq_head == 1)
		publish_oldest(lc);
	STAT_INC(lc->st.lazy_queued);
	/* The time bound, checked at each unmap; uvtd_poll() checks it for
	 * idle lcores. */
	if (unlikely(now - lc->fq[lc->fq_head & lc->fq_mask].tsc >=
		     d->lazy_timeout_tsc))
		lazy_flush(d, lc, WHY_TIMER);
}

/* ---------------------------------------------------------------------------
 * Map
 */
/* A map whose map-side invalidation did not complete (the unit stalled or
 * failed): its entries are cleared again, but unproven, since the unit may
 * have cached them meanwhile and nothing invalidated them. The IOVA stays
 * out of circulation (a window IOVA reserved for ever by its caller, a
 * fixed record retired here) and the table pages this clear unlinks stay
 * allocated: a leak, not a hole. */
static void map_unproven(struct uvtd_domain *d, const char *op, uint64_t iova,
			 uint64_t len, unsigned int n)
{
	struct uvtd_drv_gather g = { UINT64_MAX, 0, NULL, 0 };

	uvtd.ops->unmap(d->drv, iova, len, &g);
	if (!in_window(d, iova))
		fixed_retire(d, iova);
	if (n)          /* once per call: a burst says it for all n */
		UVTD_LOG(ERR, "domain %d: %s: map-side invalidation failed; "
			 "[0x%" PRIx64 ", +0x%" PRIx64 ")%s cleared, IOVA%s "
			 "retired", d->id, op, iova, len,
			 n > 1 ? " and the burst's others" : "",
			 n > 1 ? "s" : "");
}

static __rte_always_inline int
map_common(void *priv, uint64_t phys, uint64_t len, unsigned int perm,
	   uint64_t *iova_out, const bool flush)
{
	struct uvtd_domain *d = priv;
	struct uvtd_lcore_dom *lc;
	uint64_t iova;
	int rc;

	rc = check_map(d->id, "map", phys, len, perm);
	if (unlikely(rc))
		return rc;
	if (unlikely(iova_out == NULL))
		return uvtd_reject(d->id, "map", -EINVAL, "no IOVA pointer");
	GET_LCD(d, lc, "map");
	if (unlikely(d->iova == NULL))
		return uvtd_reject(d->id, "map", -ENOMEM, "the domain has no "
				   "IOVA window: use uvtd_map_fixed()");
	rc = uvtd_iova_alloc(d->iova, lc->cache, len, &iova);
	if (unlikely(rc))
		return uvtd_reject(d->id, "map", rc, "no IOVA space for 0x%"
				   PRIx64 " bytes", len);
	rc = uvtd.ops->map(d->drv, iova, phys, len, perm);
	if (unlikely(rc)) {
		uvtd_iova_map_failed(d->iova, lc->cache, iova, len);
		return uvtd_reject(d->id, "map", rc, "driver map of [0x%" PRIx64
				   ", +0x%" PRIx64 ")", iova, len);
	}
	if (flush) {
		/* Caching mode or write-buffer flushing: the unit may hold a
		 * not-present entry for this range (VT-d spec §6.1). */
		rc = inv_sync(d, lc, iova, len, UVTD_DRV_INV_MAP);
		if (unlikely(rc)) {
			map_unproven(d, "map", iova, len, 1);
			return rc;      /* the IOVA stays reserved */
		}
	}
	uvtd_iova_map_done(d->iova, iova, len);
	STAT_INC(lc->st.maps);
	STAT_ADD(lc->st.map_bytes, len);
	*iova_out = iova;
	return 0;
}

/* Two map functions so that a domain that needs no map-side flush runs
 * code with no flush step in it at all (the seeds' NVMe regression came
 * from a flush loop that found nothing to do on every map). */
static int map_noflush(void *priv, uint64_t phys, uint64_t len,
		       unsigned int perm, uint64_t *iova)
{
	return map_common(priv, phys, len, perm, iova, false);
}

static int map_flush(void *priv, uint64_t phys, uint64_t len,
		     unsigned int perm, uint64_t *iova)
{
	return map_common(priv, phys, len, perm, iova, true);
}

static int map_fixed_impl(struct uvtd_domain *d, struct uvtd_lcore_dom *lc,
			  uint64_t iova, uint64_t phys, uint64_t len,
			  unsigned int perm)
{
	int rc;

	rc = check_map(d->id, "map_fixed", phys, len, perm);
	if (rc)
		return rc;
	rc = check_iova(d, "map_fixed", iova, len);
	if (rc)
		return rc;
	if (d->iova && uvtd_iova_overlaps_window(d->iova, iova, len))
		return uvtd_reject(d->id, "map_fixed", -EINVAL, "[0x%" PRIx64
				   ", +0x%" PRIx64 ") is inside uvtd's IOVA "
				   "window [0x%" PRIx64 ", +0x%" PRIx64 ")",
				   iova, len, d->iova_base, d->iova_size);
	uvtd_lock(&d->fixed_lock);
	rc = fixed_insert_locked(d, iova, len, phys, perm);
	uvtd_unlock(&d->fixed_lock);
	if (rc)
		return uvtd_reject(d->id, "map_fixed", rc, "[0x%" PRIx64 ", +0x%"
				   PRIx64 ") overlaps a live mapping", iova, len);
	rc = uvtd.ops->map(d->drv, iova, phys, len, perm);
	if (rc) {
		fixed_remove(d, iova);
		return uvtd_reject(d->id, "map_fixed", rc, "driver map of [0x%"
				   PRIx64 ", +0x%" PRIx64 ")", iova, len);
	}
	if (d->map_flush) {
		rc = inv_sync(d, lc, iova, len, UVTD_DRV_INV_MAP);
		if (rc) {
			/* The record stays, retired: the range is refused to
			 * maps (-EEXIST) and unmaps (-ENOENT) alike. */
			map_unproven(d, "map_fixed", iova, len, 1);
			return rc;
		}
	}
	fixed_set_pending(d, iova, false);
	if (lc) {
		STAT_INC(lc->st.maps);
		STAT_ADD(lc->st.map_bytes, len);
	}
	return 0;
}

static int map_fixed_fp(void *priv, uint64_t iova, uint64_t phys,
			uint64_t len, unsigned int perm)
{
	struct uvtd_domain *d = priv;
	struct uvtd_lcore_dom *lc;

	GET_LCD(d, lc, "map_fixed");
	return map_fixed_impl(d, lc, iova, phys, len, perm);
}

static int unmap_claimed_sync(struct uvtd_domain *d, struct uvtd_lcore_dom *lc,
			      uint64_t iova, uint64_t len);

int uvtd_fast_unmap_fixed_locked(struct uvtd_domain *d, uint64_t iova,
				 uint64_t len)
{
	int rc = fixed_claim(d, iova, len);

	if (rc)
		return rc;
	return unmap_claimed_sync(d, uvtd_lcd(d), iova, len);
}

bool uvtd_fast_fixed_is(struct uvtd_domain *d, uint64_t iova, uint64_t len,
			uint64_t phys, unsigned int perm)
{
	bool is;

	uvtd_lock(&d->fixed_lock);
	int at = fixed_find(d, iova);

	is = at >= 0 && d->fixed[at].iova == iova && d->fixed[at].len == len &&
	     d->fixed[at].phys == phys && d->fixed[at].perm == perm &&
	     !d->fixed[at].pending;
	uvtd_unlock(&d->fixed_lock);
	return is;
}

int uvtd_fast_map_fixed_locked(struct uvtd_domain *d, uint64_t iova,
			       uint64_t phys, uint64_t len, unsigned int perm)
{
	return map_fixed_impl(d, uvtd_lcd(d), iova, phys, len, perm);
}

/* ---------------------------------------------------------------------------
 * Unmap
 */
/* Clears a claimed mapping; on a driver error the claim is undone. */
static __rte_always_inline int
unmap_clear(struct uvtd_domain *d, const char *op, uint64_t iova,
	    uint64_t len, struct uvtd_drv_gather *g)
{
	int rc;

	g->start = UINT64_MAX;
	g->end = 0;
	g->freelist = NULL;
	g->nr_freed = 0;
	rc = uvtd.ops->unmap(d->drv, iova, len, g);
	if (unlikely(rc)) {
		unclaim(d, iova, len);
		return uvtd_reject(d->id, op, rc, "driver unmap of [0x%" PRIx64
				   ", +0x%" PRIx64 ")", iova, len);
	}
	return 0;
}

static __rte_always_inline int
unmap_prepare(struct uvtd_domain *d, const char *op, uint64_t iova,
	      uint64_t len, struct uvtd_drv_gather *g)
{
	int rc = check_iova(d, op, iova, len);

	if (unlikely(rc))
		return rc;
	rc = claim(d, iova, len);
	if (unlikely(rc))
		return claim_error(d, op, rc, iova, len);
	return unmap_clear(d, op, iova, len, g);
}

/* Clears a claimed mapping, invalidates, waits, recycles. */
static int unmap_claimed_sync(struct uvtd_domain *d, struct uvtd_lcore_dom *lc,
			      uint64_t iova, uint64_t len)
{
	struct uvtd_drv_gather g;
	int rc = unmap_clear(d, "unmap", iova, len, &g);

	if (unlikely(rc))
		return rc;
	if (likely(!d->skip_inv))
		rc = inv_sync(d, lc, iova, len,
			      g.freelist ? UVTD_DRV_INV_TABLES_FREED : 0);
	if (unlikely(rc)) {
		/* The invalidation did not complete (the unit may still
		 * cache the translation): the IOVA stays claimed (a fixed
		 * one retired) and the table pages stay allocated. A leak,
		 * not a hole. */
		if (!in_window(d, iova))
			fixed_retire(d, iova);
		UVTD_LOG(ERR, "domain %d: invalidation of [0x%" PRIx64
			 ", +0x%" PRIx64 ") failed; IOVA retired", d->id,
			 iova, len);
	} else {
		if (g.freelist)
			uvtd.ops->gather_release(d->drv, &g);
		recycle(d, lc, iova, len);
	}
	if (likely(lc != NULL)) {  /* NULL: uvtd_fast_unmap_fixed_locked */
		STAT_INC(lc->st.unmaps);
		STAT_ADD(lc->st.unmap_bytes, len);
	}
	return rc;
}

/* Strict (and batched's single unmap). */
static int unmap_sync(struct uvtd_domain *d, struct uvtd_lcore_dom *lc,
		      uint64_t iova, uint64_t len)
{
	int rc = check_iova(d, "unmap", iova, len);

	if (unlikely(rc))
		return rc;
	rc = claim(d, iova, len);
	if (unlikely(rc))
		return claim_error(d, "unmap", rc, iova, len);
	return unmap_claimed_sync(d, lc, iova, len);
}

static int unmap_strict(void *priv, uint64_t iova, uint64_t len)
{
	struct uvtd_domain *d = priv;
	struct uvtd_lcore_dom *lc;

	GET_LCD(d, lc, "unmap");
	return unmap_sync(d, lc, iova, len);
}

static int unmap_lazy(void *priv, uint64_t iova, uint64_t len)
{
	struct uvtd_domain *d = priv;
	struct uvtd_lcore_dom *lc;
	struct uvtd_drv_gather g;
	int rc;

	GET_LCD(d, lc, "unmap");
	rc = unmap_prepare(d, "unmap", iova, len, &g);
	if (unlikely(rc))
		return rc;
	if (unlikely(d->skip_inv)) {
		/* The planted bug: recycled with no invalidation at all. */
		if (g.freelist)
			uvtd.ops->gather_release(d->drv, &g);
		recycle(d, lc, iova, len);
	} else {
		lazy_enqueue(d, lc, iova, len, &g);
	}
	STAT_INC(lc->st.unmaps);
	STAT_ADD(lc->st.unmap_bytes, len);
	return 0;
}

void uvtd_fast_install(struct uvtd_domain *d)
{
	struct uvtd_fp_domain *fp = &uvtd_fp_domains[d->id];

	fp->map = d->map_flush ? map_flush : map_noflush;
	fp->map_fixed = map_fixed_fp;
	fp->unmap = d->policy == UVTD_POLICY_LAZY ? unmap_lazy : unmap_strict;
	/* Pairs with nothing on the fast path (it loads priv plainly): the
	 * contract is that a domain is not used before create returns. */
	__atomic_store_n(&fp->priv, d, __ATOMIC_RELEASE);
}

/* ---------------------------------------------------------------------------
 * Bursts
 */
static struct uvtd_domain *burst_domain(int dom, const char *op)
{
	struct uvtd_domain *d;

	if ((unsigned int)dom >= UVTD_MAX_DOMAINS) {
		uvtd_fp_bad_domain(dom, op);
		return NULL;
	}
	d = uvtd_fp_domains[dom].priv;
	if (d == NULL)
		uvtd_reject(dom, op, -ENODEV, "closed or never created domain");
	return d;
}

int uvtd_map_burst(int dom, struct uvtd_map_req *reqs, unsigned int n)
{
	struct uvtd_domain *d = burst_domain(dom, "map_burst");
	struct uvtd_lcore_dom *lc;
	unsigned int i, k;
	int rc = 0;

	if (d == NULL)
		return -ENODEV;
	if (n == 0)
		return 0;
	if (reqs == NULL || n > UVTD_BURST_MAX)
		return uvtd_reject(dom, "map_burst", -EINVAL, "%u requests "
				   "(1..%d)", n, UVTD_BURST_MAX);
	GET_LCD(d, lc, "map_burst");
	if (d->iova == NULL)
		return uvtd_reject(dom, "map_burst", -ENOMEM, "no IOVA window");
	for (i = 0; i < n; i++) {
		rc = check_map(dom, "map_burst", reqs[i].phys, reqs[i].len,
			       reqs[i].perm);
		if (rc)
			return rc;
	}
	struct uvtd_drv_walk walk = { 0, NULL };

	for (k = 0; k < n; k++) {
		rc = uvtd_iova_alloc(d->iova, lc->cache, reqs[k].len,
				     &reqs[k].iova);
		if (rc)
			break;
		rc = drv_map_w(d, reqs[k].iova, reqs[k].phys, reqs[k].len,
			       reqs[k].perm, &walk);
		if (rc) {
			uvtd_iova_map_failed(d->iova, lc->cache, reqs[k].iova,
					     reqs[k].len);
			break;
		}
	}
	if (k < n) {
		/* Roll back what was mapped: cleared, invalidated (a walk for
		 * a neighbour may have cached the new tables), recycled. */
		unsigned int units[UVTD_MAX_UNITS];
		unsigned int nu = dom_units(d, units);

		lc->ngath = 0;
		for (i = 0; i < k; i++) {
			struct uvtd_drv_gather g = { UINT64_MAX, 0, NULL, 0 };

			uvtd.ops->unmap(d->drv, reqs[i].iova, reqs[i].len, &g);
			if (g.freelist)
				lc->gath[lc->ngath++] = g;
			for (unsigned int u = 0; u < nu; u++)
				uvtd.ops->inv_range(lc->q[units[u]], d->drv,
					reqs[i].iova, reqs[i].len,
					UVTD_DRV_INV_TABLES_FREED);
		}
		/* Recycled only once that invalidation completed; otherwise
		 * the IOVAs stay reserved and the unlinked tables allocated,
		 * as after any unproven invalidation. */
		if (k && nu && sync_units(lc, units, nu) != 0) {
			UVTD_LOG(ERR, "domain %d: map_burst: roll-back "
				 "invalidation failed; %u IOVAs retired", d->id,
				 k);
			lc->ngath = 0;
			return uvtd_reject(dom, "map_burst", rc, "request %u of "
					   "%u (nothing mapped)", k, n);
		}
		for (i = 0; i < lc->ngath; i++)
			uvtd.ops->gather_release(d->drv, &lc->gath[i]);
		for (i = 0; i < k; i++)
			uvtd_iova_map_failed(d->iova, lc->cache, reqs[i].iova,
					     reqs[i].len);
		return uvtd_reject(dom, "map_burst", rc, "request %u of %u "
				   "(nothing mapped)", k, n);
	}
	if (d->map_flush) {
		unsigned int units[UVTD_MAX_UNITS];
		unsigned int nu = dom_units(d, units);

		unsigned int nr = 0;

		for (i = 0; i < n; i++)
			nr = add_range(lc->ranges, nr, reqs[i].iova, reqs[i].len,
				       false);
		inv_ranges(d, lc, units, nu, lc->ranges, nr, UVTD_DRV_INV_MAP);
		if (nu && (rc = sync_units(lc, units, nu)) != 0) {
			/* Nothing mapped: every entry cleared again, every
			 * IOVA kept reserved (map_unproven). */
			for (i = 0; i < n; i++)
				map_unproven(d, "map_burst", reqs[i].iova,
					     reqs[i].len, i == 0 ? n : 0);
			return rc;
		}
	}
	/* The byte count summed in a register, stored once: a store per
	 * request made a load-store chain through memory (~0.5 ns a pair). */
	uint64_t bytes = 0;

	for (i = 0; i < n; i++) {
		uvtd_iova_map_done(d->iova, reqs[i].iova, reqs[i].len);
		bytes += reqs[i].len;
	}
	STAT_ADD(lc->st.map_bytes, bytes);
	STAT_ADD(lc->st.maps, n);
	return (int)n;
}

int uvtd_unmap_burst(int dom, const struct uvtd_unmap_req *reqs,
		     unsigned int n)
{
	struct uvtd_domain *d = burst_domain(dom, "unmap_burst");
	struct uvtd_lcore_dom *lc;
	unsigned int units[UVTD_MAX_UNITS];
	unsigned int i, k, nu;
	int rc = 0;

	if (d == NULL)
		return -ENODEV;
	if (n == 0)
		return 0;
	if (reqs == NULL || n > UVTD_BURST_MAX)
		return uvtd_reject(dom, "unmap_burst", -EINVAL, "%u requests "
				   "(1..%d)", n, UVTD_BURST_MAX);
	GET_LCD(d, lc, "unmap_burst");
	for (i = 0; i < n; i++) {
		rc = check_iova(d, "unmap_burst", reqs[i].iova, reqs[i].len);
		if (rc)
			return rc;
	}
	/* Claim every mapping first: a burst naming one twice, or one that
	 * is not mapped, changes nothing. */
	for (k = 0; k < n; k++) {
		rc = claim(d, reqs[k].iova, reqs[k].len);
		if (rc)
			break;
	}
	if (k < n) {
		for (i = 0; i < k; i++)
			unclaim(d, reqs[i].iova, reqs[i].len);
		return claim_error(d, "unmap_burst", rc, reqs[k].iova,
				   reqs[k].len);
	}
	if (d->policy == UVTD_POLICY_STRICT && !d->skip_inv) {
		/* Strict: each unmap's invalidation completes before the next
		 * unmap clears anything. */
		for (i = 0; i < n; i++) {
			int r = unmap_claimed_sync(d, lc, reqs[i].iova,
						   reqs[i].len);

			rc = rc ? rc : r;
		}
		return rc ? rc : (int)n;
	}
	nu = dom_units(d, units);
	lc->ngath = 0;
	unsigned int nr = 0;
	bool reqs_retired[UVTD_BURST_MAX] = { false };

	struct uvtd_drv_walk walk = { 0, NULL };

	for (i = 0; i < n; i++) {
		struct uvtd_drv_gather g = { UINT64_MAX, 0, NULL, 0 };
		int r = drv_unmap_w(d, reqs[i].iova, reqs[i].len, &g, &walk);

		if (unlikely(r)) {
			/* The record said mapped, the driver disagrees: keep
			 * the IOVA out of circulation (it stays claimed). */
			UVTD_LOG(ERR, "domain %d: driver unmap of [0x%" PRIx64
				 ", +0x%" PRIx64 "): %s; IOVA retired", d->id,
				 reqs[i].iova, reqs[i].len, strerror(-r));
			rc = rc ? rc : r;
			reqs_retired[i] = true;
			continue;
		}
		if (d->policy == UVTD_POLICY_LAZY && !d->skip_inv) {
			lazy_enqueue(d, lc, reqs[i].iova, reqs[i].len, &g);
			continue;
		}
		if (g.freelist)
			lc->gath[lc->ngath++] = g;
		nr = add_range(lc->ranges, nr, reqs[i].iova, reqs[i].len,
			       g.freelist != NULL);
	}
	if (d->policy != UVTD_POLICY_LAZY || d->skip_inv) {
		/* Batched: the whole burst under one wait per unit. */
		int src = 0;

		if (!d->skip_inv) {
			inv_ranges(d, lc, units, nu, lc->ranges, nr, 0);
			if (nu)
				src = sync_units(lc, units, nu);
		}
		if (unlikely(src)) {
			/* Not proven invalidated: nothing of the burst is
			 * reused (IOVAs stay claimed, table pages kept). */
			UVTD_LOG(ERR, "domain %d: burst invalidation failed; "
				 "its %u IOVAs retired", d->id, n);
			rc = rc ? rc : src;
		} else {
			for (i = 0; i < lc->ngath; i++)
				uvtd.ops->gather_release(d->drv, &lc->gath[i]);
			for (i = 0; i < n; i++)
				if (!reqs_retired[i])
					recycle(d, lc, reqs[i].iova,
						reqs[i].len);
		}
	}
	uint64_t bytes = 0;     /* as in uvtd_map_burst: one store */

	for (i = 0; i < n; i++)
		bytes += reqs[i].len;
	STAT_ADD(lc->st.unmaps, n);
	STAT_ADD(lc->st.unmap_bytes, bytes);
	return rc ? rc : (int)n;
}

/* ---------------------------------------------------------------------------
 * Flush and poll
 */
int uvtd_flush(int dom)
{
	struct uvtd_domain *d = burst_domain(dom, "flush");
	struct uvtd_lcore_dom *lc;
	int rc;

	if (d == NULL)
		return -ENODEV;
	lc = uvtd_lcd(d);
	if (d->policy != UVTD_POLICY_LAZY && uvtd_fast_lazy_pending(d) == 0)
		return 0;
	rc = flush_dsi(d, lc);
	if (lc) {
		STAT_INC(lc->st.lazy_flush_explicit);
		lazy_reap(d, lc);
	}
	return rc;
}

int uvtd_poll(void)
{
	unsigned int me = rte_lcore_id();
	uint64_t now = rte_rdtsc();
	int recycled = 0;

	for (int i = 0; i < UVTD_MAX_DOMAINS; i++) {
		struct uvtd_domain *d = __atomic_load_n(&uvtd_fp_domains[i].priv,
							__ATOMIC_ACQUIRE);
		struct uvtd_lcore_dom *lc;

		if (d == NULL || d->policy != UVTD_POLICY_LAZY)
			continue;
		lc = me < RTE_MAX_LCORE ? d->lc[me] : NULL;
		if (lc) {
			recycled += (int)lazy_reap(d, lc);
			if (lc->fq_head != lc->fq_tail &&
			    now - lc->fq[lc->fq_head & lc->fq_mask].tsc >=
			    d->lazy_timeout_tsc) {
				uint32_t before = lc->fq_head;

				lazy_flush(d, lc, WHY_TIMER);
				recycled += (int)(lc->fq_head - before);
			}
		}
		/* Other lcores' bounds: a domain-selective flush covers their
		 * entries (the counters), so an idle lcore's staleness is
		 * bounded as long as somebody polls. Also after our own flush:
		 * a page-selective one (caching mode) covers only our entries
		 * and leaves flush_finished where it was; a domain-selective
		 * one moved it past theirs, and the scan finds nothing. */
		uint64_t fin = __atomic_load_n(&d->flush_finished, __ATOMIC_ACQUIRE);

		for (unsigned int l = 0; l < RTE_MAX_LCORE; l++) {
			struct uvtd_lcore_dom *o = d->lc[l];
			uint64_t t;

			if (o == NULL || o == lc)
				continue;
			t = __atomic_load_n(&o->oldest_tsc, __ATOMIC_RELAXED);
			if (t && now - t >= d->lazy_timeout_tsc &&
			    __atomic_load_n(&o->oldest_counter,
					    __ATOMIC_RELAXED) >= fin) {
				if (flush_dsi(d, lc) == 0 && lc) {
					STAT_INC(lc->st.lazy_flush_timer);
					recycled += (int)lazy_reap(d, lc);
				}
				break;
			}
		}
	}
	return recycled;
}

uint64_t uvtd_fast_lazy_pending(const struct uvtd_domain *d)
{
	uint64_t n = 0;

	for (unsigned int l = 0; l < RTE_MAX_LCORE; l++) {
		const struct uvtd_lcore_dom *c = d->lc[l];

		if (c)
			n += __atomic_load_n(&c->fq_tail, __ATOMIC_RELAXED) -
			     __atomic_load_n(&c->fq_head, __ATOMIC_RELAXED);
	}
	return n;
}

void uvtd_lstats_sum(const struct uvtd_domain *d, struct uvtd_lstats *s)
{
	memset(s, 0, sizeof(*s));
	for (unsigned int l = 0; l < RTE_MAX_LCORE; l++) {
		const struct uvtd_lcore_dom *c = d->lc[l];

		if (c == NULL)
			continue;
		s->maps += STAT_LOAD(c->st.maps);
		s->unmaps += STAT_LOAD(c->st.unmaps);
		s->map_bytes += STAT_LOAD(c->st.map_bytes);
		s->unmap_bytes += STAT_LOAD(c->st.unmap_bytes);
		s->waits += STAT_LOAD(c->st.waits);
		for (int b = 0; b < UVTD_WAIT_HIST_BUCKETS; b++)
			s->wait_hist[b] += STAT_LOAD(c->st.wait_hist[b]);
		s->inv_psi += STAT_LOAD(c->st.inv_psi);
		s->inv_dsi += STAT_LOAD(c->st.inv_dsi);
		s->lazy_queued += STAT_LOAD(c->st.lazy_queued);
		s->lazy_flush_full += STAT_LOAD(c->st.lazy_flush_full);
		s->lazy_flush_timer += STAT_LOAD(c->st.lazy_flush_timer);
		s->lazy_flush_explicit += STAT_LOAD(c->st.lazy_flush_explicit);
		s->lazy_ranges += STAT_LOAD(c->st.lazy_ranges);
	}
}

/* ---------------------------------------------------------------------------
 * Teardown (slow path: the domain's fast path is quiet)
 */
struct unmap_all_ctx {
	struct uvtd_domain *d;
	struct uvtd_drv_gather *g;
	uint32_t ng, cap;
};

static void unmap_one(void *arg, uint64_t iova, uint64_t len)
{
	struct unmap_all_ctx *x = arg;
	struct uvtd_drv_gather g = { UINT64_MAX, 0, NULL, 0 };

	if (uvtd.ops->unmap(x->d->drv, iova, len, &g))
		return;
	if (g.freelist == NULL)
		return;
	if (x->ng == x->cap) {
		uint32_t cap = x->cap ? x->cap * 2 : 64;
		void *p = rte_realloc(x->g, cap * sizeof(*x->g), 0);

		if (p == NULL) {
			/* Leak the table pages rather than free them before
			 * the invalidation. */
			UVTD_LOG(ERR, "domain %d: teardown: no memory",
				 x->d->id);
			return;
		}
		x->g = p;
		x->cap = cap;
	}
	x->g[x->ng++] = g;
}

void uvtd_fast_unmap_all(struct uvtd_domain *d)
{
	struct unmap_all_ctx x = { .d = d };
	struct uvtd_lcore_dom *me = uvtd_lcd(d);

	/* 1. Cover every lcore's lazy entries, then release their tables. */
	flush_dsi(d, me);
	for (unsigned int l = 0; l < RTE_MAX_LCORE; l++) {
		struct uvtd_lcore_dom *c = d->lc[l];

		if (c == NULL)
			continue;
		for (uint32_t i = c->fq_head; i != c->fq_tail; i++) {
			struct uvtd_lazy_ent *e = &c->fq[i & c->fq_mask];

			if (e->freelist) {
				struct uvtd_drv_gather g = {
					.freelist = e->freelist,
					.nr_freed = e->nr_freed };

				uvtd.ops->gather_release(d->drv, &g);
			}
		}
		c->fq_head = c->fq_tail;
		c->oldest_tsc = 0;
	}
	/* 2. Clear every live mapping, one flush, then release tables. */
	if (d->iova)
		uvtd_iova_foreach_mapped(d->iova, unmap_one, &x);
	uvtd_lock(&d->fixed_lock);
	for (uint32_t i = 0; i < d->nfixed; i++) {
		uint64_t iova = d->fixed[i].iova, len = d->fixed[i].len;

		if (d->fixed[i].retired)
			continue;       /* cleared already; the flush below */
		uvtd_unlock(&d->fixed_lock);
		unmap_one(&x, iova, len);
		uvtd_lock(&d->fixed_lock);
	}
	d->nfixed = 0;
	uvtd_unlock(&d->fixed_lock);
	flush_dsi(d, me);
	for (uint32_t i = 0; i < x.ng; i++)
		uvtd.ops->gather_release(d->drv, &x.g[i]);
	rte_free(x.g);
}

/* ---------------------------------------------------------------------------
 * Map by virtual address (DPDK memory)
 */
#include <rte_memory.h>
#include <rte_eal.h>

int uvtd_map_va(int dom, const void *va, uint64_t len, unsigned int perm,
		uint64_t *iova)
{
	uint64_t phys;

	if ((uintptr_t)va & (UVTD_PAGE_SIZE - 1) || len == 0 ||
	    len & (UVTD_PAGE_SIZE - 1))
		return uvtd_reject(dom, "map_va", -EINVAL, "va %p len 0x%" PRIx64
				   " not 4 KiB aligned, or zero", va, len);
	/* A lookup of each memseg the range touches: it must be DPDK memory
	 * (in either IOVA mode: with IOVA as VA a stray pointer would
	 * otherwise be mapped as if it were), contiguous in IOVA. This form
	 * is not for the hot path. */
	const struct rte_memseg *ms = rte_mem_virt2memseg(va, NULL);
	uint64_t off;

	if (ms == NULL || ms->iova == RTE_BAD_IOVA)
		return uvtd_reject(dom, "map_va", -EINVAL, "va %p is not DPDK "
				   "memory", va);
	phys = ms->iova + ((uintptr_t)va - (uintptr_t)ms->addr);
	for (off = 0; off < len;) {
		const char *p = (const char *)va + off;
		const struct rte_memseg *m = rte_mem_virt2memseg(p, NULL);

		if (m == NULL || m->iova == RTE_BAD_IOVA ||
		    m->iova + ((uintptr_t)p - (uintptr_t)m->addr) != phys + off)
			return uvtd_reject(dom, "map_va", -EINVAL, "[%p, +0x%"
					   PRIx64 ") is not one IOVA-contiguous "
					   "piece of DPDK memory", va, len);
		off += m->len - ((uintptr_t)p - (uintptr_t)m->addr);
	}
	return uvtd_map(dom, phys, len, perm, iova);
}
