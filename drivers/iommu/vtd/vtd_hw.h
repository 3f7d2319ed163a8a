/* SPDX-License-Identifier: BSD-3-Clause
 * Intel VT-d hardware layout, for the driver only: register offsets and
 * fields, descriptor encoders, table entry formats. No functions beyond
 * field extractors and encoders; every layout is pinned by a static assert.
 *
 * Section numbers refer to the Intel Virtualization Technology for Directed
 * I/O Architecture Specification (rev 4.x): §9 translation structures,
 * §6.5.2 invalidation descriptors, §11.4 registers. The emulator
 * (lib/vtdemu) encodes the same specification independently: nothing here
 * may be shared with it.
 */
#ifndef VTD_HW_H
#define VTD_HW_H

#include <assert.h>
#include <stdint.h>

/* All of type uint64_t, so that PRIx64/PRIu64 print them. */
#define VTD_BIT(n)           ((uint64_t)1 << (n))
#define VTD_MASK(hi, lo)     ((UINT64_MAX >> (63 - (hi))) & ~(((uint64_t)1 << (lo)) - 1))
#define VTD_GET(v, hi, lo)   (((uint64_t)(v) & VTD_MASK(hi, lo)) >> (lo))
#define VTD_SET(x, hi, lo)   (((uint64_t)(x) << (lo)) & VTD_MASK(hi, lo))

#define VTD_PAGE_SHIFT       12
#define VTD_PAGE_SIZE        ((uint64_t)1 << VTD_PAGE_SHIFT)
#define VTD_PAGE_MASK        (~(VTD_PAGE_SIZE - 1))

/* ---------------------------------------------------------------------------
 * Registers (§11.4). Offsets from the unit's register base.
 */
#define VTD_REG_VER      0x000 /* 32 Version: major 7:4, minor 3:0 */
#define VTD_REG_CAP      0x008 /* 64 Capability */
#define VTD_REG_ECAP     0x010 /* 64 Extended capability */
#define VTD_REG_GCMD     0x018 /* 32 Global command (write-only in effect) */
#define VTD_REG_GSTS     0x01C /* 32 Global status */
#define VTD_REG_RTADDR   0x020 /* 64 Root table address */
#define VTD_REG_CCMD     0x028 /* 64 Context command */
#define VTD_REG_FSTS     0x034 /* 32 Fault status */
#define VTD_REG_FECTL    0x038 /* 32 Fault event control */
#define VTD_REG_FEDATA   0x03C
#define VTD_REG_FEADDR   0x040
#define VTD_REG_FEUADDR  0x044
#define VTD_REG_AFLOG    0x058 /* 64 Advanced fault log */
#define VTD_REG_PMEN     0x064 /* 32 Protected memory enable */
#define VTD_REG_PLMBASE  0x068
#define VTD_REG_PLMLIMIT 0x06C
#define VTD_REG_PHMBASE  0x070
#define VTD_REG_PHMLIMIT 0x078
#define VTD_REG_IQH      0x080 /* 64 Invalidation queue head */
#define VTD_REG_IQT      0x088 /* 64 Invalidation queue tail */
#define VTD_REG_IQA      0x090 /* 64 Invalidation queue address */
#define VTD_REG_ICS      0x09C /* 32 Invalidation completion status */
#define VTD_REG_IECTL    0x0A0 /* 32 Invalidation event control */
#define VTD_REG_IEDATA   0x0A4
#define VTD_REG_IEADDR   0x0A8
#define VTD_REG_IEUADDR  0x0AC
#define VTD_REG_IQER     0x0B0 /* 64 Invalidation queue error record */
#define VTD_REG_IRTA     0x0B8 /* 64 Interrupt remapping table address */

/* IOTLB registers at ECAP.IRO x 16 (§11.4.8). */
#define VTD_IOTLB_REG_IVA   0x0 /* 64 Invalidate address */
#define VTD_IOTLB_REG_IOTLB 0x8 /* 64 IOTLB invalidate */

