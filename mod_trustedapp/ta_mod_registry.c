/* Registry generations: load at start, reload when the file changes, never
 * serve a half-loaded or broken registry.
 *
 * Each loaded file is a generation with its own unmanaged pool and a
 * reference count; a request holds a reference until its pool is cleared,
 * so a swap never frees a registry in use. Worker threads look at the file
 * at most once a second per process, and one thread at a time reloads.
 *
 * The parsed structures cannot survive a restart (httpd unloads and reloads
 * the module, and the library's pool cleanups live in it), so the last good
 * file *text* is kept in the process pool: when the file is broken at a
 * graceful restart, that text is parsed again. The parent's monitor hook
 * keeps this copy current while children reload on their own. */
#include "mod_trustedapp.h"

#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_hash.h>

#define TA_RELOAD_INTERVAL apr_time_from_sec(1)

typedef struct {
  apr_ino_t inode;
  apr_dev_t device;
  apr_off_t size;
  apr_time_t mtime;
  int valid;
} ta_file_id_t;

struct ta_mod_generation {
  apr_pool_t *pool;                 /* unmanaged: destroyed with the last reference */
  ta_registry_t *reg;
  ta_file_id_t id;
  unsigned refs;
};

/* Survives restarts in the process pool; plain bytes only. */
typedef struct {
  char *text;                       /* malloc'd copy of the last good file */
  size_t len;
  ta_file_id_t id;
  ta_file_id_t bad;                 /* last file seen broken, to log it once */
} ta_saved_t;

struct ta_mod_registry {
  const char *path;
  const char *where;
  ta_mod_generation_t *current;
  ta_saved_t *saved;
  ta_file_id_t bad;                 /* per process: last broken file reported */
  int bad_parse;                    /* bad was read but did not parse */
  int bad_reported;                 /* bad has been logged */
  int reloading;                    /* a thread is looking at the file now */
  apr_time_t last_check;
  apr_thread_mutex_t *mutex;        /* current, refs, last_check, bad */
};

/* Every holder of this configuration cycle (pconf), by path. */
static apr_hash_t *holders;

static int same_file(const ta_file_id_t *a, const ta_file_id_t *b)
{
  return a->valid && b->valid && a->inode == b->inode && a->device == b->device
         && a->size == b->size && a->mtime == b->mtime;
}

/* Reads the whole file; identity from the open descriptor so the text and
 * the identity belong to the same file even when it is replaced meanwhile. */
static apr_status_t read_file(apr_pool_t *p, const char *path, char **text, size_t *len,
                              ta_file_id_t *id, const char **err)
{
  apr_file_t *f;
  apr_finfo_t fi;
  apr_status_t rv;
  apr_size_t got = 0;
  char *buf;
  char ebuf[128];

  rv = apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, APR_OS_DEFAULT, p);
  if (rv != APR_SUCCESS) {
    *err = apr_psprintf(p, "%s: cannot open: %s", path, apr_strerror(rv, ebuf, sizeof ebuf));
    return rv;
  }
  rv = apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_MTIME | APR_FINFO_INODE | APR_FINFO_DEV, f);
  if (rv != APR_SUCCESS && rv != APR_INCOMPLETE) {
    apr_file_close(f);
    *err = apr_psprintf(p, "%s: cannot stat: %s", path, apr_strerror(rv, ebuf, sizeof ebuf));
    return rv;
  }
  if (fi.size < 0 || (apr_uint64_t)fi.size > TA_REGISTRY_MAX_BYTES) {
    apr_file_close(f);
    *err = apr_psprintf(p, "%s: file of %" APR_OFF_T_FMT " bytes exceeds the limit", path, fi.size);
    return APR_EINVAL;
  }
  buf = apr_palloc(p, (apr_size_t)fi.size + 1);
  if (fi.size > 0) {
    rv = apr_file_read_full(f, buf, (apr_size_t)fi.size, &got);
    if (rv != APR_SUCCESS && !(rv == APR_EOF && got == (apr_size_t)fi.size)) {
      apr_file_close(f);
      *err = apr_psprintf(p, "%s: read failed: %s", path, apr_strerror(rv, ebuf, sizeof ebuf));
      return rv;
    }
  }
  apr_file_close(f);
  buf[got] = '\0';
  *text = buf;
  *len = got;
  id->inode = fi.inode;
  id->device = fi.device;
  id->size = fi.size;
  id->mtime = fi.mtime;
  id->valid = 1;
  return APR_SUCCESS;
}

