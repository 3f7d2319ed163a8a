/* SPDX-License-Identifier: BSD-3-Clause
 * vtd-perf reports: an aligned table for people and one JSON document for
 * scripts, both printed from the same result fields.
 *
 * JSON shape:
 *   { "unit": { <unit fields>, "cost_ns": {...} },
 *     "runs": [ { "name": ..., "status": "ok"|"skipped"|"failed",
 *                 ["reason": ...,] ["warning": ...,]
 *                 <top-level fields in the order the run added them>,
 *                 <one nested object per field group, e.g. "emu": {...}> },
 *               ... ] }
 */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "vtd_perf.h"

static const char *status_name(enum perf_status s)
{
	switch (s) {
	case PERF_OK: return "ok";
	case PERF_SKIPPED: return "skipped";
	default: return "failed";
	}
}

/* ---------------------------------------------------------------------------
 * JSON
 */
static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void json_value(FILE *out, const struct perf_field *f)
{
	switch (f->kind) {
	case PERF_U64:
		fprintf(out, "%" PRIu64, f->v.u);
		break;
	case PERF_F64:
		/* JSON has no NaN or infinity. */
		if (isfinite(f->v.f))
			fprintf(out, "%.3f", f->v.f);
		else
			fputs("null", out);
		break;
	case PERF_STR:
		json_string(out, f->v.s);
		break;
	case PERF_BOOL:
		fputs(f->v.b ? "true" : "false", out);
		break;
	case PERF_NULL:
		fputs("null", out);
		break;
	}
}

static bool same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* Prints the fields of r whose group is `group`, each preceded by a comma
 * unless it is the first member of the object (*first). */
static void json_members(FILE *out, const struct perf_result *r,
			 const char *group, const char *indent, bool *first)
{
	for (unsigned int i = 0; i < r->nfields; i++) {
		const struct perf_field *f = &r->fields[i];

		if (!same(f->group, group))
			continue;
		fprintf(out, "%s\n%s", *first ? "" : ",", indent);
		json_string(out, f->key);
		fputs(": ", out);
		json_value(out, f);
		*first = false;
	}
}

static void json_object(FILE *out, const struct perf_result *r,
			bool with_status, const char *indent)
{
	char inner[32], inner2[40];
	bool first = true;

	snprintf(inner, sizeof(inner), "%s  ", indent);
	snprintf(inner2, sizeof(inner2), "%s    ", indent);
	fputc('{', out);
	/* "name" first (it is the run's first field), then its status. */
	for (unsigned int i = 0; i < r->nfields; i++) {
		const struct perf_field *f = &r->fields[i];

		if (f->group == NULL && strcmp(f->key, "name") == 0) {
			fprintf(out, "\n%s\"name\": ", inner);
			json_string(out, f->v.s);
			first = false;
		}
	}
	if (with_status) {
		fprintf(out, "%s\n%s\"status\": \"%s\"", first ? "" : ",", inner,
			status_name(r->status));
		first = false;
		if (r->status != PERF_OK) {
			fprintf(out, ",\n%s\"reason\": ", inner);
			json_string(out, r->reason);
		}
		if (r->warning[0]) {
			fprintf(out, ",\n%s\"warning\": ", inner);
			json_string(out, r->warning);
		}
	}
	for (unsigned int i = 0; i < r->nfields; i++) {
		const struct perf_field *f = &r->fields[i];

		if (f->group != NULL || strcmp(f->key, "name") == 0)
			continue;
		fprintf(out, "%s\n%s", first ? "" : ",", inner);
		json_string(out, f->key);
		fputs(": ", out);
		json_value(out, f);
		first = false;
	}
	/* Groups, in the order of their first field. */
	for (unsigned int i = 0; i < r->nfields; i++) {
		const char *g = r->fields[i].group;
		bool seen = false;

		if (g == NULL)
			continue;
		for (unsigned int j = 0; j < i && !seen; j++)
			seen = same(r->fields[j].group, g);
		if (seen)
			continue;
		fprintf(out, "%s\n%s", first ? "" : ",", inner);
		json_string(out, g);
		fputs(": {", out);
		bool gfirst = true;

		json_members(out, r, g, inner2, &gfirst);
		fprintf(out, "\n%s}", inner);
		first = false;
	}
	fprintf(out, "\n%s}", indent);
}

