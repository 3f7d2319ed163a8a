/* SPDX-License-Identifier: BSD-3-Clause
 * Shared helpers of the driver tests (test_drv_*.c): an emulated unit built
 * from a preset or from hand-made capabilities, opened through the driver,
 * DMA buffers, and the invalidations a test sends by hand.
 *
 * The tests create the vtdemu themselves (resolver: vtd_emu_resolve) and
 * open it with vtd_unit_open, so that the emulator outlives the driver's
 * unit and its registers can be checked after vtd_unit_close.
 */
#ifndef DRV_ENV_H
#define DRV_ENV_H

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_memzone.h>

#include "uvtd_test.h"
#include "vtdemu.h"
#include "vtd.h"
#include "vtd_internal.h"
#include "vtd_tables.h"


/* Expects a call to fail with rc, with the driver's logging silenced. */
#define EXPECT_RC(expr, rc)                                             \
	do {                                                            \
		uint32_t lvl_ = rte_log_get_level(vtd_logtype);         \
		rte_log_set_level(vtd_logtype, RTE_LOG_EMERG);          \
		long got_ = (long)(expr);                               \
		rte_log_set_level(vtd_logtype, lvl_);                   \
		CHECK(got_ == (long)(rc), "%s = %ld, expected %s", #expr, \
		      got_, #rc);                                       \
	} while (0)

struct drv_env {
	struct vtdemu *emu;
	struct vtd_unit *u;
	struct vtdemu_caps caps;
};

/* The mode emulators are created in (tests may switch to threaded). */
static enum vtdemu_mode drv_emu_mode = VTDEMU_INLINE;

static inline struct vtdemu *drv_emu_new(const struct vtdemu_caps *caps,
					 bool check_stale)
{
	struct vtdemu_config c;
	char err[200] = "";
	struct vtdemu *e;

	vtdemu_config_init(&c);
	c.mode = drv_emu_mode;
	c.caps = *caps;
	c.resolve = vtd_emu_resolve;
	c.check_stale = check_stale;
	e = vtdemu_create(&c, err, sizeof(err));
	if (e == NULL)
		fprintf(stderr, "vtdemu_create: %s\n", err);
	return e;
}

static inline void drv_params(struct vtd_unit_params *p, struct vtdemu *e,
			      const char *name)
{
	vtd_unit_params_init(p);
	p->name = name;
	p->win.base = vtdemu_regs(e);
	p->win.size = vtdemu_regs_size(e);
	p->win.write_hook = vtdemu_reg_write_hook;
	p->win.hook_opaque = e;
	p->enable_translation = true;
}

/* Opens a unit on a new emulator with caps; p_in may adjust the params
 * (its window is replaced). 0 or the driver's error. */
static inline int drv_open(struct drv_env *env, const struct vtdemu_caps *caps,
			   const struct vtd_unit_params *p_in)
{
	struct vtd_unit_params p;
	int rc;

	memset(env, 0, sizeof(*env));
	env->caps = *caps;
	env->emu = drv_emu_new(caps, true);
	if (env->emu == NULL)
		return -EINVAL;
	drv_params(&p, env->emu, "drv");
	if (p_in) {
		struct vtd_regwin w = p.win;

		p = *p_in;
		p.win = w;
	}
	rc = vtd_unit_open(&p, &env->u);
	if (rc) {
		vtdemu_destroy(env->emu);
		env->emu = NULL;
	}
	return rc;
}

static inline int drv_open_preset(struct drv_env *env, const char *preset)
{
	struct vtdemu_caps caps;

	if (vtdemu_preset(preset, &caps) != 0)
		return -ENOENT;
	return drv_open(env, &caps, NULL);
}

static inline void drv_close(struct drv_env *env)
{
	if (env->u)
		vtd_unit_close(env->u);
	if (env->emu)
		vtdemu_destroy(env->emu);
	memset(env, 0, sizeof(*env));
}

/* A DMA buffer (zeroed, IOVA-contiguous: a memzone, so that it also works
 * with IOVA as PA over hugepages) and its IOVA. */
struct drv_buf {
	uint8_t *va;
	uint64_t iova;
	size_t len;
	const struct rte_memzone *mz;
	void *heap;                     /* drv_buf_alloc_2m: rte_malloc'd */
};

static inline int drv_buf_alloc(struct drv_buf *b, size_t len, size_t align)
{
	static unsigned int seq;
	char name[RTE_MEMZONE_NAMESIZE];

	memset(b, 0, sizeof(*b));
	snprintf(name, sizeof(name), "drv_buf_%u",
		 __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED));
	b->mz = rte_memzone_reserve_aligned(name, len, SOCKET_ID_ANY,
					    RTE_MEMZONE_IOVA_CONTIG, align);
	if (b->mz == NULL)
		return -ENOMEM;
	b->va = b->mz->addr;
	b->iova = b->mz->iova;
	b->len = len;
	memset(b->va, 0, len);
	return 0;
}