static ta_status_t stat_file(apr_pool_t *p, const char *path, ta_file_id_t *id)
{
  apr_finfo_t fi;
  apr_status_t rv = apr_stat(&fi, path, APR_FINFO_SIZE | APR_FINFO_MTIME | APR_FINFO_INODE
                                          | APR_FINFO_DEV, p);
  if (rv != APR_SUCCESS && rv != APR_INCOMPLETE) {
    memset(id, 0, sizeof(*id));
    return TA_E_CONFIG;
  }
  id->inode = fi.inode;
  id->device = fi.device;
  id->size = fi.size;
  id->mtime = fi.mtime;
  id->valid = 1;
  return TA_OK;
}

static void generation_destroy(ta_mod_generation_t *g)
{
  if (g)
    apr_pool_destroy(g->pool);
}

/* The current generation goes with the configuration; older ones go with
 * their last reference. */
static apr_status_t holder_cleanup(void *data)
{
  ta_mod_registry_t *h = data;
  generation_destroy(h->current);
  h->current = NULL;
  return APR_SUCCESS;
}

/* Parses text into a new generation; NULL with *err on failure. */
static ta_mod_generation_t *generation_parse(const char *path, const char *text, size_t len,
                                             const ta_file_id_t *id, apr_pool_t *errp,
                                             const char **err)
{
  apr_pool_t *gp;
  ta_mod_generation_t *g;
  ta_registry_t *reg = NULL;
  const char *perr = NULL;
  ta_status_t st;

  if (apr_pool_create_unmanaged_ex(&gp, NULL, NULL) != APR_SUCCESS) {
    *err = "out of memory";
    return NULL;
  }
  apr_pool_tag(gp, "trustedapp-registry");
  st = ta_registry_parse(gp, text, len, path, &reg, &perr);
  if (st != TA_OK || !reg) {
    *err = apr_pstrdup(errp, perr ? perr : ta_error_summary(st));
    apr_pool_destroy(gp);
    return NULL;
  }
  g = apr_pcalloc(gp, sizeof(*g));
  g->pool = gp;
  g->reg = reg;
  g->id = *id;
  return g;
}

static void log_warnings(server_rec *s, apr_pool_t *p, const ta_registry_t *reg)
{
  const apr_array_header_t *w = ta_registry_warnings(reg);
  int i;
  for (i = 0; w && i < w->nelts; i++)
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "%s %s", ta_mod_tag(p, TA_E_CONFIG),
                 APR_ARRAY_IDX(w, i, const char *));
}

static void save_text(ta_saved_t *saved, const char *text, size_t len, const ta_file_id_t *id)
{
  char *copy = malloc(len + 1);
  if (!copy)
    return;   /* keep the older copy: still a good registry */
  memcpy(copy, text, len);
  copy[len] = '\0';
  free(saved->text);
  saved->text = copy;
  saved->len = len;
  saved->id = *id;
}

static ta_saved_t *saved_for(server_rec *s, const char *path)
{
  apr_pool_t *pp = s->process->pool;
  const char *key = apr_pstrcat(pp, "mod_trustedapp:registry:", path, NULL);
  void *data = NULL;
  apr_pool_userdata_get(&data, key, pp);
  if (!data) {
    data = apr_pcalloc(pp, sizeof(ta_saved_t));
    apr_pool_userdata_set(data, key, apr_pool_cleanup_null, pp);
  }
  return data;
}

