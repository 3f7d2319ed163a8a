/* SPDX-License-Identifier: BSD-3-Clause
 * vtdemu test kit: build what a VT-d driver would build, in a private arena
 * of "physical" memory, so that tests and benchmarks can drive a vtdemu unit
 * without the driver.
 *
 * It is deliberately small and plain C. It is NOT the driver: it has no
 * invalidation policy, no IOVA allocator, no batching. It writes entries and
 * descriptors exactly as the caller asks (including wrong ones, for fault
 * tests) and otherwise gets out of the way.
 *
 * Typical use (legacy mode, one device, one 4 KiB mapping):
 *
 *   struct vtk_env env;
 *   vtk_env_init(&env, "qemu-cm-on", 64 << 20);     // arena + default cfg
 *   env.cfg.check_stale = true;                     // adjust env.cfg here
 *   vtk_env_start(&env, VTK_START_QI | VTK_START_TE);
 *
 *   struct vtk_pt pt;
 *   vtk_pt_init(&pt, &env.arena, VTK_PT_SECOND_STAGE, 3);
 *   uint64_t buf = vtk_alloc(&env.arena, 4096, 4096);
 *   vtk_pt_map(&pt, 0x10000, buf, 1, VTDEMU_ACCESS_READ | VTDEMU_ACCESS_WRITE);
 *   struct vtk_legacy_ctx ctx = { .present = true, .tt = VTK_TT_UNTRANSLATED,
 *                                 .slptptr = pt.root, .aw = vtk_aw(3),
 *                                 .did = 5 };
 *   vtk_legacy_set_context(&env.arena, env.root, sid, &ctx);
 *   vtk_qi_append(&env.qi, vtk_desc_cc(VTK_GRAN_GLOBAL, 0, 0, 0), 0);
 *   vtk_qi_sync(&env.qi, VTK_TIMEOUT_NS);            // descriptors + wait
 *   vtdemu_dma_write(env.emu, sid, VTDEMU_NO_PASID, 0x10000, "hi", 2, NULL);
 *   vtk_env_fini(&env);
 *
 * Addresses: every "physical" address (pa) is an address in the arena's own
 * space [base, base + size). vtk_ptr() turns one into a host pointer.
 *
 * Memory ordering: every table entry the kit writes is stored with a 64-bit
 * atomic release store (vtk_store64), and the emulator reads entries with
 * atomic loads, so tests that change tables while DMA runs in other threads
 * are data-race free (ThreadSanitizer-clean). Tests that patch entries by hand
 * should use vtk_store64 too.
 *
 * Thread safety: the resolver (vtk_resolve), vtk_alloc and the page-table
 * builders are safe to call from several threads as long as they touch
 * disjoint IOVA ranges (intermediate tables are installed with a
 * compare-and-swap, leaves with atomic stores). Root/context/PASID builders
 * and a vtk_qi are single-threaded: serialize them.
 *
 * Errors: int functions return 0 or a negative errno; functions returning a
 * pa return 0 on failure (0 is never inside an arena).
 */
#ifndef VTDEMU_TESTKIT_H
#define VTDEMU_TESTKIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vtdemu.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VTK_PAGE_SIZE 4096u
/* A generous bound for every wait of the kit (GSTS, status words). */
#define VTK_TIMEOUT_NS (2ull * 1000 * 1000 * 1000)

/* ------------------------------------------------------------------------
 * Arena: a block of "physical" memory with a bounds-checked resolver.
 */

struct vtk_arena {
	uint8_t *mem;          /* host mapping of [base, base + size) */
	uint64_t base;         /* pa of mem[0]; 4 KiB aligned, never 0 */
	uint64_t size;         /* bytes, a multiple of 4 KiB */
	uint64_t next;         /* bump allocator offset (atomic) */
};

/* Default base: 1 GiB, below every address width (39 bits and up), and far
 * enough from 0 that a zero or small pointer falls outside the arena. */
#define VTK_ARENA_DEFAULT_BASE 0x40000000ull

