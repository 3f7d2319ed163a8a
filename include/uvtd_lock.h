/* SPDX-License-Identifier: BSD-3-Clause
 * The one slow-path lock of uvtd's driver and service: a test-and-set
 * spinlock on compiler atomics.
 *
 * Why not rte_spinlock_t: on x86 DPDK implements it in inline assembly,
 * which ThreadSanitizer cannot see, so everything it protects would be
 * reported as racing and the TSan CI run could not pass. The fast paths take
 * no lock at all; this one guards attach/detach, table-page refills, the
 * shared submit context and fault draining.
 */
#ifndef UVTD_LOCK_H
#define UVTD_LOCK_H

#include <rte_pause.h>

typedef struct {
	int locked;
} uvtd_lock_t;

#define UVTD_LOCK_INITIALIZER { 0 }

static inline void uvtd_lock_init(uvtd_lock_t *l)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELAXED);
}

/* Acquire pairs with the release in uvtd_unlock(). */
static inline void uvtd_lock(uvtd_lock_t *l)
{
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
			rte_pause();
}

static inline int uvtd_trylock(uvtd_lock_t *l)
{
	return !__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE);
}

static inline void uvtd_unlock(uvtd_lock_t *l)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

#endif /* UVTD_LOCK_H */
