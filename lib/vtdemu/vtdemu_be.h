/* SPDX-License-Identifier: BSD-3-Clause
 * lib/vtdemu back end, private to vtdemu_walk.c vtdemu_cache.c vtdemu_dma.c
 * vtdemu_stale.c: the table walker, the caches, the DMA engine and the
 * stale-translation checker.
 *
 * The back end has its own encoding of the table formats (VT-d spec §9); it
 * shares no code with the front end's register encoding (vtdemu_fe.h) nor,
 * of course, with the driver.
 *
 * Locking: every cache is a set of shards, each under its own lock, held
 * only for one lookup, insert or removal (no memory allocation on the
 * lookup path; an unbounded cache grows its shard under the shard lock).
 * A walk reads table memory with no lock held.
 *
 * Fills racing with invalidations: each cache kind has a generation counter
 * that every invalidation verb bumps *before* dropping entries and again
 * when done, and a count of invalidations under way. A translation
 * snapshots the generations when it starts and an insert is done (under the
 * shard lock) only if its generation is unchanged and no invalidation of it
 * is under way, so a walk that read the tables, or a cache entry, before an
 * invalidation completed can never leave its result in a cache after that
 * invalidation completed (VT-d spec §6.5: once an invalidation completes,
 * no translation cached before it may be used).
 */
#ifndef VTDEMU_BE_H
#define VTDEMU_BE_H

#include "vtdemu_internal.h"

/* ------------------------------------------------------------------------
 * Capability bits the back end reads (VT-d spec §11.4.2, §11.4.3).
 */
#define BE_CAP_CM          (1ull << 7)
#define BE_CAP_SAGAW(c)    ((unsigned int)(((c) >> 8) & 0x1f))
#define BE_CAP_MGAW(c)     ((unsigned int)(((c) >> 16) & 0x3f))
#define BE_CAP_SLLPS(c)    ((unsigned int)(((c) >> 34) & 0xf))
#define BE_CAP_FL1GP       (1ull << 56)
#define BE_CAP_FL5LP       (1ull << 60)
#define BE_ECAP_DT         (1ull << 2)
#define BE_ECAP_PT         (1ull << 6)
#define BE_ECAP_SC         (1ull << 7)
#define BE_ECAP_SMTS       (1ull << 43)
#define BE_ECAP_SLTS       (1ull << 46)
#define BE_ECAP_FLTS       (1ull << 47)

/* ------------------------------------------------------------------------
 * Fault reasons (VT-d spec Appendix A; the legacy list matches QEMU's
 * VTD_FR_*, the scalable-mode list the spec's SCT/SPD/SPT/SFS/SSS/SGN
 * conditions as Linux's dmar.c names them).
 */
enum {
	FR_ROOT_P = 0x1,            /* root entry not present */
	FR_CTX_P = 0x2,             /* context entry not present */
	FR_CTX_INV = 0x3,           /* invalid context programming */
	FR_ADDR_WIDTH = 0x4,        /* input address beyond AW/MGAW */
	FR_WRITE = 0x5,             /* write not allowed */
	FR_READ = 0x6,              /* read not allowed */
	FR_PTE_ACCESS = 0x7,        /* paging entry could not be read */
	FR_ROOT_ACCESS = 0x8,       /* root table could not be read */
	FR_CTX_ACCESS = 0x9,        /* context table could not be read */
	FR_ROOT_RSVD = 0xa,
	FR_CTX_RSVD = 0xb,
	FR_PTE_RSVD = 0xc,
	FR_CTX_TT = 0xd,            /* request blocked by the context's TT */

	FR_SM_RTADDR = 0x30,        /* invalid root table address / TTM */
	FR_SM_PASID_TTM0 = 0x31,    /* request with PASID in legacy mode */
	FR_SM_ROOT_ACCESS = 0x38,
	FR_SM_ROOT_P = 0x39,
	FR_SM_ROOT_RSVD = 0x3a,
	FR_SM_CTX_ACCESS = 0x40,
	FR_SM_CTX_P = 0x41,
	FR_SM_CTX_RSVD = 0x42,
	FR_SM_CTX_INV = 0x43,
	FR_SM_CTX_DTE = 0x44,       /* translation request with DTE=0 */
	FR_SM_CTX_PASIDE = 0x45,    /* request with PASID with PASIDE=0 */
	FR_SM_PASID_MAX = 0x46,     /* PASID beyond the directory (PDTS) */
	FR_SM_RID_PASID = 0x48,     /* RID_PASID beyond the directory */
	FR_SM_PDIR_ACCESS = 0x50,
	FR_SM_PDIR_P = 0x51,
	FR_SM_PDIR_RSVD = 0x52,
	FR_SM_PTE_ACCESS = 0x58,    /* PASID table entry could not be read */
	FR_SM_PASID_P = 0x59,
	FR_SM_PASID_RSVD = 0x5a,
	FR_SM_PASID_INV = 0x5b,     /* invalid PASID entry (PGTT, AW, FLPM) */
	FR_SM_FS_ACCESS = 0x70,
	FR_SM_FS_P = 0x71,
	FR_SM_FS_RSVD = 0x72,
	FR_SM_FSPTPTR = 0x73,       /* FSPTPTR table could not be read */
	FR_SM_SS_ACCESS = 0x78,
	FR_SM_SS_RSVD = 0x7a,
	FR_SM_SSPTPTR = 0x7b,       /* SSPTPTR table could not be read */
	FR_SM_NONCANON = 0x80,      /* first stage: address not canonical */
	FR_SM_FS_US = 0x81,         /* first stage: U/S=0 for a user request */
	FR_SM_ADDR_WIDTH = 0x83,    /* second stage: input beyond AW */
	FR_SM_WRITE = 0x85,
	FR_SM_READ = 0x86,
};

