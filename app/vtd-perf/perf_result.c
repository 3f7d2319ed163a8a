/* SPDX-License-Identifier: BSD-3-Clause
 * vtd-perf results: an ordered list of named fields that both reports print.
 */
#include <stdarg.h>
#include <string.h>

#include "vtd_perf.h"

static struct perf_field *add(struct perf_result *r, const char *group,
			      const char *key, enum perf_kind kind)
{
	/* A full list is a programming error in a run; dropping the field
	 * (and saying so) beats corrupting the report. */
	if (r->nfields >= PERF_MAX_FIELDS) {
		fprintf(stderr, "vtd-perf: %s: too many fields, %s dropped\n",
			r->name, key);
		return NULL;
	}
	struct perf_field *f = &r->fields[r->nfields++];

	f->group = group;
	f->key = key;
	f->kind = kind;
	return f;
}

void perf_res_u64(struct perf_result *r, const char *group, const char *key,
		  uint64_t v)
{
	struct perf_field *f = add(r, group, key, PERF_U64);

	if (f)
		f->v.u = v;
}

void perf_res_f64(struct perf_result *r, const char *group, const char *key,
		  double v)
{
	struct perf_field *f = add(r, group, key, PERF_F64);

	if (f)
		f->v.f = v;
}

void perf_res_bool(struct perf_result *r, const char *group, const char *key,
		   bool v)
{
	struct perf_field *f = add(r, group, key, PERF_BOOL);

	if (f)
		f->v.b = v;
}

void perf_res_null(struct perf_result *r, const char *group, const char *key)
{
	add(r, group, key, PERF_NULL);
}

void perf_res_str(struct perf_result *r, const char *group, const char *key,
		  const char *v)
{
	/* Strings are copied: runs free their state before the report. */
	size_t len = strlen(v) + 1;

	if (r->strings_used + len > sizeof(r->strings)) {
		fprintf(stderr, "vtd-perf: %s: string space full, %s dropped\n",
			r->name, key);
		return;
	}
	struct perf_field *f = add(r, group, key, PERF_STR);

	if (!f)
		return;
	char *dst = r->strings + r->strings_used;

	memcpy(dst, v, len);
	r->strings_used += len;
	f->v.s = dst;
}

const struct perf_field *perf_res_find(const struct perf_result *r,
				       const char *group, const char *key)
{
	for (unsigned int i = 0; i < r->nfields; i++) {
		const struct perf_field *f = &r->fields[i];
		bool same_group = (group == NULL && f->group == NULL) ||
			(group && f->group && strcmp(group, f->group) == 0);

		if (same_group && strcmp(f->key, key) == 0)
			return f;
	}
	return NULL;
}

void perf_res_fail(struct perf_result *r, const char *fmt, ...)
{
	va_list ap;

	if (r->status == PERF_FAILED)
		return;
	r->status = PERF_FAILED;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

void perf_res_skip(struct perf_result *r, const char *fmt, ...)
{
	va_list ap;

	r->status = PERF_SKIPPED;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

void perf_res_warn(struct perf_result *r, const char *fmt, ...)
{
	va_list ap;

	if (r->warning[0])
		return;
	va_start(ap, fmt);
	vsnprintf(r->warning, sizeof(r->warning), fmt, ap);
	va_end(ap);
}
