/* SPDX-License-Identifier: BSD-3-Clause
 * VT-d conformance: one case list, two units.
 *
 * The cases (cases.c) drive a VT-d remapping unit only through a small
 * "unit" interface (register reads and writes, physical memory, a DMA
 * requester) and record what they observe as key = value pairs. Each case
 * states the outcome the VT-d specification asks for; a case may also carry
 * a documented QEMU departure (docs/qemu-departures.md) that the runner
 * accepts instead, and only on QEMU's unit.
 *
 * Two back ends implement the interface:
 *   conf_emu.c    lib/vtdemu on the host: a fresh unit per case in a
 *                 vtdemu test-kit arena; the DMA requester is
 *                 vtdemu_dma_read/write.
 *   conf_guest.c  QEMU's intel-iommu inside the rig's guest: registers
 *                 through /dev/mem at the DRHD base, memory from hugepages
 *                 (physical addresses from /proc/self/pagemap), DMA by the
 *                 edu device. Runs only with UVTD_GUEST=1.
 *
 * Plain C, no DPDK.
 */
#ifndef UVTD_CONF_H
#define UVTD_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The requester id every DMA of a case uses: edu sits at 00:01.0 in the
 * rig's guest (bus 0, device 1, function 0), and the host's DMA engine
 * plays the same device. */
#define CONF_SID 0x0008u
/* The DMA device's private buffer (edu's is 4 KiB; QEMU 7.2 refuses a
 * transfer that ends at its last byte, test/qemu/README.md). */
#define CONF_DMA_MAX 4095u

struct conf_unit {
	const char *name;        /* "vtdemu:qemu-cm-on", "qemu:cm-on" ... */
	bool is_qemu;            /* departures are accepted only here */
	void *priv;
	uint64_t (*rd)(struct conf_unit *u, uint32_t off, unsigned int size);
	void (*wr)(struct conf_unit *u, uint32_t off, uint64_t v,
		   unsigned int size);
	/* size bytes of zeroed physical memory aligned to align (<= 4096),
	 * never crossing a 2 MiB boundary; returns the physical address
	 * (0 on failure) and the host pointer in *va. */
	uint64_t (*alloc)(struct conf_unit *u, uint64_t size, uint64_t align,
			  void **va);
	/* One DMA of the device (requester CONF_SID), len <= CONF_DMA_MAX:
	 * to_mem false: the device reads [iova, iova + len) into its
	 * buffer at buf_off; true: it writes its buffer at buf_off there.
	 * Returns 0 when the device reported the transfer done (a
	 * translation fault is not a DMA failure: the case reads the fault
	 * records), a negative errno when the DMA could not be run. */
	int (*dma)(struct conf_unit *u, bool to_mem, uint64_t iova,
		   uint32_t len, uint32_t buf_off);
	bool has_dma;            /* false: cases needing DMA skip */
	const char *no_dma_why;
};

/* One observation or expectation. */
struct conf_kv {
	const char *key;
	uint64_t value;
};

#define CONF_MAX_KV 12

/* A documented departure of QEMU 7.2 from the specification: what QEMU
 * shows instead for some keys (the others must still meet the spec). The
 * text, the specification rule and the evidence are in
 * docs/qemu-departures.md under the same id. */
struct conf_departure {
	const char *id;
	struct conf_kv got[CONF_MAX_KV];
};

/* Preconditions (capabilities a case needs). */
enum {
	NEED_QI = 1u << 0,
	NEED_DMA = 1u << 1,
	NEED_CM = 1u << 2,       /* CAP.CM = 1 */
	NEED_NO_CM = 1u << 3,
	NEED_SMTS = 1u << 4,     /* ECAP.SMTS = 1 (256-bit queue) */
	NEED_NO_SMTS = 1u << 5,
	NEED_PSI = 1u << 6,
	NEED_DT = 1u << 7,       /* ECAP.DT: device-TLB descriptors */
	NEED_NO_DT = 1u << 8,
	NEED_NO_IR = 1u << 9,
	NEED_NFR1 = 1u << 10,    /* exactly one fault record */
	NEED_SAGAW_GAP = 1u << 11, /* a width of 39/48/57 SAGAW lacks */
	NEED_PT = 1u << 12,      /* ECAP.PT */
	NEED_NO_SC = 1u << 13,   /* ECAP.SC = 0 */
	NEED_SLLPS_2M = 1u << 14, /* CAP.SLLPS bit 0: 2 MiB second-stage leaves */
};

struct conf_ctx;

struct conf_case {
	const char *name;
	const char *rule;        /* the rule checked, with its spec section */
	unsigned int needs;
	void (*run)(struct conf_ctx *c);
	struct conf_kv expect[CONF_MAX_KV]; /* the specification's outcome */
	const struct conf_departure *qemu;  /* NULL: QEMU must meet the spec */
};

extern const struct conf_case conf_cases[];
extern const unsigned int conf_ncases;

/* Every departure id the cases use (for the documentation check). */
extern const char *const conf_departure_ids[];

/* ------------------------------------------------------------------------
 * What a case has at hand (conf_lib.c).
 */
struct conf_queue {
	uint64_t base;
	uint8_t *va;
	bool dw;                 /* 256-bit descriptors */
	unsigned int slots;
	unsigned int tail;       /* software copy of IQT (slot index) */
	uint64_t status_pa;
	volatile uint32_t *status;
	uint32_t seq;
};

struct conf_ctx {
	struct conf_unit *u;
	uint32_t ver;
	uint64_t cap, ecap;
	struct conf_kv obs[CONF_MAX_KV * 2];
	unsigned int nobs;
	char err[200];           /* a setup step failed: the case fails */
	struct conf_queue q;
	uint64_t root;           /* legacy root table of the case (0: none) */
};

