/* SPDX-License-Identifier: BSD-3-Clause
 * lib/vtdemu stale-translation checker.
 *
 * Every translation served wholly or partly from a cache (IOTLB, a walk
 * that started from a paging-structure cache entry, a cached context or
 * PASID entry, a device TLB, a cached not-present result) is compared with
 * a fresh walk of the tables in memory that uses no cache. The use is stale
 * when:
 *   - the cache gave a translation and the walk faults, gives another
 *     frame, or grants less than the cached translation (more permission
 *     than the tables give: a permission reduction that was not
 *     invalidated, counted at its first use, read or write);
 *   - the cache gave a fault and the walk grants the access. For the
 *     not-present cache under CAP.CM=1 (source NOTPRESENT) this is exactly
 *     the missing map-side invalidation (§6.1): counted.
 * Serving a translation with less permission than the walk is not counted:
 * it cannot let a device reach memory it should not, and the IOTLB never
 * denies an access on such an entry (it walks again). It counts only when
 * it turns into a fault the walk would not give (second rule).
 *
 * A comparison across an invalidation is inconclusive: a translation that
 * started before an invalidation may be served from the old state (it is
 * in flight), and the walk then sees the new tables. Such differences are
 * not counted (the invalidation epoch moved). Tests that plant a missing
 * invalidation run the DMA alone, so the planted case is always caught.
 *
 * The count is exact (stats.stale_uses); the first cfg.stale_log_max uses
 * are recorded.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vtdemu_be.h"

int emu_stale_init(struct vtdemu *emu)
{
	struct emu_backend *be = emu_be(emu);

	pthread_mutex_init(&be->stale_lock, NULL);
	be->stale_max = emu->cfg.stale_log_max;
	be->stale_n = 0;
	if (be->stale_max) {
		be->stale_log = calloc(be->stale_max, sizeof(*be->stale_log));
		if (!be->stale_log)
			return -ENOMEM;
	}
	return 0;
}

void emu_stale_fini(struct vtdemu *emu)
{
	struct emu_backend *be = emu_be(emu);

	free(be->stale_log);
	be->stale_log = NULL;
	pthread_mutex_destroy(&be->stale_lock);
}

void emu_stale_check(struct vtdemu *emu, const struct emu_req *rq,
		     const struct emu_xres *served, uint64_t epoch)
{
	struct emu_backend *be = emu_be(emu);
	struct emu_xres fresh;
	bool stale;

	emu_unit_translate(emu, rq, &fresh, false, NULL);
	/* A fresh walk without fault always grants the access (the walker
	 * faults otherwise); a served translation granting more than the
	 * tables (a permission reduction not invalidated) is stale even when
	 * this access stays within both. */
	if (!served->fault)
		stale = fresh.fault || fresh.pa != served->pa ||
			(served->perm & ~fresh.perm);
	else
		stale = !fresh.fault;
	if (!stale)
		return;
	if (__atomic_load_n(&be->inv_epoch, __ATOMIC_ACQUIRE) != epoch)
		return;

	EMU_STAT_ADD(emu, stale_uses, 1);
	pthread_mutex_lock(&be->stale_lock);
	if (be->stale_n < be->stale_max) {
		struct vtdemu_stale_record *r = &be->stale_log[be->stale_n++];

		memset(r, 0, sizeof(*r));
		r->sid = rq->sid;
		r->pasid = rq->pasid;
		r->iova = rq->iova;
		r->access = rq->access;
		r->source = (enum vtdemu_cache_kind)served->source;
		r->cached_present = !served->fault;
		r->cached_pa = served->fault ? 0 : served->pa;
		r->cached_perm = served->fault ? 0 : served->perm;
		r->walk_pa = fresh.fault ? 0 : fresh.pa;
		r->walk_perm = fresh.fault ? 0 : fresh.perm;
		r->walk_fault = fresh.fault;
	}
	pthread_mutex_unlock(&be->stale_lock);
}

uint64_t vtdemu_stale_count(struct vtdemu *emu)
{
	return emu_stat_sum(emu, EMU_STAT_OFF(stale_uses));
}

unsigned int vtdemu_stale_records(struct vtdemu *emu,
				  struct vtdemu_stale_record *out,
				  unsigned int max)
{
	struct emu_backend *be = emu_be(emu);
	unsigned int n;

	pthread_mutex_lock(&be->stale_lock);
	n = be->stale_n < max ? be->stale_n : max;
	if (n)
		memcpy(out, be->stale_log, n * sizeof(*out));
	pthread_mutex_unlock(&be->stale_lock);
	return n;
}

void vtdemu_stale_reset(struct vtdemu *emu)
{
	struct emu_backend *be = emu_be(emu);

	pthread_mutex_lock(&be->stale_lock);
	be->stale_n = 0;
	emu_stat_rebase(emu, EMU_STAT_OFF(stale_uses));
	pthread_mutex_unlock(&be->stale_lock);
}