/* Maps size bytes (rounded up to 4 KiB; zero-filled, lazily committed) at pa
 * base (0: VTK_ARENA_DEFAULT_BASE). */
int vtk_arena_init(struct vtk_arena *a, uint64_t base, uint64_t size);
void vtk_arena_fini(struct vtk_arena *a);

/* The vtdemu_resolve_fn of an arena (opaque = the arena): a pointer for
 * [addr, addr + len) when the whole range lies inside the arena, else NULL. */
void *vtk_resolve(void *opaque, uint64_t addr, size_t len);

/* Host pointer of pa (NULL outside the arena) and its inverse (0 outside). */
void *vtk_ptr(const struct vtk_arena *a, uint64_t pa);
uint64_t vtk_pa(const struct vtk_arena *a, const void *p);

/* Allocates size bytes aligned to align (a power of two, at least 8) from
 * the arena, zero-filled. Returns the pa, or 0 when the arena is exhausted.
 * There is no free: an arena is released as a whole. Thread-safe. */
uint64_t vtk_alloc(struct vtk_arena *a, uint64_t size, uint64_t align);
/* vtk_alloc(a, 4096, 4096). */
uint64_t vtk_alloc_page(struct vtk_arena *a);

/* Atomic (release) store and (acquire) load of a 64-bit table entry. */
static inline void vtk_store64(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}
static inline uint64_t vtk_load64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* ------------------------------------------------------------------------
 * Legacy root and context tables (VT-d spec §9.1, §9.3).
 * A root table is one zeroed 4 KiB page: vtk_alloc_page().
 */

/* Context entry translation types (legacy TT, VT-d spec §9.3). */
#define VTK_TT_UNTRANSLATED 0u /* multi-level, untranslated requests only */
#define VTK_TT_DEVTLB       1u /* multi-level, translated requests too (ATS) */
#define VTK_TT_PASSTHROUGH  2u /* needs ECAP.PT */

/* Address width field of a context/PASID entry for a table of 3/4/5 levels
 * (AW 1/2/3 = 39/48/57 bits, VT-d spec §9.3). */
static inline unsigned int vtk_aw(unsigned int levels)
{
	return levels - 2;
}

struct vtk_legacy_ctx {
	bool present;
	bool fpd;              /* fault processing disable */
	unsigned int tt;       /* VTK_TT_* */
	uint64_t slptptr;      /* second-stage table root (pa) */
	unsigned int aw;       /* vtk_aw(levels) */
	uint16_t did;
};

/* Writes the context entry of sid (bus = sid >> 8, devfn = sid & 0xff).
 * Allocates the bus's context table and makes the root entry present when
 * it is not. The high qword is written before the low one (P last). */
int vtk_legacy_set_context(struct vtk_arena *a, uint64_t root, uint16_t sid,
			   const struct vtk_legacy_ctx *ctx);
/* Clears the context entry of sid (P first, then the rest). */
int vtk_legacy_clear_context(struct vtk_arena *a, uint64_t root,
			     uint16_t sid);

/* Raw access, for tests that plant bad entries: the root entry of a bus
 * (2 qwords) and the context entry of sid (2 qwords). With create, the
 * context table is allocated and the root entry made present if needed;
 * without, NULL when the root entry has no table. */
uint64_t *vtk_root_entry(struct vtk_arena *a, uint64_t root, uint8_t bus);
uint64_t *vtk_legacy_context_entry(struct vtk_arena *a, uint64_t root,
				   uint16_t sid, bool create);

/* ------------------------------------------------------------------------
 * Scalable-mode root, context, PASID directory and PASID tables
 * (VT-d spec §9.2, §9.4, §9.5, §9.6).
 * The root entry's lower half (LP/LCTP) serves devfn 0-127, the upper half
 * (UP/UCTP) devfn 128-255; context entries are 32 bytes, 128 a table.
 */

