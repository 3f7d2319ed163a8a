/* SPDX-License-Identifier: BSD-3-Clause
 * /uvtd/... telemetry commands. They run on DPDK's telemetry thread, so each
 * takes the slow-path mutex (or reads counters relaxed) and reuses the
 * public getters, as dmadev's handlers do.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_telemetry.h>

#include "uvtd_internal.h"

static int parse_id(const char *params, unsigned int max)
{
	char *end;
	long v;

	if (params == NULL || *params == '\0')
		return -EINVAL;
	v = strtol(params, &end, 10);
	if (*end != '\0' || v < 0 || (unsigned long)v >= max)
		return -EINVAL;
	return (int)v;
}

static int tel_units(const char *cmd, const char *params,
		     struct rte_tel_data *d)
{
	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	rte_tel_data_start_array(d, RTE_TEL_INT_VAL);
	for (unsigned int i = 0; i < uvtd_unit_count(); i++)
		rte_tel_data_add_array_int(d, (int)i);
	return 0;
}

static void add_kv(void *arg, const char *name, uint64_t value)
{
	rte_tel_data_add_dict_u64(arg, name, value);
}

static int tel_unit(const char *cmd, const char *params,
		    struct rte_tel_data *d)
{
	struct uvtd_unit_info info;
	int id = parse_id(params, UVTD_MAX_UNITS);

	RTE_SET_USED(cmd);
	if (id < 0 || uvtd_unit_info_get((unsigned int)id, &info))
		return -EINVAL;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "name", info.name);
	rte_tel_data_add_dict_int(d, "emulated", info.emulated);
	rte_tel_data_add_dict_int(d, "caching_mode", info.caching_mode);
	rte_tel_data_add_dict_int(d, "rwbf", info.rwbf);
	rte_tel_data_add_dict_int(d, "psi", info.psi);
	rte_tel_data_add_dict_int(d, "queued", info.queued);
	rte_tel_data_add_dict_int(d, "max_width", (int)info.max_width);
	rte_tel_data_add_dict_u64(d, "qi_entries", info.qi_entries);
	/* The driver's own decoding (capability fields, queue registers). */
	pthread_mutex_lock(&uvtd.lock);
	if (uvtd.inited && (unsigned int)id < uvtd.nunits &&
	    uvtd.ops->unit_describe)
		uvtd.ops->unit_describe(uvtd.units[id].drv, add_kv, d);
	pthread_mutex_unlock(&uvtd.lock);
	return 0;
}

static int tel_domains(const char *cmd, const char *params,
		       struct rte_tel_data *d)
{
	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	rte_tel_data_start_array(d, RTE_TEL_INT_VAL);
	pthread_mutex_lock(&uvtd.lock);
	for (int i = 0; i < UVTD_MAX_DOMAINS; i++)
		if (uvtd.doms[i])
			rte_tel_data_add_array_int(d, i);
	pthread_mutex_unlock(&uvtd.lock);
	return 0;
}

static int tel_domain(const char *cmd, const char *params,
		      struct rte_tel_data *d)
{
	struct uvtd_domain_info info;
	int id = parse_id(params, UVTD_MAX_DOMAINS);

	RTE_SET_USED(cmd);
	if (id < 0 || uvtd_domain_info_get(id, &info))
		return -EINVAL;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "policy", uvtd_policy_name(info.policy));
	rte_tel_data_add_dict_int(d, "map_flush", info.map_flush);
	rte_tel_data_add_dict_int(d, "lazy_ranges", info.lazy_ranges);
	rte_tel_data_add_dict_int(d, "unit", (int)info.unit);
	rte_tel_data_add_dict_int(d, "addr_width", (int)info.addr_width);
	rte_tel_data_add_dict_int(d, "devices", (int)info.ndevices);
	rte_tel_data_add_dict_int(d, "units", (int)info.nunits);
	rte_tel_data_add_dict_u64(d, "iova_base", info.iova_base);
	rte_tel_data_add_dict_u64(d, "iova_size", info.iova_size);
	rte_tel_data_add_dict_u64(d, "mappings", info.mappings);
	rte_tel_data_add_dict_u64(d, "mapped_bytes", info.mapped_bytes);
	rte_tel_data_add_dict_u64(d, "lazy_pending", info.lazy_pending);
	rte_tel_data_add_dict_u64(d, "flush_started", info.flush_started);
	rte_tel_data_add_dict_u64(d, "flush_finished", info.flush_finished);
	/* Ratios in per mille: telemetry 22.11 has no float values. */
	rte_tel_data_add_dict_u64(d, "iova_hit_permille",
				  (uint64_t)(info.iova_hit_rate * 1000.0));
	rte_tel_data_add_dict_u64(d, "iova_global_allocs",
				  info.iova_global_allocs);
	rte_tel_data_add_dict_u64(d, "iova_fragmentation_permille",
				  (uint64_t)(info.iova_fragmentation * 1000.0));
	rte_tel_data_add_dict_u64(d, "iova_large_free_bytes",
				  info.iova_large_free_bytes);
	rte_tel_data_add_dict_u64(d, "iova_large_largest_free",
				  info.iova_large_largest_free);
	return 0;
}

