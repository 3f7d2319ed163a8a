/* SPDX-License-Identifier: BSD-3-Clause
 * vtd-perf: the description of the unit the runs ran on.
 *
 * The app knows no VT-d bit (architecture: nothing above drivers/ does): it
 * reads capability fields by the specification's names through the driver's
 * decode tables (vtd_decode.h), and reports the raw registers next to a few
 * decoded facts a reader of a benchmark needs (caching mode, PSI and its
 * mask, scalable mode, queued invalidation, coherency).
 */
#include <inttypes.h>
#include <string.h>

#include "vtd_decode.h"
#include "vtd_perf.h"

static bool field_in(enum vtd_decode_reg reg, uint64_t value, const char *name,
		     uint64_t *out)
{
	unsigned int n;
	const struct vtd_field *f = vtd_decode_fields(reg, &n);

	for (unsigned int i = 0; f && i < n; i++) {
		if (strcmp(f[i].name, name) == 0) {
			*out = vtd_field_value(&f[i], value);
			return true;
		}
	}
	return false;
}

bool perf_cap_field(const struct vtdemu_caps *caps, const char *name,
		    uint64_t *value)
{
	/* CAP and ECAP share no field name, so one namespace is enough. */
	return field_in(VTD_DECODE_CAP, caps->cap, name, value) ||
	       field_in(VTD_DECODE_ECAP, caps->ecap, name, value);
}

bool perf_cap_set(struct vtdemu_caps *caps, const char *name, uint64_t value)
{
	static const enum vtd_decode_reg regs[] = { VTD_DECODE_CAP,
						    VTD_DECODE_ECAP };

	for (unsigned int r = 0; r < 2; r++) {
		unsigned int n;
		const struct vtd_field *f = vtd_decode_fields(regs[r], &n);
		uint64_t *reg = r ? &caps->ecap : &caps->cap;

		for (unsigned int i = 0; f && i < n; i++) {
			if (strcmp(f[i].name, name) != 0)
				continue;
			unsigned int w = f[i].hi - f[i].lo + 1u;
			uint64_t mask = (w >= 64 ? ~0ull : (1ull << w) - 1) << f[i].lo;

			*reg = (*reg & ~mask) | ((value << f[i].lo) & mask);
			return true;
		}
	}
	return false;
}

static uint64_t cap_or0(const struct vtdemu_caps *caps, const char *name)
{
	uint64_t v = 0;

	if (!perf_cap_field(caps, name, &v))
		fprintf(stderr, "vtd-perf: no capability field named %s\n", name);
	return v;
}

static void hex(struct perf_result *u, const char *key, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%016" PRIx64, v);
	perf_res_str(u, NULL, key, buf);
}

void perf_unit_describe(const struct perf_opts *o, struct perf_result *u)
{
	const struct vtdemu_caps *c = &o->caps;
	struct vtdemu_cost_model cost;
	char buf[24];

	memset(u, 0, sizeof(*u));
	u->name = "unit";
	perf_res_str(u, NULL, "kind", "emulated");
	perf_res_str(u, NULL, "preset", o->preset);
	/* custom: CAP or ECAP came from the command line, not the preset. */
	perf_res_bool(u, NULL, "custom", o->cap_set || o->ecap_set);
	snprintf(buf, sizeof(buf), "0x%" PRIx32, c->ver);
	perf_res_str(u, NULL, "ver", buf);
	hex(u, "cap", c->cap);
	hex(u, "ecap", c->ecap);
	perf_res_bool(u, NULL, "caching_mode", cap_or0(c, "CM"));
	perf_res_bool(u, NULL, "psi", cap_or0(c, "PSI"));
	perf_res_u64(u, NULL, "mamv", cap_or0(c, "MAMV"));
	perf_res_bool(u, NULL, "queued_invalidation", cap_or0(c, "QI"));
	perf_res_bool(u, NULL, "scalable", cap_or0(c, "SMTS"));
	perf_res_bool(u, NULL, "coherent", cap_or0(c, "C"));
	perf_res_bool(u, NULL, "rwbf", cap_or0(c, "RWBF"));
	perf_res_u64(u, NULL, "domain_ids", 1ull << (4 + 2 * cap_or0(c, "ND")));
	perf_res_u64(u, NULL, "fault_records", cap_or0(c, "NFR") + 1);

	perf_res_str(u, NULL, "service_units", o->dmar ?
		     "the real units of the DMAR table (--dmar)" :
		     "two units of these capabilities, CAP.CM cleared (*-cm0) "
		     "and set (*-cm1)");
	/* How the emulator runs, common to every run. */
	perf_res_str(u, NULL, "mode",
		     o->mode == VTDEMU_THREADED ? "threaded" : "inline");
	perf_res_bool(u, NULL, "stale_check", o->stale_check);
	/* The cost model the modelled_ns figures come from (the emulator's
	 * defaults: vtd-perf does not change them). */
	vtdemu_cost_default(&cost);
	perf_res_u64(u, "cost_ns", "iotlb_page", cost.iotlb_page_ns);
	perf_res_u64(u, "cost_ns", "iotlb_domain", cost.iotlb_domain_ns);
	perf_res_u64(u, "cost_ns", "iotlb_global", cost.iotlb_global_ns);
	perf_res_u64(u, "cost_ns", "context_cache", cost.cc_ns);
	perf_res_u64(u, "cost_ns", "devtlb", cost.devtlb_ns);
	perf_res_u64(u, "cost_ns", "wait", cost.wait_ns);
	perf_res_u64(u, "cost_ns", "iqt_write", cost.iqt_write_ns);
	perf_res_u64(u, "cost_ns", "shadow_per_page", cost.shadow_ns_per_page);
	perf_res_u64(u, "cost_ns", "threaded_latency", cost.threaded_latency_ns);
}
