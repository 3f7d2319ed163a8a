/* SPDX-License-Identifier: BSD-3-Clause
 * uvtd IOVA allocator: per-lcore magazines over per-class depots, and a
 * first-fit allocator for large sizes. See uvtd_iova.h for the model.
 */
#include <errno.h>
#include <string.h>

#include <rte_common.h>
#include <rte_malloc.h>

#include "uvtd_internal.h"
#include "uvtd_iova.h"

#define PAGE_SHIFT 12
#define PAGE       (1ull << PAGE_SHIFT)

/* Block states (one byte each). 1..64 is MAPPED(npages). */
#define ST_FREE      0x00
#define ST_RESERVED  0xf0
#define ST_PENDING   0xf1

#define LARGE_MAX    4096    /* extents tracked in the large region */

struct mag {
	uint32_t n;
	/* The cache that deposited it (a hint, never dereferenced): a refill
	 * takes back its own lcore's blocks first, so that two lcores'
	 * mappings stay in different leaf tables (see depot_refill). */
	const struct uvtd_iova_cache *from;
	uint32_t idx[];          /* block indexes in the class region */
};

struct depot {
	uvtd_lock_t lock;
	uint32_t nfull, nempty;  /* [lock] */
	struct mag **full;       /* [lock] stack */
	struct mag **empty;      /* [lock] stack */
	uint32_t bump;           /* [lock] never-used blocks start here */
};

struct class_region {
	uint64_t base;           /* [I] aligned to the block size */
	uint32_t mag_size;       /* [I] magazine capacity of this class */
	uint64_t nblocks;        /* [I] */
	uint8_t *state;          /* [A] one byte per block */
	struct depot depot;
};

/* An extent of the large region. */
struct extent {
	uint64_t start, len;     /* len: as reserved (guard included) */
	uint64_t mapped;         /* 0 while reserved, else mapped length */
	uint8_t state;
};

struct uvtd_iova_cache {
	struct mag *loaded[UVTD_IOVA_CLASSES];   /* [O] */
	struct mag *prev[UVTD_IOVA_CLASSES];     /* [O] */
	uint32_t slab_next[UVTD_IOVA_CLASSES];   /* [O] private never-used */
	uint32_t slab_end[UVTD_IOVA_CLASSES];    /* [O] blocks */
	uint64_t hits, misses;                   /* [O], read relaxed */
	struct uvtd_iova_cache *next;            /* [a->lock] */
};

struct uvtd_iova {
	struct uvtd_iova_conf conf;              /* [I] */
	unsigned int region_shift;               /* [I] log2 region, 0: none */
	struct class_region cls[UVTD_IOVA_CLASSES];
	/* Large region. */
	uint64_t large_base, large_end;          /* [I] */
	uvtd_lock_t lock;                     /* large region, cache list */
	struct extent *free_ext;                 /* [lock] sorted */
	uint32_t nfree_ext;
	struct extent *used_ext;                 /* [lock] sorted */
	uint32_t nused_ext;
	struct uvtd_iova_cache *caches;          /* [lock] */
	/* Counters [A]. */
	uint64_t global_allocs, large_allocs, enomem, reuse_violations;
	uint64_t dead_hits, dead_misses;         /* of destroyed caches */
};

static inline uint64_t npages_of(const struct uvtd_iova *a, uint64_t len)
{
	return (len >> PAGE_SHIFT) + (a->conf.guard ? 1 : 0);
}

/* Class of an allocation of n pages: ceil(log2 n), or -1 if too large. */
static inline int class_of(uint64_t n)
{
	int k = n <= 1 ? 0 : 64 - __builtin_clzll(n - 1);

	return k < UVTD_IOVA_CLASSES ? k : -1;
}

static inline uint64_t block_bytes(int k)
{
	return PAGE << k;
}

static struct mag *mag_new(const struct uvtd_iova *a, int k)
{
	return rte_zmalloc_socket("uvtd_mag",
				  sizeof(struct mag) +
				  (size_t)a->cls[k].mag_size * sizeof(uint32_t), 0,
				  a->conf.socket);
}

