/* SPDX-License-Identifier: BSD-3-Clause
 * Root, context and PASID tables of a unit, and its domain ids.
 *
 *   legacy   (§9.1, §9.3) root entry per bus -> context table of 256
 *            16-byte entries indexed by devfn.
 *   scalable (§9.2, §9.4) root entry per bus: the lower half points at the
 *            context table of devfn 0-127, the upper half at devfn
 *            128-255; 32-byte context entries, 128 a table. Each context
 *            entry points at the device's PASID directory (§9.5, 8-byte
 *            entries, index pasid >> 6), whose entries point at PASID tables
 *            (§9.6, 64-byte entries, index pasid & 63).
 *
 * Everything here runs under the tables lock (attach, detach, close).
 * Tables are written entry by entry with 64-bit atomic stores, the present
 * bit last, and flushed from the CPU caches when the unit does not snoop.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vtd_tables.h"

struct vtd_dev {
	struct vtd_dma_mem pasid_dir;       /* one page: VTD_PASID_DIR_PDTS */
	struct vtd_dma_mem *pasid_tbl;      /* [512] lazily */
	unsigned int nr_pasids;             /* PASID entries in use */
};

struct vtd_tables_state {
	pthread_mutex_t lock;
	struct vtd_dev **devs[256];         /* bus -> devfn -> device */
};

int vtd_tables_init(struct vtd_unit *u)
{
	struct vtd_tables_state *t = calloc(1, sizeof(*t));
	int rc;

	if (t == NULL)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	u->tables = t;
	rc = vtd_dma_alloc(u, 4096, 4096, &u->root);
	if (rc)
		return rc;
	return 0;
}

static void dev_free(struct vtd_unit *u, struct vtd_dev *d)
{
	if (d->pasid_tbl) {
		for (unsigned int i = 0; i < 512; i++)
			vtd_dma_free(u, &d->pasid_tbl[i]);
		free(d->pasid_tbl);
	}
	vtd_dma_free(u, &d->pasid_dir);
	free(d);
}

void vtd_tables_fini(struct vtd_unit *u, bool keep_root)
{
	struct vtd_tables_state *t = u->tables;

	if (u->root.va) {
		memset(u->root.va, 0, 4096);
		vtd_flush_cache_range(u, u->root.va, 4096);
		if (!keep_root)
			vtd_dma_free(u, &u->root);
	}
	for (unsigned int i = 0; i < 512; i++) {
		vtd_dma_free(u, &u->ctx_mem[i]);
		u->ctx_tables[i] = NULL;
	}
	if (t == NULL)
		return;
	for (unsigned int b = 0; b < 256; b++) {
		if (t->devs[b] == NULL)
			continue;
		for (unsigned int df = 0; df < 256; df++)
			if (t->devs[b][df])
				dev_free(u, t->devs[b][df]);
		free(t->devs[b]);
	}
	pthread_mutex_destroy(&t->lock);
	free(t);
	u->tables = NULL;
}

void vtd_tables_lock(struct vtd_unit *u)
{
	pthread_mutex_lock(&u->tables->lock);
}

void vtd_tables_unlock(struct vtd_unit *u)
{
	pthread_mutex_unlock(&u->tables->lock);
}

/* ---------------------------------------------------------------------------
 * Domain ids (CAP.ND, §11.4.2). Id 0 is reserved under CAP.CM (set at open).
 */
int vtd_did_alloc(struct vtd_unit *u)
{
	for (uint32_t w = 0; w < (u->nr_domain_ids + 63) / 64; w++) {
		uint64_t free_bits = ~u->did_bitmap[w];

		if (free_bits == 0)
			continue;
		uint32_t did = w * 64 + (uint32_t)__builtin_ctzll(free_bits);

		if (did >= u->nr_domain_ids)
			break;
		u->did_bitmap[w] |= 1ull << (did % 64);
		return (int)did;
	}
	VTD_LOG(ERR, u, "all %" PRIu32 " domain ids (CAP.ND %u) are in use",
		u->nr_domain_ids, (unsigned int)VTD_CAP_ND(u->cap));
	return -ENOSPC;
}

void vtd_did_free(struct vtd_unit *u, uint16_t did)
{
	if (did == 0 && (u->cap & VTD_CAP_CM))
		return;
	if (did < u->nr_domain_ids)
		u->did_bitmap[did / 64] &= ~(1ull << (did % 64));
}

/* ---------------------------------------------------------------------------
 * Context tables.
 */
