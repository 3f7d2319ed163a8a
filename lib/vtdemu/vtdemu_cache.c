/* SPDX-License-Identifier: BSD-3-Clause
 * lib/vtdemu caches: context cache, PASID cache, IOTLB, paging-structure
 * caches, device TLBs and (CAP.CM=1) the not-present cache, with the exact
 * scope of every invalidation (VT-d spec §6.5).
 *
 * Tables: fixed-size open addressing (linear probing, backward-shift
 * deletion, no tombstones) over a dense entry array, split into shards that
 * each have a lock (emu_lock: an atomic exchange, spinning then yielding
 * when contended). A lookup hashes, locks one shard, probes and copies the
 * entry out: no allocation. Bounded caches never allocate after creation;
 * an unbounded one (capacity 0: never evict) doubles a shard when it is half
 * full.
 *
 * Eviction (a bounded cache that is full): a victim chosen uniformly at
 * random among the shard's entries by a xorshift generator with a fixed seed
 * per cache and shard, so runs are reproducible. Random replacement is what
 * several real TLBs do and, unlike LRU, needs no bookkeeping on hits.
 *
 * Probe hash: the IOTLB and paging-structure caches hash (DID, page number,
 * level) but not the PASID, so that one probe cluster holds every PASID's
 * entry for a page: a page-selective invalidation (which in scalable mode
 * covers every PASID of the domain, §6.5.2.3) is a few probes, not a scan.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "vtdemu_be.h"

/* ------------------------------------------------------------------------
 * Hash tables
 */

#define HT_MIN_SLOTS 16u
#define HT_UNBOUNDED_SHARDS 16u

void emu_lock_slow(struct emu_lock *l)
{
	unsigned int spins = 0;

	do {
		while (__atomic_load_n(&l->held, __ATOMIC_RELAXED)) {
			if (++spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
				__builtin_ia32_pause();
#endif
			} else {
				sched_yield();
			}
		}
	} while (__atomic_exchange_n(&l->held, 1, __ATOMIC_ACQUIRE));
}

static uint32_t pow2_at_least(uint64_t v)
{
	uint32_t p = HT_MIN_SLOTS;

	while (p < v && p < (1u << 31))
		p <<= 1;
	return p;
}

static int shard_alloc(struct emu_shard *s, uint32_t cap, uint32_t slots)
{
	s->ents = calloc(cap, sizeof(*s->ents));
	s->idx = calloc(slots, sizeof(*s->idx));
	if (!s->ents || !s->idx) {
		free(s->ents);
		free(s->idx);
		s->ents = NULL;
		s->idx = NULL;
		return -ENOMEM;
	}
	s->cap = cap;
	s->mask = slots - 1;
	return 0;
}

int emu_htab_init(struct emu_htab *t, uint8_t kind, uint32_t limit,
		  uint32_t seed)
{
	unsigned int i, n;

	memset(t, 0, sizeof(*t));
	t->kind = kind;
	/* Small bounded caches use one shard, so that the capacity is exact
	 * and eviction order is simple to reason about in tests. */
	if (limit == 0)
		n = HT_UNBOUNDED_SHARDS;
	else if (limit >= 4096)
		n = 16;
	else if (limit >= 512)
		n = 4;
	else
		n = 1;
	t->nshards = n;
	t->shard_shift = 0;
	while ((1u << t->shard_shift) < n)
		t->shard_shift++;
	t->shards = aligned_alloc(64, sizeof(*t->shards) * n);
	if (!t->shards)
		return -ENOMEM;
	memset(t->shards, 0, sizeof(*t->shards) * n);
	for (i = 0; i < n; i++) {
		struct emu_shard *s = &t->shards[i];
		uint32_t lim = limit ? limit / n + (i < limit % n ? 1 : 0) : 0;
		uint32_t cap = lim ? lim : 64;

		s->limit = lim;
		s->rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)seed << 32) ^
			 ((uint64_t)kind << 8) ^ i;
		if (shard_alloc(s, cap, pow2_at_least(2ull * cap))) {
			t->nshards = i + 1;
			emu_htab_fini(t);
			return -ENOMEM;
		}
	}
	return 0;
}

void emu_htab_fini(struct emu_htab *t)
{
	unsigned int i;

	if (!t->shards)
		return;
	for (i = 0; i < t->nshards; i++) {
		free(t->shards[i].ents);
		free(t->shards[i].idx);
	}
	free(t->shards);
	memset(t, 0, sizeof(*t));
}

static struct emu_shard *shard_of(struct emu_htab *t, uint64_t hash)
{
	return &t->shards[t->shard_shift ? hash >> (64 - t->shard_shift) : 0];
}

/* Slot of the index holding key (k0, k1), or -1. */
static int64_t find_slot(const struct emu_shard *s, uint64_t hash,
			 uint64_t k0, uint64_t k1)
{
	uint32_t i = (uint32_t)hash & s->mask, v;

	while ((v = s->idx[i]) != 0) {
		const struct emu_ce *e = &s->ents[v - 1];

		if (e->k0 == k0 && e->k1 == k1)
			return i;
		i = (i + 1) & s->mask;
	}
	return -1;
}

static void index_put(struct emu_shard *s, uint64_t hash, uint32_t ent)
{
	uint32_t i = (uint32_t)hash & s->mask;

	while (s->idx[i])
		i = (i + 1) & s->mask;
	s->idx[i] = ent + 1;
}

static void index_rebuild(struct emu_shard *s)
{
	uint32_t i;

	memset(s->idx, 0, sizeof(*s->idx) * (s->mask + 1));
	for (i = 0; i < s->n; i++)
		index_put(s, s->ents[i].hash, i);
}

/* Removes the entry behind index slot i: backward-shift deletion in the
 * index (Knuth's algorithm R), then the last dense entry moves into the
 * hole. */
static void remove_slot(struct emu_shard *s, uint32_t i)
{
	uint32_t d = s->idx[i] - 1, j = i, last;

	for (;;) {
		uint32_t home;

		j = (j + 1) & s->mask;
		if (!s->idx[j])
			break;
		home = (uint32_t)s->ents[s->idx[j] - 1].hash & s->mask;
		/* The entry at j may stay only if its home lies cyclically in
		 * (i, j]; otherwise moving it back to i keeps it reachable. */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		s->idx[i] = s->idx[j];
		i = j;
	}
	s->idx[i] = 0;

	last = s->n - 1;
	if (d != last) {
		uint32_t p;

		s->ents[d] = s->ents[last];
		p = (uint32_t)s->ents[d].hash & s->mask;
		while (s->idx[p] != last + 1)
			p = (p + 1) & s->mask;
		s->idx[p] = d + 1;
	}
	s->n--;
}

static uint64_t xorshift64(uint64_t *st)
{
	uint64_t x = *st;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*st = x;
	return x;
}

static int shard_grow(struct emu_shard *s)
{
	uint32_t ncap = s->cap * 2, nslots = (s->mask + 1) * 2;
	struct emu_ce *ne = realloc(s->ents, sizeof(*ne) * ncap);
	uint32_t *ni;

	if (!ne)
		return -ENOMEM;
	s->ents = ne;
	ni = calloc(nslots, sizeof(*ni));
	if (!ni)
		return -ENOMEM;
	free(s->idx);
	s->idx = ni;
	s->cap = ncap;
	s->mask = nslots - 1;
	index_rebuild(s);
	return 0;
}