/* ------------------------------------------------------------------------
 * Requests, decoded contexts, results
 */

/* What translates a requester's addresses (EMU_XK_*). */
enum { EMU_XK_SS = 0, EMU_XK_FS = 1, EMU_XK_PT = 2 };

/* Where a not-present result was found, for the CM=1 not-present cache. */
enum { EMU_NP_NONE = 0, EMU_NP_CTX, EMU_NP_PASID, EMU_NP_PAGE };

/* "No cache served this": past the last vtdemu_cache_kind. */
#define EMU_SRC_NONE VTDEMU_CACHE_KINDS

struct emu_req {
	uint16_t sid;
	uint32_t pasid;        /* the request's PASID or VTDEMU_NO_PASID */
	uint64_t iova;
	unsigned int access;   /* enum vtdemu_access bits */
	bool treq;             /* ATS translation request */
};

/* The decoded context (legacy context entry, or scalable-mode context +
 * PASID entry) of a request. */
struct emu_xctx {
	uint64_t table;        /* page-table root (second or first stage) */
	uint32_t pasid;        /* cache tag: NO_PASID in legacy mode, else the
				* request's PASID or the context's RID_PASID */
	uint16_t did;
	uint8_t kind;          /* EMU_XK_* */
	uint8_t levels;        /* 3..5 */
	uint8_t fpd;           /* fault processing disabled */
	uint8_t treq_ok;       /* translation requests allowed (TT=01, DTE) */
	uint8_t width;         /* second stage: input address bits allowed */
};

struct emu_xres {
	uint64_t pa;           /* translation of the request's iova */
	uint32_t pasid;        /* cache tag (emu_xctx.pasid) when known */
	uint16_t did;
	uint8_t fault;         /* reason, 0 = translated */
	uint8_t fpd;           /* the fault is not to be recorded */
	uint8_t perm;          /* R/W the translation grants */
	uint8_t level;         /* leaf level (1 4 KiB, 2, 3); 0 pass-through */
	uint8_t kind;          /* EMU_XK_* */
	uint8_t np;            /* EMU_NP_*: a not-present condition */
	uint8_t source;        /* vtdemu_cache_kind that served, or
				* EMU_SRC_NONE */
	uint8_t ctx_ok;        /* the context stage succeeded */
};

/* ------------------------------------------------------------------------
 * Hash tables (vtdemu_cache.c)
 */

struct emu_ce {
	uint64_t k0, k1;       /* full key */
	uint64_t v0, v1;       /* payload */
	uint64_t hash;         /* probe hash (shard from the top bits, slot
				* from the low bits) */
};

/* A shard lock: test-and-test-and-set that yields the CPU after a short
 * spin. Critical sections are a probe and a copy (tens of nanoseconds), so
 * an uncontended acquire is one atomic exchange, and a holder preempted on
 * a busy machine costs the waiters a sched_yield, not a futex sleep. The
 * acquire/release pair orders the protected data (and ThreadSanitizer
 * understands it). */
struct emu_lock {
	int held;              /* atomic */
};

void emu_lock_slow(struct emu_lock *l);

static inline void emu_lock(struct emu_lock *l)
{
	if (__atomic_exchange_n(&l->held, 1, __ATOMIC_ACQUIRE))
		emu_lock_slow(l);
}

static inline void emu_unlock(struct emu_lock *l)
{
	__atomic_store_n(&l->held, 0, __ATOMIC_RELEASE);
}

struct emu_shard {
	struct emu_lock lock;
	struct emu_ce *ents;   /* dense array of n entries */
	uint32_t *idx;         /* open addressing: 0 empty, else ents index+1 */
	uint32_t n;            /* entries */
	uint32_t cap;          /* ents allocated */
	uint32_t limit;        /* most entries (0: unbounded) */
	uint32_t mask;         /* idx slots - 1 */
	uint64_t rng;          /* eviction PRNG state (fixed seed) */
} __attribute__((aligned(64)));

