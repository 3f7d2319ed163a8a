/* SPDX-License-Identifier: BSD-3-Clause
 * uvtd slow path: start-up, units, devices, domains, per-lcore contexts.
 * Every function here takes uvtd.lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_service_component.h>

#include "uvtd_internal.h"

RTE_LOG_REGISTER(uvtd_logtype, uvtd.svc, NOTICE);

struct uvtd_state uvtd = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* ---------------------------------------------------------------------------
 * Driver registry
 */
#define MAX_DRIVERS 4
static const struct uvtd_driver_ops *drivers[MAX_DRIVERS];

int uvtd_driver_register(const struct uvtd_driver_ops *ops)
{
	for (int i = 0; i < MAX_DRIVERS; i++) {
		if (drivers[i] && strcmp(drivers[i]->name, ops->name) == 0)
			return -EEXIST;
		if (drivers[i] == NULL) {
			drivers[i] = ops;
			return 0;
		}
	}
	return -ENOSPC;
}

const struct uvtd_driver_ops *uvtd_driver_find(const char *name)
{
	for (int i = 0; i < MAX_DRIVERS; i++)
		if (drivers[i] && strcmp(drivers[i]->name, name) == 0)
			return drivers[i];
	return NULL;
}

/* ---------------------------------------------------------------------------
 * Rejections
 */
static unsigned int reject_class(int err)
{
	switch (err) {
	case -EINVAL: return 0;
	case -ERANGE: return 1;
	case -EEXIST: return 2;
	case -ENOENT: return 3;
	case -ENODEV: return 4;
	case -ENOMEM: return 5;
	case -EPERM:  return 6;
	default:      return 7;
	}
}

const char *uvtd_reject_name(unsigned int i)
{
	static const char *const names[8] = {
		"einval", "erange", "eexist", "enoent", "enodev", "enomem",
		"eperm", "other",
	};
	return i < 8 ? names[i] : NULL;
}

int uvtd_reject(int dom, const char *op, int err, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	__atomic_fetch_add(&uvtd.rejected, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&uvtd.rejected_by[reject_class(err)], 1,
			   __ATOMIC_RELAXED);
	UVTD_LOG(ERR, "%s on domain %d rejected (%s): %s", op, dom,
		 strerror(-err), msg);
	return err;
}

int uvtd_fp_bad_domain(int dom, const char *op)
{
	return uvtd_reject(dom, op, -ENODEV, "no such domain (0..%d)",
			   UVTD_MAX_DOMAINS - 1);
}

const char *uvtd_policy_name(enum uvtd_policy p)
{
	switch (p) {
	case UVTD_POLICY_DEFAULT: return "default";
	case UVTD_POLICY_STRICT: return "strict";
	case UVTD_POLICY_BATCHED: return "batched";
	case UVTD_POLICY_LAZY: return "lazy";
	case UVTD_POLICY_AUTO: return "auto";
	}
	return "?";
}

/* ---------------------------------------------------------------------------
 * Start-up and shutdown
 */
static void close_units(void)
{
	for (unsigned int i = 0; i < uvtd.nunits; i++) {
		if (uvtd.units[i].open)
			uvtd.ops->unit_close(uvtd.units[i].drv);
		uvtd.units[i].open = false;
	}
	uvtd.nunits = 0;
	if (uvtd.plat && uvtd.ops->platform_close)
		uvtd.ops->platform_close(uvtd.plat);
	uvtd.plat = NULL;
}

static int open_unit(const struct uvtd_unit_spec *spec)
{
	struct uvtd_unit *u = &uvtd.units[uvtd.nunits];
	int rc;

	memset(u, 0, sizeof(*u));
	u->spec = *spec;
	rc = uvtd.ops->unit_open(spec, &u->drv);
	if (rc) {
		UVTD_LOG(ERR, "unit %s: open failed: %s", spec->name,
			 strerror(-rc));
		return rc;
	}
	rc = uvtd.ops->unit_caps(u->drv, &u->caps);
	if (rc) {
		uvtd.ops->unit_close(u->drv);
		return rc;
	}
	u->open = true;
	uvtd.nunits++;
	UVTD_LOG(INFO, "unit %u (%s): caching mode %d, rwbf %d, psi %d, "
		 "width %u", uvtd.nunits - 1, spec->name, u->caps.caching_mode,
		 u->caps.rwbf, u->caps.psi, u->caps.max_width);
	return 0;
}

#ifdef UVTD_HAVE_VTD
extern const struct uvtd_driver_ops uvtd_vtd_ops;
#endif

