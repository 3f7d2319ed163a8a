/* SPDX-License-Identifier: BSD-3-Clause
 * uvtd IOVA allocator (private to lib/uvtd; its own tests use it directly).
 *
 * One allocator per domain, over the domain's IOVA window:
 *
 *   [ class 0 region | class 1 | ... | class 6 | large region            ]
 *     4 KiB blocks    8 KiB       256 KiB blocks  first fit, under a lock
 *
 * Common sizes (1..64 pages, rounded up to a power of two) come from
 * per-lcore magazine caches (Bonwick's magazines as "Utilizing the IOMMU
 * Scalably", ATC'15, applied them to IOVAs): each lcore holds a loaded and
 * a previous magazine per class and visits the per-class depot (a spinlock)
 * only when both are empty (alloc) or full (free). The depot refills from
 * the class region's never-used blocks. Blocks are naturally aligned, so one
 * page-selective invalidation covers a block.
 *
 * Every class block has a one-byte state, which is also the service's
 * mapping record for it (so unmap validates in O(1) and lock-free):
 *
 *   FREE --alloc--> RESERVED --map_done--> MAPPED(npages) --claim--> PENDING
 *     ^                 |  map_failed                            |
 *     +-----------------+<-------------- free (invalidation completed)
 *
 * free() is called only after the invalidation covering the unmap has
 * completed, and alloc() hands out only FREE blocks: an IOVA whose
 * invalidation is pending cannot be reused. A violation (a bug) is counted
 * in reuse_violations and the block is skipped.
 *
 * Guard pages: with conf.guard each allocation takes one more page, never
 * mapped, after the mapping (a device overrunning its buffer faults).
 *
 * Thread safety: a cache is used by its lcore only; everything else may run
 * concurrently.
 */
#ifndef UVTD_IOVA_H
#define UVTD_IOVA_H

#include <stdbool.h>
#include <stdint.h>

#define UVTD_IOVA_CLASSES   7     /* 1, 2, 4 ... 64 pages */
#define UVTD_IOVA_MAG_SIZE  64    /* default magazine capacity */
#define UVTD_IOVA_MAG_MAX   4096  /* largest magazine (mag_size, flush_batch) */

struct uvtd_iova_conf {
	uint64_t base;         /* window start (4 KiB aligned) */
	uint64_t size;         /* window size (4 KiB multiple) */
	bool guard;
	unsigned int mag_size; /* every class's magazine capacity; 0: by class,
				* from flush_batch (uvtd_iova.c) */
	/* How many IOVAs an lcore frees at once (its lazy flush queue's
	 * entries; 0: none): magazines hold that many where the class is
	 * large enough, so the frees land in the lcore's own cache. */
	unsigned int flush_batch;
	int socket;
};

struct uvtd_iova;
struct uvtd_iova_cache;

struct uvtd_iova_stats {
	uint64_t hits;            /* served from an lcore's magazines */
	uint64_t misses;          /* had to visit the depot */
	uint64_t global_allocs;   /* carved from never-used space or large */
	uint64_t large_allocs;
	uint64_t enomem;
	uint64_t reuse_violations;
	uint64_t mapped_bytes;    /* live, as mapped */
	uint64_t reserved_bytes;  /* live, as blocks (guard pages included) */
	uint64_t mappings;
	double hit_rate;          /* hits / (hits + misses) */
	double fragmentation;     /* 1 - mapped / reserved */
	uint64_t large_free_bytes, large_largest_free;
};

int uvtd_iova_create(const struct uvtd_iova_conf *conf, struct uvtd_iova **out);
void uvtd_iova_destroy(struct uvtd_iova *a);
bool uvtd_iova_overlaps_window(const struct uvtd_iova *a, uint64_t iova,
			       uint64_t len);

/* Slow path: an lcore's cache (two magazines per class). */
struct uvtd_iova_cache *uvtd_iova_cache_create(struct uvtd_iova *a);
/* Returns the cached blocks to the depot. */
void uvtd_iova_cache_destroy(struct uvtd_iova *a, struct uvtd_iova_cache *c);

/* An IOVA for len bytes (4 KiB multiple): 0 or -ENOMEM. */
int uvtd_iova_alloc(struct uvtd_iova *a, struct uvtd_iova_cache *c,
		    uint64_t len, uint64_t *iova);
/* The mapping of an allocation is in place (RESERVED -> MAPPED). */
void uvtd_iova_map_done(struct uvtd_iova *a, uint64_t iova, uint64_t len);
/* The mapping failed: the allocation goes straight back (nothing was
 * mapped, so nothing needs invalidating). */
void uvtd_iova_map_failed(struct uvtd_iova *a, struct uvtd_iova_cache *c,
			  uint64_t iova, uint64_t len);
/* Claims a live mapping for unmap (MAPPED(len) -> PENDING): 0; -ENOENT (no
 * mapping starts or lies at iova); -EINVAL (partial: another length, or
 * inside a mapping). Only one of concurrent claimers wins. */
int uvtd_iova_claim(struct uvtd_iova *a, uint64_t iova, uint64_t len);
/* Undoes a claim (a burst that is rejected as a whole). */
void uvtd_iova_unclaim(struct uvtd_iova *a, uint64_t iova, uint64_t len);
/* The invalidation covering the unmap has completed: PENDING -> FREE. */
void uvtd_iova_free(struct uvtd_iova *a, struct uvtd_iova_cache *c,
		    uint64_t iova, uint64_t len);

/* Whether iova's block is PENDING (for tests and assertions). */
bool uvtd_iova_is_pending(const struct uvtd_iova *a, uint64_t iova);

/* Sums the caches' counters and scans the state (slow: telemetry). */
void uvtd_iova_stats_get(struct uvtd_iova *a, struct uvtd_iova_stats *s);

/* Calls fn for every live mapping (MAPPED state): used at destroy. */
void uvtd_iova_foreach_mapped(struct uvtd_iova *a,
			      void (*fn)(void *arg, uint64_t iova,
					 uint64_t len),
			      void *arg);

#endif /* UVTD_IOVA_H */
