/* SPDX-License-Identifier: BSD-3-Clause
 * lib/vtdemu front end, private to vtdemu.c vtdemu_caps.c vtdemu_regs.c
 * vtdemu_qi.c vtdemu_fault.c vtdemu_cost.c vtdemu_dump.c: the emulator's own
 * encoding of the VT-d register file and invalidation descriptors (it shares
 * nothing with drivers/iommu/vtd on purpose), the queue state, and the verbs
 * the front-end files call on each other.
 *
 * Locking legend as in vtdemu_internal.h, plus
 *   [F]  written under emu->fault_lock (FSTS, FECTL, IQER, fault records);
 *        FSTS.IQE/ITE/ICE are also only changed with reg_lock held, so the
 *        queue engine may read them under reg_lock alone.
 */
#ifndef VTDEMU_FE_H
#define VTDEMU_FE_H

#include <stdint.h>
#include <time.h>

#include "vtdemu_internal.h"

/* ------------------------------------------------------------------------
 * Register offsets (VT-d spec §11.4, Table "Intel VT-d register summary").
 */
#define R_VER      0x00
#define R_CAP      0x08
#define R_ECAP     0x10
#define R_GCMD     0x18
#define R_GSTS     0x1c
#define R_RTADDR   0x20
#define R_CCMD     0x28
#define R_FSTS     0x34
#define R_FECTL    0x38
#define R_FEDATA   0x3c
#define R_FEADDR   0x40
#define R_FEUADDR  0x44
#define R_AFLOG    0x58
#define R_PMEN     0x64
#define R_PLMBASE  0x68
#define R_PLMLIMIT 0x6c
#define R_PHMBASE  0x70
#define R_PHMLIMIT 0x78
#define R_IQH      0x80
#define R_IQT      0x88
#define R_IQA      0x90
#define R_ICS      0x9c
#define R_IECTL    0xa0
#define R_IEDATA   0xa4
#define R_IEADDR   0xa8
#define R_IEUADDR  0xac
#define R_IQER     0xb0
#define R_IRTA     0xb8
#define R_PQH      0xc0
#define R_PQT      0xc8
#define R_PQA      0xd0
#define R_PRS      0xdc
#define R_PECTL    0xe0
#define R_PEDATA   0xe4
#define R_PEADDR   0xe8
#define R_PEUADDR  0xec
/* First byte after the fixed architectural registers: the IOTLB registers
 * (ECAP.IRO) and fault recording registers (CAP.FRO) may start here (QEMU
 * puts IRO at 0xf0). */
#define R_ARCH_END 0xf0

/* CAP fields (§11.4.2). */
#define CAP_ND(c)      ((unsigned)((c) & 7))
#define CAP_AFL        (1ull << 3)
#define CAP_RWBF       (1ull << 4)
#define CAP_PLMR       (1ull << 5)
#define CAP_PHMR       (1ull << 6)
#define CAP_CM         (1ull << 7)
#define CAP_SAGAW(c)   ((unsigned)(((c) >> 8) & 0x1f))
#define CAP_MGAW(c)    ((unsigned)(((c) >> 16) & 0x3f))
#define CAP_ZLR        (1ull << 22)
#define CAP_FRO(c)     ((unsigned)(((c) >> 24) & 0x3ff))
#define CAP_SLLPS(c)   ((unsigned)(((c) >> 34) & 0xf))
#define CAP_PSI        (1ull << 39)
#define CAP_NFR(c)     ((unsigned)(((c) >> 40) & 0xff))
#define CAP_MAMV(c)    ((unsigned)(((c) >> 48) & 0x3f))
#define CAP_DWD        (1ull << 54)
#define CAP_DRD        (1ull << 55)
#define CAP_FL1GP      (1ull << 56)
#define CAP_PI         (1ull << 59)
#define CAP_FL5LP      (1ull << 60)
#define CAP_ECMDS      (1ull << 61)
#define CAP_ESIRTPS    (1ull << 62)
#define CAP_ESRTPS     (1ull << 63)