int uvtd_init(const char *args)
{
	struct uvtd_conf conf;
	unsigned int l;
	int rc;

	if (rte_eal_process_type() == RTE_PROC_INVALID ||
	    rte_lcore_count() == 0) {
		UVTD_LOG(ERR, "init: call rte_eal_init() first");
		return -EINVAL;
	}
	rc = uvtd_args_parse(args, &conf);
	if (rc)
		return rc;
#ifdef UVTD_HAVE_VTD
	/* Named here (not only from a constructor) so that a static link
	 * keeps the back end. */
	if (uvtd_driver_find(uvtd_vtd_ops.name) == NULL)
		uvtd_driver_register(&uvtd_vtd_ops);
#endif
	pthread_mutex_lock(&uvtd.lock);
	if (uvtd.inited) {
		pthread_mutex_unlock(&uvtd.lock);
		UVTD_LOG(ERR, "init: already started");
		return -EALREADY;
	}
	uvtd.ops = uvtd_driver_find(conf.driver);
	if (uvtd.ops == NULL) {
		UVTD_LOG(ERR, "init: no driver back end named '%s'", conf.driver);
		rc = -EINVAL;
		goto fail;
	}
	uvtd.conf = conf;
	uvtd.nunits = 0;
	uvtd.tsc_per_ns = (double)rte_get_tsc_hz() / 1e9;
	uvtd.hist_shift = (unsigned int)rte_log2_u64((uint64_t)(64.0 *
				uvtd.tsc_per_ns) | 1);
	if (conf.dmar[0]) {
		unsigned int n = 0;

		if (uvtd.ops->platform_open == NULL) {
			UVTD_LOG(ERR, "init: driver %s reads no firmware table",
				 uvtd.ops->name);
			rc = -ENOTSUP;
			goto fail;
		}
		rc = uvtd.ops->platform_open(strcmp(conf.dmar, "sys") ? conf.dmar :
					     NULL, conf.sysfs[0] ? conf.sysfs : NULL,
					     &uvtd.plat, &n);
		if (rc)
			goto fail;
		for (unsigned int i = 0; i < n && rc == 0; i++) {
			struct uvtd_unit_spec s;

			if (uvtd.nunits >= UVTD_MAX_UNITS) {
				rc = -ENOSPC;
				break;
			}
			rc = uvtd.ops->platform_unit_spec(uvtd.plat, i, &s);
			if (rc == 0 && conf.dmar_emu[0]) {
				/* The table's units, emulated: device lookup
				 * and RMRR handling without the hardware. */
				s.kind = UVTD_UNIT_EMU_PRESET;
				snprintf(s.preset, sizeof(s.preset), "%s",
					 conf.dmar_emu);
				s.emu_threaded = conf.emu_threaded;
			}
			if (rc == 0) {
				s.qi_entries = conf.qi_size;
				s.psi_threshold = conf.psi_threshold;
				s.force = conf.force;
				rc = open_unit(&s);
			}
		}
		if (rc)
			goto fail;
	}
	for (unsigned int i = 0; i < conf.nunits; i++) {
		if (uvtd.nunits >= UVTD_MAX_UNITS) {
			rc = -ENOSPC;
			goto fail;
		}
		rc = open_unit(&conf.units[i]);
		if (rc)
			goto fail;
	}
	memset(uvtd.lcore_on, 0, sizeof(uvtd.lcore_on));
	RTE_LCORE_FOREACH(l)
		uvtd.lcore_on[l] = true;
	memset(uvtd.devs, 0, sizeof(uvtd.devs));
	memset(&uvtd.dead, 0, sizeof(uvtd.dead));
	uvtd.nfaults = 0;
	uvtd.inited = true;
	pthread_mutex_unlock(&uvtd.lock);
	uvtd_telemetry_register();
	UVTD_LOG(INFO, "started: %u unit(s), driver %s, default policy %s",
		 uvtd.nunits, uvtd.ops->name, uvtd_policy_name(conf.policy));
	return 0;
fail:
	if (uvtd.ops)
		close_units();
	uvtd.ops = NULL;
	pthread_mutex_unlock(&uvtd.lock);
	return rc;
}

static int domain_destroy_locked(int id);
static int detach_locked(struct uvtd_domain *d, int dev);

int uvtd_fini(void)
{
	int rc = 0, r;

	pthread_mutex_lock(&uvtd.lock);
	if (!uvtd.inited) {
		pthread_mutex_unlock(&uvtd.lock);
		return -EINVAL;
	}
	for (int i = 0; i < UVTD_MAX_DOMAINS; i++) {
		struct uvtd_domain *d = uvtd.doms[i];

		if (d == NULL)
			continue;
		for (int dev = 0; dev < UVTD_MAX_DEVICES; dev++)
			if (uvtd.devs[dev].open && uvtd.devs[dev].domain == i) {
				r = detach_locked(d, dev);
				rc = rc ? rc : r;
			}
		r = domain_destroy_locked(i);
		rc = rc ? rc : r;
	}
	memset(uvtd.devs, 0, sizeof(uvtd.devs));
	close_units();
	uvtd.inited = false;
	pthread_mutex_unlock(&uvtd.lock);
	return rc;
}

int uvtd_thread_register(void)
{
	unsigned int l;
	int rc = 0;

	if (rte_lcore_id() == LCORE_ID_ANY && rte_thread_register() != 0) {
		UVTD_LOG(ERR, "thread register: %s", rte_strerror(rte_errno));
		return -rte_errno;
	}
	l = rte_lcore_id();
	pthread_mutex_lock(&uvtd.lock);
	uvtd.lcore_on[l] = true;
	for (int i = 0; i < UVTD_MAX_DOMAINS && rc == 0; i++)
		if (uvtd.doms[i] && uvtd.doms[i]->lc[l] == NULL)
			rc = uvtd_lcd_create(uvtd.doms[i], l);
	pthread_mutex_unlock(&uvtd.lock);
	return rc;
}

void uvtd_thread_unregister(void)
{
	unsigned int l = rte_lcore_id();

	if (l >= RTE_MAX_LCORE)
		return;
	pthread_mutex_lock(&uvtd.lock);
	for (int i = 0; i < UVTD_MAX_DOMAINS; i++)
		if (uvtd.doms[i] && uvtd.doms[i]->lc[l]) {
			uvtd_flush(i);
			uvtd_lcd_destroy(uvtd.doms[i], l);
		}
	if (rte_eal_lcore_role(l) == ROLE_NON_EAL) {
		uvtd.lcore_on[l] = false;
		pthread_mutex_unlock(&uvtd.lock);
		rte_thread_unregister();
		return;
	}
	pthread_mutex_unlock(&uvtd.lock);
}

/* ---------------------------------------------------------------------------
 * Units and devices
 */
unsigned int uvtd_unit_count(void)
{
	return uvtd.nunits;
}