/* CAP (§11.4.2). */
#define VTD_CAP_ND(c)      VTD_GET(c, 2, 0)   /* 2^(4+2*ND) domain ids */
#define VTD_CAP_AFL        VTD_BIT(3)
#define VTD_CAP_RWBF       VTD_BIT(4)         /* write-buffer flush needed */
#define VTD_CAP_PLMR       VTD_BIT(5)
#define VTD_CAP_PHMR       VTD_BIT(6)
#define VTD_CAP_CM         VTD_BIT(7)         /* caching mode */
#define VTD_CAP_SAGAW(c)   VTD_GET(c, 12, 8)  /* bit1 39b/3lvl, bit2 48b/4lvl, bit3 57b/5lvl */
#define VTD_CAP_MGAW(c)    (VTD_GET(c, 21, 16) + 1)
#define VTD_CAP_ZLR        VTD_BIT(22)
#define VTD_CAP_FRO(c)     (VTD_GET(c, 33, 24) * 16) /* byte offset */
#define VTD_CAP_SLLPS(c)   VTD_GET(c, 37, 34) /* bit0 2 MiB, bit1 1 GiB */
#define VTD_CAP_PSI        VTD_BIT(39)
#define VTD_CAP_NFR(c)     (VTD_GET(c, 47, 40) + 1) /* number of fault records */
#define VTD_CAP_MAMV(c)    VTD_GET(c, 53, 48)
#define VTD_CAP_DWD        VTD_BIT(54)
#define VTD_CAP_DRD        VTD_BIT(55)
#define VTD_CAP_FL1GP      VTD_BIT(56)
#define VTD_CAP_PI         VTD_BIT(59)
#define VTD_CAP_FL5LP      VTD_BIT(60)
#define VTD_CAP_ECMDS      VTD_BIT(61)
#define VTD_CAP_ESIRTPS    VTD_BIT(62)
#define VTD_CAP_ESRTPS     VTD_BIT(63)        /* SRTP invalidates all caches */

/* ECAP (§11.4.3). The VT-d 2.x layout (FreeBSD's) differs: do not mix. */
#define VTD_ECAP_C         VTD_BIT(0)         /* coherent walks, legacy mode */
#define VTD_ECAP_QI        VTD_BIT(1)
#define VTD_ECAP_DT        VTD_BIT(2)         /* device-TLB (ATS) */
#define VTD_ECAP_IR        VTD_BIT(3)
#define VTD_ECAP_EIM       VTD_BIT(4)
#define VTD_ECAP_PT        VTD_BIT(6)         /* pass-through */
#define VTD_ECAP_SC        VTD_BIT(7)         /* snoop control */
#define VTD_ECAP_IRO(e)    (VTD_GET(e, 17, 8) * 16) /* byte offset */
#define VTD_ECAP_MHMV(e)   VTD_GET(e, 23, 20)
#define VTD_ECAP_MTS       VTD_BIT(25)
#define VTD_ECAP_NEST      VTD_BIT(26)
#define VTD_ECAP_PRS       VTD_BIT(29)
#define VTD_ECAP_ERS       VTD_BIT(30)
#define VTD_ECAP_SRS       VTD_BIT(31)
#define VTD_ECAP_NWFS      VTD_BIT(33)
#define VTD_ECAP_EAFS      VTD_BIT(34)
#define VTD_ECAP_PSS(e)    VTD_GET(e, 39, 35) /* PASID width - 1 */
#define VTD_ECAP_PASID     VTD_BIT(40)
#define VTD_ECAP_DIT       VTD_BIT(41)
#define VTD_ECAP_PDS       VTD_BIT(42)
#define VTD_ECAP_SMTS      VTD_BIT(43)        /* scalable mode */
#define VTD_ECAP_VCS       VTD_BIT(44)
#define VTD_ECAP_SLADS     VTD_BIT(45)
#define VTD_ECAP_SLTS      VTD_BIT(46)        /* second-stage in scalable mode */
#define VTD_ECAP_FLTS      VTD_BIT(47)        /* first-stage */
#define VTD_ECAP_SMPWC     VTD_BIT(48)        /* coherent walks, scalable mode */
#define VTD_ECAP_RPS       VTD_BIT(49)
#define VTD_ECAP_PMS       VTD_BIT(51)