struct vtk_sm_ctx {
	bool present;
	bool fpd;
	bool dte;              /* device-TLB enable (ATS) */
	bool paside;           /* PASID enable: requests with PASID allowed */
	bool pre;              /* page request enable */
	unsigned int pdts;     /* PASID directory size: 2^(pdts+7) entries */
	uint64_t pasid_dir;    /* PASID directory (pa) */
	uint32_t rid_pasid;    /* PASID used for requests without PASID */
};

int vtk_sm_set_context(struct vtk_arena *a, uint64_t root, uint16_t sid,
		       const struct vtk_sm_ctx *ctx);
int vtk_sm_clear_context(struct vtk_arena *a, uint64_t root, uint16_t sid);
/* Raw 32-byte (4 qwords) scalable-mode context entry; create as above. */
uint64_t *vtk_sm_context_entry(struct vtk_arena *a, uint64_t root,
			       uint16_t sid, bool create);

/* PASID directory: pages enough for 2^(pdts+7) 8-byte entries, zeroed. */
uint64_t vtk_pasid_dir_new(struct vtk_arena *a, unsigned int pdts);

/* PASID-table entry page-table types (PGTT, VT-d spec §9.6). */
#define VTK_PGTT_FIRST_STAGE  1u
#define VTK_PGTT_SECOND_STAGE 2u
#define VTK_PGTT_NESTED       3u
#define VTK_PGTT_PASSTHROUGH  4u

struct vtk_pasid_entry {
	bool present;
	bool fpd;
	unsigned int pgtt;     /* VTK_PGTT_* */
	unsigned int aw;       /* second stage: vtk_aw(levels) */
	uint64_t ssptptr;      /* second-stage table root (pa) */
	uint16_t did;
	uint64_t fsptptr;      /* first-stage table root (pa) */
	unsigned int flpm;     /* first-stage paging mode: 0 4-level, 1 5-level */
	bool sre;              /* supervisor requests enable */
	bool wpe, nxe;         /* write protect / no-execute enable */
};

/* Writes the PASID-table entry of pasid under directory dir (directory
 * index pasid >> 6, table index pasid & 0x3f). Allocates the PASID table
 * and makes the directory entry present when it is not. Qwords 1..7 are
 * written before qword 0 (P last). */
int vtk_pasid_set(struct vtk_arena *a, uint64_t dir, uint32_t pasid,
		  const struct vtk_pasid_entry *pe);
int vtk_pasid_clear(struct vtk_arena *a, uint64_t dir, uint32_t pasid);
/* Raw access: the directory entry (1 qword) and the PASID entry (8 qwords);
 * create as above. */
uint64_t *vtk_pasid_dir_entry(struct vtk_arena *a, uint64_t dir,
			      uint32_t pasid);
uint64_t *vtk_pasid_entry(struct vtk_arena *a, uint64_t dir, uint32_t pasid,
			  bool create);

/* ------------------------------------------------------------------------
 * Page tables: second stage (VT-d spec §9.8: R 0, W 1, PS 7, no present
 * bit: present iff R|W) and first stage (§9.7: x86-64 paging, P 0, RW 1,
 * US 2, A 5, D 6, PS 7, XD 63).
 *
 * Levels count from the leaf: level 1 maps 4 KiB, level 2 2 MiB, level 3
 * 1 GiB. A table of n levels has its root at level n.
 * Entries written by the kit:
 *   second stage: non-leaf R|W|table; leaf R/W as asked, PS on levels > 1.
 *   first stage:  non-leaf P|RW|US|A|table; leaf P|US|A, RW|D when
 *                 writable, PS on levels > 1. (A read-only first-stage leaf
 *                 is P without RW.)
 */

enum vtk_pt_format {
	VTK_PT_SECOND_STAGE = 0,
	VTK_PT_FIRST_STAGE,
};

struct vtk_pt {
	struct vtk_arena *arena;
	enum vtk_pt_format fmt;
	unsigned int levels;   /* 3, 4 or 5 (first stage: 4 or 5) */
	uint64_t root;         /* pa of the top-level table */
};