void perf_report_json(FILE *out, const struct perf_result *unit,
		      const struct perf_result *runs, unsigned int n)
{
	fputs("{\n  \"unit\": ", out);
	json_object(out, unit, false, "  ");
	fputs(",\n  \"runs\": [", out);
	for (unsigned int i = 0; i < n; i++) {
		fputs(i ? ",\n    " : "\n    ", out);
		json_object(out, &runs[i], true, "    ");
	}
	fputs(n ? "\n  ]\n}\n" : "]\n}\n", out);
}

/* ---------------------------------------------------------------------------
 * Human table
 */
static double num(const struct perf_result *r, const char *group,
		  const char *key)
{
	const struct perf_field *f = perf_res_find(r, group, key);

	if (f == NULL)
		return NAN;
	switch (f->kind) {
	case PERF_U64: return (double)f->v.u;
	case PERF_F64: return f->v.f;
	case PERF_BOOL: return f->v.b;
	default: return NAN; /* strings, null */
	}
}

static const char *str(const struct perf_result *r, const char *group,
		       const char *key)
{
	const struct perf_field *f = perf_res_find(r, group, key);

	return f && f->kind == PERF_STR ? f->v.s : NULL;
}

/* 12345678 -> "12.35 M": rates read better with an SI prefix. */
static const char *si(char *buf, size_t len, double v)
{
	static const char *const pfx[] = { "", " k", " M", " G" };
	unsigned int i = 0;

	if (isnan(v))
		return "-";
	while (v >= 1000 && i < 3) {
		v /= 1000;
		i++;
	}
	snprintf(buf, len, "%.2f%s", v, pfx[i]);
	return buf;
}

static const char *fixed(char *buf, size_t len, double v)
{
	if (isnan(v))
		return "-";
	snprintf(buf, len, v < 100 ? "%.1f" : "%.0f", v);
	return buf;
}

/* Fields the table already shows; the rest go to the details. */
static bool in_table(const struct perf_field *f)
{
	static const char *const keys[] = {
		"name", "layer", "op", "ops_per_sec", "ns_per_op", "ns_per_op_p50",
		"ops_per_iteration", "iteration_ns_p50", "iteration_ns_p99",
		"iteration_ns_p999", "method",
	};

	if (f->group)
		return false;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(f->key, keys[i]) == 0)
			return true;
	return false;
}

static void field_text(char *buf, size_t len, const struct perf_field *f)
{
	switch (f->kind) {
	case PERF_U64:
		snprintf(buf, len, "%" PRIu64, f->v.u);
		break;
	case PERF_F64:
		snprintf(buf, len, fabs(f->v.f) < 10 ? "%.3f" : "%.1f", f->v.f);
		break;
	case PERF_STR:
		snprintf(buf, len, "%s", f->v.s);
		break;
	case PERF_BOOL:
		snprintf(buf, len, "%s", f->v.b ? "yes" : "no");
		break;
	case PERF_NULL:
		snprintf(buf, len, "-");
		break;
	}
}

/* key=value pairs of one group, wrapped under an indent. */
static void details(FILE *out, const struct perf_result *r, const char *group)
{
	const char *indent = "      ";
	int col = 0;
	bool any = false;

	for (unsigned int i = 0; i < r->nfields; i++) {
		const struct perf_field *f = &r->fields[i];
		char val[160], item[240];

		if (!same(f->group, group) || in_table(f))
			continue;
		field_text(val, sizeof(val), f);
		int len = snprintf(item, sizeof(item), "%s=%s", f->key, val);

		if (!any) {
			col = group ? fprintf(out, "    %s:", group) :
				      fprintf(out, "   ");
			any = true;
		}
		if (col + 1 + len > 100 && col > 12)
			col = fprintf(out, "\n%s", indent) - 1;
		col += fprintf(out, " %s", item);
	}
	if (any)
		fputc('\n', out);
}

/* ---------------------------------------------------------------------------
 * Pair runs (driver and service layers)
 */
static bool is_pair_run(const struct perf_result *r)
{
	const char *layer = str(r, NULL, "layer");

	return layer && (strcmp(layer, "driver") == 0 ||
			 strcmp(layer, "service") == 0);
}

static const char *size_label(char *buf, size_t len, const struct perf_result *r)
{
	double ps = num(r, NULL, "page_size");

	if (str(r, NULL, "sizes"))
		return "1-16p";
	if (isnan(ps))
		return "-";
	if (ps >= (1 << 20))
		snprintf(buf, len, "%.0fm", ps / (1 << 20));
	else
		snprintf(buf, len, "%.0fk", ps / 1024);
	return buf;
}