/* Loads one registry file for this configuration cycle. */
static int load_holder(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                       const ta_srv_conf_t *sc, ta_mod_registry_t **out)
{
  ta_mod_registry_t *h = apr_pcalloc(pconf, sizeof(*h));
  char *text = NULL;
  size_t len = 0;
  ta_file_id_t id;
  const char *err = NULL;
  ta_mod_generation_t *g = NULL;

  h->path = apr_pstrdup(pconf, sc->registry_path);
  h->where = apr_pstrdup(pconf, sc->registry_where);
  h->saved = saved_for(s, h->path);
  memset(&id, 0, sizeof id);
  if (read_file(ptemp, h->path, &text, &len, &id, &err) == APR_SUCCESS)
    g = generation_parse(h->path, text, len, &id, ptemp, &err);

  if (g) {
    save_text(h->saved, text, len, &id);
    log_warnings(s, ptemp, g->reg);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "%s registry %s loaded: %" APR_SIZE_T_FMT
                 " application(s)", ta_mod_tag(ptemp, TA_OK), h->path, ta_registry_count(g->reg));
  } else if (h->saved->text) {
    /* Graceful restart with a broken file: the last good text stays in force. */
    const char *err2 = NULL;
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                 "%s registry %s (TrustedAppRegistry at %s) is unusable, keeping the last good "
                 "registry: %s", ta_mod_tag(ptemp, TA_E_CONFIG), h->path, h->where, err);
    h->bad = id;
    h->bad_parse = id.valid;
    h->bad_reported = 1;
    g = generation_parse(h->path, h->saved->text, h->saved->len, &h->saved->id, ptemp, &err2);
    if (!g) {
      ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "%s registry %s: the last good copy no longer "
                   "loads: %s", ta_mod_tag(ptemp, TA_E_CONFIG), h->path, err2);
      return HTTP_INTERNAL_SERVER_ERROR;
    }
  } else {
    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                 "%s TrustedAppRegistry at %s: cannot load the registry: %s",
                 ta_mod_tag(ptemp, TA_E_CONFIG), h->where, err);
    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, NULL,
                 "%s TrustedAppRegistry at %s: cannot load the registry: %s",
                 ta_mod_tag(ptemp, TA_E_CONFIG), h->where, err);
    return HTTP_INTERNAL_SERVER_ERROR;
  }
  h->current = g;
  h->last_check = apr_time_now();
  /* Before the module is unloaded at restart: the library's cleanups live in it. */
  apr_pool_cleanup_register(pconf, h, holder_cleanup, apr_pool_cleanup_null);
  if (apr_thread_mutex_create(&h->mutex, APR_THREAD_MUTEX_DEFAULT, pconf) != APR_SUCCESS) {
    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "%s cannot create the registry mutex",
                 ta_mod_tag(ptemp, TA_E_INTERNAL));
    return HTTP_INTERNAL_SERVER_ERROR;
  }
  *out = h;
  return OK;
}

int ta_mod_registry_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
  server_rec *vs;
  holders = apr_hash_make(pconf);
  for (vs = s; vs; vs = vs->next) {
    ta_srv_conf_t *sc = ap_get_module_config(vs->module_config, &trustedapp_module);
    ta_mod_registry_t *h;
    int rc;
    if (!sc->registry_path)
      continue;
    h = apr_hash_get(holders, sc->registry_path, APR_HASH_KEY_STRING);
    if (!h) {
      rc = load_holder(pconf, ptemp, vs, sc, &h);
      if (rc != OK)
        return rc;
      apr_hash_set(holders, h->path, APR_HASH_KEY_STRING, h);
    }
    sc->registry = h;
  }
  return OK;
}

int ta_mod_registry_test_config(apr_pool_t *pconf, server_rec *s)
{
  int failed = 0;
  for (; s; s = s->next) {
    ta_srv_conf_t *sc = ap_get_module_config(s->module_config, &trustedapp_module);
    ta_registry_t *reg = NULL;
    const char *err = NULL;
    if (!sc->registry_path)
      continue;
    if (ta_registry_load(pconf, sc->registry_path, &reg, &err) != TA_OK) {
      ap_log_error(APLOG_MARK, APLOG_EMERG, 0, NULL, "%s TrustedAppRegistry at %s: %s",
                   ta_mod_tag(pconf, TA_E_CONFIG), sc->registry_where, err ? err : "invalid");
      failed = 1;
    }
  }
  return failed ? HTTP_INTERNAL_SERVER_ERROR : OK;
}

/* Parent process, from the MPM's monitor hook (about every 10 s): keep the last good text current so a
 * broken file at the next graceful restart falls back to the newest good one. */
int ta_mod_registry_monitor(apr_pool_t *p, server_rec *s)
{
  apr_hash_index_t *hi;
  if (!holders)
    return DECLINED;
  for (hi = apr_hash_first(p, holders); hi; hi = apr_hash_next(hi)) {
    ta_mod_registry_t *h = apr_hash_this_val(hi);
    ta_file_id_t id;
    char *text = NULL;
    size_t len = 0;
    const char *err = NULL;
    apr_pool_t *tp;
    ta_registry_t *reg = NULL;

    if (stat_file(p, h->path, &id) != TA_OK || same_file(&id, &h->saved->id)
        || same_file(&id, &h->saved->bad))
      continue;
    apr_pool_create(&tp, p);
    if (read_file(tp, h->path, &text, &len, &id, &err) == APR_SUCCESS
        && ta_registry_parse(tp, text, len, h->path, &reg, &err) == TA_OK && reg) {
      save_text(h->saved, text, len, &id);
      ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, "%s registry %s: last good copy updated for "
                   "graceful restarts", ta_mod_tag(tp, TA_OK), h->path);
    } else {
      h->saved->bad = id;
    }
    apr_pool_destroy(tp);
  }
  return DECLINED;
}