static int tel_stats(const char *cmd, const char *params,
		     struct rte_tel_data *d)
{
	struct uvtd_stats s;
	struct rte_tel_data *hist, *rej;

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	if (uvtd_stats_get(&s))
		return -EINVAL;
	rte_tel_data_start_dict(d);
#define U(f) rte_tel_data_add_dict_u64(d, #f, s.f)
	U(maps); U(unmaps); U(map_bytes); U(unmap_bytes); U(rejected);
	U(waits); U(inv_ranges_psi); U(inv_ranges_dsi); U(lazy_queued);
	U(lazy_flush_full); U(lazy_flush_timer); U(lazy_flush_explicit);
	U(lazy_ranges_tracked);
	U(iova_hits); U(iova_misses); U(iova_global_allocs);
	U(submits); U(descs); U(unit_waits); U(iqt_writes); U(psi); U(dsi);
	U(global); U(devtlb); U(cc); U(head_reads); U(iqe); U(ite); U(ice);
	U(timeouts);
#undef U
	rej = rte_tel_data_alloc();
	if (rej) {
		rte_tel_data_start_dict(rej);
		for (unsigned int i = 0; i < 8; i++)
			rte_tel_data_add_dict_u64(rej, uvtd_reject_name(i),
						  s.rejected_by[i]);
		rte_tel_data_add_dict_container(d, "rejected_by", rej, 0);
	}
	hist = rte_tel_data_alloc();
	if (hist) {
		/* Bucket i counts waits of [64 << i, 64 << (i + 1)) ns. */
		rte_tel_data_start_array(hist, RTE_TEL_U64_VAL);
		for (int i = 0; i < UVTD_WAIT_HIST_BUCKETS; i++)
			rte_tel_data_add_array_u64(hist, s.wait_hist[i]);
		rte_tel_data_add_dict_container(d, "wait_hist_64ns_log2", hist, 0);
	}
	return 0;
}

static int tel_faults(const char *cmd, const char *params,
		      struct rte_tel_data *d)
{
	struct uvtd_fault_rec f[16];
	struct rte_tel_data *arr;

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	pthread_mutex_lock(&uvtd.lock);
	/* Drain what the units recorded into the service's log, then report
	 * the log (the last UVTD_FAULT_LOG faults). */
	for (unsigned int u = 0; uvtd.inited && u < uvtd.nunits; u++) {
		int n;

		if (uvtd.ops->unit_faults == NULL)
			break;
		while ((n = uvtd.ops->unit_faults(uvtd.units[u].drv, f,
						  RTE_DIM(f))) > 0)
			for (int i = 0; i < n; i++)
				uvtd.faults[uvtd.nfaults++ % UVTD_FAULT_LOG] = f[i];
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "total", uvtd.nfaults);
	arr = rte_tel_data_alloc();
	if (arr) {
		uint64_t first = uvtd.nfaults > UVTD_FAULT_LOG ?
				 uvtd.nfaults - UVTD_FAULT_LOG : 0;

		rte_tel_data_start_array(arr, RTE_TEL_STRING_VAL);
		for (uint64_t i = first; i < uvtd.nfaults; i++) {
			const struct uvtd_fault_rec *r =
				&uvtd.faults[i % UVTD_FAULT_LOG];
			char line[RTE_TEL_MAX_STRING_LEN];

			snprintf(line, sizeof(line), "rid %04x %s 0x%" PRIx64
				 " reason %u %s", r->rid, r->write ? "write" :
				 "read", r->addr, r->reason,
				 r->reason_str ? r->reason_str : "");
			rte_tel_data_add_array_string(arr, line);
		}
		rte_tel_data_add_dict_container(d, "recent", arr, 0);
	}
	pthread_mutex_unlock(&uvtd.lock);
	return 0;
}

void uvtd_telemetry_register(void)
{
	static bool done;

	/* 22.11 has no unregister: register once per process, and let the
	 * handlers answer from whatever state the service is in. */
	if (done)
		return;
	done = true;
	rte_telemetry_register_cmd("/uvtd/units", tel_units,
		"Returns the ids of the IOMMU units uvtd opened.");
	rte_telemetry_register_cmd("/uvtd/unit", tel_unit,
		"Returns a unit's decoded capabilities and queue state. Parameters: int unit_id");
	rte_telemetry_register_cmd("/uvtd/domains", tel_domains,
		"Returns the ids of the live uvtd domains.");
	rte_telemetry_register_cmd("/uvtd/domain", tel_domain,
		"Returns a domain's policy, mappings, pending lazy unmaps, IOVA stats. Parameters: int domain_id");
	rte_telemetry_register_cmd("/uvtd/stats", tel_stats,
		"Returns uvtd's counters: maps, unmaps, rejections, invalidations, waits and their latency.");
	rte_telemetry_register_cmd("/uvtd/faults", tel_faults,
		"Returns the DMA faults the units recorded (the most recent ones).");
}
