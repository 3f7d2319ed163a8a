/* SPDX-License-Identifier: BSD-3-Clause
 * A test double behind uvtd_driver.h ("fake"): a software page table per
 * domain, a software IOTLB filled by fake_translate(), and bookkeeping that
 * catches what the service must never do:
 *   - reuse_dirty: a map over a page whose unmap has not been invalidated
 *     yet (the allocator handed out an IOVA too early);
 *   - stale: a translation served from the IOTLB that the page table no
 *     longer has (an invalidation was skipped or came too late).
 * It is not the VT-d driver and proves nothing about it; it lets the
 * service's own logic be tested in isolation.
 *
 * Unit presets: "fake" (no caching mode), "fake-cm" (caching mode, PSI),
 * "fake-rwbf" (write-buffer flushing), "fake-nopsi" (no PSI).
 */
#ifndef SVC_FAKE_DRV_H
#define SVC_FAKE_DRV_H

#include <stdbool.h>
#include <stdint.h>

struct fake_counters {
	uint64_t maps, unmaps, psi, dsi, map_inv, submits, waits;
	uint64_t reuse_dirty;    /* a map over a not-yet-invalidated page */
	uint64_t stale;          /* a translation the table no longer has */
	uint64_t dirty_now;      /* pages unmapped, not invalidated yet */
};

void fake_drv_register(void);
void fake_counters_get(struct fake_counters *c);
void fake_counters_reset(void);
/* Translates iova of the domain the device rid is attached to (any unit),
 * through the software IOTLB. 0 with *pa, or -EFAULT. */
int fake_translate(uint16_t rid, uint64_t iova, uint64_t *pa);

#endif /* SVC_FAKE_DRV_H */