/* Size of a leaf at level (1: 4 KiB, 2: 2 MiB, 3: 1 GiB ...). */
static inline uint64_t vtk_level_size(unsigned int level)
{
	return (uint64_t)VTK_PAGE_SIZE << (9 * (level - 1));
}

int vtk_pt_init(struct vtk_pt *pt, struct vtk_arena *a,
		enum vtk_pt_format fmt, unsigned int levels);

/* Maps [iova, iova + vtk_level_size(level)) to pa with a leaf at level;
 * perm is enum vtdemu_access bits (0 writes a non-present leaf; for the first
 * stage READ alone is read-only). iova and pa must be aligned to the leaf
 * size. Missing intermediate tables are allocated; a leaf already present
 * at a level above is an error (-EEXIST); an existing table at the leaf's
 * level is replaced by the leaf (its page leaks into the arena). Does no
 * invalidation: that is the caller's business. */
int vtk_pt_map(struct vtk_pt *pt, uint64_t iova, uint64_t pa,
	       unsigned int level, unsigned int perm);
/* 4 KiB leaves over [iova, iova + len) to [pa, ...); len a multiple of 4 KiB. */
int vtk_pt_map_range(struct vtk_pt *pt, uint64_t iova, uint64_t pa,
		     uint64_t len, unsigned int perm);
/* Clears the leaf at level that maps iova (intermediate tables stay).
 * -ENOENT when no table reaches that level. */
int vtk_pt_unmap(struct vtk_pt *pt, uint64_t iova, unsigned int level);
/* The entry at level on the path of iova (level = pt->levels: the root
 * table's entry); NULL when a table above is missing or a leaf ends the path
 * earlier. For tests that plant bits by hand (use vtk_store64). */
uint64_t *vtk_pt_entry(struct vtk_pt *pt, uint64_t iova, unsigned int level);

/* Bits of the entry formats, for hand-made entries. */
#define VTK_SS_R        (1ull << 0)
#define VTK_SS_W        (1ull << 1)
#define VTK_SS_PS       (1ull << 7)
#define VTK_SS_SNP      (1ull << 11)
#define VTK_FS_P        (1ull << 0)
#define VTK_FS_RW       (1ull << 1)
#define VTK_FS_US       (1ull << 2)
#define VTK_FS_A        (1ull << 5)
#define VTK_FS_D        (1ull << 6)
#define VTK_FS_PS       (1ull << 7)
#define VTK_FS_XD       (1ull << 63)
#define VTK_ADDR_MASK   0x000ffffffffff000ull /* bits 51:12 */

/* ------------------------------------------------------------------------
 * Registers (offsets, VT-d spec §11.4) the kit and tests use.
 */
#define VTK_REG_VER     0x00
#define VTK_REG_CAP     0x08
#define VTK_REG_ECAP    0x10
#define VTK_REG_GCMD    0x18
#define VTK_REG_GSTS    0x1c
#define VTK_REG_RTADDR  0x20
#define VTK_REG_CCMD    0x28
#define VTK_REG_FSTS    0x34
#define VTK_REG_FECTL   0x38
#define VTK_REG_IQH     0x80
#define VTK_REG_IQT     0x88
#define VTK_REG_IQA     0x90
#define VTK_REG_ICS     0x9c
#define VTK_REG_IQER    0xb0

#define VTK_GCMD_TE     (1u << 31)
#define VTK_GCMD_SRTP   (1u << 30)
#define VTK_GCMD_WBF    (1u << 27)
#define VTK_GCMD_QIE    (1u << 26)
#define VTK_GSTS_TES    (1u << 31)
#define VTK_GSTS_RTPS   (1u << 30)
#define VTK_GSTS_WBFS   (1u << 27)
#define VTK_GSTS_QIES   (1u << 26)
#define VTK_FSTS_PFO    (1u << 0)
#define VTK_FSTS_PPF    (1u << 1)
#define VTK_FSTS_IQE    (1u << 4)
#define VTK_FSTS_ICE    (1u << 5)
#define VTK_FSTS_ITE    (1u << 6)
#define VTK_FSTS_FRI(v) (((v) >> 8) & 0xffu)
#define VTK_RTADDR_SMT  (1ull << 10) /* TTM = 01b: scalable mode */