/* GCMD / GSTS (§11.4.4). Same bit positions in both. */
#define VTD_GCMD_TE        VTD_BIT(31)  /* translation enable */
#define VTD_GCMD_SRTP      VTD_BIT(30)  /* set root table pointer (one-shot) */
#define VTD_GCMD_SFL       VTD_BIT(29)
#define VTD_GCMD_EAFL      VTD_BIT(28)
#define VTD_GCMD_WBF       VTD_BIT(27)  /* write-buffer flush (one-shot) */
#define VTD_GCMD_QIE       VTD_BIT(26)  /* queued invalidation enable */
#define VTD_GCMD_IRE       VTD_BIT(25)
#define VTD_GCMD_SIRTP     VTD_BIT(24)  /* one-shot */
#define VTD_GCMD_CFI       VTD_BIT(23)
#define VTD_GSTS_TES       VTD_GCMD_TE
#define VTD_GSTS_RTPS      VTD_GCMD_SRTP
#define VTD_GSTS_WBFS      VTD_GCMD_WBF
#define VTD_GSTS_QIES      VTD_GCMD_QIE
#define VTD_GSTS_IRES      VTD_GCMD_IRE
/* The persistent command bits a driver keeps in its shadow of GCMD. */
#define VTD_GCMD_PERSISTENT (VTD_GCMD_TE | VTD_GCMD_QIE | VTD_GCMD_IRE | VTD_GCMD_CFI)

/* RTADDR (§11.4.5): RTA 63:12, TTM 11:10 (00 legacy, 01 scalable). */
#define VTD_RTADDR_TTM_LEGACY   VTD_SET(0, 11, 10)
#define VTD_RTADDR_TTM_SCALABLE VTD_SET(1, 11, 10)

/* CCMD (§11.4.6). */
#define VTD_CCMD_ICC          VTD_BIT(63)
#define VTD_CCMD_CIRG(g)      VTD_SET(g, 62, 61)
#define VTD_CCMD_CAIG(c)      VTD_GET(c, 60, 59)
#define VTD_CCMD_FM(m)        VTD_SET(m, 33, 32)
#define VTD_CCMD_SID(s)       VTD_SET(s, 31, 16)
#define VTD_CCMD_DID(d)       VTD_SET(d, 15, 0)
#define VTD_CC_GLOBAL         1
#define VTD_CC_DOMAIN         2
#define VTD_CC_DEVICE         3

/* IOTLB register (§11.4.8.1) and IVA (§11.4.8.2). */
#define VTD_IOTLB_IVT         VTD_BIT(63)
#define VTD_IOTLB_IIRG(g)     VTD_SET(g, 61, 60)
#define VTD_IOTLB_IAIG(r)     VTD_GET(r, 58, 57)
#define VTD_IOTLB_DR          VTD_BIT(49)
#define VTD_IOTLB_DW          VTD_BIT(48)
#define VTD_IOTLB_DID(d)      VTD_SET(d, 47, 32)
#define VTD_IVA_AM(am)        VTD_SET(am, 5, 0)
#define VTD_IVA_IH            VTD_BIT(6)
#define VTD_INV_GLOBAL        1
#define VTD_INV_DOMAIN        2
#define VTD_INV_PAGE          3

/* FSTS (§11.4.7.1): status bits are RW1C. */
#define VTD_FSTS_PFO          VTD_BIT(0)
#define VTD_FSTS_PPF          VTD_BIT(1)
#define VTD_FSTS_AFO          VTD_BIT(2)
#define VTD_FSTS_APF          VTD_BIT(3)
#define VTD_FSTS_IQE          VTD_BIT(4)
#define VTD_FSTS_ICE          VTD_BIT(5)
#define VTD_FSTS_ITE          VTD_BIT(6)
#define VTD_FSTS_PRO          VTD_BIT(7)
#define VTD_FSTS_FRI(f)       VTD_GET(f, 15, 8)
#define VTD_FSTS_ERRORS       (VTD_FSTS_IQE | VTD_FSTS_ICE | VTD_FSTS_ITE)

