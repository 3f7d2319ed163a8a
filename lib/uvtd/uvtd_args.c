/* SPDX-License-Identifier: BSD-3-Clause
 * The uvtd_init() argument string, parsed with rte_kvargs. Every value is
 * checked here, so that a bad string is refused before any unit is opened.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_kvargs.h>

#include "uvtd_internal.h"

static const char *const valid_keys[] = {
	"emu", "dmar", "emu_mode", "policy", "qi_size", "lazy_entries",
	"lazy_timeout_us", "iova_size", "guard", "psi_threshold", "driver",
	"sysfs", "dmar_emu", "force", NULL,
};

static int parse_u64(const char *key, const char *v, uint64_t min,
		     uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long x;

	if (v == NULL || *v == '\0' || *v == '-')
		goto bad;
	errno = 0;
	x = strtoull(v, &end, 0);
	if (errno || *end != '\0' || x < min || x > max)
		goto bad;
	*out = x;
	return 0;
bad:
	UVTD_LOG(ERR, "argument %s=%s: expected a number in [%" PRIu64 ", %"
		 PRIu64 "]", key, v ? v : "", min, max);
	return -EINVAL;
}

static int on_emu(const char *key, const char *v, void *opaque)
{
	struct uvtd_conf *c = opaque;
	struct uvtd_unit_spec *s;
	const char *colon;

	if (v == NULL || *v == '\0') {
		UVTD_LOG(ERR, "argument %s: needs a preset or <cap>:<ecap>", key);
		return -EINVAL;
	}
	if (c->nunits >= UVTD_MAX_UNITS) {
		UVTD_LOG(ERR, "argument %s=%s: more than %d units", key, v,
			 UVTD_MAX_UNITS);
		return -EINVAL;
	}
	s = &c->units[c->nunits];
	memset(s, 0, sizeof(*s));
	colon = strchr(v, ':');
	if (colon) {
		char cap[40], *end1, *end2;
		size_t n = (size_t)(colon - v);

		if (n == 0 || n >= sizeof(cap))
			goto bad_caps;
		memcpy(cap, v, n);
		cap[n] = '\0';
		errno = 0;
		s->caps[0] = strtoull(cap, &end1, 16);
		s->caps[1] = strtoull(colon + 1, &end2, 16);
		if (errno || *end1 || *end2 || colon[1] == '\0')
			goto bad_caps;
		s->kind = UVTD_UNIT_EMU_CAPS;
	} else {
		if (strlen(v) >= sizeof(s->preset)) {
			UVTD_LOG(ERR, "argument %s=%s: preset name too long",
				 key, v);
			return -EINVAL;
		}
		s->kind = UVTD_UNIT_EMU_PRESET;
		snprintf(s->preset, sizeof(s->preset), "%s", v);
	}
	snprintf(s->name, sizeof(s->name), "emu%u", c->nunits);
	c->nunits++;
	return 0;
bad_caps:
	UVTD_LOG(ERR, "argument %s=%s: expected <cap>:<ecap> in hex", key, v);
	return -EINVAL;
}

static int on_value(const char *key, const char *v, void *opaque)
{
	struct uvtd_conf *c = opaque;
	uint64_t x;

	if (v == NULL) {
		UVTD_LOG(ERR, "argument %s: needs a value", key);
		return -EINVAL;
	}
	if (strcmp(key, "dmar") == 0) {
		if (*v == '\0' || strlen(v) >= sizeof(c->dmar))
			goto bad;
		snprintf(c->dmar, sizeof(c->dmar), "%s", v);
	} else if (strcmp(key, "sysfs") == 0) {
		if (*v == '\0' || strlen(v) >= sizeof(c->sysfs))
			goto bad;
		snprintf(c->sysfs, sizeof(c->sysfs), "%s", v);
	} else if (strcmp(key, "dmar_emu") == 0) {
		if (*v == '\0' || strlen(v) >= sizeof(c->dmar_emu))
			goto bad;
		snprintf(c->dmar_emu, sizeof(c->dmar_emu), "%s", v);
	} else if (strcmp(key, "driver") == 0) {
		if (*v == '\0' || strlen(v) >= sizeof(c->driver))
			goto bad;
		snprintf(c->driver, sizeof(c->driver), "%s", v);
	} else if (strcmp(key, "emu_mode") == 0) {
		if (strcmp(v, "inline") == 0)
			c->emu_threaded = false;
		else if (strcmp(v, "threaded") == 0)
			c->emu_threaded = true;
		else
			goto bad;
	} else if (strcmp(key, "policy") == 0) {
		if (strcmp(v, "strict") == 0)
			c->policy = UVTD_POLICY_STRICT;
		else if (strcmp(v, "batched") == 0)
			c->policy = UVTD_POLICY_BATCHED;
		else if (strcmp(v, "lazy") == 0)
			c->policy = UVTD_POLICY_LAZY;
		else if (strcmp(v, "auto") == 0)
			c->policy = UVTD_POLICY_AUTO;
		else
			goto bad;
	} else if (strcmp(key, "qi_size") == 0) {
		if (parse_u64(key, v, 2, 1u << 15, &x))
			return -EINVAL;
		if (!rte_is_power_of_2((uint32_t)x))
			goto bad;
		c->qi_size = (uint32_t)x;
	} else if (strcmp(key, "lazy_entries") == 0) {
		if (parse_u64(key, v, 1, UVTD_LAZY_ENTRIES_MAX, &x))
			return -EINVAL;
		c->lazy_entries = (uint32_t)x;
	} else if (strcmp(key, "lazy_timeout_us") == 0) {
		if (parse_u64(key, v, 1, UVTD_LAZY_TIMEOUT_US_MAX, &x))
			return -EINVAL;
		c->lazy_timeout_us = x;
	} else if (strcmp(key, "iova_size") == 0) {
		if (parse_u64(key, v, UVTD_PAGE_SIZE, 1ull << 56, &x))
			return -EINVAL;
		if (x & (UVTD_PAGE_SIZE - 1))
			goto bad;
		c->iova_size = x;
	} else if (strcmp(key, "guard") == 0) {
		if (parse_u64(key, v, 0, 1, &x))
			return -EINVAL;
		c->guard = x != 0;
	} else if (strcmp(key, "psi_threshold") == 0) {
		if (parse_u64(key, v, 1, 4096, &x))
			return -EINVAL;
		c->psi_threshold = (unsigned int)x;
	} else if (strcmp(key, "force") == 0) {
		if (parse_u64(key, v, 0, 1, &x))
			return -EINVAL;
		c->force = x != 0;
	}
	return 0;
bad:
	UVTD_LOG(ERR, "argument %s=%s: invalid value", key, v);
	return -EINVAL;
}

static void conf_defaults(struct uvtd_conf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->driver, sizeof(c->driver), "vtd");
	c->policy = UVTD_POLICY_AUTO;
	c->lazy_entries = 256;         /* Linux: IOVA_DEFAULT_FQ_SIZE */
	c->lazy_timeout_us = 10000;    /* Linux: 10 ms flush-queue timeout */
	c->iova_size = 4ull << 30;
}