bool emu_htab_lookup(struct emu_htab *t, uint64_t hash, uint64_t k0,
		     uint64_t k1, struct emu_ce *out)
{
	struct emu_shard *s = shard_of(t, hash);
	int64_t i;

	emu_lock(&s->lock);
	i = find_slot(s, hash, k0, k1);
	if (i >= 0)
		*out = s->ents[s->idx[i] - 1];
	emu_unlock(&s->lock);
	return i >= 0;
}

void emu_htab_insert(struct vtdemu *emu, struct emu_htab *t,
		     const struct emu_ce *e, int gk, uint64_t snap)
{
	struct emu_backend *be = emu_be(emu);
	struct emu_shard *s = shard_of(t, e->hash);
	int64_t i;
	uint32_t victim;

	emu_lock(&s->lock);
	/* The count goes up before the generation is looked at, and an
	 * invalidation bumps the generation before it looks at the count
	 * (emu_htab_remove_scan skips an empty table without locking): with
	 * both sequentially consistent, either the invalidation sees this
	 * entry coming (and waits for the shard lock) or this insert sees the
	 * new generation. */
	__atomic_fetch_add(&t->count, 1, __ATOMIC_SEQ_CST);
	/* An invalidation of this cache started since the walk began, or is
	 * still under way (the walk may have used an entry it has yet to
	 * drop): the result may predate it, so it must not be cached (it is
	 * still used once, as a translation in flight). inv_active is read
	 * first: an invalidation that ends bumps the generation before it
	 * leaves inv_active (inv_end). */
	if (gk >= 0 &&
	    (__atomic_load_n(&be->inv_active[gk], __ATOMIC_SEQ_CST) != 0 ||
	     __atomic_load_n(&be->gen[gk], __ATOMIC_SEQ_CST) != snap))
		goto undo;
	i = find_slot(s, e->hash, e->k0, e->k1);
	if (i >= 0) {
		s->ents[s->idx[i] - 1] = *e;
		goto undo;
	}
	if (s->limit && s->n >= s->limit) {
		int64_t vs;

		victim = (uint32_t)(xorshift64(&s->rng) % s->n);
		vs = find_slot(s, s->ents[victim].hash, s->ents[victim].k0,
			       s->ents[victim].k1);
		remove_slot(s, (uint32_t)vs);
		__atomic_fetch_sub(&t->count, 1, __ATOMIC_RELAXED);
		EMU_STAT_ADD(emu, cache_evictions[t->kind], 1);
	} else if (!s->limit &&
		   ((uint64_t)s->n + 1) * 2 > (uint64_t)s->mask + 1) {
		if (shard_grow(s))
			goto undo; /* out of memory: just do not cache */
	}
	s->ents[s->n] = *e;
	index_put(s, e->hash, s->n);
	s->n++;
	goto out;
undo:
	__atomic_fetch_sub(&t->count, 1, __ATOMIC_RELAXED);
out:
	emu_unlock(&s->lock);
}

uint64_t emu_htab_remove_probe(struct emu_htab *t, uint64_t hash,
			       emu_ce_pred pred, const void *arg)
{
	struct emu_shard *s = shard_of(t, hash);
	uint32_t i, v;
	uint64_t n = 0;

	emu_lock(&s->lock);
	i = (uint32_t)hash & s->mask;
	while ((v = s->idx[i]) != 0) {
		const struct emu_ce *e = &s->ents[v - 1];

		if (e->hash == hash && pred(e, arg)) {
			/* Something later in the cluster may shift into i:
			 * look at i again. */
			remove_slot(s, i);
			n++;
			continue;
		}
		i = (i + 1) & s->mask;
	}
	emu_unlock(&s->lock);
	if (n)
		__atomic_fetch_sub(&t->count, n, __ATOMIC_RELAXED);
	return n;
}

uint64_t emu_htab_remove_scan(struct emu_htab *t, emu_ce_pred pred,
			      const void *arg)
{
	uint64_t total = 0;
	unsigned int k;

	/* Sequentially consistent, after the caller's bump_gen(): see
	 * emu_htab_insert. */
	if (!t->shards || __atomic_load_n(&t->count, __ATOMIC_SEQ_CST) == 0)
		return 0;
	for (k = 0; k < t->nshards; k++) {
		struct emu_shard *s = &t->shards[k];
		uint32_t r, w = 0, n;

		emu_lock(&s->lock);
		for (r = 0; r < s->n; r++) {
			if (!pred || pred(&s->ents[r], arg))
				continue;
			if (w != r)
				s->ents[w] = s->ents[r];
			w++;
		}
		n = s->n - w;
		if (n) {
			s->n = w;
			index_rebuild(s);
			total += n;
		}
		emu_unlock(&s->lock);
	}
	if (total)
		__atomic_fetch_sub(&t->count, total, __ATOMIC_RELAXED);
	return total;
}

bool emu_htab_any(struct emu_htab *t, emu_ce_pred pred, const void *arg)
{
	unsigned int k;
	bool found = false;

	if (!t->shards)
		return false;
	for (k = 0; k < t->nshards && !found; k++) {
		struct emu_shard *s = &t->shards[k];
		uint32_t r;

		emu_lock(&s->lock);
		for (r = 0; r < s->n && !found; r++)
			found = pred(&s->ents[r], arg);
		emu_unlock(&s->lock);
	}
	return found;
}

/* ------------------------------------------------------------------------
 * Keys and payloads of each cache
 *
 * context  k0 = sid                    v0/v1 = decoded (legacy) or raw
 *                                      qw0/qw1 (scalable mode); v1 bits
 *                                      63:48 hold the DID in legacy mode
 * PASID    k0 = sid, k1 = pasid        v0 = table|kind|levels|fpd,
 *                                      v1 = did | flags
 * IOTLB    k0 = did<<32 | pasid        v0 = frame | perm | kind<<2,
 *          k1 = page<<3 | level        v1 = 0
 *          probe hash (did, page, level)
 * PWC      k0 = did<<32 | pasid        v0 = next table | perm | kind<<2
 *          k1 = prefix<<3 | level
 *          probe hash (did, prefix, level)
 * NP       k0 = sid<<32 | pasid        v0 = reason | np<<8 | fpd<<16
 *          k1 = page (or NP_ANY)       v1 = did<<32 | tag pasid
 * DEVTLB   k0 = pasid (request's)      v0 = frame | perm
 *          k1 = page<<3 | level        probe hash (page, level)
 */

#define NP_ANY_PAGE UINT64_MAX
#define NP_ANY_PASID 0xfffffffeu

static unsigned int level_shift(unsigned int level)
{
	return 12 + 9 * (level - 1);
}

static uint64_t iotlb_hash(uint16_t did, uint64_t page, unsigned int level)
{
	return emu_hash3(did, page, level);
}

void emu_gens_snapshot(struct vtdemu *emu, struct emu_gens *g)
{
	struct emu_backend *be = emu_be(emu);
	unsigned int k;

	for (k = 0; k < VTDEMU_CACHE_KINDS; k++)
		g->g[k] = __atomic_load_n(&be->gen[k], __ATOMIC_ACQUIRE);
}