/* Fills magazine m from the cache's private slab (ascending pops). */
static void slab_fill(const struct uvtd_iova *a, struct uvtd_iova_cache *c,
		      int k, struct mag *m)
{
	uint32_t n = RTE_MIN(a->cls[k].mag_size - m->n,
			     c->slab_end[k] - c->slab_next[k]);

	for (uint32_t i = 0; i < n; i++)
		m->idx[m->n++] = c->slab_next[k] + n - 1 - i;
	c->slab_next[k] += n;
}

/* Magazine capacity of a class of nblocks blocks. A lazy flush frees a
 * whole queue of IOVAs at once on one lcore: with magazines of
 * UVTD_IOVA_MAG_SIZE, a flush of 256 overflowed the lcore's two magazines
 * and took the depot's lock twice, and the next 256 maps twice more: four
 * lock handovers per 256 pairs when two lcores do it, about 4 ns a pair
 * (bench_svc lazy, 2 lcores). Magazines of a flush's size keep the
 * round trip in the lcore's own cache. The size stays at most 1/64 of the
 * class (never below the default), so that the large classes, which hold
 * few blocks, are not all parked in a few lcores' caches. */
static uint32_t mag_size_of(const struct uvtd_iova_conf *conf,
			    uint64_t nblocks)
{
	uint64_t want = RTE_MAX((uint64_t)UVTD_IOVA_MAG_SIZE,
				(uint64_t)conf->flush_batch);

	if (conf->mag_size)
		return conf->mag_size;
	uint64_t cap = RTE_MAX((uint64_t)UVTD_IOVA_MAG_SIZE, nblocks / 64);

	want = RTE_MIN(want, cap);
	return (uint32_t)RTE_MIN(want, (uint64_t)UVTD_IOVA_MAG_MAX);
}

int uvtd_iova_create(const struct uvtd_iova_conf *conf, struct uvtd_iova **out)
{
	struct uvtd_iova *a;
	uint64_t region, cur, end;
	int k;

	*out = NULL;
	if ((conf->base | conf->size) & (PAGE - 1) || conf->size == 0 ||
	    conf->base + conf->size < conf->base ||
	    conf->mag_size > UVTD_IOVA_MAG_MAX)
		return -EINVAL;
	a = rte_zmalloc_socket("uvtd_iova", sizeof(*a), RTE_CACHE_LINE_SIZE,
			       conf->socket);
	if (a == NULL)
		return -ENOMEM;
	a->conf = *conf;
	uvtd_lock_init(&a->lock);

	/* A sixteenth of the window per class (seven of them): most of the
	 * window stays for the large region, and each class still holds many
	 * magazines' worth of blocks. */
	end = conf->base + conf->size;
	region = rte_align64prevpow2(conf->size / 16);
	cur = RTE_ALIGN_CEIL(conf->base, block_bytes(UVTD_IOVA_CLASSES - 1));
	if (region < block_bytes(UVTD_IOVA_CLASSES - 1) ||
	    cur + UVTD_IOVA_CLASSES * region > end)
		region = 0;
	for (k = 0; k < UVTD_IOVA_CLASSES; k++) {
		struct class_region *r = &a->cls[k];
		uint64_t nmags;

		r->base = cur;
		r->nblocks = region / block_bytes(k);
		r->mag_size = mag_size_of(conf, r->nblocks);
		cur += region;
		uvtd_lock_init(&r->depot.lock);
		if (r->nblocks == 0)
			continue;
		r->state = rte_zmalloc_socket("uvtd_iova_state", r->nblocks, 0,
					      conf->socket);
		/* Enough magazines for every block, plus one empty: a free
		 * can then always trade a full magazine for an empty one. */
		nmags = (r->nblocks + r->mag_size - 1) / r->mag_size + 1;
		r->depot.full = rte_zmalloc_socket("uvtd_depot",
				nmags * sizeof(void *), 0, conf->socket);
		r->depot.empty = rte_zmalloc_socket("uvtd_depot",
				nmags * sizeof(void *), 0, conf->socket);
		if (!r->state || !r->depot.full || !r->depot.empty)
			goto nomem;
		for (uint64_t i = 0; i < nmags; i++) {
			struct mag *m = mag_new(a, k);

			if (m == NULL)
				goto nomem;
			r->depot.empty[r->depot.nempty++] = m;
		}
	}
	if (region == 0)
		cur = conf->base;
	else
		a->region_shift = (unsigned int)rte_log2_u64(region);
	a->large_base = cur;
	a->large_end = end;
	a->free_ext = rte_zmalloc_socket("uvtd_ext", LARGE_MAX * sizeof(struct extent),
					 0, conf->socket);
	a->used_ext = rte_zmalloc_socket("uvtd_ext", LARGE_MAX * sizeof(struct extent),
					 0, conf->socket);
	if (!a->free_ext || !a->used_ext)
		goto nomem;
	if (a->large_end > a->large_base) {
		a->free_ext[0].start = a->large_base;
		a->free_ext[0].len = a->large_end - a->large_base;
		a->nfree_ext = 1;
	}
	*out = a;
	return 0;
nomem:
	uvtd_iova_destroy(a);
	return -ENOMEM;
}

