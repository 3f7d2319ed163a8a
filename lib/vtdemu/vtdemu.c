/* SPDX-License-Identifier: BSD-3-Clause
 * vtdemu life cycle: configuration defaults, creation in the reset state
 * (VT-d spec §10.4), memory access through the resolver, statistics.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vtdemu_fe.h"

void vtdemu_config_init(struct vtdemu_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	(void)vtdemu_preset("server", &cfg->caps);
	cfg->mode = VTDEMU_INLINE;
	/* Unbounded caches: nothing is ever evicted, so a missing
	 * invalidation always shows. */
	cfg->cache.cm_cache_not_present = true;
	cfg->cache.pwc_enabled = true;
	vtdemu_cost_default(&cfg->cost);
	cfg->check_stale = true;
	cfg->stale_log_max = 64;
}

static void set_err(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

struct vtdemu *vtdemu_create(const struct vtdemu_config *cfg, char *err,
			     size_t errlen)
{
	char buf[256];

	if (cfg == NULL) {
		set_err(err, errlen, "config: NULL");
		return NULL;
	}
	if (cfg->resolve == NULL) {
		set_err(err, errlen, "config: no resolve callback");
		return NULL;
	}
	if (cfg->mode != VTDEMU_INLINE && cfg->mode != VTDEMU_THREADED) {
		set_err(err, errlen, "config: unknown mode");
		return NULL;
	}
	if (vtdemu_caps_check(&cfg->caps, buf, sizeof(buf)) != 0) {
		set_err(err, errlen, buf);
		return NULL;
	}

	struct vtdemu *emu = calloc(1, sizeof(*emu));
	if (emu == NULL) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	emu->cfg = *cfg;
	emu->ver = cfg->caps.ver;
	emu->cap = cfg->caps.cap;
	emu->ecap = cfg->caps.ecap;
	emu->regs_size = emu_caps_regs_size(&cfg->caps);
	emu->regs = aligned_alloc(4096, emu->regs_size);
	if (emu->regs == NULL) {
		free(emu);
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&emu->reg_lock, NULL);
	pthread_mutex_init(&emu->fault_lock, NULL);
	if (emu_qi_init(emu, err, errlen) != 0)
		goto fail_qi;
	emu_regs_reset(emu);
	if (emu_backend_init(emu, err, errlen) != 0)
		goto fail_backend;
	if (emu_thread_start(emu, err, errlen) != 0)
		goto fail_thread;
	return emu;

fail_thread:
	emu_backend_fini(emu);
fail_backend:
	emu_qi_fini(emu);
fail_qi:
	pthread_mutex_destroy(&emu->fault_lock);
	pthread_mutex_destroy(&emu->reg_lock);
	free(emu->regs);
	free(emu);
	return NULL;
}

void vtdemu_destroy(struct vtdemu *emu)
{
	if (emu == NULL)
		return;
	emu_thread_stop(emu);
	emu_backend_fini(emu);
	emu_qi_fini(emu);
	pthread_mutex_destroy(&emu->fault_lock);
	pthread_mutex_destroy(&emu->reg_lock);
	free(emu->regs);
	free(emu);
}

const struct vtdemu_caps *vtdemu_get_caps(const struct vtdemu *emu)
{
	return &emu->cfg.caps;
}

void *emu_mem(struct vtdemu *emu, uint64_t addr, size_t len)
{
	/* The resolver is only ever asked for ranges inside one 4 KiB page. */
	if (len == 0 || len > 4096 || ((addr & 0xfff) + len) > 4096)
		return NULL;
	return emu->cfg.resolve(emu->cfg.resolve_opaque, addr, len);
}

int vtdemu_quiesce(struct vtdemu *emu, uint64_t timeout_ns)
{
	if (emu == NULL)
		return -EINVAL;
	return emu_qi_quiesce(emu, timeout_ns);
}

/* vtdemu_stats is a flat array of uint64_t counters: copy and clear them
 * word by word with relaxed atomics (writers add with relaxed atomics). */
_Static_assert(sizeof(struct vtdemu_stats) % sizeof(uint64_t) == 0,
	       "vtdemu_stats must hold only uint64_t counters");
#define STATS_WORDS (sizeof(struct vtdemu_stats) / sizeof(uint64_t))

void vtdemu_stats_get(struct vtdemu *emu, struct vtdemu_stats *stats)
{
	const uint64_t *src = (const uint64_t *)(const void *)&emu->stats;
	uint64_t *dst = (uint64_t *)(void *)stats;

	for (size_t i = 0; i < STATS_WORDS; i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

void vtdemu_stats_reset(struct vtdemu *emu)
{
	uint64_t *w = (uint64_t *)(void *)&emu->stats;

	for (size_t i = 0; i < STATS_WORDS; i++)
		__atomic_store_n(&w[i], 0, __ATOMIC_RELAXED);
}

const char *vtdemu_desc_stat_name(enum vtdemu_desc_stat kind)
{
	static const char *const names[VTDEMU_DS_KINDS] = {
		[VTDEMU_DS_CC_GLOBAL] = "cc-global",
		[VTDEMU_DS_CC_DOMAIN] = "cc-domain",
		[VTDEMU_DS_CC_DEVICE] = "cc-device",
		[VTDEMU_DS_IOTLB_GLOBAL] = "iotlb-global",
		[VTDEMU_DS_IOTLB_DOMAIN] = "iotlb-domain",
		[VTDEMU_DS_IOTLB_PAGE] = "iotlb-page",
		[VTDEMU_DS_DEVTLB] = "devtlb",
		[VTDEMU_DS_IEC] = "iec",
		[VTDEMU_DS_WAIT] = "wait",
		[VTDEMU_DS_PIOTLB_PASID] = "piotlb-pasid",
		[VTDEMU_DS_PIOTLB_PAGE] = "piotlb-page",
		[VTDEMU_DS_PC_DOMAIN] = "pc-domain",
		[VTDEMU_DS_PC_PASID] = "pc-pasid",
		[VTDEMU_DS_PC_GLOBAL] = "pc-global",
		[VTDEMU_DS_PDEVTLB] = "pdevtlb",
	};

	if ((unsigned int)kind >= VTDEMU_DS_KINDS)
		return "?";
	return names[kind];
}