/* An invalidation of cache kind k starts (before it drops anything) and
 * ends (after). Sequentially consistent: it pairs with the count and
 * level-bit updates of the fills (emu_htab_insert, drop_range). */
static void bump_gen(struct emu_backend *be, enum vtdemu_cache_kind k)
{
	__atomic_fetch_add(&be->inv_active[k], 1, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&be->gen[k], 1, __ATOMIC_SEQ_CST);
}

static void inv_end(struct emu_backend *be, enum vtdemu_cache_kind k)
{
	__atomic_fetch_add(&be->gen[k], 1, __ATOMIC_SEQ_CST);
	__atomic_fetch_sub(&be->inv_active[k], 1, __ATOMIC_SEQ_CST);
}

static void count_lookup(struct vtdemu *emu, enum vtdemu_cache_kind k,
			 bool hit)
{
	if (hit)
		EMU_STAT_ADD(emu, cache_hits[k], 1);
	else
		EMU_STAT_ADD(emu, cache_misses[k], 1);
}

bool emu_ctx_lookup(struct vtdemu *emu, uint16_t sid, uint64_t *v0,
		    uint64_t *v1)
{
	struct emu_backend *be = emu_be(emu);
	struct emu_ce e;
	bool hit = emu_htab_lookup(&be->ctx, emu_hash3(sid, 0, 1), sid, 0, &e);

	count_lookup(emu, VTDEMU_CACHE_CONTEXT, hit);
	if (hit) {
		*v0 = e.v0;
		*v1 = e.v1;
	}
	return hit;
}

void emu_ctx_fill(struct vtdemu *emu, uint16_t sid, uint64_t v0,
		  uint64_t v1, const struct emu_gens *g)
{
	struct emu_backend *be = emu_be(emu);
	struct emu_ce e = {
		.k0 = sid, .k1 = 0, .v0 = v0, .v1 = v1,
		.hash = emu_hash3(sid, 0, 1),
	};

	emu_htab_insert(emu, &be->ctx, &e, VTDEMU_CACHE_CONTEXT,
			g->g[VTDEMU_CACHE_CONTEXT]);
}

bool emu_pasid_lookup(struct vtdemu *emu, uint16_t sid, uint32_t pasid,
		      uint64_t *v0, uint64_t *v1)
{
	struct emu_backend *be = emu_be(emu);
	struct emu_ce e;
	bool hit = emu_htab_lookup(&be->pasid, emu_hash3(sid, pasid, 2), sid,
				   pasid, &e);

	count_lookup(emu, VTDEMU_CACHE_PASID, hit);
	if (hit) {
		*v0 = e.v0;
		*v1 = e.v1;
	}
	return hit;
}

void emu_pasid_fill(struct vtdemu *emu, uint16_t sid, uint32_t pasid,
		    uint64_t v0, uint64_t v1, const struct emu_gens *g)
{
	struct emu_backend *be = emu_be(emu);
	struct emu_ce e = {
		.k0 = sid, .k1 = pasid, .v0 = v0, .v1 = v1,
		.hash = emu_hash3(sid, pasid, 2),
	};

	emu_htab_insert(emu, &be->pasid, &e, VTDEMU_CACHE_PASID,
			g->g[VTDEMU_CACHE_PASID]);
}

bool emu_iotlb_lookup(struct vtdemu *emu, uint16_t did, uint32_t pasid,
		      uint64_t iova, uint64_t *frame, unsigned int *perm,
		      unsigned int *level, unsigned int *kind)
{
	struct emu_backend *be = emu_be(emu);
	uint32_t levels = __atomic_load_n(&be->iotlb_levels, __ATOMIC_RELAXED);
	uint64_t k0 = ((uint64_t)did << 32) | pasid;
	unsigned int l;
	struct emu_ce e;

	/* 4 KiB first: the common case hits with one probe. */
	for (l = 1; l <= 3; l++) {
		uint64_t page = iova >> level_shift(l);

		if (!(levels & (1u << l)))
			continue;
		if (emu_htab_lookup(&be->iotlb, iotlb_hash(did, page, l), k0,
				    (page << 3) | l, &e)) {
			*frame = e.v0 & ~0xfffull;
			*perm = (unsigned int)(e.v0 & 3);
			*kind = (unsigned int)((e.v0 >> 2) & 3);
			*level = l;
			return true;
		}
	}
	return false;
}

/* IOTLB and paging-structure entries share one key and value layout:
 * (did, pasid) and the address prefix at a level; the frame (or next table)
 * with its permission and kind. levels marks which levels the cache holds,
 * so lookups skip levels never filled. */
static void fill_level_entry(struct vtdemu *emu, struct emu_htab *t,
			     uint32_t *levels, enum vtdemu_cache_kind ck,
			     uint16_t did, uint32_t pasid, uint64_t iova,
			     unsigned int level, uint64_t addr,
			     unsigned int perm, unsigned int kind,
			     const struct emu_gens *g)
{
	uint64_t prefix = iova >> level_shift(level);
	struct emu_ce e = {
		.k0 = ((uint64_t)did << 32) | pasid,
		.k1 = (prefix << 3) | level,
		.v0 = (addr & ~0xfffull) | (perm & 3) | ((uint64_t)kind << 2),
		.v1 = 0,
		.hash = iotlb_hash(did, prefix, level),
	};

	__atomic_fetch_or(levels, 1u << level, __ATOMIC_SEQ_CST);
	emu_htab_insert(emu, t, &e, ck, g->g[ck]);
}

void emu_iotlb_fill(struct vtdemu *emu, uint16_t did, uint32_t pasid,
		    uint64_t iova, uint64_t frame, unsigned int perm,
		    unsigned int level, unsigned int kind,
		    const struct emu_gens *g)
{
	struct emu_backend *be = emu_be(emu);

	fill_level_entry(emu, &be->iotlb, &be->iotlb_levels,
			 VTDEMU_CACHE_IOTLB, did, pasid, iova, level, frame,
			 perm, kind, g);
}

bool emu_pwc_lookup(struct vtdemu *emu, uint16_t did, uint32_t pasid,
		    uint64_t iova, unsigned int level, uint64_t *next,
		    unsigned int *perm)
{
	struct emu_backend *be = emu_be(emu);
	uint64_t prefix = iova >> level_shift(level);
	struct emu_ce e;
	bool hit;

	if (!(__atomic_load_n(&be->pwc_levels, __ATOMIC_RELAXED) &
	      (1u << level)))
		return false;
	hit = emu_htab_lookup(&be->pwc, iotlb_hash(did, prefix, level),
			      ((uint64_t)did << 32) | pasid,
			      (prefix << 3) | level, &e);
	if (hit) {
		*next = e.v0 & ~0xfffull;
		*perm = (unsigned int)(e.v0 & 3);
	}
	return hit;
}

void emu_pwc_fill(struct vtdemu *emu, uint16_t did, uint32_t pasid,
		  uint64_t iova, unsigned int level, uint64_t next,
		  unsigned int perm, unsigned int kind,
		  const struct emu_gens *g)
{
	struct emu_backend *be = emu_be(emu);

	fill_level_entry(emu, &be->pwc, &be->pwc_levels, VTDEMU_CACHE_PWC,
			 did, pasid, iova, level, next, perm, kind, g);
}