/* FECTL / IECTL: IM 31 (interrupt mask), IP 30. */
#define VTD_ECTL_IM           VTD_BIT(31)
#define VTD_ECTL_IP           VTD_BIT(30)

/* IQA (§11.4.9.3), IQH/IQT (§11.4.9.1-2): the slot index sits at bit 4 for
 * 128-bit descriptors and at bit 5 for 256-bit ones (IQA.DW=1). */
#define VTD_IQA_ADDR_MASK     VTD_MASK(63, 12)
#define VTD_IQA_DW            VTD_BIT(11)
#define VTD_IQA_QS(q)         VTD_SET(q, 2, 0)
#define VTD_IQA_QS_MAX        7
#define VTD_IQ_SHIFT_128      4
#define VTD_IQ_SHIFT_256      5
#define VTD_IQ_INDEX_MASK     VTD_MASK(18, 4)

/* ICS (§11.4.9.4). */
#define VTD_ICS_IWC           VTD_BIT(0)

/* IQER (§11.4.9.9). */
#define VTD_IQER_IQEI(r)      VTD_GET(r, 3, 0)
#define VTD_IQER_ITESID(r)    VTD_GET(r, 47, 32)
#define VTD_IQER_ICESID(r)    VTD_GET(r, 63, 48)

/* Fault recording register i at CAP.FRO + 16 i (§11.4.14): two qwords. */
#define VTD_FRCD_SIZE         16
#define VTD_FRCD_LO_FI(lo)    ((lo) & VTD_PAGE_MASK)     /* faulting page */
#define VTD_FRCD_HI_SID(hi)   VTD_GET(hi, 15, 0)
#define VTD_FRCD_HI_PP        VTD_BIT(31)                /* PASID present */
#define VTD_FRCD_HI_FR(hi)    VTD_GET(hi, 39, 32)        /* fault reason */
#define VTD_FRCD_HI_PV(hi)    VTD_GET(hi, 59, 40)        /* PASID value */
#define VTD_FRCD_HI_AT(hi)    VTD_GET(hi, 61, 60)
#define VTD_FRCD_HI_T         VTD_BIT(62)                /* 1: read request */
#define VTD_FRCD_HI_F         VTD_BIT(63)                /* fault, RW1C */

/* ---------------------------------------------------------------------------
 * Invalidation descriptors (§6.5.2). Type is qw0[3:0] with type[6:4] in
 * qw0[11:9]. 128-bit descriptors use qw[0..1]; in a 256-bit queue qw[2..3]
 * are zero for them.
 */
struct vtd_desc {
	uint64_t qw[4];
};
static_assert(sizeof(struct vtd_desc) == 32, "descriptor is 256 bits");

#define VTD_DESC_CC           0x1 /* context-cache */
#define VTD_DESC_IOTLB        0x2
#define VTD_DESC_DEVTLB       0x3 /* device-TLB (ATS) */
#define VTD_DESC_IEC          0x4 /* interrupt entry cache */
#define VTD_DESC_WAIT         0x5 /* invalidation wait */
#define VTD_DESC_PIOTLB       0x6 /* PASID-based IOTLB (256-bit only) */
#define VTD_DESC_PC           0x7 /* PASID-cache (256-bit only) */
#define VTD_DESC_PDEVTLB      0x8 /* PASID-based device-TLB (256-bit only) */

#define VTD_DESC_TYPE(qw0)    ((unsigned int)(((qw0) & 0xf) | (((qw0) >> 5) & 0x70)))

/* Context-cache invalidate (§6.5.2.1): G 5:4, DID 31:16, SID 47:32, FM 49:48. */
static inline struct vtd_desc vtd_desc_cc(unsigned int gran, uint16_t did,
					  uint16_t sid, unsigned int fm)
{
	struct vtd_desc d = { { VTD_DESC_CC | VTD_SET(gran, 5, 4) |
				VTD_SET(did, 31, 16) | VTD_SET(sid, 47, 32) |
				VTD_SET(fm, 49, 48), 0, 0, 0 } };
	return d;
}