/* One 2 MiB, 2 MiB-aligned buffer. An IOVA-contiguous memzone of that size
 * needs physically adjacent hugepages in IOVA-as-PA mode (the element header
 * sits in the page before), which a busy machine may not have. A 2 MiB
 * aligned rte_malloc is enough: with hugepages it is exactly one 2 MiB page,
 * physically contiguous and aligned; without (IOVA as VA) any range is. */
static inline int drv_buf_alloc_2m(struct drv_buf *b)
{
	const size_t sz = 2u << 20;

	memset(b, 0, sizeof(*b));
	b->heap = rte_zmalloc("drv_buf_2m", sz, sz);
	if (b->heap == NULL)
		return -ENOMEM;
	b->va = b->heap;
	b->iova = rte_malloc_virt2iova(b->heap);
	b->len = sz;
	if (b->iova == RTE_BAD_IOVA || (b->iova & (sz - 1)) ||
	    rte_mem_virt2iova(b->va + sz - 4096) != b->iova + sz - 4096) {
		rte_free(b->heap);
		memset(b, 0, sizeof(*b));
		return -ENOMEM;
	}
	return 0;
}

static inline void drv_buf_free(struct drv_buf *b)
{
	if (b->heap)
		rte_free(b->heap);
	if (b->mz)
		rte_memzone_free(b->mz);
	memset(b, 0, sizeof(*b));
}

/* Invalidates everything a domain may have cached on a unit: IOTLB DSI
 * (second stage) or PASID-IOTLB PASID-selective (first stage and
 * pass-through in scalable mode), then a device-TLB invalidation for ATS
 * endpoints. Drops the paging-structure caches too (a DSI has no IH). */
static inline int drv_flush_domain(struct vtd_domain *dom, struct vtd_unit *u)
{
	struct vtd_domain_attach a[8];
	unsigned int n = vtd_domain_attachments(dom, u, a, 8);
	struct vtd_desc d[10];
	unsigned int nd = 0;
	int did = vtd_domain_id(dom, u);

	if (did < 0)
		return did;
	if (u->scalable && vtd_domain_kind(dom) != VTD_DOMAIN_SECOND_STAGE) {
		for (unsigned int i = 0; i < n && nd < 8; i++)
			d[nd++] = vtd_desc_piotlb(
				VTD_PIOTLB_PASID, (uint16_t)did,
				a[i].pasid == VTD_NO_PASID ? VTD_RID_PASID
							   : a[i].pasid,
				0, 0, 0);
	} else {
		d[nd++] = vtd_desc_iotlb(VTD_INV_DOMAIN, (uint16_t)did, 0, 0, 0,
					 0, 0);
	}
	for (unsigned int i = 0; i < n && nd < 10; i++) {
		if (!a[i].ats)
			continue;
		if (a[i].pasid == VTD_NO_PASID)
			d[nd++] = vtd_desc_devtlb(a[i].sid, 0, 0,
						  0x7ffffffffffff000ull, 1);
		else
			d[nd++] = vtd_desc_pdevtlb(a[i].sid, 0, 0, a[i].pasid,
						   0, 0x7ffffffffffff000ull, 1);
	}
	return vtd_inv_sync(u, d, nd);
}

/* The same through the driver's invalidation planner (vtd_inv_range on the
 * calling lcore's submit context, then a wait). */
static inline int drv_inv_range(struct vtd_domain *dom, struct vtd_unit *u,
				uint64_t iova, uint64_t len, unsigned int flags)
{
	struct vtd_qctx *q = vtd_qctx_get(u, rte_lcore_id());
	int rc;

	if (q == NULL)
		return -ENOMEM;
	rc = vtd_inv_range(q, dom, iova, len, flags);
	if (rc)
		return rc;
	return vtd_qctx_sync(q);
}

/* Silences the driver's log (for error-path tests); returns the level. */
static inline uint32_t drv_quiet(void)
{
	uint32_t l = rte_log_get_level(vtd_logtype);

	rte_log_set_level(vtd_logtype, RTE_LOG_EMERG);
	return l;
}

static inline void drv_loud(uint32_t l)
{
	rte_log_set_level(vtd_logtype, l);
}

#endif /* DRV_ENV_H */