int uvtd_unit_info_get(unsigned int unit, struct uvtd_unit_info *info)
{
	const struct uvtd_unit *u;

	if (info == NULL)
		return uvtd_reject(-1, "unit_info_get", -EINVAL, "no info "
				   "pointer");
	if (unit >= uvtd.nunits || !uvtd.units[unit].open)
		return uvtd_reject(-1, "unit_info_get", -ENODEV, "no open unit "
				   "%u (%u units)", unit, uvtd.nunits);
	u = &uvtd.units[unit];
	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", u->spec.name);
	info->emulated = u->caps.emulated;
	info->caching_mode = u->caps.caching_mode;
	info->rwbf = u->caps.rwbf;
	info->psi = u->caps.psi;
	info->queued = u->caps.queued;
	info->max_width = u->caps.max_width;
	info->qi_entries = u->caps.qi_entries;
	return 0;
}

int uvtd_faults_drain(unsigned int unit, struct uvtd_fault *out,
		      unsigned int max)
{
	struct uvtd_fault_rec f[16];
	unsigned int got = 0;
	int rc = 0;

	if (out == NULL || max == 0) {
		UVTD_LOG(ERR, "faults drain: %s", out == NULL ? "out is NULL" :
			 "max is 0");
		return -EINVAL;
	}
	pthread_mutex_lock(&uvtd.lock);
	if (!uvtd.inited || unit >= uvtd.nunits || !uvtd.units[unit].open) {
		pthread_mutex_unlock(&uvtd.lock);
		UVTD_LOG(ERR, "faults drain: no open unit %u (%u open)", unit,
			 uvtd.inited ? uvtd.nunits : 0);
		return -ENODEV;
	}
	if (uvtd.ops->unit_faults == NULL) {
		pthread_mutex_unlock(&uvtd.lock);
		UVTD_LOG(ERR, "faults drain: driver %s reports no faults",
			 uvtd.ops->name);
		return -ENOTSUP;
	}
	while (got < max) {
		int n = uvtd.ops->unit_faults(uvtd.units[unit].drv, f,
					      RTE_MIN(max - got,
						      (unsigned int)RTE_DIM(f)));

		if (n <= 0) {
			rc = n;
			break;
		}
		for (int i = 0; i < n; i++) {
			struct uvtd_fault *o = &out[got++];

			/* Also into the log /uvtd/faults reports. */
			uvtd.faults[uvtd.nfaults++ % UVTD_FAULT_LOG] = f[i];
			o->unit = unit;
			o->reason = f[i].reason;
			o->reason_str = f[i].reason_str ? f[i].reason_str : "";
			o->rid = f[i].rid;
			o->pasid = f[i].pasid;
			o->addr = f[i].addr;
			o->write = f[i].write;
		}
	}
	pthread_mutex_unlock(&uvtd.lock);
	if (rc < 0 && got == 0) {
		UVTD_LOG(ERR, "faults drain: unit %u: %s", unit,
			 strerror(-rc));
		return rc;
	}
	return (int)got;
}

static int dev_slot(void)
{
	for (int i = 0; i < UVTD_MAX_DEVICES; i++)
		if (!uvtd.devs[i].open)
			return i;
	return -ENOSPC;
}

static int dev_find(unsigned int unit, uint16_t rid)
{
	for (int i = 0; i < UVTD_MAX_DEVICES; i++)
		if (uvtd.devs[i].open && uvtd.devs[i].unit == unit &&
		    uvtd.devs[i].rid == rid)
			return i;
	return -1;
}

int uvtd_dev_open_rid(unsigned int unit, uint16_t rid)
{
	int id;

	pthread_mutex_lock(&uvtd.lock);
	if (!uvtd.inited || unit >= uvtd.nunits) {
		pthread_mutex_unlock(&uvtd.lock);
		return uvtd_reject(-1, "dev_open", -ENODEV, "no unit %u", unit);
	}
	if (!uvtd.units[unit].caps.emulated) {
		pthread_mutex_unlock(&uvtd.lock);
		return uvtd_reject(-1, "dev_open", -EINVAL, "unit %u is real: "
				   "open its devices by PCI address", unit);
	}
	if (dev_find(unit, rid) >= 0) {
		pthread_mutex_unlock(&uvtd.lock);
		return uvtd_reject(-1, "dev_open", -EEXIST,
				   "rid %04x on unit %u is open", rid, unit);
	}
	id = dev_slot();
	if (id >= 0) {
		struct uvtd_device *dv = &uvtd.devs[id];

		memset(dv, 0, sizeof(*dv));
		dv->open = true;
		dv->unit = unit;
		dv->rid = rid;
		dv->domain = -1;
		snprintf(dv->name, sizeof(dv->name), "%u:%02x:%02x.%x", unit,
			 rid >> 8, (rid >> 3) & 0x1f, rid & 7);
	}
	pthread_mutex_unlock(&uvtd.lock);
	return id;
}