/* Registers. */
uint32_t rd32(struct conf_ctx *c, uint32_t off);
uint64_t rd64(struct conf_ctx *c, uint32_t off);
void wr32(struct conf_ctx *c, uint32_t off, uint32_t v);
void wr64(struct conf_ctx *c, uint32_t off, uint64_t v);
uint32_t frcd_off(struct conf_ctx *c, unsigned int i);
uint32_t iotlb_reg_off(struct conf_ctx *c);

/* Records an observation. */
void obs(struct conf_ctx *c, const char *key, uint64_t v);
/* Marks the case failed for a reason outside the checked outcome (a setup
 * step did not work); returns false so that callers can `return`. */
bool conf_error(struct conf_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Memory. */
uint64_t conf_alloc(struct conf_ctx *c, uint64_t size, uint64_t align,
		    void **va);
/* The 64-bit entry at va (a table entry), stored whole. */
void conf_store64(void *va, uint64_t v);

/* GCMD: writes the persistent bits now on in GSTS plus set, minus clear,
 * and polls GSTS until each changed command reports it (SRTP: RTPS set).
 * false (and the case error set) on timeout. */
bool conf_gcmd(struct conf_ctx *c, uint32_t set, uint32_t clear);
/* RTADDR = pa, SRTP. */
bool conf_set_root(struct conf_ctx *c, uint64_t pa);

/* Queue: allocates 2^qs pages, IQT = 0, IQA = base | DW | QS, QIE. */
bool conf_qi_enable(struct conf_ctx *c, unsigned int qs, bool dw);
/* Writes descriptor qw[0..1] (and qw[2..3] in a 256-bit queue) at the
 * software tail and advances it; nothing is submitted. */
void conf_qi_put(struct conf_ctx *c, uint64_t qw0, uint64_t qw1);
void conf_qi_put256(struct conf_ctx *c, const uint64_t qw[4]);
/* IQT = tail (the doorbell). */
void conf_qi_doorbell(struct conf_ctx *c);
/* Appends a status-write wait with a new sequence number, rings, and polls
 * the status word: 0 done, -EIO the unit raised IQE/ITE/ICE, -ETIMEDOUT. */
int conf_qi_sync(struct conf_ctx *c);
/* The slot IQH points at. */
unsigned int conf_iqh_slot(struct conf_ctx *c);

/* Legacy translation structures (VT-d spec §9.1, §9.3, §9.8). */
struct conf_pt {
	unsigned int levels;
	uint64_t root;
	uint8_t *root_va;
};
/* A root table (4 KiB, zeroed) as the case's root: c->root. */
bool conf_root_new(struct conf_ctx *c);
/* Context entry of sid: lo, hi as given (root entry made present). */
bool conf_context_set(struct conf_ctx *c, uint16_t sid, uint64_t lo,
		      uint64_t hi);
uint64_t *conf_root_entry(struct conf_ctx *c, uint8_t bus);
/* A second-stage table of the lowest width SAGAW supports. */
bool conf_pt_new(struct conf_ctx *c, struct conf_pt *pt);
/* 4 KiB leaf iova -> pa with entry bits perm (R 0, W 1) | extra. */
bool conf_pt_map(struct conf_ctx *c, struct conf_pt *pt, uint64_t iova,
		 uint64_t pa, uint64_t leaf_bits);
uint64_t *conf_pt_leaf(struct conf_ctx *c, struct conf_pt *pt, uint64_t iova);
/* The entry at level (1: 4 KiB leaves, 2: the PDE level) on iova's path,
 * tables above it created; for superpage leaves and hand-made entries. */
uint64_t *conf_pt_entry(struct conf_ctx *c, struct conf_pt *pt, uint64_t iova,
			unsigned int level);
/* Context entry words for a second-stage table with DID did. */
uint64_t conf_ctx_lo(const struct conf_pt *pt);
uint64_t conf_ctx_hi(const struct conf_pt *pt, uint16_t did);

/* The common start of a translation case: a root table with sid's context
 * pointing at pt (levels from SAGAW), SRTP, a 128-bit queue, global
 * context-cache and IOTLB invalidations (so nothing from an earlier case
 * is cached), translation on. */
bool conf_translate_setup(struct conf_ctx *c, struct conf_pt *pt,
			  uint16_t did);
/* One DMA; an error to run it is a case error. */
bool conf_dma(struct conf_ctx *c, bool to_mem, uint64_t iova, uint32_t len,
	      uint32_t buf_off);
/* Observes FSTS (PPF, PFO, FRI) and fault record 0 (F, FR, SID, FI, T)
 * under the keys fsts.ppf, fsts.pfo, fsts.fri, frcd0.f, frcd0.fr,
 * frcd0.sid, frcd0.fi, frcd0.t. */
void conf_obs_fault(struct conf_ctx *c);

/* Runs every case on the unit and prints one line each and a summary.
 * Returns the exit status: 0 (no failure), 1 (a failure), 77 (all
 * skipped). reset: called before each case (NULL: none); returns 0 or a
 * negative errno with why set. only: run just the cases whose name
 * contains it (NULL: all). */
typedef int (*conf_reset_fn)(struct conf_unit *u, char *why, size_t len);
typedef int (*conf_fresh_fn)(struct conf_unit **u, char *why, size_t len);
struct conf_run_opts {
	struct conf_unit *unit;  /* one unit for all cases, reset between */
	conf_reset_fn reset;
	/* Or a fresh unit per case (the host). */
	conf_fresh_fn fresh;
	void (*release)(struct conf_unit *u);
	const char *only;
	bool verbose;
};
int conf_run(const struct conf_run_opts *o);

/* Checks that docs file path names every departure id: 0 or 1. */
int conf_check_departure_doc(const char *path);

#endif /* UVTD_CONF_H */