static void generation_release(ta_mod_registry_t *h, ta_mod_generation_t *g)
{
  int destroy;
  apr_thread_mutex_lock(h->mutex);
  destroy = (--g->refs == 0 && g != h->current);
  apr_thread_mutex_unlock(h->mutex);
  if (destroy)
    generation_destroy(g);
}

typedef struct {
  ta_mod_registry_t *h;
  ta_mod_generation_t *g;
} ta_ref_t;

static apr_status_t ref_cleanup(void *data)
{
  ta_ref_t *ref = data;
  generation_release(ref->h, ref->g);
  return APR_SUCCESS;
}

/* Called by the one thread whose turn it is to look at the file. */
static void maybe_reload(request_rec *r, ta_mod_registry_t *h)
{
  ta_file_id_t id;
  char *text = NULL;
  size_t len = 0;
  const char *err = NULL;
  ta_mod_generation_t *g = NULL, *old;
  int destroy_old, known_bad, read_ok;

  if (stat_file(r->pool, h->path, &id) == TA_OK && same_file(&id, &h->current->id))
    return;
  /* A file that parsed badly is not parsed again until it changes; one that
   * could not be read (missing, permissions) is retried every interval, as
   * fixing permissions changes none of the file's identity. */
  apr_thread_mutex_lock(h->mutex);
  known_bad = id.valid && h->bad_parse && same_file(&id, &h->bad);
  apr_thread_mutex_unlock(h->mutex);
  if (known_bad)
    return;

  read_ok = read_file(r->pool, h->path, &text, &len, &id, &err) == APR_SUCCESS;
  if (read_ok)
    g = generation_parse(h->path, text, len, &id, r->pool, &err);
  if (!g) {
    int report;
    apr_thread_mutex_lock(h->mutex);
    /* Report each broken state once: same identity, same kind of failure. */
    report = !(h->bad_reported && h->bad_parse == read_ok && same_file(&id, &h->bad)
               && id.valid == h->bad.valid);
    h->bad = id;
    h->bad_parse = read_ok;
    h->bad_reported = 1;
    apr_thread_mutex_unlock(h->mutex);
    if (report)
      ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                    "%s registry %s changed but is unusable, keeping the registry loaded before: %s",
                    ta_mod_tag(r->pool, TA_E_CONFIG), h->path, err);
    return;
  }
  log_warnings(r->server, r->pool, g->reg);
  apr_thread_mutex_lock(h->mutex);
  old = h->current;
  h->current = g;
  memset(&h->bad, 0, sizeof h->bad);
  h->bad_parse = 0;
  h->bad_reported = 0;
  destroy_old = (old->refs == 0);
  apr_thread_mutex_unlock(h->mutex);
  if (destroy_old)
    generation_destroy(old);
  ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "%s registry %s reloaded: %" APR_SIZE_T_FMT
                " application(s)", ta_mod_tag(r->pool, TA_OK), h->path, ta_registry_count(g->reg));
}

const ta_registry_t *ta_mod_registry_acquire(request_rec *r, apr_time_t now)
{
  ta_srv_conf_t *sc = ap_get_module_config(r->server->module_config, &trustedapp_module);
  ta_mod_registry_t *h = sc->registry;
  ta_ref_t *ref;
  int check = 0;

  if (!h)
    return NULL;
  ref = apr_palloc(r->pool, sizeof(*ref));
  ref->h = h;
  /* One thread at a time looks at the file, even when a reload of a large
   * file takes longer than the interval. Most requests take their
   * reference in the same critical section as the check. */
  apr_thread_mutex_lock(h->mutex);
  if (!h->reloading && (now - h->last_check >= TA_RELOAD_INTERVAL || now < h->last_check)) {
    h->last_check = now;
    h->reloading = 1;
    check = 1;
  } else {
    ref->g = h->current;
    ref->g->refs++;
  }
  apr_thread_mutex_unlock(h->mutex);
  if (check) {
    maybe_reload(r, h);
    apr_thread_mutex_lock(h->mutex);
    h->reloading = 0;
    ref->g = h->current;
    ref->g->refs++;
    apr_thread_mutex_unlock(h->mutex);
  }
  apr_pool_cleanup_register(r->pool, ref, ref_cleanup, apr_pool_cleanup_null);
  return ref->g->reg;
}

const ta_registry_t *ta_mod_registry_current(ta_mod_registry_t *h)
{
  return h && h->current ? h->current->reg : NULL;
}
