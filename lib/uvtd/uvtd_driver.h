/* SPDX-License-Identifier: BSD-3-Clause
 * uvtd driver ops: what the service needs of an IOMMU driver, and nothing
 * of how the hardware spells it (the layer dmadev calls rte_dmadev_pmd.h).
 *
 * lib/uvtd knows no VT-d bit. A driver back end fills a struct
 * uvtd_driver_ops and registers it by name (a constructor):
 *   - lib/uvtd/uvtd_vtd_ops.c: the VT-d driver (drivers/iommu/vtd), name
 *     "vtd", the default;
 *   - tests may register their own doubles.
 *
 * Handles are opaque pointers the back end owns. Thread safety follows the
 * driver's: map/unmap on disjoint ranges and per-lcore qctx use run
 * concurrently; everything marked [slow] is called under the service's
 * mutex.
 *
 * Errors: negative errno; the back end logs what was wrong.
 */
#ifndef UVTD_DRIVER_H
#define UVTD_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct uvtd_drv_unit;      /* a remapping unit */
struct uvtd_drv_domain;    /* a page table with its domain ids */
struct uvtd_drv_qctx;      /* an lcore's invalidation batch on one unit */
struct uvtd_drv_platform;  /* the firmware's description of the units */

enum uvtd_unit_kind {
	UVTD_UNIT_EMU_PRESET = 0,  /* emulated, named preset */
	UVTD_UNIT_EMU_CAPS,        /* emulated, explicit capability words */
	UVTD_UNIT_REAL,            /* real registers at base */
};

struct uvtd_unit_spec {
	enum uvtd_unit_kind kind;
	char name[32];
	char preset[32];           /* EMU_PRESET */
	uint64_t caps[2];          /* EMU_CAPS: the driver's capability words */
	uint64_t base, size;       /* REAL */
	bool emu_threaded;         /* emulated: asynchronous hardware thread */
	uint32_t qi_entries;       /* 0: the driver's default */
	unsigned int psi_threshold;/* 0: the driver's default */
	bool force;                /* REAL: take a unit that seems in use */
};

/* What the service's policies depend on, named by effect. */
struct uvtd_unit_caps {
	bool emulated;
	bool caching_mode;   /* virtualized: caches may hold not-present
	                      * entries; a domain-wide invalidation makes the
	                      * hypervisor re-walk the whole domain */
	bool rwbf;           /* maps need a write-buffer flush */
	bool psi;            /* page-selective invalidation exists */
	bool queued;
	unsigned int max_psi_order;  /* largest block: 2^order pages */
	unsigned int max_width;      /* bits */
	unsigned int widths_mask;    /* bit i: width 39 + 9 * i allowed */
	uint32_t qi_entries;
	uint32_t domain_ids;
};

/* One decoded name/value of a unit, for telemetry (the driver decodes). */
typedef void (*uvtd_kv_fn)(void *arg, const char *name, uint64_t value);

/* A fault the unit recorded. */
struct uvtd_fault_rec {
	uint16_t rid;
	uint32_t pasid;            /* UINT32_MAX: none */
	uint64_t addr;
	bool write;
	uint8_t reason;
	const char *reason_str;
};

/* Counters of a unit's invalidation engine. */
struct uvtd_drv_stats {
	uint64_t submits, descs, waits, iqt_writes;
	uint64_t psi, dsi, global, devtlb, cc, pasid;
	uint64_t head_reads, iqe, ite, ice, timeouts;
};

/* What an unmap collected; released after a covering invalidation. */
struct uvtd_drv_gather {
	uint64_t start, end;
	void *freelist;            /* table pages to free after the flush */
	uint32_t nr_freed;
};

/* A burst's page-table walk cache, the driver's to fill: zeroed before a
 * burst's first map_walk or unmap_walk, dropped after its last (valid for
 * one burst of one domain only). */
struct uvtd_drv_walk {
	/* The driver's to use (the VT-d driver keeps the span and the table
	 * of its struct vtd_walk here). */
	uint64_t span;
	void *table;
};

#define UVTD_DRV_INV_TABLES_FREED 1u  /* paging-structure caches too */
#define UVTD_DRV_INV_MAP          2u  /* map side: not-present -> present */
#define UVTD_DRV_INV_DOMAIN       4u  /* domain-selective, whatever range */