/* The not-present cache holds three kinds of keys: a context-stage result
 * for a sid (any PASID, any page), a PASID-stage one for (sid, PASID) and
 * a page-stage one for (sid, PASID, 4 KiB page). */
static bool np_probe(struct emu_backend *be, unsigned int stage,
		     uint16_t sid, uint32_t pasid, uint64_t page,
		     struct emu_ce *e)
{
	struct emu_htab *t = &be->np[stage - 1];
	uint64_t k0 = ((uint64_t)sid << 32) | pasid;

	if (emu_htab_count(t) == 0)
		return false;
	return emu_htab_lookup(t, emu_hash3(k0, page, 5), k0, page, e);
}

static uint64_t np_count(struct emu_backend *be)
{
	return emu_htab_count(&be->np[0]) + emu_htab_count(&be->np[1]) +
	       emu_htab_count(&be->np[2]);
}

bool emu_np_lookup(struct vtdemu *emu, const struct emu_req *rq,
		   struct emu_xres *res)
{
	struct emu_backend *be = emu_be(emu);
	struct emu_ce e;
	bool hit;

	if (np_count(be) == 0)
		return false;
	hit = np_probe(be, EMU_NP_CTX, rq->sid, NP_ANY_PASID, NP_ANY_PAGE,
		       &e) ||
	      np_probe(be, EMU_NP_PASID, rq->sid, rq->pasid, NP_ANY_PAGE,
		       &e) ||
	      np_probe(be, EMU_NP_PAGE, rq->sid, rq->pasid, rq->iova >> 12,
		       &e);
	count_lookup(emu, VTDEMU_CACHE_NOTPRESENT, hit);
	if (!hit)
		return false;
	res->fault = (uint8_t)e.v0;
	res->np = (uint8_t)(e.v0 >> 8);
	if (res->np == EMU_NP_PAGE) {
		/* A second-stage entry has no present bit: not-present
		 * fails as the access does (read or write, §9.8). */
		bool w = rq->access & VTDEMU_ACCESS_WRITE;

		if (res->fault >= 0x80)
			res->fault = w ? FR_SM_WRITE : FR_SM_READ;
		else
			res->fault = w ? FR_WRITE : FR_READ;
	}
	res->fpd = (uint8_t)(e.v0 >> 16);
	res->did = (uint16_t)(e.v1 >> 32);
	res->pasid = (uint32_t)e.v1;
	res->source = VTDEMU_CACHE_NOTPRESENT;
	return true;
}

void emu_np_fill(struct vtdemu *emu, const struct emu_req *rq,
		 const struct emu_xres *res, const struct emu_gens *g)
{
	struct emu_backend *be = emu_be(emu);
	uint32_t pasid = rq->pasid;
	uint64_t page = NP_ANY_PAGE, k0;
	enum vtdemu_cache_kind gk;
	struct emu_ce e;

	switch (res->np) {
	case EMU_NP_CTX:
		pasid = NP_ANY_PASID;
		gk = VTDEMU_CACHE_CONTEXT;
		break;
	case EMU_NP_PASID:
		gk = VTDEMU_CACHE_PASID;
		break;
	case EMU_NP_PAGE:
		page = rq->iova >> 12;
		gk = VTDEMU_CACHE_IOTLB;
		break;
	default:
		return;
	}
	k0 = ((uint64_t)rq->sid << 32) | pasid;
	e.k0 = k0;
	e.k1 = page;
	e.v0 = res->fault | ((uint64_t)res->np << 8) |
	       ((uint64_t)res->fpd << 16);
	e.v1 = ((uint64_t)res->did << 32) | res->pasid;
	e.hash = emu_hash3(k0, page, 5);
	/* The not-present entry of a stage is dropped by that stage's
	 * invalidations, so its fill checks that stage's generation. */
	emu_htab_insert(emu, &be->np[res->np - 1], &e, (int)gk,
			g->g[gk]);
}

/* ------------------------------------------------------------------------
 * Invalidation verbs (VT-d spec §6.5)
 */

static void count_inv(struct vtdemu *emu, enum vtdemu_cache_kind k,
		      uint64_t n)
{
	if (n)
		EMU_STAT_ADD(emu, cache_invalidated[k], n);
}

static void begin_inv(struct emu_backend *be)
{
	__atomic_fetch_add(&be->inv_epoch, 1, __ATOMIC_ACQ_REL);
}

static bool is_scalable(struct vtdemu *emu)
{
	uint64_t rt = __atomic_load_n(&emu->root_table, __ATOMIC_ACQUIRE);

	return ((rt >> 10) & 3) == EMU_TTM_SCALABLE;
}

struct ctx_scope {
	unsigned int gran;
	uint16_t did, sid, sid_mask;
	bool scalable;
};

/* Legacy context payload: v1 bits 63:48 = DID (see vtdemu_walk.c). */
static bool ctx_in_scope(const struct emu_ce *e, const void *arg)
{
	const struct ctx_scope *sc = arg;
	uint16_t sid = (uint16_t)e->k0;
	uint16_t did = (uint16_t)(e->v1 >> 48);

	if (sc->gran == 1)
		return true;
	if (sc->scalable) {
		/* Scalable-mode context entries carry no DID (§9.4): a
		 * domain-selective invalidation cannot select among them and
		 * drops them all; a device-selective one matches the SID. */
		if (sc->gran == 2)
			return true;
		return (sid & ~sc->sid_mask) == (sc->sid & ~sc->sid_mask);
	}
	if (sc->gran == 2)
		return did == sc->did;
	return did == sc->did &&
	       (sid & ~sc->sid_mask) == (sc->sid & ~sc->sid_mask);
}

/* Cached not-present contexts carry DID 0: CM hardware tags them so, which
 * is why software invalidates with DID 0 after making a context present
 * (§6.1, and Linux's context_present_cache_flush). */
static bool np_ctx_in_scope(const struct emu_ce *e, const void *arg)
{
	const struct ctx_scope *sc = arg;
	uint16_t sid = (uint16_t)(e->k0 >> 32);

	if ((e->v0 >> 8 & 0xff) != EMU_NP_CTX)
		return false;
	if (sc->gran == 1)
		return true;
	if (sc->scalable) {
		if (sc->gran == 2)
			return true;
		return (sid & ~sc->sid_mask) == (sc->sid & ~sc->sid_mask);
	}
	if (sc->did != 0)
		return false;
	if (sc->gran == 2)
		return true;
	return (sid & ~sc->sid_mask) == (sc->sid & ~sc->sid_mask);
}

void emu_inv_context(struct vtdemu *emu, unsigned int gran, uint16_t did,
		     uint16_t sid, unsigned int fm)
{
	struct emu_backend *be = emu_be(emu);
	struct ctx_scope sc = {
		.gran = gran, .did = did, .sid = sid,
		/* §6.5.2.1 FM: 01 masks SID bit 2, 10 bits 2:1, 11 bits 2:0
		 * (the function number). */
		.sid_mask = (uint16_t)((0x7u << (3 - (fm & 3))) & 0x7),
		.scalable = is_scalable(emu),
	};

	if (gran < 1 || gran > 3)
		return;
	begin_inv(be);
	bump_gen(be, VTDEMU_CACHE_CONTEXT);
	count_inv(emu, VTDEMU_CACHE_CONTEXT,
		  emu_htab_remove_scan(&be->ctx, gran == 1 ? NULL
							    : ctx_in_scope,
				       &sc));
	count_inv(emu, VTDEMU_CACHE_NOTPRESENT,
		  emu_htab_remove_scan(&be->np[EMU_NP_CTX - 1],
				       np_ctx_in_scope, &sc));
	inv_end(be, VTDEMU_CACHE_CONTEXT);
}