/* ECAP fields (§11.4.3). */
#define ECAP_C         (1ull << 0)
#define ECAP_QI        (1ull << 1)
#define ECAP_DT        (1ull << 2)
#define ECAP_IR        (1ull << 3)
#define ECAP_EIM       (1ull << 4)
#define ECAP_PT        (1ull << 6)
#define ECAP_SC        (1ull << 7)
#define ECAP_IRO(e)    ((unsigned)(((e) >> 8) & 0x3ff))
#define ECAP_MHMV(e)   ((unsigned)(((e) >> 20) & 0xf))
#define ECAP_MTS       (1ull << 25)
#define ECAP_NEST      (1ull << 26)
#define ECAP_PRS       (1ull << 29)
#define ECAP_ERS       (1ull << 30)
#define ECAP_SRS       (1ull << 31)
#define ECAP_NWFS      (1ull << 33)
#define ECAP_EAFS      (1ull << 34)
#define ECAP_PSS(e)    ((unsigned)(((e) >> 35) & 0x1f))
#define ECAP_PASID     (1ull << 40)
#define ECAP_DIT       (1ull << 41)
#define ECAP_PDS       (1ull << 42)
#define ECAP_SMTS      (1ull << 43)
#define ECAP_VCS       (1ull << 44)
#define ECAP_SLADS     (1ull << 45)
#define ECAP_SLTS      (1ull << 46)
#define ECAP_FLTS      (1ull << 47)
#define ECAP_SMPWC     (1ull << 48)
#define ECAP_RPS       (1ull << 49)
#define ECAP_PMS       (1ull << 51)

/* GCMD / GSTS (§11.4.4, §11.4.5): command bit n reports in status bit n. */
#define GCMD_TE        (1u << 31)
#define GCMD_SRTP      (1u << 30)
#define GCMD_SFL       (1u << 29)
#define GCMD_EAFL      (1u << 28)
#define GCMD_WBF       (1u << 27)
#define GCMD_QIE       (1u << 26)
#define GCMD_IRE       (1u << 25)
#define GCMD_SIRTP     (1u << 24)
#define GCMD_CFI       (1u << 23)
#define GSTS_TES       GCMD_TE
#define GSTS_RTPS      GCMD_SRTP
#define GSTS_FLS       GCMD_SFL
#define GSTS_AFLS      GCMD_EAFL
#define GSTS_WBFS      GCMD_WBF
#define GSTS_QIES      GCMD_QIE
#define GSTS_IRES      GCMD_IRE
#define GSTS_IRTPS     GCMD_SIRTP
#define GSTS_CFIS      GCMD_CFI

/* RTADDR (§11.4.6): RTA 63:12, TTM 11:10. */
#define RTADDR_RTA     0xfffffffffffff000ull
#define RTADDR_TTM     (3ull << 10)

/* CCMD (§11.4.7.1). */
#define CCMD_ICC       (1ull << 63)
#define CCMD_CIRG(v)   ((unsigned)(((v) >> 61) & 3))
#define CCMD_CAIG_SHIFT 59
#define CCMD_CAIG_MASK (3ull << 59)
#define CCMD_FM(v)     ((unsigned)(((v) >> 32) & 3))
#define CCMD_SID(v)    ((uint16_t)((v) >> 16))
#define CCMD_DID(v)    ((uint16_t)(v))
#define CCMD_RW        0xe0000003ffffffffull

/* IOTLB register (§11.4.8.1) and IVA (§11.4.8.2). */
#define IOTLB_IVT      (1ull << 63)
#define IOTLB_IIRG(v)  ((unsigned)(((v) >> 60) & 3))
#define IOTLB_IAIG_SHIFT 57
#define IOTLB_IAIG_MASK (3ull << 57)
#define IOTLB_DID(v)   ((uint16_t)((v) >> 32))
#define IOTLB_RW       0xb003ffff00000000ull
#define IVA_RW         0xfffffffffffff07full
#define IVA_AM(v)      ((unsigned)((v) & 0x3f))
#define IVA_IH         (1ull << 6)
#define IVA_ADDR(v)    ((v) & ~0xfffull)

