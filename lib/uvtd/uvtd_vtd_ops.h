/* SPDX-License-Identifier: BSD-3-Clause
 * The VT-d back end of uvtd (uvtd_vtd_ops.c), for tests and tools that need
 * to look under the service: the emulator behind an emulated unit (its DMA
 * engine, stale-translation checker and statistics).
 */
#ifndef UVTD_VTD_OPS_H
#define UVTD_VTD_OPS_H

#include "uvtd_driver.h"

struct vtdemu;

extern const struct uvtd_driver_ops uvtd_vtd_ops;

/* The emulator of service unit `unit`, or NULL (a real unit, another back
 * end, no such unit). */
struct vtdemu *uvtd_vtd_emu(unsigned int unit);

#endif /* UVTD_VTD_OPS_H */