struct iotlb_scope {
	bool all_dids;
	uint16_t did;
	bool pasid_only;       /* PASID-based: first-stage/PT of one PASID */
	uint32_t pasid;
	bool ranged;
	uint64_t first, last;  /* byte range [first, last] */
};

static bool range_hits(const struct iotlb_scope *sc, uint64_t base,
		       uint64_t size)
{
	return !sc->ranged || (base <= sc->last && base + size - 1 >= sc->first);
}

/* IOTLB and PWC entries share a key layout (k0 did|pasid, k1 page|level;
 * v0 kind bits 3:2). */
static bool tlb_in_scope(const struct emu_ce *e, const void *arg)
{
	const struct iotlb_scope *sc = arg;
	uint16_t did = (uint16_t)(e->k0 >> 32);
	uint32_t pasid = (uint32_t)e->k0;
	unsigned int level = (unsigned int)(e->k1 & 7);
	unsigned int kind = (unsigned int)((e->v0 >> 2) & 3);
	uint64_t base = (e->k1 >> 3) << level_shift(level);

	if (!sc->all_dids && did != sc->did)
		return false;
	if (sc->pasid_only && (pasid != sc->pasid || kind == EMU_XK_SS))
		return false;
	return range_hits(sc, base, 1ull << level_shift(level));
}

/* The paging-structure entry at level L covers 2^(9(L-1)) pages. */
static bool pwc_in_scope(const struct emu_ce *e, const void *arg)
{
	const struct iotlb_scope *sc = arg;
	uint16_t did = (uint16_t)(e->k0 >> 32);
	uint32_t pasid = (uint32_t)e->k0;
	unsigned int level = (unsigned int)(e->k1 & 7);
	unsigned int kind = (unsigned int)((e->v0 >> 2) & 3);
	unsigned int sh = level_shift(level);
	uint64_t base = (e->k1 >> 3) << sh;

	if (!sc->all_dids && did != sc->did)
		return false;
	if (sc->pasid_only && (pasid != sc->pasid || kind == EMU_XK_SS))
		return false;
	if (!sc->ranged)
		return true;
	if (sh >= 64)
		return true;
	return range_hits(sc, base, 1ull << sh);
}

/* Not-present page results are second-stage only (CM shadowing is defined
 * for the second stage, §6.1), so PASID-based invalidations never drop
 * them. */
static bool np_page_in_scope(const struct emu_ce *e, const void *arg)
{
	const struct iotlb_scope *sc = arg;
	uint16_t did = (uint16_t)(e->v1 >> 32);

	if ((e->v0 >> 8 & 0xff) != EMU_NP_PAGE || sc->pasid_only)
		return false;
	if (!sc->all_dids && did != sc->did)
		return false;
	return range_hits(sc, e->k1 << 12, 4096);
}

/* Largest number of probes a page-selective drop may take before a scan
 * of the table is cheaper. */
#define PROBE_BUDGET 64u

/* Drops IOTLB (and, unless keep_pwc, paging-structure) entries of a
 * page-selective scope. Entries of every size overlapping the range go:
 * a 2 MiB or 1 GiB leaf that contains a single invalidated 4 KiB page is
 * dropped whole (§6.5.2.3: "all mappings ... that overlap"). */
static void drop_range(struct vtdemu *emu, const struct iotlb_scope *sc,
		       bool keep_pwc)
{
	struct emu_backend *be = emu_be(emu);
	/* Sequentially consistent after bump_gen(): a fill sets its level bit
	 * before it checks the generation (Dekker, as in emu_htab_insert). */
	uint32_t ilv = __atomic_load_n(&be->iotlb_levels, __ATOMIC_SEQ_CST);
	uint32_t plv = __atomic_load_n(&be->pwc_levels, __ATOMIC_SEQ_CST);
	uint64_t n = 0, np = 0;
	unsigned int l;

	for (l = 1; l <= 3; l++) {
		uint64_t p0 = sc->first >> level_shift(l);
		uint64_t p1 = sc->last >> level_shift(l), p;

		/* No entry of that size was ever cached: nothing to probe. */
		if (!(ilv & (1u << l)))
			continue;
		if (p1 - p0 >= PROBE_BUDGET ||
		    emu_htab_count(&be->iotlb) < p1 - p0) {
			n += emu_htab_remove_scan(&be->iotlb, tlb_in_scope, sc);
			break;
		}
		for (p = p0; p <= p1; p++)
			n += emu_htab_remove_probe(&be->iotlb,
						   iotlb_hash(sc->did, p, l),
						   tlb_in_scope, sc);
	}
	count_inv(emu, VTDEMU_CACHE_IOTLB, n);
	if (!keep_pwc) {
		for (l = 2; l <= 5; l++) {
			unsigned int sh = level_shift(l);
			uint64_t p0 = sh < 64 ? sc->first >> sh : 0;
			uint64_t p1 = sh < 64 ? sc->last >> sh : 0, p;

			if (!(plv & (1u << l)))
				continue;
			if (p1 - p0 >= PROBE_BUDGET) {
				np += emu_htab_remove_scan(&be->pwc,
							   pwc_in_scope, sc);
				break;
			}
			for (p = p0; p <= p1; p++)
				np += emu_htab_remove_probe(
					&be->pwc, iotlb_hash(sc->did, p, l),
					pwc_in_scope, sc);
		}
		count_inv(emu, VTDEMU_CACHE_PWC, np);
	}
}

static void set_range(struct iotlb_scope *sc, uint64_t addr, unsigned int am)
{
	uint64_t size;

	sc->ranged = true;
	if (am >= 52) {
		sc->first = 0;
		sc->last = UINT64_MAX;
		return;
	}
	size = 4096ull << am;
	/* Hardware ignores the address bits below the mask (§6.5.2.3). */
	sc->first = addr & ~(size - 1) & ~0xfffull;
	sc->last = sc->first + size - 1;
}

