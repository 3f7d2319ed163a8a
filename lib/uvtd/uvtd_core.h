/* SPDX-License-Identifier: BSD-3-Clause
 * uvtd fast-path core: the flat, cache-aligned array of per-domain fast-path
 * objects the inline calls of uvtd.h index (the layer dmadev calls
 * rte_dmadev_core.h). Not an API: include uvtd.h.
 *
 * Each slot holds the domain's private pointer first and the policy's
 * functions, chosen once when the domain is created (or its policy set):
 * a domain that needs no map-side flush gets a map function with no flush
 * code in it at all. A closed slot points at functions that reject with
 * -ENODEV, so the inline path needs no "is it open" branch.
 */
#ifndef UVTD_CORE_H
#define UVTD_CORE_H

#include <stdint.h>

#include <rte_common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int (*uvtd_map_fn)(void *priv, uint64_t phys, uint64_t len,
			   unsigned int perm, uint64_t *iova);
typedef int (*uvtd_map_fixed_fn)(void *priv, uint64_t iova, uint64_t phys,
				 uint64_t len, unsigned int perm);
typedef int (*uvtd_unmap_fn)(void *priv, uint64_t iova, uint64_t len);

struct uvtd_fp_domain {
	void *priv;                   /* the domain (lib/uvtd private) */
	uvtd_map_fn map;
	uvtd_map_fixed_fn map_fixed;
	uvtd_unmap_fn unmap;
} __rte_cache_aligned;

extern struct uvtd_fp_domain uvtd_fp_domains[UVTD_MAX_DOMAINS];

/* Logs and counts a call naming no domain slot at all. */
int uvtd_fp_bad_domain(int dom, const char *op);

#ifdef __cplusplus
}
#endif

#endif /* UVTD_CORE_H */