static const char *policy_label(char *buf, size_t len,
				const struct perf_result *r)
{
	const char *p = str(r, NULL, "policy");
	const char *lf = str(r, NULL, "lazy_flush");

	snprintf(buf, len, "%s%s", p ? p : "-",
		 lf && strstr(lf, "forced") ? "-dsi" : "");
	return buf;
}

static void pair_tables(FILE *out, const struct perf_result *runs,
			unsigned int n)
{
	char a[32], b[32], c[32], d[32], e[32], f[32], g[32], h[32], k[32];
	bool any = false;

	for (unsigned int i = 0; i < n; i++)
		any |= is_pair_run(&runs[i]);
	if (!any)
		return;
	fprintf(out, "\nmap+unmap pairs: rate and latency (ns per call: a map, "
		"an unmap, or a burst of them)\n");
	fprintf(out, "%-17s %-9s %2s %2s %5s %5s %9s %7s %7s %7s %7s %7s %7s\n",
		"run", "policy", "CM", "lc", "size", "burst", "pairs/s",
		"map p50", "p99", "p99.9", "unm p50", "p99", "p99.9");
	for (unsigned int i = 0; i < n; i++) {
		const struct perf_result *r = &runs[i];

		if (!is_pair_run(r))
			continue;
		fprintf(out, "%-17s ", r->name);
		if (r->status == PERF_SKIPPED || perf_res_find(r, NULL, "ops") == NULL) {
			fprintf(out, "%s: %s\n", status_name(r->status), r->reason);
			continue;
		}
		fprintf(out, "%-9s %2.0f %2.0f %5s %5.0f %9s %7s %7s %7s %7s %7s %7s",
			policy_label(k, sizeof(k), r),
			num(r, NULL, "caching_mode"), num(r, NULL, "lcores"),
			size_label(h, sizeof(h), r), num(r, NULL, "burst"),
			si(a, sizeof(a), num(r, NULL, "pairs_per_sec")),
			fixed(b, sizeof(b), num(r, NULL, "map_ns_p50")),
			fixed(c, sizeof(c), num(r, NULL, "map_ns_p99")),
			fixed(d, sizeof(d), num(r, NULL, "map_ns_p999")),
			fixed(e, sizeof(e), num(r, NULL, "unmap_ns_p50")),
			fixed(f, sizeof(f), num(r, NULL, "unmap_ns_p99")),
			fixed(g, sizeof(g), num(r, NULL, "unmap_ns_p999")));
		if (r->status != PERF_OK)
			fprintf(out, "  %s: %s", status_name(r->status), r->reason);
		fputc('\n', out);
	}
	fprintf(out, "\nmap+unmap pairs: work per pair (model ns: modelled "
		"unit/hypervisor time; ranges: lazy\nentries kept as per-page "
		"ranges; desc/map: descriptors one map issues)\n");
	fprintf(out, "%-17s %7s %7s %7s %7s %7s %9s %7s %7s %8s\n", "run",
		"desc", "waits", "IQT wr", "PSI", "DSI", "model ns", "stale",
		"ranges", "desc/map");
	for (unsigned int i = 0; i < n; i++) {
		const struct perf_result *r = &runs[i];

		if (!is_pair_run(r) || perf_res_find(r, NULL, "ops") == NULL ||
		    r->status == PERF_SKIPPED)
			continue;
		double st = num(r, NULL, "stale_uses");

		fprintf(out, "%-17s %7.3f %7.3f %7.3f %7.3f %7.4f %9s %7s %7s %8s\n",
			r->name, num(r, NULL, "descriptors_per_pair"),
			num(r, NULL, "waits_per_pair"),
			num(r, NULL, "iqt_writes_per_pair"),
			num(r, NULL, "psi_per_pair"), num(r, NULL, "dsi_per_pair"),
			fixed(a, sizeof(a), num(r, NULL, "modelled_ns_per_pair")),
			isnan(st) ? "-" : (snprintf(b, sizeof(b), "%.0f", st), b),
			isnan(num(r, NULL, "ranges_per_pair")) ? "-" :
			(snprintf(c, sizeof(c), "%.3f", num(r, NULL, "ranges_per_pair")), c),
			isnan(num(r, NULL, "descriptors_per_map")) ? "-" :
			(snprintf(d, sizeof(d), "%.3f", num(r, NULL, "descriptors_per_map")), d));
	}
	fputs("Latency: one pair in `sample_every` is timed (every burst). "
	      "stale: translations the device\n  got from a cache after the "
	      "unmap returned (one probe per timed pair); 0 is the promise\n  "
	      "of strict and batched, lazy and auto allow it until their flush.\n",
	      out);
}