/* FSTS (§11.4.9.1), FECTL/IECTL (§11.4.9.2, §11.4.9.8). */
#define FSTS_PFO       (1u << 0)
#define FSTS_PPF       (1u << 1)
#define FSTS_AFO       (1u << 2)
#define FSTS_APF       (1u << 3)
#define FSTS_IQE       (1u << 4)
#define FSTS_ICE       (1u << 5)
#define FSTS_ITE       (1u << 6)
#define FSTS_PRO       (1u << 7)
#define FSTS_FRI_SHIFT 8
#define FSTS_FRI_MASK  (0xffu << 8)
#define FSTS_RW1C      (FSTS_PFO | FSTS_AFO | FSTS_APF | FSTS_IQE | \
			FSTS_ICE | FSTS_ITE | FSTS_PRO)
#define XECTL_IM       (1u << 31)
#define XECTL_IP       (1u << 30)

/* Queue registers (§11.4.9.3 - §11.4.9.9). */
#define IQ_QH_MASK     0x7fff0ull      /* IQH/IQT bits 18:4 */
#define IQA_ADDR       0xfffffffffffff000ull
#define IQA_DW         (1ull << 11)
#define IQA_QS(v)      ((unsigned)((v) & 7))
#define ICS_IWC        1u
#define IQER_IQEI_MASK 0xfull
#define IQER_ITESID_SHIFT 32
#define IQER_ICESID_SHIFT 48

/* IQER.IQEI codes (VT-d spec §11.4.9.9, as also documented in Intel's
 * processor register manuals for IQERCD_REG). */
enum emu_iqei {
	IQEI_NONE = 0,      /* info not available */
	IQEI_TAIL = 1,      /* invalid tail pointer */
	IQEI_FETCH = 2,     /* descriptor fetch failed */
	IQEI_TYPE = 3,      /* invalid descriptor type */
	IQEI_RSVD = 4,      /* reserved field violation in a valid type */
	IQEI_WIDTH = 5,     /* invalid descriptor width for IQA.DW */
};

/* Fault recording register, high qword (bits 127:64, §11.4.14). */
#define FRCD_HI_F      (1ull << 63)
#define FRCD_HI_T      (1ull << 62)
#define FRCD_HI_AT_SHIFT 60
#define FRCD_HI_PV_SHIFT 40
#define FRCD_HI_FR_SHIFT 32
#define FRCD_HI_PP     (1ull << 31)

/* ------------------------------------------------------------------------
 * Invalidation descriptors (§6.5.2): type = qw0[3:0] | qw0[11:9] << 4.
 */
#define DT_CC        1
#define DT_IOTLB     2
#define DT_DEVTLB    3
#define DT_IEC       4
#define DT_WAIT      5
#define DT_PIOTLB    6
#define DT_PC        7
#define DT_PDEVTLB   8

static inline unsigned int desc_type(uint64_t qw0)
{
	return (unsigned int)((qw0 & 0xf) | ((qw0 >> 5) & 0x70));
}

#define WAIT_IF      (1ull << 4)
#define WAIT_SW      (1ull << 5)
#define WAIT_FN      (1ull << 6)
#define WAIT_PD      (1ull << 7)

/* ------------------------------------------------------------------------
 * Register page access. The page is read by other threads with plain loads
 * (the driver) or vtdemu_reg_read(); every store is a single aligned atomic
 * store so that no reader ever sees a torn 64-bit value.
 */
static inline uint32_t reg_rd32(const struct vtdemu *emu, uint32_t off)
{
	return __atomic_load_n((const uint32_t *)(const void *)(emu->regs + off),
			       __ATOMIC_ACQUIRE);
}
static inline uint64_t reg_rd64(const struct vtdemu *emu, uint32_t off)
{
	return __atomic_load_n((const uint64_t *)(const void *)(emu->regs + off),
			       __ATOMIC_ACQUIRE);
}
static inline void reg_wr32(struct vtdemu *emu, uint32_t off, uint32_t v)
{
	__atomic_store_n((uint32_t *)(void *)(emu->regs + off), v,
			 __ATOMIC_RELEASE);
}
static inline void reg_wr64(struct vtdemu *emu, uint32_t off, uint64_t v)
{
	__atomic_store_n((uint64_t *)(void *)(emu->regs + off), v,
			 __ATOMIC_RELEASE);
}