void uvtd_iova_destroy(struct uvtd_iova *a)
{
	if (a == NULL)
		return;
	while (a->caches)
		uvtd_iova_cache_destroy(a, a->caches);
	for (int k = 0; k < UVTD_IOVA_CLASSES; k++) {
		struct depot *d = &a->cls[k].depot;

		for (uint32_t i = 0; i < d->nfull; i++)
			rte_free(d->full[i]);
		for (uint32_t i = 0; i < d->nempty; i++)
			rte_free(d->empty[i]);
		rte_free(d->full);
		rte_free(d->empty);
		rte_free(a->cls[k].state);
	}
	rte_free(a->free_ext);
	rte_free(a->used_ext);
	rte_free(a);
}

bool uvtd_iova_overlaps_window(const struct uvtd_iova *a, uint64_t iova,
			       uint64_t len)
{
	uint64_t wend = a->conf.base + a->conf.size;

	return iova < wend && iova + len > a->conf.base;
}

struct uvtd_iova_cache *uvtd_iova_cache_create(struct uvtd_iova *a)
{
	struct uvtd_iova_cache *c;

	c = rte_zmalloc_socket("uvtd_iova_cache", sizeof(*c),
			       RTE_CACHE_LINE_SIZE, a->conf.socket);
	if (c == NULL)
		return NULL;
	for (int k = 0; k < UVTD_IOVA_CLASSES; k++) {
		c->loaded[k] = mag_new(a, k);
		c->prev[k] = mag_new(a, k);
		if (!c->loaded[k] || !c->prev[k]) {
			for (int j = 0; j <= k; j++) {
				rte_free(c->loaded[j]);
				rte_free(c->prev[j]);
			}
			rte_free(c);
			return NULL;
		}
	}
	uvtd_lock(&a->lock);
	c->next = a->caches;
	a->caches = c;
	uvtd_unlock(&a->lock);
	return c;
}

/* Returns a magazine's (FREE, already carved) blocks to the depot: they
 * fill the full stack's partly filled magazine, then fresh ones from the
 * empty stack. Only a take-back leaves a magazine partly filled, and it
 * fills that one first wherever deposits have buried it: so the full stack
 * holds at most one, and the depot's ceil(nblocks / mag_size) + 1
 * magazines always leave an empty one for a deposit (which holds
 * mag_size + 1 blocks outside the depot) and for a take-back (which
 * starts one only when every magazine of the full stack is full). */
static void depot_take_back(struct uvtd_iova *a, int k, struct mag *m)
{
	struct depot *d = &a->cls[k].depot;
	const uint32_t cap = a->cls[k].mag_size;

	uvtd_lock(&d->lock);
	while (m->n) {
		struct mag *dst = NULL;

		for (uint32_t i = d->nfull; i-- > 0;)
			if (d->full[i]->n < cap) {
				dst = d->full[i];
				break;
			}
		if (dst == NULL) {
			dst = d->empty[--d->nempty];
			d->full[d->nfull++] = dst;
		}
		while (m->n && dst->n < cap)
			dst->idx[dst->n++] = m->idx[--m->n];
	}
	uvtd_unlock(&d->lock);
}