uint64_t *vtd_ctx_entry(struct vtd_unit *u, uint16_t sid, bool create)
{
	unsigned int bus = sid >> 8, devfn = sid & 0xff;
	struct vtd_root_entry *root = u->root.va;
	unsigned int half = u->scalable ? devfn >> 7 : 0;
	unsigned int slot = u->scalable ? bus * 2 + half : bus;
	uint64_t *rootq = half ? &root[bus].hi : &root[bus].lo;

	if (u->ctx_tables[slot] == NULL) {
		if (!create)
			return NULL;
		if (vtd_dma_alloc(u, 4096, 4096, &u->ctx_mem[slot]) != 0)
			return NULL;
		u->ctx_tables[slot] = u->ctx_mem[slot].va;
		vtd_flush_cache_range(u, u->ctx_tables[slot], 4096);
		/* A root entry going present: the context-cache invalidation
		 * of the attach covers it (§6.5.3.x: the context cache holds
		 * what was found through the root entry). */
		vtd_entry_store(rootq, u->ctx_mem[slot].iova | VTD_ROOT_P);
		vtd_flush_cache_range(u, rootq, 8);
	}
	if (u->scalable)
		return (uint64_t *)((struct vtd_sm_context_entry *)
				    u->ctx_tables[slot] + (devfn & 0x7f));
	return (uint64_t *)((struct vtd_context_entry *)u->ctx_tables[slot] +
			    devfn);
}

/* ---------------------------------------------------------------------------
 * Devices and PASID tables (scalable mode).
 */
static struct vtd_dev *dev_get(struct vtd_unit *u, uint16_t sid, bool create)
{
	struct vtd_tables_state *t = u->tables;
	unsigned int bus = sid >> 8, devfn = sid & 0xff;

	if (t->devs[bus] == NULL) {
		if (!create)
			return NULL;
		t->devs[bus] = calloc(256, sizeof(struct vtd_dev *));
		if (t->devs[bus] == NULL)
			return NULL;
	}
	if (t->devs[bus][devfn] == NULL && create)
		t->devs[bus][devfn] = calloc(1, sizeof(struct vtd_dev));
	return t->devs[bus][devfn];
}

uint64_t *vtd_pasid_entry(struct vtd_unit *u, uint16_t sid, uint32_t pasid,
			  bool create)
{
	unsigned int di = pasid >> VTD_PASID_DIR_SHIFT;
	struct vtd_dev *d;
	uint64_t *dir;

	if (pasid >= VTD_PASID_LIMIT)
		return NULL;
	d = dev_get(u, sid, create);
	if (d == NULL)
		return NULL;
	if (d->pasid_dir.va == NULL) {
		if (!create)
			return NULL;
		d->pasid_tbl = calloc(512, sizeof(*d->pasid_tbl));
		if (d->pasid_tbl == NULL)
			return NULL;
		if (vtd_dma_alloc(u, 4096, 4096, &d->pasid_dir) != 0)
			return NULL;
		vtd_flush_cache_range(u, d->pasid_dir.va, 4096);
	}
	dir = d->pasid_dir.va;
	if (d->pasid_tbl[di].va == NULL) {
		if (!create)
			return NULL;
		if (vtd_dma_alloc(u, 4096, 4096, &d->pasid_tbl[di]) != 0)
			return NULL;
		vtd_flush_cache_range(u, d->pasid_tbl[di].va, 4096);
		/* §9.5: P, the table pointer; FPD 0. The PASID-cache
		 * invalidation of the attach covers a directory entry going
		 * present. */
		vtd_entry_store(&dir[di], d->pasid_tbl[di].iova | VTD_PDE_P);
		vtd_flush_cache_range(u, &dir[di], 8);
	}
	return (uint64_t *)((struct vtd_pasid_entry *)d->pasid_tbl[di].va +
			    (pasid & 0x3f));
}

uint64_t vtd_pasid_dir_iova(struct vtd_unit *u, uint16_t sid)
{
	struct vtd_dev *d = dev_get(u, sid, false);

	return d && d->pasid_dir.va ? d->pasid_dir.iova : 0;
}

unsigned int *vtd_dev_pasid_count(struct vtd_unit *u, uint16_t sid)
{
	struct vtd_dev *d = dev_get(u, sid, true);

	return d ? &d->nr_pasids : NULL;
}

void vtd_dev_release(struct vtd_unit *u, uint16_t sid)
{
	struct vtd_tables_state *t = u->tables;
	unsigned int bus = sid >> 8, devfn = sid & 0xff;

	if (t->devs[bus] == NULL || t->devs[bus][devfn] == NULL)
		return;
	dev_free(u, t->devs[bus][devfn]);
	t->devs[bus][devfn] = NULL;
}