/* IOTLB invalidate (§6.5.2.3): G 5:4, DW 6, DR 7, DID 31:16;
 * qw1: AM 5:0, IH 6, ADDR 63:12. */
static inline struct vtd_desc vtd_desc_iotlb(unsigned int gran, uint16_t did,
					     uint64_t addr, unsigned int am,
					     int ih, int dr, int dw)
{
	struct vtd_desc d = { { VTD_DESC_IOTLB | VTD_SET(gran, 5, 4) |
				(dw ? VTD_BIT(6) : 0) | (dr ? VTD_BIT(7) : 0) |
				VTD_SET(did, 31, 16),
				(addr & VTD_PAGE_MASK) | (ih ? VTD_BIT(6) : 0) |
				VTD_SET(am, 5, 0), 0, 0 } };
	return d;
}

/* Device-TLB invalidate (§6.5.2.5): PFSID 15:12 and 63:52 (only with
 * ECAP.DIT), MIP 20:16, SID 47:32; qw1: S 0, ADDR 63:12. With S=1 the size is
 * encoded by the lowest zero bit of ADDR[63:12] (PCIe ATS §10.3.1). */
static inline struct vtd_desc vtd_desc_devtlb(uint16_t sid, uint16_t pfsid,
					      unsigned int mip, uint64_t addr,
					      int s)
{
	struct vtd_desc d = { { VTD_DESC_DEVTLB | VTD_SET(pfsid & 0xf, 15, 12) |
				VTD_SET(mip, 20, 16) | VTD_SET(sid, 47, 32) |
				VTD_SET(pfsid >> 4, 63, 52),
				(addr & VTD_PAGE_MASK) | (s ? 1 : 0), 0, 0 } };
	return d;
}

/* Interrupt entry cache invalidate (§6.5.2.7): G bit 4 (1 index-selective),
 * IM 31:27, IIDX 47:32. */
static inline struct vtd_desc vtd_desc_iec(int index_selective,
					   unsigned int im, uint16_t iidx)
{
	struct vtd_desc d = { { VTD_DESC_IEC |
				(index_selective ? VTD_BIT(4) : 0) |
				VTD_SET(im, 31, 27) | VTD_SET(iidx, 47, 32),
				0, 0, 0 } };
	return d;
}

/* Invalidation wait (§6.5.2.8): IF 4, SW 5, FN 6, PD 7, STATUS DATA 63:32;
 * qw1: STATUS ADDR 63:2. uvtd uses SW only: QEMU asserts on SW+IF in older
 * versions and treats PD as reserved. */
#define VTD_WAIT_IF           VTD_BIT(4)
#define VTD_WAIT_SW           VTD_BIT(5)
#define VTD_WAIT_FN           VTD_BIT(6)
#define VTD_WAIT_PD           VTD_BIT(7)
static inline struct vtd_desc vtd_desc_wait(uint64_t flags, uint32_t data,
					    uint64_t status_addr)
{
	struct vtd_desc d = { { VTD_DESC_WAIT | flags | VTD_SET(data, 63, 32),
				status_addr & ~(uint64_t)3, 0, 0 } };
	return d;
}

/* PASID-based IOTLB invalidate (§6.5.2.4): G 5:4 (2 PASID, 3 page),
 * DID 31:16, PASID 51:32; qw1: AM 5:0, IH 6, ADDR 63:12. */
#define VTD_PIOTLB_PASID      2
#define VTD_PIOTLB_PAGE       3
static inline struct vtd_desc vtd_desc_piotlb(unsigned int gran, uint16_t did,
					      uint32_t pasid, uint64_t addr,
					      unsigned int am, int ih)
{
	struct vtd_desc d = { { VTD_DESC_PIOTLB | VTD_SET(gran, 5, 4) |
				VTD_SET(did, 31, 16) | VTD_SET(pasid, 51, 32),
				(addr & VTD_PAGE_MASK) | (ih ? VTD_BIT(6) : 0) |
				VTD_SET(am, 5, 0), 0, 0 } };
	return d;
}

