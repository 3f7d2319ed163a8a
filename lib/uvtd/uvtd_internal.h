/* SPDX-License-Identifier: BSD-3-Clause
 * lib/uvtd private glue: the service's state, per-lcore contexts, logging.
 *
 * Parts:
 *   uvtd.c            start-up, units, devices, domains (slow path)
 *   uvtd_fast.c       map/unmap/burst/flush: the policies (fast path)
 *   uvtd_iova.c       IOVA allocator (magazines over depots)
 *   uvtd_args.c       the kvargs start-up string
 *   uvtd_telemetry.c  /uvtd/... commands
 *   uvtd_vtd_ops.c    the VT-d driver behind uvtd_driver.h
 *
 * Locking legend on struct fields:
 *   [I] immutable while the object is open
 *   [M] under uvtd.lock (the slow-path mutex)
 *   [A] atomic
 *   [O] owned by one lcore (others read statistics relaxed)
 */
#ifndef UVTD_INTERNAL_H
#define UVTD_INTERNAL_H

#include "uvtd_lock.h"
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_pause.h>

#include "uvtd.h"
#include "uvtd_driver.h"
#include "uvtd_iova.h"

extern int uvtd_logtype;
#define UVTD_LOG(level, fmt, ...)                                            \
	rte_log(RTE_LOG_##level, uvtd_logtype, "uvtd: " fmt "\n", ##__VA_ARGS__)

/* Relaxed store of a counter its owner increments; readers on other
 * threads load it relaxed (no torn reads, no race reports). */
#define STAT_ADD(c, n) __atomic_store_n(&(c), (c) + (n), __ATOMIC_RELAXED)
#define STAT_INC(c) STAT_ADD(c, 1)
#define STAT_LOAD(c) __atomic_load_n(&(c), __ATOMIC_RELAXED)

/* The slow-path lock: include/uvtd_lock.h (TSan-visible). */

#define UVTD_BURST_MAX 256
#define UVTD_MAX_RMRR  8
#define UVTD_FAULT_LOG 64

/* ---------------------------------------------------------------------------
 * Start-up configuration (uvtd_args.c)
 */
struct uvtd_conf {
	unsigned int nunits;
	struct uvtd_unit_spec units[UVTD_MAX_UNITS];
	char dmar[256];                 /* "" none, "sys", or a path */
	char sysfs[256];
	char dmar_emu[32];              /* table's units emulated: preset */
	char driver[32];
	bool emu_threaded;
	enum uvtd_policy policy;
	uint32_t qi_size;
	uint32_t lazy_entries;
	uint64_t lazy_timeout_us;
	uint64_t iova_size;
	bool guard;
	unsigned int psi_threshold;
	bool force;                     /* real units: take one in use */
};
/* Parses args (NULL or "" for the defaults): 0 or -EINVAL, logged. */
int uvtd_args_parse(const char *args, struct uvtd_conf *conf);

/* ---------------------------------------------------------------------------
 * Objects
 */
struct uvtd_unit {
	bool open;                            /* [M] */
	struct uvtd_unit_spec spec;           /* [I] */
	struct uvtd_drv_unit *drv;            /* [I] */
	struct uvtd_unit_caps caps;           /* [I] */
};

struct uvtd_device {
	bool open;                            /* [M] */
	unsigned int unit;                    /* [M] */
	uint16_t rid;                         /* [M] */
	char name[40];                        /* [M] */
	int domain;                           /* [M] -1 when detached */
	unsigned int nrmrr;                   /* [M] */
	uint64_t rmrr[UVTD_MAX_RMRR][2];      /* [M] base, limit (inclusive) */
};

/* Per-lcore, per-domain counters. */
struct uvtd_lstats {
	uint64_t maps, unmaps, map_bytes, unmap_bytes;
	uint64_t waits, wait_hist[UVTD_WAIT_HIST_BUCKETS];
	uint64_t inv_psi, inv_dsi;
	uint64_t lazy_queued, lazy_flush_full, lazy_flush_timer,
		 lazy_flush_explicit;
	uint64_t lazy_ranges;    /* entries flushed as per-page ranges */
};

/* A range of a burst to invalidate (merged with its neighbours). */
struct uvtd_range {
	uint64_t start, end;
	bool freed;              /* table pages freed inside: IH=0 */
};

/* A lazily unmapped range waiting for its invalidation. */
struct uvtd_lazy_ent {
	uint64_t iova, len;
	uint64_t counter;        /* domain flush_started when queued */
	uint64_t tsc;            /* when queued */
	void *freelist;          /* table pages the unmap freed */
	uint32_t nr_freed;
	bool fixed;              /* a fixed-IOVA mapping (record, no alloc) */
};

/* An lcore's context on one domain: nothing here is shared, so the fast
 * path takes no lock. */
struct uvtd_lcore_dom {
	struct uvtd_iova_cache *cache;                   /* [O] */
	struct uvtd_drv_qctx *q[UVTD_MAX_UNITS];         /* [O] by unit index */
	/* Lazy flush queue: a ring of fq_mask + 1 entries, free-running
	 * indices. Entries are in queue order, so their counters are too. */
	struct uvtd_lazy_ent *fq;                        /* [O] */
	uint32_t fq_mask;                                /* [I] */
	uint32_t fq_head, fq_tail;                       /* [O] */
	/* tsc of the oldest entry not known covered, 0 when none: other
	 * lcores read it to enforce this lcore's time bound (uvtd_poll). */
	uint64_t oldest_tsc;                             /* [A] */
	uint64_t oldest_counter;                         /* [A] */
	uint64_t now_tsc;                                /* [O] cached rdtsc */
	/* Gathers with table pages to release after a burst's wait. */
	struct uvtd_drv_gather gath[UVTD_BURST_MAX];     /* [O] */
	uint32_t ngath;                                  /* [O] */
	struct uvtd_range ranges[UVTD_BURST_MAX];        /* [O] */
	struct uvtd_lstats st;                           /* [O] */
} __rte_cache_aligned;

/* Fixed-IOVA (and RMRR) mappings: a sorted record under a lock. These are
 * long-lived (identity maps, IOVA plans), so a lock is fine here. */
struct uvtd_fixed_rec {
	uint64_t iova, len;
	uint64_t phys;           /* where iova points (RMRR sharing checks) */
	unsigned int perm;
	bool pending;            /* claimed by an unmap in flight */
	/* Out of circulation for good: its map- or unmap-side invalidation
	 * failed (a leak, not a hole). Pending too; neither a mapping nor
	 * unmapped again at teardown. */
	bool retired;
};

struct uvtd_domain {
	int id;                                          /* [I] */
	enum uvtd_policy policy;                         /* [M] resolved */
	bool map_flush;                                  /* [I] */
	bool lazy_ranges;                                /* [M] lazy may PSI */
	bool lazy_dsi;                                   /* [I] conf: never */
	bool skip_inv;                                   /* [M] planted bug */
	unsigned int unit;                               /* [I] home unit */
	unsigned int width;                              /* [I] */
	uint64_t limit;                                  /* [I] 2^width */
	struct uvtd_drv_domain *drv;                     /* [I] */
	/* Units the domain is attached on (where invalidations go). The fast
	 * path reads them with acquire loads. */
	unsigned int nunits;                             /* [M][A] */
	unsigned int units[UVTD_MAX_UNITS];              /* [M][A] */
	unsigned int unit_devs[UVTD_MAX_UNITS];          /* [M] by unit */
	unsigned int ndevs;                              /* [M] */
	/* IOVA window. */
	struct uvtd_iova *iova;                          /* [I] NULL: none */
	uint64_t iova_base, iova_size;                   /* [I] */
	uvtd_lock_t fixed_lock;
	struct uvtd_fixed_rec *fixed;                    /* [fixed_lock] */
	uint32_t nfixed, fixed_cap;                      /* [fixed_lock] */
	/* Lazy. */
	uint32_t lazy_entries;                           /* [I] */
	uint64_t lazy_timeout_tsc;                       /* [I] */
	/* Linux's flush-queue counters: an entry queued when flush_started
	 * was c is covered once flush_finished > c (at least c + 1 flushes
	 * completed, and at most c of them started before the entry). */
	uint64_t flush_started __rte_cache_aligned;      /* [A] */
	uint64_t flush_finished __rte_cache_aligned;     /* [A] */
	struct uvtd_lcore_dom *lc[RTE_MAX_LCORE];        /* [M] */
};

struct uvtd_state {
	pthread_mutex_t lock;
	bool inited;                                     /* [M] */
	struct uvtd_conf conf;                           /* [M] */
	const struct uvtd_driver_ops *ops;               /* [M] */
	struct uvtd_drv_platform *plat;                  /* [M] */
	unsigned int nunits;                             /* [M] */
	struct uvtd_unit units[UVTD_MAX_UNITS];
	struct uvtd_device devs[UVTD_MAX_DEVICES];
	struct uvtd_domain *doms[UVTD_MAX_DOMAINS];      /* [M] */
	bool lcore_on[RTE_MAX_LCORE];                    /* [M] */
	uint64_t rejected;                               /* [A] */
	uint64_t rejected_by[8];                         /* [A] */
	struct uvtd_lstats dead;                         /* [M] closed domains */
	struct uvtd_fault_rec faults[UVTD_FAULT_LOG];    /* [M] last faults */
	uint64_t nfaults;                                /* [M] */
	double tsc_per_ns;                               /* [I] */
	unsigned int hist_shift;                         /* [I] log2 cycles/64ns */
};
extern struct uvtd_state uvtd;

/* Logs the rejection of op, counts it, returns err (negative). */
int uvtd_reject(int dom, const char *op, int err, const char *fmt, ...)
	__rte_format_printf(4, 5);

/* Fast-path functions installed in uvtd_fp_domains (uvtd_fast.c). */
void uvtd_fast_install(struct uvtd_domain *d);
void uvtd_fast_uninstall(int id);
/* Unmaps every live mapping of d and flushes it (slow path, destroy). */
void uvtd_fast_unmap_all(struct uvtd_domain *d);
/* A fixed mapping made and unmapped (strictly: invalidated and waited for)
 * with uvtd.lock held (RMRR identity maps at attach). */
int uvtd_fast_map_fixed_locked(struct uvtd_domain *d, uint64_t iova,
			       uint64_t phys, uint64_t len, unsigned int perm);
int uvtd_fast_unmap_fixed_locked(struct uvtd_domain *d, uint64_t iova,
				 uint64_t len);
/* Whether d has a live fixed mapping of exactly [iova, +len) to phys with
 * exactly perm. */
bool uvtd_fast_fixed_is(struct uvtd_domain *d, uint64_t iova, uint64_t len,
			uint64_t phys, unsigned int perm);
/* Fixed records that are not retired (uvtd_fixed_rec). */
uint32_t uvtd_fast_fixed_live(struct uvtd_domain *d);
/* Pending lazy entries of d over every lcore. */
uint64_t uvtd_fast_lazy_pending(const struct uvtd_domain *d);
/* Sums d's lcore counters into s. */
void uvtd_lstats_sum(const struct uvtd_domain *d, struct uvtd_lstats *s);
/* The calling lcore's context on d, creating nothing. */
static inline struct uvtd_lcore_dom *uvtd_lcd(const struct uvtd_domain *d)
{
	unsigned int l = rte_lcore_id();

	if (unlikely(l >= RTE_MAX_LCORE))
		return NULL;
	return d->lc[l];
}

/* Per-lcore contexts (uvtd.c). */
int uvtd_lcd_create(struct uvtd_domain *d, unsigned int lcore);
void uvtd_lcd_destroy(struct uvtd_domain *d, unsigned int lcore);

/* Telemetry (uvtd_telemetry.c): registers the commands once per process. */
void uvtd_telemetry_register(void);

#endif /* UVTD_INTERNAL_H */