int uvtd_dev_open_pci(const char *pci)
{
	uint64_t rmrr[UVTD_MAX_RMRR][2];
	unsigned int unit = 0;
	uint16_t rid = 0;
	int n, id;

	pthread_mutex_lock(&uvtd.lock);
	if (!uvtd.inited || pci == NULL || uvtd.plat == NULL) {
		pthread_mutex_unlock(&uvtd.lock);
		return uvtd_reject(-1, "dev_open", -ENODEV, "%s: no firmware "
				   "table (start with dmar=)", pci ? pci : "(null)");
	}
	n = uvtd.ops->platform_lookup(uvtd.plat, pci, &unit, &rid, rmrr,
				      UVTD_MAX_RMRR);
	if (n < 0 || unit >= uvtd.nunits) {
		pthread_mutex_unlock(&uvtd.lock);
		return uvtd_reject(-1, "dev_open", n < 0 ? n : -ENODEV,
				   "%s: no unit serves it", pci);
	}
	if (n > UVTD_MAX_RMRR) {
		pthread_mutex_unlock(&uvtd.lock);
		return uvtd_reject(-1, "dev_open", -ENOSPC,
				   "%s: %d reserved ranges", pci, n);
	}
	if (dev_find(unit, rid) >= 0) {
		pthread_mutex_unlock(&uvtd.lock);
		return uvtd_reject(-1, "dev_open", -EEXIST, "%s is open", pci);
	}
	id = dev_slot();
	if (id >= 0) {
		struct uvtd_device *dv = &uvtd.devs[id];

		memset(dv, 0, sizeof(*dv));
		dv->open = true;
		dv->unit = unit;
		dv->rid = rid;
		dv->domain = -1;
		dv->nrmrr = (unsigned int)n;
		memcpy(dv->rmrr, rmrr, sizeof(rmrr[0]) * (size_t)n);
		snprintf(dv->name, sizeof(dv->name), "%s", pci);
	}
	pthread_mutex_unlock(&uvtd.lock);
	return id;
}

static bool dev_ok(int dev)
{
	return dev >= 0 && dev < UVTD_MAX_DEVICES && uvtd.devs[dev].open;
}

int uvtd_dev_close(int dev)
{
	int rc = 0;

	pthread_mutex_lock(&uvtd.lock);
	if (!dev_ok(dev))
		rc = uvtd_reject(-1, "dev_close", -ENODEV, "no device %d", dev);
	else if (uvtd.devs[dev].domain >= 0)
		rc = uvtd_reject(uvtd.devs[dev].domain, "dev_close", -EBUSY,
				 "device %d is attached", dev);
	else
		uvtd.devs[dev].open = false;
	pthread_mutex_unlock(&uvtd.lock);
	return rc;
}

int uvtd_dev_unit(int dev)
{
	int rc;

	pthread_mutex_lock(&uvtd.lock);
	rc = dev_ok(dev) ? (int)uvtd.devs[dev].unit : -ENODEV;
	pthread_mutex_unlock(&uvtd.lock);
	if (rc < 0)
		return uvtd_reject(-1, "dev_unit", rc, "no open device %d", dev);
	return rc;
}

/* ---------------------------------------------------------------------------
 * Per-lcore contexts
 */
int uvtd_lcd_create(struct uvtd_domain *d, unsigned int lcore)
{
	struct uvtd_lcore_dom *c;
	uint32_t n = rte_align32pow2(d->lazy_entries);

	c = rte_zmalloc("uvtd_lcd", sizeof(*c), RTE_CACHE_LINE_SIZE);
	if (c == NULL)
		return -ENOMEM;
	c->fq = rte_zmalloc("uvtd_fq", n * sizeof(*c->fq), RTE_CACHE_LINE_SIZE);
	if (c->fq == NULL)
		goto nomem;
	c->fq_mask = n - 1;
	if (d->iova) {
		c->cache = uvtd_iova_cache_create(d->iova);
		if (c->cache == NULL)
			goto nomem;
	}
	for (unsigned int u = 0; u < uvtd.nunits; u++) {
		c->q[u] = uvtd.ops->qctx_get(uvtd.units[u].drv, lcore);
		if (c->q[u] == NULL) {
			UVTD_LOG(ERR, "lcore %u: no invalidation context on "
				 "unit %u", lcore, u);
			uvtd_iova_cache_destroy(d->iova, c->cache);
			goto nomem;
		}
	}
	d->lc[lcore] = c;
	return 0;
nomem:
	rte_free(c->fq);
	rte_free(c);
	return -ENOMEM;
}

void uvtd_lcd_destroy(struct uvtd_domain *d, unsigned int lcore)
{
	struct uvtd_lcore_dom *c = d->lc[lcore];
	struct uvtd_lstats *dead = &uvtd.dead;

	if (c == NULL)
		return;
	d->lc[lcore] = NULL;
	/* Keep the counters: /uvtd/stats reports the process's work. */
	dead->maps += STAT_LOAD(c->st.maps);
	dead->unmaps += STAT_LOAD(c->st.unmaps);
	dead->map_bytes += STAT_LOAD(c->st.map_bytes);
	dead->unmap_bytes += STAT_LOAD(c->st.unmap_bytes);
	dead->waits += STAT_LOAD(c->st.waits);
	for (int i = 0; i < UVTD_WAIT_HIST_BUCKETS; i++)
		dead->wait_hist[i] += STAT_LOAD(c->st.wait_hist[i]);
	dead->inv_psi += STAT_LOAD(c->st.inv_psi);
	dead->inv_dsi += STAT_LOAD(c->st.inv_dsi);
	dead->lazy_queued += STAT_LOAD(c->st.lazy_queued);
	dead->lazy_flush_full += STAT_LOAD(c->st.lazy_flush_full);
	dead->lazy_flush_timer += STAT_LOAD(c->st.lazy_flush_timer);
	dead->lazy_flush_explicit += STAT_LOAD(c->st.lazy_flush_explicit);
	dead->lazy_ranges += STAT_LOAD(c->st.lazy_ranges);
	if (d->iova)
		uvtd_iova_cache_destroy(d->iova, c->cache);
	rte_free(c->fq);
	rte_free(c);
}

/* ---------------------------------------------------------------------------
 * Domains
 */
void uvtd_domain_conf_init(struct uvtd_domain_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->policy = UVTD_POLICY_DEFAULT;
	c->guard = -1;
}