static const struct perf_result *run_named(const struct perf_result *runs,
					   unsigned int n, const char *name)
{
	for (unsigned int i = 0; i < n; i++)
		if (runs[i].status == PERF_OK && strcmp(runs[i].name, name) == 0)
			return &runs[i];
	return NULL;
}

/* The seeds' lessons, as numbers from this report's own runs. */
static void lessons(FILE *out, const struct perf_result *runs, unsigned int n)
{
	const struct perf_result *dsi1 = run_named(runs, n, "svc-lazy-dsi-cm1");
	const struct perf_result *auto1 = run_named(runs, n, "svc-auto-cm1");
	const struct perf_result *base = run_named(runs, n, "svc-base-cm0");
	const struct perf_result *strict0 = run_named(runs, n, "svc-strict-cm0");
	static const char *const cm0[] = { "svc-strict-cm0", "svc-batched-cm0",
		"svc-lazy-cm0", "svc-lazy-dsi-cm0", "svc-auto-cm0",
		"svc-random-cm0" };
	bool header = false;

#define HEADER()                                                             	do {                                                                 		if (!header)                                                 			fputs("\nWhat the figures say:\n", out);             		header = true;                                               	} while (0)

	if (dsi1 && auto1) {
		double pd = num(dsi1, NULL, "modelled_ns_per_pair");
		double pa = num(auto1, NULL, "modelled_ns_per_pair");
		double ud = pd - num(dsi1, NULL, "modelled_ns_per_map");
		double ua = pa - num(auto1, NULL, "modelled_ns_per_map");

		HEADER();
		fprintf(out, "- Caching mode on: lazy with domain-selective flushes "
			"costs the hypervisor %.0f ns per pair\n  (modelled; %.0f "
			"of it on the unmap side), auto %.0f (%.0f): %.2fx per pair, "
			"%.1fx on the\n  unmap side, with %.0f resident pages. "
			"Auto flushed page-selectively (%.3f DSI, %.3f ranges\n  per "
			"pair) and so avoided it.\n", pd, ud, pa, ua,
			pa > 0 ? pd / pa : NAN, ua > 0 ? ud / ua : NAN,
			num(dsi1, NULL, "resident_pages"),
			num(auto1, NULL, "dsi_per_pair"),
			num(auto1, NULL, "ranges_per_pair"));
	}
	if (base && strict0) {
		double worst = 0;
		unsigned int counted = 0;

		for (size_t i = 0; i < sizeof(cm0) / sizeof(cm0[0]); i++) {
			const struct perf_result *r = run_named(runs, n, cm0[i]);
			double v = r ? num(r, NULL, "descriptors_per_map") : NAN;

			if (!isnan(v)) {
				worst = v > worst ? v : worst;
				counted++;
			}
		}
		double ms = num(strict0, NULL, "map_ns_p50");
		double mb = num(base, NULL, "map_ns_p50");

		HEADER();
		fprintf(out, "- CM=0, RWBF=0: a map issues %.3f descriptors (the most "
			"over %u service runs), and its\n  median cost is %.1f ns "
			"(svc-strict-cm0) against %.1f ns for the same steps with no "
			"flush\n  code at all (svc-base-cm0): a ratio of %.2f.\n",
			worst, counted, ms, mb, mb > 0 ? ms / mb : NAN);
	}
	const struct perf_result *dsi0 = run_named(runs, n, "svc-lazy-dsi-cm0");
	const struct perf_result *lazy1 = run_named(runs, n, "svc-lazy-cm1");

	if (dsi0 || dsi1) {
		char r0[32] = "-", r1[32] = "-", rp[32] = "-";

		if (dsi0)
			snprintf(r0, sizeof(r0), "%.3f",
				 num(dsi0, NULL, "ranges_per_pair"));
		if (dsi1)
			snprintf(r1, sizeof(r1), "%.3f",
				 num(dsi1, NULL, "ranges_per_pair"));
		if (lazy1)
			snprintf(rp, sizeof(rp), "%.3f",
				 num(lazy1, NULL, "ranges_per_pair"));
		HEADER();
		fprintf(out, "- Lazy with domain-selective flushes keeps %s per-page "
			"ranges per pair (CM=0) and %s\n  (CM=1); lazy choosing "
			"page-selective flushes (svc-lazy-cm1) keeps %s.\n",
			r0, r1, rp);
	}
#undef HEADER
}