int uvtd_args_parse(const char *args, struct uvtd_conf *c)
{
	struct rte_kvargs *kv;
	int rc = 0;

	conf_defaults(c);
	if (args == NULL || *args == '\0')
		goto defaults;
	kv = rte_kvargs_parse(args, valid_keys);
	if (kv == NULL) {
		UVTD_LOG(ERR, "arguments '%s': not key=value[,key=value...] "
			 "or an unknown key", args);
		return -EINVAL;
	}
	for (const char *const *k = valid_keys; *k && rc == 0; k++) {
		if (rte_kvargs_count(kv, *k) == 0)
			continue;
		if (strcmp(*k, "emu") == 0)
			rc = rte_kvargs_process(kv, *k, on_emu, c);
		else
			rc = rte_kvargs_process(kv, *k, on_value, c);
	}
	rte_kvargs_free(kv);
	if (rc)
		return -EINVAL;
defaults:
	if (c->dmar_emu[0] && c->dmar[0] == '\0') {
		UVTD_LOG(ERR, "argument dmar_emu=%s: needs dmar=<table>",
			 c->dmar_emu);
		return -EINVAL;
	}
	if (c->nunits == 0 && c->dmar[0] == '\0') {
		/* The embedded default: one emulated server unit. */
		c->units[0].kind = UVTD_UNIT_EMU_PRESET;
		snprintf(c->units[0].preset, sizeof(c->units[0].preset), "server");
		snprintf(c->units[0].name, sizeof(c->units[0].name), "emu0");
		c->nunits = 1;
	}
	for (unsigned int i = 0; i < c->nunits; i++) {
		c->units[i].emu_threaded = c->emu_threaded;
		c->units[i].qi_entries = c->qi_size;
		c->units[i].psi_threshold = c->psi_threshold;
		c->units[i].force = c->force;
	}
	return 0;
}