void uvtd_iova_cache_destroy(struct uvtd_iova *a, struct uvtd_iova_cache *c)
{
	struct uvtd_iova_cache **pp;

	if (c == NULL)
		return;
	uvtd_lock(&a->lock);
	for (pp = &a->caches; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	a->dead_hits += c->hits;
	a->dead_misses += c->misses;
	uvtd_unlock(&a->lock);
	for (int k = 0; k < UVTD_IOVA_CLASSES; k++) {
		if (a->cls[k].nblocks) {
			depot_take_back(a, k, c->loaded[k]);
			depot_take_back(a, k, c->prev[k]);
			/* The unused rest of the slab: FREE blocks too. */
			while (c->slab_next[k] < c->slab_end[k]) {
				slab_fill(a, c, k, c->loaded[k]);
				depot_take_back(a, k, c->loaded[k]);
			}
		}
		rte_free(c->loaded[k]);
		rte_free(c->prev[k]);
	}
	rte_free(c);
}

/* Exchanges the cache's empty loaded magazine for a full one from the
 * depot, carving never-used blocks when the depot has none. Returns false
 * when the class is exhausted. */
static bool depot_refill(struct uvtd_iova *a, int k, struct uvtd_iova_cache *c)
{
	struct class_region *r = &a->cls[k];
	struct depot *d = &r->depot;
	struct mag *m = c->loaded[k];
	bool ok = true;

	/* The lcore's own slab first: no lock. */
	if (c->slab_next[k] < c->slab_end[k]) {
		slab_fill(a, c, k, m);
		return true;
	}
	uvtd_lock(&d->lock);
	if (d->nfull) {
		struct mag *full;

		/* A magazine this lcore deposited, if one is near the top:
		 * taking the other lcore's blocks mixes both lcores' IOVAs
		 * in one leaf table, whose entries and count they then
		 * write from two cores (a lazy queue deposits and refills a
		 * few magazines at every flush). Any magazine otherwise. */
		for (uint32_t i = d->nfull, seen = 0; i-- > 0 && seen < 8;
		     seen++) {
			if (d->full[i]->from == c) {
				full = d->full[i];
				d->full[i] = d->full[d->nfull - 1];
				d->full[d->nfull - 1] = full;
				break;
			}
		}
		full = d->full[--d->nfull];

		d->empty[d->nempty++] = m;
		c->loaded[k] = full;
	} else if (d->bump < r->nblocks) {
		/* A new slab of never-used blocks for this lcore alone: 2 MiB
		 * for the small classes, so that two lcores' mappings land
		 * in different leaf page-table pages and do not share their
		 * cache lines (the driver counts entries per table page). */
		uint64_t want = RTE_MAX((uint64_t)r->mag_size,
					(2ull << 20) / block_bytes(k));
		uint64_t n = RTE_MIN(want, r->nblocks - d->bump);

		c->slab_next[k] = d->bump;
		c->slab_end[k] = (uint32_t)(d->bump + n);
		d->bump += (uint32_t)n;
		__atomic_fetch_add(&a->global_allocs, 1, __ATOMIC_RELAXED);
	} else {
		ok = false;
	}
	uvtd_unlock(&d->lock);
	if (ok && c->loaded[k]->n == 0)
		slab_fill(a, c, k, c->loaded[k]);
	return ok;
}

/* Trades the cache's full loaded magazine for an empty one. */
static void depot_deposit(struct uvtd_iova *a, int k, struct uvtd_iova_cache *c)
{
	struct depot *d = &a->cls[k].depot;

	c->loaded[k]->from = c;
	uvtd_lock(&d->lock);
	d->full[d->nfull++] = c->loaded[k];
	c->loaded[k] = d->empty[--d->nempty];
	uvtd_unlock(&d->lock);
}

/* ---- large region (first fit, under a->lock) ---- */

static int ext_find(const struct extent *v, uint32_t n, uint64_t iova)
{
	/* Index of the last extent starting at or below iova, or -1. */
	int lo = 0, hi = (int)n - 1, ans = -1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;

		if (v[mid].start <= iova) {
			ans = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return ans;
}

static void ext_insert(struct extent *v, uint32_t *n, uint32_t at,
		       const struct extent *e)
{
	memmove(&v[at + 1], &v[at], (*n - at) * sizeof(*v));
	v[at] = *e;
	(*n)++;
}

static void ext_remove(struct extent *v, uint32_t *n, uint32_t at)
{
	memmove(&v[at], &v[at + 1], (*n - at - 1) * sizeof(*v));
	(*n)--;
}

static int large_alloc(struct uvtd_iova *a, uint64_t bytes, uint64_t *iova)
{
	/* 2 MiB alignment for 2 MiB and more lets the driver use superpage
	 * leaves when the physical side is aligned too. */
	uint64_t align = bytes >= (2ull << 20) ? (2ull << 20) : PAGE;
	int rc = -ENOMEM;

	uvtd_lock(&a->lock);
	if (a->nused_ext + 1 >= LARGE_MAX || a->nfree_ext + 1 >= LARGE_MAX)
		goto out;
	for (uint32_t i = 0; i < a->nfree_ext; i++) {
		struct extent *f = &a->free_ext[i];
		uint64_t s = RTE_ALIGN_CEIL(f->start, align);
		uint64_t fend = f->start + f->len;
		struct extent used = { .start = s, .len = bytes,
				       .state = ST_RESERVED };
		int at;

		if (s < f->start || s + bytes > fend || s + bytes < s)
			continue;
		/* Split f into [f->start, s) and [s + bytes, fend). */
		if (s + bytes < fend) {
			struct extent tail = { .start = s + bytes,
					       .len = fend - s - bytes };

			ext_insert(a->free_ext, &a->nfree_ext, i + 1, &tail);
		}
		f = &a->free_ext[i];
		if (s > f->start)
			f->len = s - f->start;
		else
			ext_remove(a->free_ext, &a->nfree_ext, i);
		at = ext_find(a->used_ext, a->nused_ext, s) + 1;
		ext_insert(a->used_ext, &a->nused_ext, at, &used);
		*iova = s;
		a->large_allocs++;
		a->global_allocs++;
		rc = 0;
		break;
	}
out:
	uvtd_unlock(&a->lock);
	return rc;
}

static void large_release_locked(struct uvtd_iova *a, uint32_t ui)
{
	struct extent f = { .start = a->used_ext[ui].start,
			    .len = a->used_ext[ui].len };
	int at;

	ext_remove(a->used_ext, &a->nused_ext, ui);
	at = ext_find(a->free_ext, a->nfree_ext, f.start);
	/* Coalesce with the previous and next free extents. */
	if (at >= 0 && a->free_ext[at].start + a->free_ext[at].len == f.start) {
		a->free_ext[at].len += f.len;
	} else {
		ext_insert(a->free_ext, &a->nfree_ext, (uint32_t)(at + 1), &f);
		at++;
	}
	if ((uint32_t)at + 1 < a->nfree_ext &&
	    a->free_ext[at].start + a->free_ext[at].len ==
	    a->free_ext[at + 1].start) {
		a->free_ext[at].len += a->free_ext[at + 1].len;
		ext_remove(a->free_ext, &a->nfree_ext, at + 1);
	}
}

static bool in_large(const struct uvtd_iova *a, uint64_t iova)
{
	return iova >= a->large_base && iova < a->large_end;
}

/* The class region holding iova and its block index, or -1. */
static inline int class_at(const struct uvtd_iova *a, uint64_t iova,
			   uint64_t *blk)
{
	/* The class regions are consecutive, each 2^region_shift bytes: the
	 * class is one subtraction and one shift away. */
	uint64_t off = iova - a->cls[0].base;
	uint64_t k;

	if (a->region_shift == 0 || off >= (uint64_t)UVTD_IOVA_CLASSES <<
					   a->region_shift)
		return -1;
	k = off >> a->region_shift;
	*blk = (off & ((1ull << a->region_shift) - 1)) >> (PAGE_SHIFT + k);
	return (int)k;
}

/* ---- fast path ---- */

int uvtd_iova_alloc(struct uvtd_iova *a, struct uvtd_iova_cache *c,
		    uint64_t len, uint64_t *iova)
{
	uint64_t n = npages_of(a, len);
	int k = class_of(n);

	if (k >= 0 && a->cls[k].nblocks) {
		struct class_region *r = &a->cls[k];

		for (;;) {
			struct mag *m = c->loaded[k];
			uint32_t idx;
			uint8_t expect = ST_FREE;

			if (likely(m->n)) {
				c->hits++;
			} else if (c->prev[k]->n) {
				/* Swap: the previous magazine is full-ish. */
				c->loaded[k] = c->prev[k];
				c->prev[k] = m;
				c->hits++;
			} else {
				c->misses++;
				if (!depot_refill(a, k, c))
					break;
			}
			m = c->loaded[k];
			if (m->n == 0)
				break;
			idx = m->idx[--m->n];
			/* A block in this lcore's magazine is this lcore's:
			 * nobody else writes its state (a stray claim only
			 * reads FREE and fails), so no locked instruction. */
			expect = __atomic_load_n(&r->state[idx], __ATOMIC_ACQUIRE);
			if (unlikely(expect != ST_FREE)) {
				/* Never: a block in a magazine is FREE. */
				__atomic_fetch_add(&a->reuse_violations, 1,
						   __ATOMIC_RELAXED);
				continue;
			}
			__atomic_store_n(&r->state[idx], ST_RESERVED,
					 __ATOMIC_RELAXED);
			*iova = r->base + ((uint64_t)idx << (PAGE_SHIFT + k));
			return 0;
		}
	}
	/* Too large for the classes, or its class is used up. */
	if (large_alloc(a, n << PAGE_SHIFT, iova) == 0)
		return 0;
	__atomic_fetch_add(&a->enomem, 1, __ATOMIC_RELAXED);
	return -ENOMEM;
}

static void cache_put(struct uvtd_iova *a, struct uvtd_iova_cache *c, int k,
		      uint32_t idx)
{
	struct mag *m = c->loaded[k];

	if (unlikely(m->n == a->cls[k].mag_size)) {
		if (c->prev[k]->n == 0) {
			c->loaded[k] = c->prev[k];
			c->prev[k] = m;
		} else {
			depot_deposit(a, k, c);
		}
		m = c->loaded[k];
	}
	m->idx[m->n++] = idx;
}

void uvtd_iova_map_done(struct uvtd_iova *a, uint64_t iova, uint64_t len)
{
	uint64_t blk;
	int k = class_at(a, iova, &blk);

	if (k >= 0) {
		/* Release: a claimer that sees MAPPED sees a complete map. */
		__atomic_store_n(&a->cls[k].state[blk], (uint8_t)(len >> PAGE_SHIFT),
				 __ATOMIC_RELEASE);
		return;
	}
	uvtd_lock(&a->lock);
	int i = ext_find(a->used_ext, a->nused_ext, iova);

	if (i >= 0 && a->used_ext[i].start == iova) {
		a->used_ext[i].state = 1;
		a->used_ext[i].mapped = len;
	}
	uvtd_unlock(&a->lock);
}

static void release(struct uvtd_iova *a, struct uvtd_iova_cache *c,
		    uint64_t iova, uint8_t from)
{
	uint64_t blk;
	int k = class_at(a, iova, &blk);

	if (k >= 0) {
		uint8_t *st = &a->cls[k].state[blk];

		/* RESERVED and PENDING blocks belong to whoever reserved or
		 * claimed them: a plain check and store, no locked op. */
		if (unlikely(__atomic_load_n(st, __ATOMIC_RELAXED) != from)) {
			__atomic_fetch_add(&a->reuse_violations, 1,
					   __ATOMIC_RELAXED);
			return;
		}
		__atomic_store_n(st, ST_FREE, __ATOMIC_RELEASE);
		cache_put(a, c, k, (uint32_t)blk);
		return;
	}
	uvtd_lock(&a->lock);
	int i = ext_find(a->used_ext, a->nused_ext, iova);

	if (i >= 0 && a->used_ext[i].start == iova &&
	    a->used_ext[i].state == from)
		large_release_locked(a, (uint32_t)i);
	else
		a->reuse_violations++;
	uvtd_unlock(&a->lock);
}

void uvtd_iova_map_failed(struct uvtd_iova *a, struct uvtd_iova_cache *c,
			  uint64_t iova, uint64_t len)
{
	RTE_SET_USED(len);
	release(a, c, iova, ST_RESERVED);
}

void uvtd_iova_free(struct uvtd_iova *a, struct uvtd_iova_cache *c,
		    uint64_t iova, uint64_t len)
{
	RTE_SET_USED(len);
	release(a, c, iova, ST_PENDING);
}

int uvtd_iova_claim(struct uvtd_iova *a, uint64_t iova, uint64_t len)
{
	uint64_t blk, npages = len >> PAGE_SHIFT;
	int k = class_at(a, iova, &blk);
	int rc;

	if (k >= 0) {
		uint8_t *st = &a->cls[k].state[blk];
		uint8_t cur = __atomic_load_n(st, __ATOMIC_ACQUIRE);
		uint64_t bstart = a->cls[k].base + (blk << (PAGE_SHIFT + k));
		bool mapped = cur >= 1 && cur <= 64;

		if (!mapped)
			return -ENOENT;
		/* Inside the mapping but not its start, or not its length. */
		if (iova != bstart || cur != npages)
			return (iova - bstart) < ((uint64_t)cur << PAGE_SHIFT) ?
			       -EINVAL : -ENOENT;
		if (!__atomic_compare_exchange_n(st, &cur, ST_PENDING, false,
						 __ATOMIC_ACQUIRE,
						 __ATOMIC_RELAXED))
			return -ENOENT;   /* another lcore unmapped it first */
		return 0;
	}
	if (!in_large(a, iova))
		return -ENOENT;
	uvtd_lock(&a->lock);
	int i = ext_find(a->used_ext, a->nused_ext, iova);

	rc = -ENOENT;
	if (i >= 0 && a->used_ext[i].state == 1) {
		struct extent *e = &a->used_ext[i];

		if (e->start == iova && e->mapped == len) {
			e->state = ST_PENDING;
			rc = 0;
		} else if (iova < e->start + e->mapped) {
			rc = -EINVAL;
		}
	}
	uvtd_unlock(&a->lock);
	return rc;
}

void uvtd_iova_unclaim(struct uvtd_iova *a, uint64_t iova, uint64_t len)
{
	uint64_t blk;
	int k = class_at(a, iova, &blk);

	if (k >= 0) {
		__atomic_store_n(&a->cls[k].state[blk],
				 (uint8_t)(len >> PAGE_SHIFT), __ATOMIC_RELEASE);
		return;
	}
	uvtd_lock(&a->lock);
	int i = ext_find(a->used_ext, a->nused_ext, iova);

	if (i >= 0 && a->used_ext[i].start == iova)
		a->used_ext[i].state = 1;
	uvtd_unlock(&a->lock);
}

bool uvtd_iova_is_pending(const struct uvtd_iova *a, uint64_t iova)
{
	uint64_t blk;
	int k = class_at(a, iova, &blk);
	bool p = false;

	if (k >= 0)
		return __atomic_load_n(&a->cls[k].state[blk], __ATOMIC_ACQUIRE) ==
		       ST_PENDING;
	uvtd_lock((uvtd_lock_t *)(uintptr_t)&a->lock);
	int i = ext_find(a->used_ext, a->nused_ext, iova);

	if (i >= 0 && iova < a->used_ext[i].start + a->used_ext[i].len)
		p = a->used_ext[i].state == ST_PENDING;
	uvtd_unlock((uvtd_lock_t *)(uintptr_t)&a->lock);
	return p;
}

void uvtd_iova_stats_get(struct uvtd_iova *a, struct uvtd_iova_stats *s)
{
	memset(s, 0, sizeof(*s));
	uvtd_lock(&a->lock);
	s->hits = a->dead_hits;
	s->misses = a->dead_misses;
	for (struct uvtd_iova_cache *c = a->caches; c; c = c->next) {
		s->hits += __atomic_load_n(&c->hits, __ATOMIC_RELAXED);
		s->misses += __atomic_load_n(&c->misses, __ATOMIC_RELAXED);
	}
	for (uint32_t i = 0; i < a->nused_ext; i++) {
		s->reserved_bytes += a->used_ext[i].len;
		if (a->used_ext[i].state != ST_RESERVED &&
		    a->used_ext[i].state != ST_PENDING) {
			s->mapped_bytes += a->used_ext[i].mapped;
			s->mappings++;
		}
	}
	for (uint32_t i = 0; i < a->nfree_ext; i++) {
		s->large_free_bytes += a->free_ext[i].len;
		s->large_largest_free = RTE_MAX(s->large_largest_free,
						a->free_ext[i].len);
	}
	uvtd_unlock(&a->lock);
	for (int k = 0; k < UVTD_IOVA_CLASSES; k++) {
		const struct class_region *r = &a->cls[k];

		for (uint64_t b = 0; b < r->nblocks; b++) {
			uint8_t st = __atomic_load_n(&r->state[b], __ATOMIC_RELAXED);

			if (st >= 1 && st <= 64) {
				s->mapped_bytes += (uint64_t)st << PAGE_SHIFT;
				s->reserved_bytes += block_bytes(k);
				s->mappings++;
			}
		}
	}
	s->global_allocs = __atomic_load_n(&a->global_allocs, __ATOMIC_RELAXED);
	s->large_allocs = __atomic_load_n(&a->large_allocs, __ATOMIC_RELAXED);
	s->enomem = __atomic_load_n(&a->enomem, __ATOMIC_RELAXED);
	s->reuse_violations = __atomic_load_n(&a->reuse_violations,
					      __ATOMIC_RELAXED);
	s->hit_rate = s->hits + s->misses ?
		      (double)s->hits / (double)(s->hits + s->misses) : 0.0;
	s->fragmentation = s->reserved_bytes ?
		1.0 - (double)s->mapped_bytes / (double)s->reserved_bytes : 0.0;
}

void uvtd_iova_foreach_mapped(struct uvtd_iova *a,
			      void (*fn)(void *arg, uint64_t iova, uint64_t len),
			      void *arg)
{
	for (int k = 0; k < UVTD_IOVA_CLASSES; k++) {
		const struct class_region *r = &a->cls[k];

		for (uint64_t b = 0; b < r->nblocks; b++) {
			uint8_t st = __atomic_load_n(&r->state[b], __ATOMIC_ACQUIRE);

			if (st >= 1 && st <= 64)
				fn(arg, r->base + (b << (PAGE_SHIFT + k)),
				   (uint64_t)st << PAGE_SHIFT);
		}
	}
	/* Large extents: copy them under the lock, call fn without it (fn
	 * unmaps, which takes the lock). */
	struct extent *copy;
	uint32_t n = 0;

	copy = rte_malloc("uvtd_ext_copy", LARGE_MAX * sizeof(*copy), 0);
	if (copy == NULL)
		return;
	uvtd_lock(&a->lock);
	for (uint32_t i = 0; i < a->nused_ext; i++)
		if (a->used_ext[i].state == 1)
			copy[n++] = a->used_ext[i];
	uvtd_unlock(&a->lock);
	for (uint32_t i = 0; i < n; i++)
		fn(arg, copy[i].start, copy[i].mapped);
	rte_free(copy);
}