/* PASID-cache invalidate (§6.5.2.2): G 5:4 (0 domain, 1 PASID, 3 global),
 * DID 31:16, PASID 51:32. */
#define VTD_PC_DOMAIN         0
#define VTD_PC_PASID          1
#define VTD_PC_GLOBAL         3
static inline struct vtd_desc vtd_desc_pc(unsigned int gran, uint16_t did,
					  uint32_t pasid)
{
	struct vtd_desc d = { { VTD_DESC_PC | VTD_SET(gran, 5, 4) |
				VTD_SET(did, 31, 16) | VTD_SET(pasid, 51, 32),
				0, 0, 0 } };
	return d;
}

/* PASID-based device-TLB invalidate (§6.5.2.6): MIP 8:4, PFSID 15:12 and
 * 63:52, SID 31:16, PASID 51:32; qw1: G 0 (all PASIDs), S 11, ADDR 63:12. */
static inline struct vtd_desc vtd_desc_pdevtlb(uint16_t sid, uint16_t pfsid,
					       unsigned int mip, uint32_t pasid,
					       int global, uint64_t addr, int s)
{
	struct vtd_desc d = { { VTD_DESC_PDEVTLB | VTD_SET(mip, 8, 4) |
				VTD_SET(pfsid & 0xf, 15, 12) |
				VTD_SET(sid, 31, 16) | VTD_SET(pasid, 51, 32) |
				VTD_SET(pfsid >> 4, 63, 52),
				(addr & VTD_PAGE_MASK) | (s ? VTD_BIT(11) : 0) |
				(global ? 1 : 0), 0, 0 } };
	return d;
}

/* ---------------------------------------------------------------------------
 * Root and context tables (§9.1-§9.4). One 4 KiB table each.
 */
struct vtd_root_entry {
	uint64_t lo; /* legacy: P 0, CTP 63:12; scalable: LP 0, LCTP 63:12 */
	uint64_t hi; /* legacy: reserved; scalable: UP 0, UCTP 63:12 */
};
static_assert(sizeof(struct vtd_root_entry) == 16, "root entry");
#define VTD_ROOT_P            VTD_BIT(0)
#define VTD_ROOT_ENTRIES      256

/* Legacy context entry (§9.3). */
struct vtd_context_entry {
	uint64_t lo; /* P 0, FPD 1, TT 3:2, SLPTPTR 63:12 */
	uint64_t hi; /* AW 2:0, AVAIL 6:3, DID 23:8 */
};
static_assert(sizeof(struct vtd_context_entry) == 16, "context entry");
#define VTD_CTX_P             VTD_BIT(0)
#define VTD_CTX_FPD           VTD_BIT(1)
#define VTD_CTX_TT(t)         VTD_SET(t, 3, 2)
#define VTD_CTX_TT_MULTI      0 /* untranslated requests only */
#define VTD_CTX_TT_DEVTLB     1 /* also translation requests (ATS) */
#define VTD_CTX_TT_PT         2 /* pass-through (ECAP.PT) */
#define VTD_CTX_HI_AW(aw)     VTD_SET(aw, 2, 0)
#define VTD_CTX_HI_DID(d)     VTD_SET(d, 23, 8)
#define VTD_CTX_HI_GET_DID(h) VTD_GET(h, 23, 8)

/* Scalable-mode context entry (§9.4): 32 bytes, 128 per table. */
struct vtd_sm_context_entry {
	uint64_t qw[4];
};
static_assert(sizeof(struct vtd_sm_context_entry) == 32, "SM context entry");
#define VTD_SMCTX_P           VTD_BIT(0)
#define VTD_SMCTX_FPD         VTD_BIT(1)
#define VTD_SMCTX_DTE         VTD_BIT(2) /* device-TLB enable */
#define VTD_SMCTX_PASIDE      VTD_BIT(3)
#define VTD_SMCTX_PRE         VTD_BIT(4)
#define VTD_SMCTX_PDTS(p)     VTD_SET(p, 11, 9) /* 2^(PDTS+7) dir entries */
#define VTD_SMCTX_RID_PASID(p) VTD_SET(p, 19, 0) /* in qw1 */