struct emu_htab {
	struct emu_shard *shards;
	unsigned int nshards;  /* power of two */
	unsigned int shard_shift;
	uint8_t kind;          /* enum vtdemu_cache_kind, for statistics */
	uint64_t count;        /* entries, atomic (for a cheap "empty?") */
};

typedef bool (*emu_ce_pred)(const struct emu_ce *e, const void *arg);

/* A well-mixed 64-bit hash of up to three values. */
static inline uint64_t emu_hash3(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t h = a * 0x9e3779b97f4a7c15ull;

	h ^= b + 0x7f4a7c159e3779b9ull + (h << 6) + (h >> 2);
	h ^= c * 0xc2b2ae3d27d4eb4full;
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 29;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 32;
	return h;
}

int emu_htab_init(struct emu_htab *t, uint8_t kind, uint32_t limit,
		  uint32_t seed);
void emu_htab_fini(struct emu_htab *t);
/* Copies the entry with key (k0, k1) to *out; false when absent. */
bool emu_htab_lookup(struct emu_htab *t, uint64_t hash, uint64_t k0,
		     uint64_t k1, struct emu_ce *out);
/* Inserts or replaces, evicting when full, unless generation gk (a
 * vtdemu_cache_kind; -1: no check) moved past snap or an invalidation of
 * it is under way. */
void emu_htab_insert(struct vtdemu *emu, struct emu_htab *t,
		     const struct emu_ce *e, int gk, uint64_t snap);
/* Removes every entry matching pred in the probe cluster of hash (all
 * entries whose probe hash equals hash are there). Returns the count. */
uint64_t emu_htab_remove_probe(struct emu_htab *t, uint64_t hash,
			       emu_ce_pred pred, const void *arg);
/* Removes every entry matching pred (pred NULL: all). Returns the count. */
uint64_t emu_htab_remove_scan(struct emu_htab *t, emu_ce_pred pred,
			      const void *arg);