/* A GCMD command: writes GCMD with the persistent bits currently on in GSTS
 * (TE, QIE, IRE, CFI) plus set, minus clear, then polls GSTS until the
 * status bit of each changed command reaches its value: a persistent one
 * its new state, SRTP (and SFL, SIRTP) its status set; WBF is done when
 * WBFS reads 0 again (§11.4.5: hardware sets WBFS while the flush runs).
 * Returns 0 or -ETIMEDOUT. */
int vtk_gcmd(struct vtdemu *emu, uint32_t set, uint32_t clear,
	     uint64_t timeout_ns);
/* RTADDR = root | (scalable ? SMT : 0), then SRTP and wait for RTPS. */
int vtk_set_root(struct vtdemu *emu, uint64_t root, bool scalable);

/* A decoded primary fault record (FRCD, VT-d spec §11.4.14). */
struct vtk_frcd {
	bool f;                /* fault: the record holds a fault */
	bool t_read;           /* T: 1 = read request (the spec's T=1) */
	uint8_t reason;        /* FR */
	uint16_t sid;
	bool pp;               /* PASID present */
	uint32_t pasid;        /* PV */
	uint64_t fi;           /* fault info: page address, bits 63:12 */
	unsigned int at;       /* address type */
};
/* Reads fault record i (at CAP.FRO * 16 + 16 * i); -EINVAL past CAP.NFR. */
int vtk_frcd_read(struct vtdemu *emu, unsigned int i, struct vtk_frcd *out);
/* Clears record i (RW1C F) and FSTS.PPF/PFO. */
void vtk_frcd_clear(struct vtdemu *emu, unsigned int i);
/* Clears every record and the fault status bits (PFO, PPF). */
void vtk_faults_clear(struct vtdemu *emu);

/* ------------------------------------------------------------------------
 * Invalidation descriptors (VT-d spec §6.5.2). Each returns qw0 (and, for
 * those with a qw1, writes it through *qw1). Granularities as in the spec.
 */
#define VTK_GRAN_GLOBAL 1u
#define VTK_GRAN_DOMAIN 2u
#define VTK_GRAN_DEVICE 3u  /* context cache */
#define VTK_GRAN_PAGE   3u  /* IOTLB / PASID-IOTLB */
#define VTK_GRAN_PASID  2u  /* PASID-IOTLB: all of (did, pasid) */
/* PASID-cache granularities (§6.5.2.2). */
#define VTK_PC_DOMAIN   0u
#define VTK_PC_PASID    1u
#define VTK_PC_GLOBAL   3u

/* Context-cache (type 1): gran 1 global, 2 domain, 3 device (sid, fm). */
uint64_t vtk_desc_cc(unsigned int gran, uint16_t did, uint16_t sid,
		     unsigned int fm);
/* IOTLB (type 2): gran 1/2/3; page: addr (aligned to 2^am pages), am, ih.
 * DR/DW are left 0. */
uint64_t vtk_desc_iotlb(unsigned int gran, uint16_t did, uint64_t addr,
			unsigned int am, bool ih, uint64_t *qw1);
/* Device-TLB (type 3) of sid: invalidates [addr, addr + 4 KiB << order),
 * addr aligned to that size. Order 0: S=0. Order n > 0: S=1 and address bits
 * 12 .. 12+n-2 set to 1 (the lowest clear bit of ADDR[63:12] gives the size,
 * VT-d spec §6.5.2.5 and the PCIe ATS invalidate request); order 52 means
 * everything. */
uint64_t vtk_desc_devtlb(uint16_t sid, uint64_t addr, unsigned int order,
			 uint64_t *qw1);
/* Wait (type 5), status write only (SW=1): writes data to status_pa. */
uint64_t vtk_desc_wait(uint32_t data, uint64_t status_pa, uint64_t *qw1);
/* PASID-IOTLB (type 6, 256-bit only): gran VTK_GRAN_PASID or
 * VTK_GRAN_PAGE. */