struct uvtd_driver_ops {
	const char *name;

	/* Platform (firmware tables) [slow]: optional. */
	int (*platform_open)(const char *table, const char *sysfs_root,
			     struct uvtd_drv_platform **out,
			     unsigned int *nunits);
	void (*platform_close)(struct uvtd_drv_platform *p);
	int (*platform_unit_spec)(struct uvtd_drv_platform *p,
				  unsigned int idx, struct uvtd_unit_spec *s);
	/* Which unit (index) serves a PCI device, its requester id, and the
	 * reserved ranges [base, limit] to identity-map for it (writes up to
	 * max, returns how many there are). */
	int (*platform_lookup)(struct uvtd_drv_platform *p, const char *pci,
			       unsigned int *unit_idx, uint16_t *rid,
			       uint64_t (*rmrr)[2], unsigned int max);

	/* Units [slow]. */
	int (*unit_open)(const struct uvtd_unit_spec *s,
			 struct uvtd_drv_unit **out);
	int (*unit_close)(struct uvtd_drv_unit *u);
	int (*unit_caps)(struct uvtd_drv_unit *u, struct uvtd_unit_caps *c);
	/* Decoded capabilities and queue state, one fn call per field. */
	void (*unit_describe)(struct uvtd_drv_unit *u, uvtd_kv_fn fn,
			      void *arg);
	void (*unit_stats)(struct uvtd_drv_unit *u, struct uvtd_drv_stats *s);
	int (*unit_faults)(struct uvtd_drv_unit *u, struct uvtd_fault_rec *out,
			   unsigned int max);

	/* Domains [slow]. map_flush: whether maps must be followed by a
	 * map-side invalidation, fixed at creation. */
	int (*domain_create)(struct uvtd_drv_unit *u, unsigned int width,
			     struct uvtd_drv_domain **out, bool *map_flush);
	int (*domain_destroy)(struct uvtd_drv_domain *d);
	int (*attach)(struct uvtd_drv_domain *d, struct uvtd_drv_unit *u,
		      uint16_t rid);
	int (*detach)(struct uvtd_drv_domain *d, struct uvtd_drv_unit *u,
		      uint16_t rid);

	/* Page tables [fast]. */
	int (*map)(struct uvtd_drv_domain *d, uint64_t iova, uint64_t phys,
		   uint64_t len, unsigned int perm);
	int (*unmap)(struct uvtd_drv_domain *d, uint64_t iova, uint64_t len,
		     struct uvtd_drv_gather *g);
	void (*gather_release)(struct uvtd_drv_domain *d,
			       struct uvtd_drv_gather *g);
	/* map and unmap inside a burst, reusing the previous call's table
	 * walk for a neighbour (w: see struct uvtd_drv_walk) [fast].
	 * Optional: without them, bursts call map and unmap. */
	int (*map_walk)(struct uvtd_drv_domain *d, uint64_t iova,
			uint64_t phys, uint64_t len, unsigned int perm,
			struct uvtd_drv_walk *w);
	int (*unmap_walk)(struct uvtd_drv_domain *d, uint64_t iova,
			  uint64_t len, struct uvtd_drv_gather *g,
			  struct uvtd_drv_walk *w);

	/* Invalidation, per lcore [fast]. len 0 with iova 0: everything. */
	struct uvtd_drv_qctx *(*qctx_get)(struct uvtd_drv_unit *u,
					  unsigned int lcore);
	int (*inv_range)(struct uvtd_drv_qctx *q, struct uvtd_drv_domain *d,
			 uint64_t iova, uint64_t len, unsigned int flags);
	int (*submit)(struct uvtd_drv_qctx *q, uint32_t *seq);
	int (*wait)(struct uvtd_drv_qctx *q, uint32_t seq);
	bool (*done)(struct uvtd_drv_qctx *q, uint32_t seq);
};

/* Registers a back end (from a constructor). 0, -EEXIST, -ENOSPC. */
int uvtd_driver_register(const struct uvtd_driver_ops *ops);
const struct uvtd_driver_ops *uvtd_driver_find(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* UVTD_DRIVER_H */