uint64_t emu_inv_iotlb(struct vtdemu *emu, unsigned int gran, uint16_t did,
		       uint64_t addr, unsigned int am, bool ih)
{
	struct emu_backend *be = emu_be(emu);
	struct iotlb_scope sc = { .did = did };
	uint64_t shadow = 0;

	if (gran < 1 || gran > 3)
		return 0;
	begin_inv(be);
	bump_gen(be, VTDEMU_CACHE_IOTLB);
	if (!(gran == 3 && ih))
		bump_gen(be, VTDEMU_CACHE_PWC);

	switch (gran) {
	case 1:
		sc.all_dids = true;
		count_inv(emu, VTDEMU_CACHE_IOTLB,
			  emu_htab_remove_scan(&be->iotlb, NULL, NULL));
		count_inv(emu, VTDEMU_CACHE_PWC,
			  emu_htab_remove_scan(&be->pwc, NULL, NULL));
		if (emu->cap & BE_CAP_CM)
			shadow = emu_count_domain_leaves(emu, true, 0,
							 VTDEMU_NO_PASID);
		break;
	case 2:
		count_inv(emu, VTDEMU_CACHE_IOTLB,
			  emu_htab_remove_scan(&be->iotlb, tlb_in_scope, &sc));
		count_inv(emu, VTDEMU_CACHE_PWC,
			  emu_htab_remove_scan(&be->pwc, pwc_in_scope, &sc));
		if (emu->cap & BE_CAP_CM)
			shadow = emu_count_domain_leaves(emu, false, did,
							 VTDEMU_NO_PASID);
		break;
	case 3:
		set_range(&sc, addr, am);
		/* IH=1: only leaves changed, paging-structure caches may be
		 * kept (§6.5.2.3). */
		drop_range(emu, &sc, ih);
		shadow = 1ull << (am >= 52 ? 52 : am);
		break;
	}
	/* Second-stage not-present results (CM=1) are IOTLB content. */
	count_inv(emu, VTDEMU_CACHE_NOTPRESENT,
		  emu_htab_remove_scan(&be->np[EMU_NP_PAGE - 1],
				       np_page_in_scope, &sc));
	if (!(gran == 3 && ih))
		inv_end(be, VTDEMU_CACHE_PWC);
	inv_end(be, VTDEMU_CACHE_IOTLB);
	return shadow;
}

uint64_t emu_inv_pasid_iotlb(struct vtdemu *emu, unsigned int gran,
			     uint16_t did, uint32_t pasid, uint64_t addr,
			     unsigned int am, bool ih)
{
	struct emu_backend *be = emu_be(emu);
	struct iotlb_scope sc = {
		.did = did, .pasid_only = true, .pasid = pasid,
	};
	uint64_t shadow = 0;

	if (gran != 2 && gran != 3)
		return 0;
	begin_inv(be);
	bump_gen(be, VTDEMU_CACHE_IOTLB);
	if (!(gran == 3 && ih))
		bump_gen(be, VTDEMU_CACHE_PWC);
	if (gran == 2) {
		count_inv(emu, VTDEMU_CACHE_IOTLB,
			  emu_htab_remove_scan(&be->iotlb, tlb_in_scope, &sc));
		count_inv(emu, VTDEMU_CACHE_PWC,
			  emu_htab_remove_scan(&be->pwc, pwc_in_scope, &sc));
		if (emu->cap & BE_CAP_CM)
			shadow = emu_count_domain_leaves(emu, false, did,
							 pasid);
	} else {
		set_range(&sc, addr, am);
		drop_range(emu, &sc, ih);
		shadow = 1ull << (am >= 52 ? 52 : am);
	}
	if (!(gran == 3 && ih))
		inv_end(be, VTDEMU_CACHE_PWC);
	inv_end(be, VTDEMU_CACHE_IOTLB);
	return shadow;
}

struct pc_scope {
	unsigned int gran;
	uint16_t did;
	uint32_t pasid;
};

/* PASID payload: v1 bits 15:0 = DID (see vtdemu_walk.c). */
static bool pasid_in_scope(const struct emu_ce *e, const void *arg)
{
	const struct pc_scope *sc = arg;
	uint16_t did = (uint16_t)e->v1;

	switch (sc->gran) {
	case 0:
		return did == sc->did;
	case 1:
		return did == sc->did && (uint32_t)e->k1 == sc->pasid;
	default:
		return true;
	}
}

/* A not-present PASID entry has no DID: PASID-selective invalidations
 * match it by PASID alone, domain-selective and global ones drop them all
 * (a software that just made an entry present invalidates with the new
 * entry's DID, as Linux's pasid_flush_caches does). */
static bool np_pasid_in_scope(const struct emu_ce *e, const void *arg)
{
	const struct pc_scope *sc = arg;

	if ((e->v0 >> 8 & 0xff) != EMU_NP_PASID)
		return false;
	if (sc->gran == 1)
		return (uint32_t)e->v1 == sc->pasid;
	return true;
}

void emu_inv_pasid_cache(struct vtdemu *emu, unsigned int gran, uint16_t did,
			 uint32_t pasid)
{
	struct emu_backend *be = emu_be(emu);
	struct pc_scope sc = { .gran = gran, .did = did, .pasid = pasid };

	if (gran != 0 && gran != 1 && gran != 3)
		return;
	begin_inv(be);
	bump_gen(be, VTDEMU_CACHE_PASID);
	count_inv(emu, VTDEMU_CACHE_PASID,
		  emu_htab_remove_scan(&be->pasid, pasid_in_scope, &sc));
	count_inv(emu, VTDEMU_CACHE_NOTPRESENT,
		  emu_htab_remove_scan(&be->np[EMU_NP_PASID - 1],
				       np_pasid_in_scope, &sc));
	inv_end(be, VTDEMU_CACHE_PASID);
}

struct devtlb_scope {
	uint32_t pasid;
	bool global;
	uint64_t first, last;
};

static bool devtlb_in_scope(const struct emu_ce *e, const void *arg)
{
	const struct devtlb_scope *sc = arg;
	uint32_t pasid = (uint32_t)e->k0;
	unsigned int level = (unsigned int)(e->k1 & 7);
	uint64_t base = (e->k1 >> 3) << level_shift(level);
	uint64_t size = 1ull << level_shift(level);

	/* A global (type 8, G=1) invalidation covers every PASID of the
	 * endpoint; a type-3 one only translations without PASID; a type-8
	 * one without G only its PASID (§6.5.2.5, §6.5.2.6). */
	if (sc->global ? pasid == VTDEMU_NO_PASID : pasid != sc->pasid)
		return false;
	return base <= sc->last && base + size - 1 >= sc->first;
}

void emu_inv_devtlb(struct vtdemu *emu, uint16_t sid, uint32_t pasid,
		    bool global, uint64_t addr, uint64_t size)
{
	struct emu_backend *be = emu_be(emu);
	struct emu_ats_ep *ep;
	struct devtlb_scope sc = { .pasid = pasid, .global = global };
	uint64_t n = 0;
	unsigned int l;

	ep = __atomic_load_n(&be->ats[sid], __ATOMIC_ACQUIRE);
	if (!ep)
		return; /* no device TLB: nothing cached, nothing to fence */
	begin_inv(be);
	bump_gen(be, VTDEMU_CACHE_DEVTLB);
	sc.first = addr & ~0xfffull;
	if (size == 0 || size == UINT64_MAX || addr + size - 1 < addr)
		sc.last = UINT64_MAX;
	else
		sc.last = addr + size - 1;
	for (l = 1; l <= 3; l++) {
		uint64_t p0 = sc.first >> level_shift(l);
		uint64_t p1 = sc.last >> level_shift(l), p;

		if (global || p1 - p0 >= PROBE_BUDGET) {
			n += emu_htab_remove_scan(&ep->devtlb,
						  devtlb_in_scope, &sc);
			break;
		}
		for (p = p0; p <= p1; p++)
			n += emu_htab_remove_probe(&ep->devtlb,
						   emu_hash3(p, l, 6),
						   devtlb_in_scope, &sc);
	}
	count_inv(emu, VTDEMU_CACHE_DEVTLB, n);
	inv_end(be, VTDEMU_CACHE_DEVTLB);
}