bool emu_htab_any(struct emu_htab *t, emu_ce_pred pred, const void *arg);
static inline uint64_t emu_htab_count(const struct emu_htab *t)
{
	return __atomic_load_n(&t->count, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------------
 * Back-end state
 */

/* An ATS endpoint and its device TLB (never freed before the unit, so DMA
 * threads may hold it while ATS is turned off). */
struct emu_ats_ep {
	bool enabled;          /* atomic */
	struct emu_htab devtlb;
};

struct emu_backend {
	struct emu_htab ctx;   /* sid -> context (legacy decoded / SM raw) */
	struct emu_htab pasid; /* (sid, pasid) -> decoded PASID entry */
	struct emu_htab iotlb; /* (did, pasid, page, size) -> frame, perm */
	struct emu_htab pwc;   /* (did, pasid, prefix, level) -> next table */
	/* CM=1 not-present results, one table per stage (EMU_NP_CTX,
	 * EMU_NP_PASID, EMU_NP_PAGE at index stage - 1), so that a lookup
	 * probes only the stages that hold something. */
	struct emu_htab np[3];
	uint32_t iotlb_levels; /* atomic: leaf levels ever cached (bits) */
	uint32_t pwc_levels;   /* atomic: PWC levels ever cached (bits) */
	/* Bumped by each invalidation of a cache kind before it drops and
	 * after; inv_active counts those under way (emu_htab_insert). */
	uint64_t gen[VTDEMU_CACHE_KINDS];
	uint32_t inv_active[VTDEMU_CACHE_KINDS];
	/* Bumped by every invalidation verb: a stale comparison across one is
	 * inconclusive (the translation may have been in flight). */
	uint64_t inv_epoch;

	struct emu_ats_ep **ats;  /* 65536 slots, by sid; atomic pointers */
	pthread_mutex_t ats_lock;

	/* Derived from the capabilities, immutable. */
	bool np_enabled;       /* CAP.CM=1 and cfg.cache.cm_cache_not_present */
	bool pwc_enabled;
	unsigned int mgaw;     /* guest address width: CAP.MGAW + 1 */
	unsigned int haw;      /* host address width: mgaw, at most 52 */
	uint64_t haw_mask;     /* bits below haw */
	uint16_t did_rsvd;     /* DID bits beyond CAP.ND's width: reserved
				* in context and PASID entries (§9.3, §9.6) */

	/* Stale checker log (vtdemu_stale.c). */
	pthread_mutex_t stale_lock;
	struct vtdemu_stale_record *stale_log;
	uint32_t stale_n, stale_max;
};

static inline struct emu_backend *emu_be(struct vtdemu *emu)
{
	return emu->backend;
}

/* ------------------------------------------------------------------------
 * Walker (vtdemu_walk.c)
 */

/* Snapshot of the cache generations taken when a translation starts. */
struct emu_gens {
	uint64_t g[VTDEMU_CACHE_KINDS];
};

/* Translates rq through the unit (not through a device TLB). With caches,
 * consults and fills the context, PASID, IOTLB, paging-structure and
 * not-present caches (gens: the snapshot for fills); without, it is a fresh
 * walk of the tables in memory that touches no cache and no statistic. */
void emu_unit_translate(struct vtdemu *emu, const struct emu_req *rq,
			struct emu_xres *res, bool use_cache,
			const struct emu_gens *gens);

/* Counts the present leaf entries of every second-stage or first-stage
 * table reachable from the root table whose domain is did (all domains
 * when all_dids) and, when pasid != NO_PASID, whose PASID is pasid. */
uint64_t emu_count_domain_leaves(struct vtdemu *emu, bool all_dids,
				 uint16_t did, uint32_t pasid);

/* ------------------------------------------------------------------------
 * Caches (vtdemu_cache.c): the lookups and fills the walker uses.
 */
void emu_gens_snapshot(struct vtdemu *emu, struct emu_gens *g);

/* Context cache: a sid's cached context (legacy: the decoded context,
 * see vtdemu_walk.c; scalable mode: the raw qw0/qw1 of the entry). */
bool emu_ctx_lookup(struct vtdemu *emu, uint16_t sid, uint64_t *v0,
		    uint64_t *v1);
void emu_ctx_fill(struct vtdemu *emu, uint16_t sid, uint64_t v0,
		  uint64_t v1, const struct emu_gens *g);
bool emu_pasid_lookup(struct vtdemu *emu, uint16_t sid, uint32_t pasid,
		      uint64_t *v0, uint64_t *v1);
void emu_pasid_fill(struct vtdemu *emu, uint16_t sid, uint32_t pasid,
		    uint64_t v0, uint64_t v1, const struct emu_gens *g);
/* IOTLB: a leaf covering iova for (did, pasid). */
bool emu_iotlb_lookup(struct vtdemu *emu, uint16_t did, uint32_t pasid,
		      uint64_t iova, uint64_t *frame, unsigned int *perm,
		      unsigned int *level, unsigned int *kind);
void emu_iotlb_fill(struct vtdemu *emu, uint16_t did, uint32_t pasid,
		    uint64_t iova, uint64_t frame, unsigned int perm,
		    unsigned int level, unsigned int kind,
		    const struct emu_gens *g);
/* Paging-structure cache: the entry at level (2..5) on iova's path. */
bool emu_pwc_lookup(struct vtdemu *emu, uint16_t did, uint32_t pasid,
		    uint64_t iova, unsigned int level, uint64_t *next,
		    unsigned int *perm);
void emu_pwc_fill(struct vtdemu *emu, uint16_t did, uint32_t pasid,
		  uint64_t iova, unsigned int level, uint64_t next,
		  unsigned int perm, unsigned int kind,
		  const struct emu_gens *g);
/* Device TLBs: the endpoint of sid when ATS is on for it, else NULL. */
struct emu_ats_ep *emu_ats_get(struct vtdemu *emu, uint16_t sid);
int emu_ats_enable(struct vtdemu *emu, uint16_t sid, bool enabled);
bool emu_devtlb_lookup(struct vtdemu *emu, struct emu_ats_ep *ep,
		       uint32_t pasid, uint64_t iova, uint64_t *frame,
		       unsigned int *perm, unsigned int *level);
void emu_devtlb_fill(struct vtdemu *emu, struct emu_ats_ep *ep,
		     uint32_t pasid, uint64_t iova, uint64_t frame,
		     unsigned int perm, unsigned int level,
		     const struct emu_gens *g);
/* Not-present cache (CAP.CM=1): a cached fault for the request. */
bool emu_np_lookup(struct vtdemu *emu, const struct emu_req *rq,
		   struct emu_xres *res);
void emu_np_fill(struct vtdemu *emu, const struct emu_req *rq,
		 const struct emu_xres *res, const struct emu_gens *g);

/* ------------------------------------------------------------------------
 * Stale checker (vtdemu_stale.c)
 */
int emu_stale_init(struct vtdemu *emu);
void emu_stale_fini(struct vtdemu *emu);
/* Compares a translation served (wholly or partly) from a cache with a
 * fresh walk; counts and records a difference. epoch: inv_epoch when the
 * translation started. */
void emu_stale_check(struct vtdemu *emu, const struct emu_req *rq,
		     const struct emu_xres *served, uint64_t epoch);

#endif /* VTDEMU_BE_H */
