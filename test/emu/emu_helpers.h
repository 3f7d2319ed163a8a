/* SPDX-License-Identifier: BSD-3-Clause
 * Small helpers shared by the back-end tests of lib/vtdemu (walker, caches,
 * stale checker), on top of the test kit. Header-only: static functions.
 */
#ifndef EMU_HELPERS_H
#define EMU_HELPERS_H

#include <errno.h>
#include <string.h>

#include "uvtd_test.h"
#include "vtdemu.h"
#include "vtdemu_testkit.h"

#define RW (VTDEMU_ACCESS_READ | VTDEMU_ACCESS_WRITE)
#define RD VTDEMU_ACCESS_READ
#define WR VTDEMU_ACCESS_WRITE
#define NOPASID VTDEMU_NO_PASID
#define MB(x) ((uint64_t)(x) << 20)
#define GB(x) ((uint64_t)(x) << 30)

/* Brings an environment up: preset, optional config tweak, flags. */
static inline int env_up(struct vtk_env *e, const char *preset,
			 unsigned int flags,
			 void (*tweak)(struct vtdemu_config *cfg))
{
	int rc = vtk_env_init(e, preset, 256ull << 20);

	if (rc)
		return rc;
	if (tweak)
		tweak(&e->cfg);
	return vtk_env_start(e, flags);
}

/* One 128-bit descriptor and a wait. */
static inline int qi_do(struct vtk_env *e, uint64_t qw0, uint64_t qw1)
{
	int rc = vtk_qi_append(&e->qi, qw0, qw1);

	return rc ? rc : vtk_qi_sync(&e->qi, VTK_TIMEOUT_NS);
}

static inline int qi_do256(struct vtk_env *e, uint64_t q0, uint64_t q1)
{
	uint64_t qw[4] = { q0, q1, 0, 0 };
	int rc = vtk_qi_append256(&e->qi, qw);

	return rc ? rc : vtk_qi_sync(&e->qi, VTK_TIMEOUT_NS);
}

static inline int cc_inv(struct vtk_env *e, unsigned int gran, uint16_t did,
			 uint16_t sid, unsigned int fm)
{
	return qi_do(e, vtk_desc_cc(gran, did, sid, fm), 0);
}

static inline int iotlb_inv(struct vtk_env *e, unsigned int gran,
			    uint16_t did, uint64_t addr, unsigned int am,
			    bool ih)
{
	uint64_t q1, q0 = vtk_desc_iotlb(gran, did, addr, am, ih, &q1);

	return qi_do(e, q0, q1);
}

static inline int piotlb_inv(struct vtk_env *e, unsigned int gran,
			     uint16_t did, uint32_t pasid, uint64_t addr,
			     unsigned int am, bool ih)
{
	uint64_t q1, q0 = vtk_desc_piotlb(gran, did, pasid, addr, am, ih, &q1);

	return qi_do256(e, q0, q1);
}

static inline int pc_inv(struct vtk_env *e, unsigned int gran, uint16_t did,
			 uint32_t pasid)
{
	return qi_do256(e, vtk_desc_pc(gran, did, pasid), 0);
}

static inline int devtlb_inv(struct vtk_env *e, uint16_t sid, uint64_t addr,
			     unsigned int order)
{
	uint64_t q1, q0 = vtk_desc_devtlb(sid, addr, order, &q1);

	return qi_do(e, q0, q1);
}

/* Everything the unit caches (global context, PASID and IOTLB). */
static inline int flush_all(struct vtk_env *e)
{
	int rc = cc_inv(e, VTK_GRAN_GLOBAL, 0, 0, 0);

	if (!rc && e->scalable)
		rc = pc_inv(e, VTK_PC_GLOBAL, 0, 0);
	if (!rc)
		rc = iotlb_inv(e, VTK_GRAN_GLOBAL, 0, 0, 0, false);
	return rc;
}

static inline int attach_legacy(struct vtk_env *e, uint16_t sid,
				uint16_t did, const struct vtk_pt *pt,
				unsigned int tt, bool fpd)
{
	struct vtk_legacy_ctx c = {
		.present = true, .fpd = fpd, .tt = tt,
		.slptptr = pt ? pt->root : 0,
		.aw = pt ? vtk_aw(pt->levels) : 1, .did = did,
	};

	return vtk_legacy_set_context(&e->arena, e->root, sid, &c);
}

/* A scalable-mode context for sid with a fresh PASID directory (PDTS 0:
 * 128 directory entries, PASIDs below 8192); returns the directory. */
static inline uint64_t attach_sm_ctx(struct vtk_env *e, uint16_t sid,
				     uint32_t rid_pasid, bool dte)
{
	uint64_t dir = vtk_pasid_dir_new(&e->arena, 0);
	struct vtk_sm_ctx c = {
		.present = true, .dte = dte, .paside = true, .pdts = 0,
		.pasid_dir = dir, .rid_pasid = rid_pasid,
	};

	if (!dir || vtk_sm_set_context(&e->arena, e->root, sid, &c))
		return 0;
	return dir;
}

static inline int set_pasid_ss(struct vtk_env *e, uint64_t dir,
			       uint32_t pasid, uint16_t did,
			       const struct vtk_pt *pt)
{
	struct vtk_pasid_entry pe = {
		.present = true, .pgtt = VTK_PGTT_SECOND_STAGE,
		.aw = vtk_aw(pt->levels), .ssptptr = pt->root, .did = did,
	};

	return vtk_pasid_set(&e->arena, dir, pasid, &pe);
}

static inline int set_pasid_fs(struct vtk_env *e, uint64_t dir,
			       uint32_t pasid, uint16_t did,
			       const struct vtk_pt *pt)
{
	struct vtk_pasid_entry pe = {
		.present = true, .pgtt = VTK_PGTT_FIRST_STAGE,
		.fsptptr = pt->root, .flpm = pt->levels == 5 ? 1 : 0,
		.did = did,
	};

	return vtk_pasid_set(&e->arena, dir, pasid, &pe);
}

static inline uint64_t stat_of(struct vtk_env *e, size_t off)
{
	struct vtdemu_stats s;

	vtdemu_stats_get(e->emu, &s);
	return *(const uint64_t *)((const char *)&s + off);
}
#define STAT(e, field) stat_of((e), offsetof(struct vtdemu_stats, field))

static inline bool holds(struct vtk_env *e, enum vtdemu_cache_kind k,
			 uint16_t sid, uint16_t did, uint32_t pasid,
			 uint64_t iova, unsigned int level)
{
	struct vtdemu_cache_key key = {
		.sid = sid, .did = did, .pasid = pasid, .iova = iova,
		.level = level,
	};

	return vtdemu_cache_holds(e->emu, k, &key);
}

/* Translates and returns 0 or the fault reason (negative rc never). */
static inline int xl(struct vtk_env *e, uint16_t sid, uint32_t pasid,
		     uint64_t iova, unsigned int access, uint64_t *pa)
{
	struct vtdemu_fault_info fi;
	uint64_t p = 0;
	int rc;

	memset(&fi, 0, sizeof(fi));
	rc = vtdemu_translate(e->emu, sid, pasid, iova, access, &p, &fi);
	if (pa)
		*pa = p;
	return rc == 0 ? 0 : fi.reason;
}

#endif /* EMU_HELPERS_H */