static void drop_all(struct vtdemu *emu, bool count, bool devtlbs)
{
	struct emu_backend *be = emu_be(emu);
	struct emu_htab *tabs[] = { &be->ctx, &be->pasid, &be->iotlb,
				    &be->pwc, &be->np[0], &be->np[1],
				    &be->np[2] };
	static const enum vtdemu_cache_kind kinds[] = {
		VTDEMU_CACHE_CONTEXT, VTDEMU_CACHE_PASID, VTDEMU_CACHE_IOTLB,
		VTDEMU_CACHE_PWC, VTDEMU_CACHE_NOTPRESENT,
		VTDEMU_CACHE_NOTPRESENT, VTDEMU_CACHE_NOTPRESENT,
	};
	unsigned int k;
	uint32_t s;

	begin_inv(be);
	for (k = 0; k < VTDEMU_CACHE_KINDS; k++)
		bump_gen(be, (enum vtdemu_cache_kind)k);
	for (k = 0; k < sizeof(tabs) / sizeof(tabs[0]); k++) {
		uint64_t n = emu_htab_remove_scan(tabs[k], NULL, NULL);

		if (count)
			count_inv(emu, kinds[k], n);
	}
	for (s = 0; devtlbs && s < 65536; s++) {
		struct emu_ats_ep *ep = __atomic_load_n(&be->ats[s],
							__ATOMIC_ACQUIRE);
		uint64_t n;

		if (!ep)
			continue;
		n = emu_htab_remove_scan(&ep->devtlb, NULL, NULL);
		if (count)
			count_inv(emu, VTDEMU_CACHE_DEVTLB, n);
	}
	for (k = 0; k < VTDEMU_CACHE_KINDS; k++)
		inv_end(be, (enum vtdemu_cache_kind)k);
}

void emu_inv_all(struct vtdemu *emu)
{
	drop_all(emu, true, false);
}

/* Device TLBs belong to the endpoints: an SRTP or reset of the unit does
 * not reach them (only device-TLB invalidations do, §6.5.2.5), but
 * vtdemu_cache_flush_all() models a reset of everything. */
void vtdemu_cache_flush_all(struct vtdemu *emu)
{
	drop_all(emu, false, true);
}

/* ------------------------------------------------------------------------
 * Life cycle
 */

int emu_backend_init(struct vtdemu *emu, char *err, size_t errlen)
{
	const struct vtdemu_cache_config *cc = &emu->cfg.cache;
	struct emu_backend *be = calloc(1, sizeof(*be));
	unsigned int nd_bits;
	int rc;

	if (!be)
		goto nomem;
	emu->backend = be;
	be->ats = calloc(65536, sizeof(*be->ats));
	if (!be->ats)
		goto nomem;
	pthread_mutex_init(&be->ats_lock, NULL);
	if (emu_htab_init(&be->ctx, VTDEMU_CACHE_CONTEXT, cc->context_entries,
			  1) ||
	    emu_htab_init(&be->pasid, VTDEMU_CACHE_PASID, cc->pasid_entries,
			  2) ||
	    emu_htab_init(&be->iotlb, VTDEMU_CACHE_IOTLB, cc->iotlb_entries,
			  3) ||
	    emu_htab_init(&be->pwc, VTDEMU_CACHE_PWC, cc->pwc_entries, 4) ||
	    emu_htab_init(&be->np[0], VTDEMU_CACHE_NOTPRESENT, 0, 5) ||
	    emu_htab_init(&be->np[1], VTDEMU_CACHE_NOTPRESENT, 0, 7) ||
	    emu_htab_init(&be->np[2], VTDEMU_CACHE_NOTPRESENT, 0, 8))
		goto nomem;
	be->np_enabled = (emu->cap & BE_CAP_CM) && cc->cm_cache_not_present;
	be->pwc_enabled = cc->pwc_enabled;
	/* Host address width: CAP.MGAW + 1 as in QEMU (which uses its aw-bits
	 * for both), but never beyond the 52 bits of an x86 physical address
	 * (the entry formats' address fields end at bit 51, §9). */
	be->mgaw = BE_CAP_MGAW(emu->cap) + 1;
	be->haw = be->mgaw;
	if (be->haw > 52)
		be->haw = 52;
	be->haw_mask = (1ull << be->haw) - 1;
	/* CAP.ND: 4 + 2 * ND domain-id bits (ND 6: all 16). */
	nd_bits = 4 + 2 * (unsigned int)(emu->cap & 7);
	be->did_rsvd = nd_bits >= 16 ? 0 : (uint16_t)(0xffffu << nd_bits);
	rc = emu_stale_init(emu);
	if (rc)
		goto nomem;
	return 0;
nomem:
	if (err && errlen)
		snprintf(err, errlen, "vtdemu back end: out of memory");
	emu_backend_fini(emu);
	return -ENOMEM;
}

void emu_backend_fini(struct vtdemu *emu)
{
	struct emu_backend *be = emu->backend;
	uint32_t s;

	if (!be)
		return;
	if (be->ats) {
		for (s = 0; s < 65536; s++) {
			if (be->ats[s]) {
				emu_htab_fini(&be->ats[s]->devtlb);
				free(be->ats[s]);
			}
		}
		free(be->ats);
		pthread_mutex_destroy(&be->ats_lock);
	}
	emu_htab_fini(&be->ctx);
	emu_htab_fini(&be->pasid);
	emu_htab_fini(&be->iotlb);
	emu_htab_fini(&be->pwc);
	emu_htab_fini(&be->np[0]);
	emu_htab_fini(&be->np[1]);
	emu_htab_fini(&be->np[2]);
	emu_stale_fini(emu);
	free(be);
	emu->backend = NULL;
}

/* ------------------------------------------------------------------------
 * Introspection (vtdemu.h)
 */

const char *vtdemu_cache_name(enum vtdemu_cache_kind kind)
{
	static const char *const names[VTDEMU_CACHE_KINDS] = {
		[VTDEMU_CACHE_CONTEXT] = "context",
		[VTDEMU_CACHE_PASID] = "pasid",
		[VTDEMU_CACHE_IOTLB] = "iotlb",
		[VTDEMU_CACHE_PWC] = "pwc",
		[VTDEMU_CACHE_DEVTLB] = "devtlb",
		[VTDEMU_CACHE_NOTPRESENT] = "notpresent",
	};

	return (unsigned int)kind < VTDEMU_CACHE_KINDS ? names[kind] : "?";
}

void vtdemu_cache_occupancy(struct vtdemu *emu,
			    uint64_t count[VTDEMU_CACHE_KINDS])
{
	struct emu_backend *be = emu_be(emu);
	uint32_t s;

	count[VTDEMU_CACHE_CONTEXT] = emu_htab_count(&be->ctx);
	count[VTDEMU_CACHE_PASID] = emu_htab_count(&be->pasid);
	count[VTDEMU_CACHE_IOTLB] = emu_htab_count(&be->iotlb);
	count[VTDEMU_CACHE_PWC] = emu_htab_count(&be->pwc);
	count[VTDEMU_CACHE_NOTPRESENT] = np_count(be);
	count[VTDEMU_CACHE_DEVTLB] = 0;
	for (s = 0; s < 65536; s++) {
		struct emu_ats_ep *ep = __atomic_load_n(&be->ats[s],
							__ATOMIC_ACQUIRE);

		if (ep)
			count[VTDEMU_CACHE_DEVTLB] +=
				emu_htab_count(&ep->devtlb);
	}
}