static struct uvtd_domain *dom_get(int id)
{
	if (id < 0 || id >= UVTD_MAX_DOMAINS)
		return NULL;
	return uvtd.doms[id];
}

/* auto (and lazy's granularity): see docs/service.md, "Policies". */
static void resolve_policy(struct uvtd_domain *d, enum uvtd_policy p)
{
	const struct uvtd_unit_caps *c = &uvtd.units[d->unit].caps;

	if (p == UVTD_POLICY_DEFAULT)
		p = uvtd.conf.policy;
	if (p == UVTD_POLICY_DEFAULT)
		p = UVTD_POLICY_AUTO;
	if (p == UVTD_POLICY_AUTO)
		p = UVTD_POLICY_LAZY;
	d->policy = p;
	/* Only under caching mode can a page-selective flush be cheaper than
	 * a domain-selective one (the hypervisor re-walks what a flush
	 * covers); elsewhere a lazy flush is one DSI and tracks no ranges. */
	d->lazy_ranges = p == UVTD_POLICY_LAZY && c->caching_mode && c->psi &&
			 !d->lazy_dsi;
}

int uvtd_domain_create(const struct uvtd_domain_conf *conf)
{
	struct uvtd_domain_conf dc;
	struct uvtd_domain *d = NULL;
	const struct uvtd_unit *u;
	int id = -1, rc;
	unsigned int w;

	if (conf == NULL) {
		uvtd_domain_conf_init(&dc);
		conf = &dc;
	}
	pthread_mutex_lock(&uvtd.lock);
	if (!uvtd.inited || conf->unit >= uvtd.nunits) {
		rc = uvtd_reject(-1, "domain_create", -ENODEV, "no unit %u",
				 conf->unit);
		goto out;
	}
	if ((unsigned int)conf->policy > UVTD_POLICY_AUTO) {
		rc = uvtd_reject(-1, "domain_create", -EINVAL, "policy %d",
				 conf->policy);
		goto out;
	}
	/* The ranges the start-up arguments allow (uvtd_args.c). */
	if (conf->guard < -1 || conf->guard > 1 ||
	    conf->lazy_entries > UVTD_LAZY_ENTRIES_MAX ||
	    conf->lazy_timeout_us > UVTD_LAZY_TIMEOUT_US_MAX) {
		rc = uvtd_reject(-1, "domain_create", -EINVAL, "guard %d "
				 "(-1..1), lazy_entries %u (0..%u), "
				 "lazy_timeout_us %" PRIu64 " (0..%" PRIu64 ")",
				 conf->guard, conf->lazy_entries,
				 UVTD_LAZY_ENTRIES_MAX, conf->lazy_timeout_us,
				 UVTD_LAZY_TIMEOUT_US_MAX);
		goto out;
	}
	u = &uvtd.units[conf->unit];
	w = conf->addr_width ? conf->addr_width : u->caps.max_width;
	if (w < 39 || w > u->caps.max_width || (w - 39) % 9 ||
	    !(u->caps.widths_mask & (1u << ((w - 39) / 9)))) {
		rc = uvtd_reject(-1, "domain_create", -EINVAL, "address width "
				 "%u not supported by unit %u", w, conf->unit);
		goto out;
	}
	for (int i = 0; i < UVTD_MAX_DOMAINS; i++)
		if (uvtd.doms[i] == NULL) {
			id = i;
			break;
		}
	if (id < 0) {
		rc = uvtd_reject(-1, "domain_create", -ENOSPC, "all %d domains "
				 "in use", UVTD_MAX_DOMAINS);
		goto out;
	}
	d = rte_zmalloc("uvtd_domain", sizeof(*d), RTE_CACHE_LINE_SIZE);
	if (d == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	d->id = id;
	d->unit = conf->unit;
	d->width = w;
	d->limit = w >= 64 ? UINT64_MAX : 1ull << w;
	uvtd_lock_init(&d->fixed_lock);
	d->lazy_entries = conf->lazy_entries ? conf->lazy_entries :
			  uvtd.conf.lazy_entries;
	d->lazy_timeout_tsc = (uint64_t)((double)(conf->lazy_timeout_us ?
			      conf->lazy_timeout_us : uvtd.conf.lazy_timeout_us) *
			      1000.0 * uvtd.tsc_per_ns);
	d->lazy_dsi = conf->lazy_dsi;
	resolve_policy(d, conf->policy);

	/* IOVA window: the top of the address space by default, away from
	 * the physical addresses IOVA-as-PA identity maps use. */
	d->iova_size = conf->iova_size ? conf->iova_size : uvtd.conf.iova_size;
	if (d->iova_size != UINT64_MAX) {
		struct uvtd_iova_conf ic = {
			.guard = conf->guard < 0 ? uvtd.conf.guard : conf->guard,
			.socket = SOCKET_ID_ANY,
		};

		d->iova_base = conf->iova_base ? conf->iova_base :
			       d->limit - d->iova_size;
		if (d->iova_size > d->limit || (d->iova_base | d->iova_size) &
		    (UVTD_PAGE_SIZE - 1) || d->iova_base == 0 ||
		    d->iova_base + d->iova_size > d->limit ||
		    d->iova_base + d->iova_size < d->iova_base) {
			rc = uvtd_reject(-1, "domain_create", -EINVAL,
					 "IOVA window [0x%" PRIx64 ", +0x%" PRIx64
					 ") not page aligned inside 1..2^%u",
					 d->iova_base, d->iova_size, w);
			goto out;
		}
		ic.base = d->iova_base;
		ic.size = d->iova_size;
		/* The most one lcore frees at once: its lazy queue, or a
		 * burst (uvtd_iova.c, mag_size_of). */
		ic.flush_batch = RTE_MAX(rte_align32pow2(d->lazy_entries),
					 (uint32_t)UVTD_BURST_MAX);
		rc = uvtd_iova_create(&ic, &d->iova);
		if (rc)
			goto out;
	} else {
		d->iova_size = 0;
	}
	rc = uvtd.ops->domain_create(u->drv, w, &d->drv, &d->map_flush);
	if (rc) {
		UVTD_LOG(ERR, "domain_create: driver: %s", strerror(-rc));
		goto out;
	}
	for (unsigned int l = 0; l < RTE_MAX_LCORE && rc == 0; l++)
		if (uvtd.lcore_on[l])
			rc = uvtd_lcd_create(d, l);
	if (rc) {
		for (unsigned int l = 0; l < RTE_MAX_LCORE; l++)
			uvtd_lcd_destroy(d, l);
		uvtd.ops->domain_destroy(d->drv);
		goto out;
	}
	uvtd.doms[id] = d;
	uvtd_fast_install(d);
	UVTD_LOG(INFO, "domain %d: unit %u, width %u, policy %s%s, map flush "
		 "%d, IOVA window [0x%" PRIx64 ", +0x%" PRIx64 ")", id, d->unit,
		 w, uvtd_policy_name(d->policy),
		 d->lazy_ranges ? " (ranges)" : "", d->map_flush,
		 d->iova_base, d->iova_size);
	rc = id;
	d = NULL;
out:
	if (d) {
		uvtd_iova_destroy(d->iova);
		rte_free(d);
	}
	pthread_mutex_unlock(&uvtd.lock);
	return rc;
}

static int domain_destroy_locked(int id)
{
	struct uvtd_domain *d = dom_get(id);
	int rc;

	if (d == NULL)
		return uvtd_reject(id, "domain_destroy", -ENODEV,
				   "no such domain");
	if (d->ndevs)
		return uvtd_reject(id, "domain_destroy", -EBUSY,
				   "%u device(s) attached", d->ndevs);
	uvtd_fast_unmap_all(d);
	uvtd_fast_uninstall(id);
	uvtd.doms[id] = NULL;
	rc = uvtd.ops->domain_destroy(d->drv);
	if (rc)
		UVTD_LOG(ERR, "domain %d: driver destroy: %s", id, strerror(-rc));
	for (unsigned int l = 0; l < RTE_MAX_LCORE; l++)
		uvtd_lcd_destroy(d, l);
	uvtd_iova_destroy(d->iova);
	rte_free(d->fixed);
	rte_free(d);
	return rc;
}

int uvtd_domain_destroy(int id)
{
	int rc;

	pthread_mutex_lock(&uvtd.lock);
	rc = domain_destroy_locked(id);
	pthread_mutex_unlock(&uvtd.lock);
	return rc;
}

/* Live mappings from the records themselves (a scan: slow path only). */
static uint64_t live_mappings(struct uvtd_domain *d)
{
	struct uvtd_iova_stats s = { 0 };
	uint64_t n;

	if (d->iova)
		uvtd_iova_stats_get(d->iova, &s);
	n = s.mappings + uvtd_fast_fixed_live(d);
	return n;
}

int uvtd_domain_set_policy(int id, enum uvtd_policy p)
{
	struct uvtd_domain *d;
	int rc = 0;

	pthread_mutex_lock(&uvtd.lock);
	d = dom_get(id);
	if (d == NULL)
		rc = uvtd_reject(id, "set_policy", -ENODEV, "no such domain");
	else if ((unsigned int)p > UVTD_POLICY_AUTO)
		rc = uvtd_reject(id, "set_policy", -EINVAL, "policy %d", p);
	else if (live_mappings(d) || uvtd_fast_lazy_pending(d))
		rc = uvtd_reject(id, "set_policy", -EBUSY, "the domain has "
				 "mappings or pending unmaps");
	else {
		resolve_policy(d, p);
		uvtd_fast_install(d);
	}
	pthread_mutex_unlock(&uvtd.lock);
	return rc;
}

int uvtd_domain_policy(int id)
{
	struct uvtd_domain *d;
	int p = -ENODEV;

	pthread_mutex_lock(&uvtd.lock);
	d = dom_get(id);
	if (d)
		p = (int)d->policy;
	pthread_mutex_unlock(&uvtd.lock);
	if (p < 0)
		return uvtd_reject(id, "domain_policy", p, "no such domain");
	return p;
}

int uvtd_debug_skip_unmap_invalidation(int id, bool skip)
{
	struct uvtd_domain *d;
	int rc = 0;

	pthread_mutex_lock(&uvtd.lock);
	d = dom_get(id);
	if (d == NULL) {
		rc = uvtd_reject(id, "debug_skip_unmap_invalidation", -ENODEV,
				 "no such domain");
	} else {
		UVTD_LOG(WARNING, "domain %d: unmaps %s their invalidation "
			 "(test hook)", id, skip ? "SKIP" : "make");
		d->skip_inv = skip;
	}
	pthread_mutex_unlock(&uvtd.lock);
	return rc;
}

/* ---------------------------------------------------------------------------
 * Attach and detach
 */
/* RMRR i of dv as whole pages: its first page and its length. */
static void rmrr_pages(const struct uvtd_device *dv, unsigned int i,
		       uint64_t *base, uint64_t *len)
{
	*base = RTE_ALIGN_FLOOR(dv->rmrr[i][0], UVTD_PAGE_SIZE);
	*len = RTE_ALIGN_CEIL(dv->rmrr[i][1] + 1, UVTD_PAGE_SIZE) - *base;
}

int uvtd_attach(int id, int dev)
{
	struct uvtd_domain *d;
	struct uvtd_device *dv;
	unsigned int i;
	int rc;

	pthread_mutex_lock(&uvtd.lock);
	d = dom_get(id);
	if (d == NULL) {
		rc = uvtd_reject(id, "attach", -ENODEV, "no such domain");
		goto out;
	}
	if (!dev_ok(dev)) {
		rc = uvtd_reject(id, "attach", -ENODEV, "no device %d", dev);
		goto out;
	}
	dv = &uvtd.devs[dev];
	if (dv->domain >= 0) {
		rc = uvtd_reject(id, "attach", -EBUSY, "device %s is attached "
				 "to domain %d", dv->name, dv->domain);
		goto out;
	}
	rc = uvtd.ops->attach(d->drv, uvtd.units[dv->unit].drv, dv->rid);
	if (rc) {
		rc = uvtd_reject(id, "attach", rc, "device %s: driver refused",
				 dv->name);
		goto out;
	}
	dv->domain = id;
	d->ndevs++;
	if (d->unit_devs[dv->unit]++ == 0) {
		/* A new unit for this domain's invalidations. Publish the
		 * entry before the count (the fast path reads count, then
		 * entries). */
		i = d->nunits;
		__atomic_store_n(&d->units[i], dv->unit, __ATOMIC_RELAXED);
		__atomic_store_n(&d->nunits, i + 1, __ATOMIC_RELEASE);
	}
	/* Reserved ranges the firmware's agents DMA to stay identity-mapped
	 * (VT-d spec §8.4). All or none: a range that cannot be mapped takes
	 * back the ones this attach made, and the device. */
	bool made[UVTD_MAX_RMRR] = { false };

	for (i = 0; i < dv->nrmrr; i++) {
		uint64_t base, len;

		rmrr_pages(dv, i, &base, &len);
		rc = uvtd_fast_map_fixed_locked(d, base, base, len,
						UVTD_PERM_RW);
		/* Shared with another device: only the same identity map. */
		if (rc == -EEXIST &&
		    uvtd_fast_fixed_is(d, base, len, base, UVTD_PERM_RW))
			rc = 0;
		else
			made[i] = rc == 0;
		if (rc) {
			UVTD_LOG(ERR, "attach %s: RMRR [0x%" PRIx64 ", 0x%" PRIx64
				 "]: %s%s", dv->name, dv->rmrr[i][0],
				 dv->rmrr[i][1], strerror(-rc), rc == -EEXIST ?
				 " (overlaps a mapping that is not its "
				 "identity map)" : "");
			while (i-- > 0) {
				if (!made[i])
					continue;
				rmrr_pages(dv, i, &base, &len);
				uvtd_fast_unmap_fixed_locked(d, base, len);
			}
			detach_locked(d, dev);
			goto out;
		}
	}
	UVTD_LOG(INFO, "domain %d: attached %s", id, dv->name);
out:
	pthread_mutex_unlock(&uvtd.lock);
	return rc;
}

static int detach_locked(struct uvtd_domain *d, int dev)
{
	struct uvtd_device *dv = &uvtd.devs[dev];
	int rc;

	rc = uvtd.ops->detach(d->drv, uvtd.units[dv->unit].drv, dv->rid);
	if (rc)
		return uvtd_reject(d->id, "detach", rc, "device %s: driver "
				   "refused", dv->name);
	dv->domain = -1;
	d->ndevs--;
	if (--d->unit_devs[dv->unit] == 0) {
		/* The detach invalidated this unit's caches for the device;
		 * the unit leaves the domain's set. Pending lazy entries are
		 * flushed first so that nothing is left to cover there. */
		uvtd_flush(d->id);
		unsigned int n = d->nunits, j = 0;

		for (unsigned int i = 0; i < n; i++)
			if (d->units[i] != dv->unit)
				d->units[j++] = d->units[i];
		__atomic_store_n(&d->nunits, j, __ATOMIC_RELEASE);
	}
	/* RMRR identity maps stay: another device may share them, and the
	 * domain's destroy unmaps them. */
	return 0;
}

int uvtd_detach(int id, int dev)
{
	struct uvtd_domain *d;
	int rc;

	pthread_mutex_lock(&uvtd.lock);
	d = dom_get(id);
	if (d == NULL)
		rc = uvtd_reject(id, "detach", -ENODEV, "no such domain");
	else if (!dev_ok(dev))
		rc = uvtd_reject(id, "detach", -ENODEV, "no device %d", dev);
	else if (uvtd.devs[dev].domain != id)
		rc = uvtd_reject(id, "detach", -ENOENT, "device %d is not "
				 "attached to it", dev);
	else
		rc = detach_locked(d, dev);
	pthread_mutex_unlock(&uvtd.lock);
	return rc;
}

/* ---------------------------------------------------------------------------
 * Information
 */
int uvtd_domain_info_get(int id, struct uvtd_domain_info *info)
{
	struct uvtd_domain *d;
	struct uvtd_iova_stats is;

	if (info == NULL)
		return uvtd_reject(id, "domain_info_get", -EINVAL, "no info "
				   "pointer");
	pthread_mutex_lock(&uvtd.lock);
	d = dom_get(id);
	if (d == NULL) {
		pthread_mutex_unlock(&uvtd.lock);
		return uvtd_reject(id, "domain_info_get", -ENODEV, "no such "
				   "domain");
	}
	memset(info, 0, sizeof(*info));
	info->policy = d->policy;
	info->map_flush = d->map_flush;
	info->lazy_ranges = d->lazy_ranges;
	info->unit = d->unit;
	info->addr_width = d->width;
	info->ndevices = d->ndevs;
	info->nunits = d->nunits;
	info->iova_base = d->iova_base;
	info->iova_size = d->iova_size;
	info->lazy_pending = uvtd_fast_lazy_pending(d);
	info->flush_started = __atomic_load_n(&d->flush_started, __ATOMIC_RELAXED);
	info->flush_finished = __atomic_load_n(&d->flush_finished, __ATOMIC_RELAXED);
	if (d->iova) {
		uvtd_iova_stats_get(d->iova, &is);
		info->mappings = is.mappings;
		info->mapped_bytes = is.mapped_bytes;
		info->iova_hit_rate = is.hit_rate;
		info->iova_global_allocs = is.global_allocs;
		info->iova_fragmentation = is.fragmentation;
		info->iova_large_free_bytes = is.large_free_bytes;
		info->iova_large_largest_free = is.large_largest_free;
	}
	uvtd_lock(&d->fixed_lock);
	for (uint32_t i = 0; i < d->nfixed; i++)
		if (!d->fixed[i].pending) {
			info->mappings++;
			info->mapped_bytes += d->fixed[i].len;
		}
	uvtd_unlock(&d->fixed_lock);
	pthread_mutex_unlock(&uvtd.lock);
	return 0;
}

int uvtd_stats_get(struct uvtd_stats *s)
{
	struct uvtd_lstats t = { 0 };

	if (s == NULL)
		return uvtd_reject(-1, "stats_get", -EINVAL, "no stats pointer");
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&uvtd.lock);
	t = uvtd.dead;
	for (int i = 0; i < UVTD_MAX_DOMAINS; i++) {
		struct uvtd_domain *d = uvtd.doms[i];
		struct uvtd_lstats x;

		if (d == NULL)
			continue;
		uvtd_lstats_sum(d, &x);
		t.maps += x.maps;
		t.unmaps += x.unmaps;
		t.map_bytes += x.map_bytes;
		t.unmap_bytes += x.unmap_bytes;
		t.waits += x.waits;
		for (int b = 0; b < UVTD_WAIT_HIST_BUCKETS; b++)
			t.wait_hist[b] += x.wait_hist[b];
		t.inv_psi += x.inv_psi;
		t.inv_dsi += x.inv_dsi;
		t.lazy_queued += x.lazy_queued;
		t.lazy_flush_full += x.lazy_flush_full;
		t.lazy_flush_timer += x.lazy_flush_timer;
		t.lazy_flush_explicit += x.lazy_flush_explicit;
		t.lazy_ranges += x.lazy_ranges;
		if (d->iova) {
			struct uvtd_iova_stats is;

			uvtd_iova_stats_get(d->iova, &is);
			s->iova_hits += is.hits;
			s->iova_misses += is.misses;
			s->iova_global_allocs += is.global_allocs;
		}
	}
	s->maps = t.maps;
	s->unmaps = t.unmaps;
	s->map_bytes = t.map_bytes;
	s->unmap_bytes = t.unmap_bytes;
	s->waits = t.waits;
	memcpy(s->wait_hist, t.wait_hist, sizeof(s->wait_hist));
	s->inv_ranges_psi = t.inv_psi;
	s->inv_ranges_dsi = t.inv_dsi;
	s->lazy_queued = t.lazy_queued;
	s->lazy_flush_full = t.lazy_flush_full;
	s->lazy_flush_timer = t.lazy_flush_timer;
	s->lazy_flush_explicit = t.lazy_flush_explicit;
	s->lazy_ranges_tracked = t.lazy_ranges;
	s->rejected = __atomic_load_n(&uvtd.rejected, __ATOMIC_RELAXED);
	for (int i = 0; i < 8; i++)
		s->rejected_by[i] = __atomic_load_n(&uvtd.rejected_by[i],
						    __ATOMIC_RELAXED);
	for (unsigned int i = 0; i < uvtd.nunits; i++) {
		struct uvtd_drv_stats ds = { 0 };

		if (!uvtd.units[i].open || uvtd.ops->unit_stats == NULL)
			continue;
		uvtd.ops->unit_stats(uvtd.units[i].drv, &ds);
		s->submits += ds.submits;
		s->descs += ds.descs;
		s->unit_waits += ds.waits;
		s->iqt_writes += ds.iqt_writes;
		s->psi += ds.psi;
		s->dsi += ds.dsi;
		s->global += ds.global;
		s->devtlb += ds.devtlb;
		s->cc += ds.cc;
		s->head_reads += ds.head_reads;
		s->iqe += ds.iqe;
		s->ite += ds.ite;
		s->ice += ds.ice;
		s->timeouts += ds.timeouts;
	}
	pthread_mutex_unlock(&uvtd.lock);
	return 0;
}

/* ---------------------------------------------------------------------------
 * Service component: the lazy bound without a busy application lcore
 */
static int32_t poll_service(void *arg)
{
	RTE_SET_USED(arg);
	uvtd_poll();
	return 0;
}

int uvtd_service_register(uint32_t *id)
{
	static uint32_t sid = UINT32_MAX;
	struct rte_service_spec spec = {
		.name = "uvtd_poll",
		.callback = poll_service,
		/* uvtd_poll is safe on several lcores at once. */
		.capabilities = RTE_SERVICE_CAP_MT_SAFE,
	};
	int rc = 0;

	pthread_mutex_lock(&uvtd.lock);
	if (sid == UINT32_MAX) {
		rc = rte_service_component_register(&spec, &sid);
		if (rc == 0)
			rc = rte_service_component_runstate_set(sid, 1);
		if (rc)
			UVTD_LOG(ERR, "service register: %s", strerror(-rc));
	}
	if (rc == 0 && id)
		*id = sid;
	pthread_mutex_unlock(&uvtd.lock);
	return rc;
}