/* PASID directory entry (§9.5): 8 bytes; index = pasid >> 6. */
#define VTD_PDE_P             VTD_BIT(0)
#define VTD_PDE_FPD           VTD_BIT(1)
#define VTD_PASID_DIR_SHIFT   6

/* PASID table entry (§9.6): 64 bytes, 64 per table; index = pasid & 63. */
struct vtd_pasid_entry {
	uint64_t qw[8];
};
static_assert(sizeof(struct vtd_pasid_entry) == 64, "PASID entry");
#define VTD_PTE0_P            VTD_BIT(0)
#define VTD_PTE0_FPD          VTD_BIT(1)
#define VTD_PTE0_AW(aw)       VTD_SET(aw, 4, 2)
#define VTD_PTE0_PGTT(t)      VTD_SET(t, 8, 6)
#define VTD_PGTT_FIRST        1
#define VTD_PGTT_SECOND       2
#define VTD_PGTT_NESTED       3
#define VTD_PGTT_PT           4
#define VTD_PTE1_DID(d)       VTD_SET(d, 15, 0)
#define VTD_PTE1_PWSNP        VTD_BIT(23)
#define VTD_PTE1_PGSNP        VTD_BIT(24)
#define VTD_PTE2_SRE          VTD_BIT(0)
#define VTD_PTE2_FLPM(m)      VTD_SET(m, 3, 2) /* 0 4-level, 1 5-level */
#define VTD_PTE2_WPE          VTD_BIT(4)
#define VTD_PTE2_NXE          VTD_BIT(5)

/* Address widths (§9.3 AW, §3.6): AGAW 1/2/3 = 39/48/57 bits = 3/4/5 levels. */
#define VTD_AGAW_39           1
#define VTD_AGAW_48           2
#define VTD_AGAW_57           3
#define VTD_AGAW_WIDTH(a)     (30 + 9 * (a))
#define VTD_AGAW_LEVELS(a)    ((a) + 2)

/* ---------------------------------------------------------------------------
 * Paging entries. 512 per 4 KiB table, 9 bits of address per level.
 */
#define VTD_PT_ENTRIES        512
#define VTD_LEVEL_SHIFT(l)    (VTD_PAGE_SHIFT + 9 * ((l) - 1)) /* level 1 = 4 KiB */

/* Second-stage entry (§9.8): no present bit; present iff R|W. */
#define VTD_SL_R              VTD_BIT(0)
#define VTD_SL_W              VTD_BIT(1)
#define VTD_SL_PS             VTD_BIT(7)  /* leaf at level 2 (2 MiB) or 3 (1 GiB) */
#define VTD_SL_SNP            VTD_BIT(11)
#define VTD_SL_ADDR_MASK      VTD_MASK(51, 12)

/* First-stage entry (§9.7): the x86-64 paging format. */
#define VTD_FL_P              VTD_BIT(0)
#define VTD_FL_RW             VTD_BIT(1)
#define VTD_FL_US             VTD_BIT(2)
#define VTD_FL_A              VTD_BIT(5)
#define VTD_FL_D              VTD_BIT(6)
#define VTD_FL_PS             VTD_BIT(7)
#define VTD_FL_XD             VTD_BIT(63)
#define VTD_FL_ADDR_MASK      VTD_MASK(51, 12)

/* Fault reasons the driver decodes (Appendix A; legacy subset). */
#define VTD_FR_ROOT_NP        0x1
#define VTD_FR_CTX_NP         0x2
#define VTD_FR_CTX_INVALID    0x3
#define VTD_FR_ADDR_WIDTH     0x4
#define VTD_FR_WRITE          0x5
#define VTD_FR_READ           0x6
#define VTD_FR_PT_ACCESS      0x7
#define VTD_FR_ROOT_ACCESS    0x8
#define VTD_FR_CTX_ACCESS     0x9
#define VTD_FR_ROOT_RSVD      0xA
#define VTD_FR_CTX_RSVD       0xB
#define VTD_FR_PT_RSVD        0xC
#define VTD_FR_TT_BLOCKED     0xD

#endif /* VTD_HW_H */