struct holds_arg {
	const struct vtdemu_cache_key *key;
	bool scalable;
};

static bool holds_ctx(const struct emu_ce *e, const void *arg)
{
	const struct holds_arg *h = arg;

	return (uint16_t)e->k0 == h->key->sid;
}

static bool holds_pasid(const struct emu_ce *e, const void *arg)
{
	const struct holds_arg *h = arg;

	return (uint16_t)e->k0 == h->key->sid && (uint32_t)e->k1 == h->key->pasid;
}

static bool holds_tlb(const struct emu_ce *e, const void *arg, bool pwc)
{
	const struct holds_arg *h = arg;
	unsigned int level = (unsigned int)(e->k1 & 7);
	uint64_t page = e->k1 >> 3;

	if ((uint16_t)(e->k0 >> 32) != h->key->did ||
	    (uint32_t)e->k0 != h->key->pasid)
		return false;
	if (pwc && level != h->key->level)
		return false;
	return page == h->key->iova >> level_shift(level);
}

static bool holds_iotlb(const struct emu_ce *e, const void *arg)
{
	return holds_tlb(e, arg, false);
}

static bool holds_pwc(const struct emu_ce *e, const void *arg)
{
	return holds_tlb(e, arg, true);
}

static bool holds_devtlb(const struct emu_ce *e, const void *arg)
{
	const struct holds_arg *h = arg;
	unsigned int level = (unsigned int)(e->k1 & 7);

	return (uint32_t)e->k0 == h->key->pasid &&
	       (e->k1 >> 3) == h->key->iova >> level_shift(level);
}

static bool holds_np(const struct emu_ce *e, const void *arg)
{
	const struct holds_arg *h = arg;
	uint16_t sid = (uint16_t)(e->k0 >> 32);
	uint32_t pasid = (uint32_t)e->k0;

	if (sid != h->key->sid)
		return false;
	if (pasid != NP_ANY_PASID && pasid != h->key->pasid)
		return false;
	return e->k1 == NP_ANY_PAGE || e->k1 == h->key->iova >> 12;
}

bool vtdemu_cache_holds(struct vtdemu *emu, enum vtdemu_cache_kind kind,
			const struct vtdemu_cache_key *key)
{
	struct emu_backend *be = emu_be(emu);
	struct holds_arg h = { .key = key, .scalable = is_scalable(emu) };
	struct emu_ats_ep *ep;

	switch (kind) {
	case VTDEMU_CACHE_CONTEXT:
		return emu_htab_any(&be->ctx, holds_ctx, &h);
	case VTDEMU_CACHE_PASID:
		return emu_htab_any(&be->pasid, holds_pasid, &h);
	case VTDEMU_CACHE_IOTLB:
		return emu_htab_any(&be->iotlb, holds_iotlb, &h);
	case VTDEMU_CACHE_PWC:
		return emu_htab_any(&be->pwc, holds_pwc, &h);
	case VTDEMU_CACHE_DEVTLB:
		ep = __atomic_load_n(&be->ats[key->sid], __ATOMIC_ACQUIRE);
		return ep && emu_htab_any(&ep->devtlb, holds_devtlb, &h);
	case VTDEMU_CACHE_NOTPRESENT:
		return emu_htab_any(&be->np[0], holds_np, &h) ||
		       emu_htab_any(&be->np[1], holds_np, &h) ||
		       emu_htab_any(&be->np[2], holds_np, &h);
	default:
		return false;
	}
}

/* ------------------------------------------------------------------------
 * Device TLBs (used by vtdemu_dma.c)
 */

struct emu_ats_ep *emu_ats_get(struct vtdemu *emu, uint16_t sid)
{
	struct emu_ats_ep *ep = __atomic_load_n(&emu_be(emu)->ats[sid],
						__ATOMIC_ACQUIRE);

	if (ep && __atomic_load_n(&ep->enabled, __ATOMIC_ACQUIRE))
		return ep;
	return NULL;
}

bool emu_devtlb_lookup(struct vtdemu *emu, struct emu_ats_ep *ep,
		       uint32_t pasid, uint64_t iova, uint64_t *frame,
		       unsigned int *perm, unsigned int *level)
{
	unsigned int l;
	struct emu_ce e;

	for (l = 1; l <= 3; l++) {
		uint64_t page = iova >> level_shift(l);

		if (emu_htab_lookup(&ep->devtlb, emu_hash3(page, l, 6), pasid,
				    (page << 3) | l, &e)) {
			*frame = e.v0 & ~0xfffull;
			*perm = (unsigned int)(e.v0 & 3);
			*level = l;
			count_lookup(emu, VTDEMU_CACHE_DEVTLB, true);
			return true;
		}
	}
	count_lookup(emu, VTDEMU_CACHE_DEVTLB, false);
	return false;
}

void emu_devtlb_fill(struct vtdemu *emu, struct emu_ats_ep *ep,
		     uint32_t pasid, uint64_t iova, uint64_t frame,
		     unsigned int perm, unsigned int level,
		     const struct emu_gens *g)
{
	uint64_t page = iova >> level_shift(level);
	struct emu_ce e = {
		.k0 = pasid,
		.k1 = (page << 3) | level,
		.v0 = (frame & ~0xfffull) | (perm & 3),
		.hash = emu_hash3(page, level, 6),
	};

	emu_htab_insert(emu, &ep->devtlb, &e, VTDEMU_CACHE_DEVTLB,
			g->g[VTDEMU_CACHE_DEVTLB]);
}

int emu_ats_enable(struct vtdemu *emu, uint16_t sid, bool enabled)
{
	struct emu_backend *be = emu_be(emu);
	struct emu_ats_ep *ep;
	int rc = 0;

	pthread_mutex_lock(&be->ats_lock);
	ep = be->ats[sid];
	if (!ep && enabled) {
		ep = calloc(1, sizeof(*ep));
		if (!ep ||
		    emu_htab_init(&ep->devtlb, VTDEMU_CACHE_DEVTLB,
				  emu->cfg.cache.devtlb_entries, 6u + sid)) {
			free(ep);
			rc = -ENOMEM;
			goto out;
		}
		__atomic_store_n(&be->ats[sid], ep, __ATOMIC_RELEASE);
	}
	if (ep) {
		__atomic_store_n(&ep->enabled, enabled, __ATOMIC_RELEASE);
		/* Turning ATS off (or on again) starts with an empty device
		 * TLB, as a function reset of the endpoint would. */
		bump_gen(be, VTDEMU_CACHE_DEVTLB);
		emu_htab_remove_scan(&ep->devtlb, NULL, NULL);
		inv_end(be, VTDEMU_CACHE_DEVTLB);
	}
out:
	pthread_mutex_unlock(&be->ats_lock);
	return rc;
}
