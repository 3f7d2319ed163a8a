/* SPDX-License-Identifier: BSD-3-Clause
 * lib/vtdemu DMA engine: a requester's accesses through the unit, page by
 * page, and ATS endpoints with their device TLBs (VT-d spec §4: device-TLB
 * and ATS; §3 translation).
 *
 * An endpoint with ATS enabled (vtdemu_set_ats) behaves as a PCIe ATS
 * function does: its DMA first looks in its own device TLB; on a miss it
 * sends a translation request to the unit (which may hit the IOTLB), fills
 * its device TLB with the completion and then issues the access as a
 * translated request, which the unit passes through. Only device-TLB
 * invalidations remove device-TLB entries. A translation request that the
 * unit refuses or cannot translate fails the access; the emulator records
 * the fault like any other (real hardware answers a failed translation
 * request with R=W=0 in the completion and records only the context-level
 * conditions: recording them all keeps a driver's mistake visible).
 */
#include <errno.h>
#include <string.h>

#include "vtdemu_be.h"

static int translate_one(struct vtdemu *emu, uint16_t sid, uint32_t pasid,
			 uint64_t iova, unsigned int access, uint64_t *pa,
			 struct vtdemu_fault_info *fi_out)
{
	struct emu_backend *be = emu_be(emu);
	struct emu_req rq = {
		.sid = sid, .pasid = pasid, .iova = iova, .access = access,
	};
	struct emu_ats_ep *ep;
	struct emu_xres res;
	struct emu_gens g;
	uint64_t epoch, frame;
	unsigned int perm, level;

	EMU_STAT_ADD(emu, translations, 1);
	/* §10.4.4: with translation disabled, DMA addresses are physical. */
	if (!__atomic_load_n(&emu->translation_enabled, __ATOMIC_ACQUIRE)) {
		*pa = iova;
		return 0;
	}
	epoch = __atomic_load_n(&be->inv_epoch, __ATOMIC_ACQUIRE);
	emu_gens_snapshot(emu, &g);

	ep = emu_ats_get(emu, sid);
	if (ep) {
		rq.treq = true;
		if (emu_devtlb_lookup(emu, ep, pasid, iova, &frame, &perm,
				      &level) &&
		    !(access & ~perm)) {
			memset(&res, 0, sizeof(res));
			res.pa = frame | (iova & ((1ull << (12 + 9 * (level - 1))) - 1));
			res.perm = (uint8_t)perm;
			res.level = (uint8_t)level;
			res.source = VTDEMU_CACHE_DEVTLB;
			res.pasid = pasid;
		} else {
			emu_unit_translate(emu, &rq, &res, true, &g);
			if (!res.fault) {
				/* A pass-through completion is cached as a
				 * 4 KiB translation. */
				level = res.level ? res.level : 1;
				frame = res.pa &
					~((1ull << (12 + 9 * (level - 1))) - 1);
				emu_devtlb_fill(emu, ep, pasid, iova, frame,
						res.perm, level, &g);
			}
		}
	} else {
		emu_unit_translate(emu, &rq, &res, true, &g);
	}

	if (emu->cfg.check_stale && res.source != EMU_SRC_NONE)
		emu_stale_check(emu, &rq, &res, epoch);

	if (res.fault) {
		struct vtdemu_fault_info fi = {
			.reason = res.fault,
			.sid = sid,
			.pasid = pasid,
			.addr = iova & ~0xfffull,
			.access = access,
			.recorded = false,
		};

		/* stats.faults[] counts every fault, recorded or not;
		 * emu_fault_record counts the recorded ones. */
		EMU_STAT_ADD(emu, faults[res.fault], 1);
		if (!res.fpd)
			emu_fault_record(emu, &fi);
		if (fi_out)
			*fi_out = fi;
		return -EFAULT;
	}
	*pa = res.pa;
	return 0;
}

/* A request the unit could receive: a PASID is 20 bits (§3.4.4; wider
 * values must not alias a valid one), the access a read and/or a write. */
static bool request_ok(const struct vtdemu *emu, uint32_t pasid,
		       unsigned int access)
{
	return emu != NULL &&
	       (pasid == VTDEMU_NO_PASID || pasid <= 0xfffffu) &&
	       access != 0 &&
	       !(access & ~(unsigned int)(VTDEMU_ACCESS_READ |
					  VTDEMU_ACCESS_WRITE));
}

int vtdemu_translate(struct vtdemu *emu, uint16_t sid, uint32_t pasid,
		     uint64_t iova, unsigned int access, uint64_t *pa,
		     struct vtdemu_fault_info *fault)
{
	uint64_t p = 0;
	int rc;

	if (!request_ok(emu, pasid, access))
		return -EINVAL;
	rc = translate_one(emu, sid, pasid, iova, access, &p, fault);

	if (pa)
		*pa = p;
	return rc;
}

static int64_t dma(struct vtdemu *emu, uint16_t sid, uint32_t pasid,
		   uint64_t iova, void *host, size_t len, bool write,
		   struct vtdemu_fault_info *fault)
{
	uint8_t *h = host;
	size_t done = 0;

	if (!request_ok(emu, pasid, VTDEMU_ACCESS_READ) ||
	    (host == NULL && len > 0) || len > INT64_MAX)
		return -EINVAL;

	while (done < len) {
		uint64_t a = iova + done, pa;
		size_t chunk = 4096 - (size_t)(a & 0xfff);
		void *mem;
		int rc;

		if (chunk > len - done)
			chunk = len - done;
		rc = translate_one(emu, sid, pasid, a,
				   write ? VTDEMU_ACCESS_WRITE
					 : VTDEMU_ACCESS_READ,
				   &pa, fault);
		if (rc)
			return rc;
		/* The page offset survives translation, so the chunk does
		 * not cross a 4 KiB boundary of pa either. */
		mem = emu_mem(emu, pa, chunk);
		if (!mem) {
			/* Translated, but no memory there: not a remapping
			 * fault (reason 0, nothing recorded). */
			if (fault) {
				memset(fault, 0, sizeof(*fault));
				fault->sid = sid;
				fault->pasid = pasid;
				fault->addr = a & ~0xfffull;
				fault->access = write ? VTDEMU_ACCESS_WRITE
						      : VTDEMU_ACCESS_READ;
			}
			return -EFAULT;
		}
		if (write)
			memcpy(mem, h + done, chunk);
		else
			memcpy(h + done, mem, chunk);
		done += chunk;
	}
	return (int64_t)len;
}

int64_t vtdemu_dma_read(struct vtdemu *emu, uint16_t sid, uint32_t pasid,
			uint64_t iova, void *dst, size_t len,
			struct vtdemu_fault_info *fault)
{
	return dma(emu, sid, pasid, iova, dst, len, false, fault);
}

int64_t vtdemu_dma_write(struct vtdemu *emu, uint16_t sid, uint32_t pasid,
			 uint64_t iova, const void *src, size_t len,
			 struct vtdemu_fault_info *fault)
{
	return dma(emu, sid, pasid, iova, (void *)(uintptr_t)src, len, true,
		   fault);
}

int vtdemu_set_ats(struct vtdemu *emu, uint16_t sid, bool enabled)
{
	if (emu == NULL)
		return -EINVAL;
	/* ATS needs a unit with device-TLB support (ECAP.DT, §11.4.3). */
	if (enabled && !(emu->ecap & BE_ECAP_DT))
		return -ENOTSUP;
	return emu_ats_enable(emu, sid, enabled);
}