uint64_t vtk_desc_piotlb(unsigned int gran, uint16_t did, uint32_t pasid,
			 uint64_t addr, unsigned int am, bool ih,
			 uint64_t *qw1);
/* PASID-cache (type 7, 256-bit only): gran VTK_PC_*. */
uint64_t vtk_desc_pc(unsigned int gran, uint16_t did, uint32_t pasid);
/* PASID-based device-TLB (type 8, 256-bit only): global = all PASIDs of
 * sid; range as vtk_desc_devtlb. */
uint64_t vtk_desc_pdevtlb(uint16_t sid, uint32_t pasid, bool global,
			  uint64_t addr, unsigned int order, uint64_t *qw1);

/* ------------------------------------------------------------------------
 * A tiny queued-invalidation helper (VT-d spec §6.5.2). One producer.
 */
struct vtk_qi {
	struct vtdemu *emu;
	struct vtk_arena *arena;
	uint64_t base;         /* queue pa */
	bool dw;               /* 256-bit descriptors (IQA.DW) */
	unsigned int slots;    /* descriptors the queue holds */
	unsigned int tail;     /* next free slot (software copy of IQT) */
	uint64_t status_pa;    /* the wait status word (4 bytes, own line) */
	uint32_t seq;          /* last sequence number submitted */
};

/* Allocates a queue of 2^qs pages, writes IQT = 0, IQA = base | DW | QS,
 * sets GCMD.QIE and waits for GSTS.QIES. dw needs ECAP.SMTS. */
int vtk_qi_enable(struct vtk_qi *q, struct vtdemu *emu, struct vtk_arena *a,
		  unsigned int qs, bool dw);
/* Appends a 128-bit descriptor (in a 256-bit slot, qw2 = qw3 = 0, when the
 * queue is DW) or a 256-bit one (-EINVAL on a 128-bit queue). Does not write
 * IQT. -ENOSPC when the queue is full (head read from IQH). */
int vtk_qi_append(struct vtk_qi *q, uint64_t qw0, uint64_t qw1);
int vtk_qi_append256(struct vtk_qi *q, const uint64_t qw[4]);
/* Writes IQT (the doorbell). */
void vtk_qi_submit(struct vtk_qi *q);
/* Appends a wait descriptor with the next sequence number, submits, and
 * polls the status word until it holds that number. Returns 0, -EIO when
 * the unit raised IQE/ITE/ICE meanwhile (FSTS is left for the caller to
 * inspect and clear), or -ETIMEDOUT. */
int vtk_qi_sync(struct vtk_qi *q, uint64_t timeout_ns);

/* ------------------------------------------------------------------------
 * An environment: arena + unit + root table + queue, for the common case.
 */
struct vtk_env {
	struct vtk_arena arena;
	struct vtdemu_config cfg;  /* adjust between init and start */
	struct vtdemu *emu;
	uint64_t root;             /* root table pa */
	bool scalable;
	bool qi_enabled;
	struct vtk_qi qi;
};

/* Maps an arena of arena_bytes and fills env->cfg: vtdemu_config_init(),
 * the caps of preset (NULL: the default), resolve = vtk_resolve. */
int vtk_env_init(struct vtk_env *env, const char *preset,
		 uint64_t arena_bytes);

#define VTK_START_SCALABLE (1u << 0) /* root table in scalable mode (TTM=01) */
#define VTK_START_QI       (1u << 1) /* enable the queue (1 page; DW=1 when
					scalable) */
#define VTK_START_TE       (1u << 2) /* enable translation */

/* Creates the unit from env->cfg, allocates the root table, sets it (SRTP),
 * then as flags say enables the queue and translation. On failure the
 * reason is printed on stderr and the env is left to vtk_env_fini. */
int vtk_env_start(struct vtk_env *env, unsigned int flags);
void vtk_env_fini(struct vtk_env *env);

#ifdef __cplusplus
}
#endif

#endif /* VTDEMU_TESTKIT_H */