static inline uint32_t emu_iro_off(const struct vtdemu *emu)
{
	return ECAP_IRO(emu->ecap) * 16u;
}
static inline uint32_t emu_fro_off(const struct vtdemu *emu)
{
	return CAP_FRO(emu->cap) * 16u;
}
static inline unsigned int emu_nfr(const struct vtdemu *emu)
{
	return CAP_NFR(emu->cap) + 1u; /* 1..256, never wraps */
}

static inline uint64_t emu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------------
 * Queue and injection state (vtdemu_qi.c). Everything [R] unless noted.
 */
#define EMU_QI_MAX_PAGES 128u /* IQA.QS <= 7: 2^7 pages */

struct emu_qi {
	bool enabled;              /* GSTS.QIES */
	bool dw;                   /* 256-bit descriptors, latched at QIE */
	uint64_t base;             /* latched at QIE */
	uint32_t size;             /* descriptors in the queue */
	/* head, tail and their mirrors: in struct vtdemu, by reg_lock. */
	uint64_t iva;              /* IVA is write-only (§11.4.8.2): kept here */
	uint64_t ccmd_wo;          /* CCMD SID/FM are write-only (§11.4.7.1) */
	void *page[EMU_QI_MAX_PAGES]; /* resolved queue pages (lazy) */

	/* Fault injection (vtdemu_inject). */
	int64_t bad_desc_in;       /* descriptors before the bad one, -1 off */
	bool devtlb_timeout;
	uint16_t devtlb_timeout_sid;
	uint32_t devtlb_timeout_left; /* 0 = until cleared */
	bool ice_next;
	bool stalled;
	uint64_t stall_until_ns;   /* 0 = until cleared */
	int64_t lost_wait_in;      /* waits before the lost one, -1 off */
};

/* vtdemu_caps.c */
size_t emu_caps_regs_size(const struct vtdemu_caps *caps);

/* vtdemu_regs.c */
void emu_regs_reset(struct vtdemu *emu);

/* vtdemu_qi.c */
int emu_qi_init(struct vtdemu *emu, char *err, size_t errlen);
void emu_qi_fini(struct vtdemu *emu);
int emu_thread_start(struct vtdemu *emu, char *err, size_t errlen);
void emu_thread_stop(struct vtdemu *emu);
/* Called with reg_lock held by the register write path. */
void emu_qi_iqt_written(struct vtdemu *emu);
bool emu_qi_set_enable(struct vtdemu *emu, bool en);
void emu_qi_kick(struct vtdemu *emu);     /* resume after ITE clear etc. */
void emu_ccmd_written(struct vtdemu *emu);
void emu_iotlb_reg_written(struct vtdemu *emu);
int emu_qi_quiesce(struct vtdemu *emu, uint64_t timeout_ns);

/* vtdemu_fault.c (each takes fault_lock itself; reg_lock may be held). */
void emu_fsts_raise(struct vtdemu *emu, uint32_t bits, uint64_t iqer_set,
		    uint64_t iqer_mask);
void emu_fsts_write(struct vtdemu *emu, uint32_t value);
void emu_xectl_write(struct vtdemu *emu, uint32_t off, uint32_t value);
void emu_frcd_write(struct vtdemu *emu, uint32_t off, uint64_t value,
		    unsigned int size);
void emu_fault_reset(struct vtdemu *emu);
void emu_ics_raise_iwc(struct vtdemu *emu);
void emu_ics_write(struct vtdemu *emu, uint32_t value);

/* vtdemu_cost.c */
uint32_t emu_cost_of(const struct vtdemu_cost_model *c,
		     enum vtdemu_desc_stat kind);

#endif /* VTDEMU_FE_H */
