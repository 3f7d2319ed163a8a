/* SPDX-License-Identifier: BSD-3-Clause
 * vtdemu cost model: what each operation would cost on the unit being
 * modelled, so that benchmarks can compare invalidation policies as a
 * hypervisor (or hardware) would feel them. The emulator itself runs much
 * faster; these figures are only accumulated in vtdemu_stats.modelled_ns.
 *
 * The defaults model the expensive case this project exists for: a guest
 * driving QEMU's intel-iommu under KVM with caching mode on.
 */
#include "vtdemu_fe.h"

void vtdemu_cost_default(struct vtdemu_cost_model *c)
{
	/* Descriptor processing. QEMU handles each descriptor in the vCPU
	 * thread with a hash-table walk or a full hash-table clear
	 * (hw/i386/intel_iommu.c: vtd_process_inv_desc): tens of ns for a
	 * targeted one, a few hundred for the ones that scan every cached
	 * entry (global/domain). Real hardware is in the same range per
	 * descriptor once the fetch is paid. */
	c->cc_ns = 100;           /* context cache: clears a hash + notifier */
	c->iotlb_global_ns = 300; /* scans/drops the whole IOTLB */
	c->iotlb_domain_ns = 200; /* scans the IOTLB for a DID */
	c->iotlb_page_ns = 60;    /* hash removals for a small range */
	/* A device-TLB invalidation is a PCIe ATS round trip (invalidate
	 * request, completion message): ~1 us on hardware. */
	c->devtlb_ns = 1000;
	c->iec_ns = 50;
	/* A status write is one posted DMA write of 4 bytes. */
	c->wait_ns = 40;
	c->pasid_iotlb_ns = 80;
	c->pasid_cache_ns = 100;
	c->pasid_devtlb_ns = 1000;
	/* An IQT write traps: under KVM an MMIO write that QEMU must handle
	 * in userspace costs a VM exit plus a return to QEMU, ~1-2 us on
	 * current servers (and far more under TCG). 1.5 us is the middle. */
	c->iqt_write_ns = 1500;
	/* CM=1 shadowing: for every invalidated page QEMU walks the guest
	 * table (a few memory reads through address_space_rw) and, for
	 * VFIO devices, issues a VFIO_IOMMU_MAP/UNMAP_DMA ioctl per changed
	 * range (vtd_sync_shadow_page_table_range). A few hundred ns per
	 * page is the amortized figure for mostly-contiguous ranges. */
	c->shadow_ns_per_page = 300;
	/* Threaded mode: a real unit fetches descriptors within ~0.5-1 us of
	 * the doorbell. Applied once per fetched batch; busy-waited, so keep
	 * it small (2 cores here). */
	c->threaded_latency_ns = 500;
	/* One figure per kind by default: QEMU's cost hardly depends on the
	 * granularity of these (a hash scan either way). */
	c->cc_domain_ns = c->cc_ns;
	c->cc_device_ns = c->cc_ns;
	c->pasid_iotlb_page_ns = c->pasid_iotlb_ns;
	c->pasid_cache_pasid_ns = c->pasid_cache_ns;
	c->pasid_cache_global_ns = c->pasid_cache_ns;
}

uint32_t emu_cost_of(const struct vtdemu_cost_model *c,
		     enum vtdemu_desc_stat kind)
{
	switch (kind) {
	case VTDEMU_DS_CC_GLOBAL:
		return c->cc_ns;
	case VTDEMU_DS_CC_DOMAIN:
		return c->cc_domain_ns;
	case VTDEMU_DS_CC_DEVICE:
		return c->cc_device_ns;
	case VTDEMU_DS_IOTLB_GLOBAL:
		return c->iotlb_global_ns;
	case VTDEMU_DS_IOTLB_DOMAIN:
		return c->iotlb_domain_ns;
	case VTDEMU_DS_IOTLB_PAGE:
		return c->iotlb_page_ns;
	case VTDEMU_DS_DEVTLB:
		return c->devtlb_ns;
	case VTDEMU_DS_IEC:
		return c->iec_ns;
	case VTDEMU_DS_WAIT:
		return c->wait_ns;
	case VTDEMU_DS_PIOTLB_PASID:
		return c->pasid_iotlb_ns;
	case VTDEMU_DS_PIOTLB_PAGE:
		return c->pasid_iotlb_page_ns;
	case VTDEMU_DS_PC_DOMAIN:
		return c->pasid_cache_ns;
	case VTDEMU_DS_PC_PASID:
		return c->pasid_cache_pasid_ns;
	case VTDEMU_DS_PC_GLOBAL:
		return c->pasid_cache_global_ns;
	case VTDEMU_DS_PDEVTLB:
		return c->pasid_devtlb_ns;
	case VTDEMU_DS_KINDS:
		break;
	}
	return 0;
}
