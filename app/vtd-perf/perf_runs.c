/* SPDX-License-Identifier: BSD-3-Clause
 * vtd-perf: the layers' run tables, in the order runs are printed.
 *
 * To add a layer (driver runs, service runs): write its runs in their own
 * file as a const struct perf_run_desc array ending with { .name = NULL },
 * declare it in vtd_perf.h and add it here. Run names must be unique over
 * all tables: --runs selects by name.
 */
#include <string.h>

#include "vtd_perf.h"

const struct perf_run_desc *const perf_run_tables[] = {
	perf_emu_runs,
	perf_driver_runs,
	perf_service_runs,
	NULL,
};

const struct perf_run_desc *perf_run_find(const char *name)
{
	for (unsigned int t = 0; perf_run_tables[t]; t++)
		for (const struct perf_run_desc *d = perf_run_tables[t]; d->name; d++)
			if (strcmp(d->name, name) == 0)
				return d;
	return NULL;
}
