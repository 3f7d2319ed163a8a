/* SPDX-License-Identifier: BSD-3-Clause
 * test_drv_map with IOVA as PA over hugepages: the emulator's resolver
 * then maps physical addresses back to DPDK memory through its segment
 * table (vtd_emu.c), as on a real unit. Skips (77) without root or free
 * hugepages.
 */
#define DRV_MAP_EAL_MODE UVTD_EAL_PA
#include "test_drv_map.c"