void perf_report_human(FILE *out, const struct perf_result *unit,
		       const struct perf_result *runs, unsigned int n)
{
	char a[32], b[32], c[32], d[32], e[32], f[32], g[32], h[32];

	fprintf(out, "vtd-perf %s: emulated VT-d unit, preset %s%s, %s mode, "
		"stale check %s\n", PERF_VERSION, str(unit, NULL, "preset"),
		num(unit, NULL, "custom") > 0 ? " (CAP/ECAP overridden)" : "",
		str(unit, NULL, "mode"),
		num(unit, NULL, "stale_check") > 0 ? "on" : "off");
	fprintf(out, "  VER %s  CAP %s  ECAP %s\n", str(unit, NULL, "ver"),
		str(unit, NULL, "cap"), str(unit, NULL, "ecap"));
	fprintf(out, "  caching mode %s, PSI %s (MAMV %.0f), queued invalidation "
		"%s, scalable mode %s, %s walks, %.0f domain ids\n",
		num(unit, NULL, "caching_mode") > 0 ? "ON" : "off",
		num(unit, NULL, "psi") > 0 ? "yes" : "no",
		num(unit, NULL, "mamv"),
		num(unit, NULL, "queued_invalidation") > 0 ? "yes" : "no",
		num(unit, NULL, "scalable") > 0 ? "supported" : "no",
		num(unit, NULL, "coherent") > 0 ? "coherent" : "non-coherent",
		num(unit, NULL, "domain_ids"));
	if (str(unit, NULL, "service_units"))
		fprintf(out, "  service runs: %s\n", str(unit, NULL, "service_units"));

	bool any_emu = false;

	for (unsigned int i = 0; i < n; i++)
		any_emu |= !is_pair_run(&runs[i]);
	if (any_emu)
		fprintf(out, "\n%-16s %-12s %10s %8s %8s %5s %9s %9s %9s %8s\n",
			"run", "op", "ops/s", "ns/op", "p50/op", "per", "p50 ns",
			"p99 ns", "p99.9 ns", "model ns");
	for (unsigned int i = 0; i < n && any_emu; i++) {
		const struct perf_result *r = &runs[i];

		if (is_pair_run(r))
			continue;

		fprintf(out, "%-16s %-12s ", r->name, str(r, NULL, "op"));
		/* No measurement: a skip, or a failure before the loop. */
		if (perf_res_find(r, NULL, "ops") == NULL) {
			fprintf(out, "%s: %s\n", status_name(r->status), r->reason);
			continue;
		}
		fprintf(out, "%10s %8s %8s %5s %9s %9s %9s %8s",
			si(a, sizeof(a), num(r, NULL, "ops_per_sec")),
			fixed(b, sizeof(b), num(r, NULL, "ns_per_op")),
			fixed(h, sizeof(h), num(r, NULL, "ns_per_op_p50")),
			fixed(c, sizeof(c), num(r, NULL, "ops_per_iteration")),
			fixed(d, sizeof(d), num(r, NULL, "iteration_ns_p50")),
			fixed(e, sizeof(e), num(r, NULL, "iteration_ns_p99")),
			fixed(f, sizeof(f), num(r, NULL, "iteration_ns_p999")),
			fixed(g, sizeof(g), num(r, "emu", "modelled_ns_per_op")));
		if (r->status != PERF_OK)
			fprintf(out, "  %s: %s", status_name(r->status), r->reason);
		fputc('\n', out);
	}
	if (any_emu)
		fputs("ops/s, ns/op: wall clock over the whole run. p50/op: the "
		      "median iteration divided by its\n  operations (robust to "
		      "preemption on a busy machine). p50/p99/p99.9 ns: one "
		      "iteration of\n  `per` operations. model ns: the emulator's "
		      "cost model per operation, what the modelled\n  hardware (or "
		      "hypervisor, CM=1) would take; translations cost nothing in "
		      "the model.\n", out);
	pair_tables(out, runs, n);
	lessons(out, runs, n);

	for (unsigned int i = 0; i < n; i++) {
		const struct perf_result *r = &runs[i];
		const char *method = str(r, NULL, "method");

		if (r->status == PERF_SKIPPED)
			continue;
		fprintf(out, "\n%s: %s\n", r->name, method ? method : "");
		if (r->warning[0])
			fprintf(out, "    warning: %s\n", r->warning);
		details(out, r, NULL);
		for (unsigned int j = 0; j < r->nfields; j++) {
			const char *grp = r->fields[j].group;
			bool seen = false;

			if (grp == NULL)
				continue;
			for (unsigned int k = 0; k < j && !seen; k++)
				seen = same(r->fields[k].group, grp);
			if (!seen)
				details(out, r, grp);
		}
	}
}
