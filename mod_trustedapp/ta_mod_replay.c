/* Replay cache: one (application, nonce) is accepted once. Either the
 * built-in nonce table (ta_mod_replay_table.c; the default, "table[:BYTES]")
 * or a mod_socache provider ("shmcb", "memcache:...", "redis:...").
 *
 * socache has no "add if absent", so the check and the store run under one
 * global mutex (shared by every process of this server): two workers can
 * never both accept the same nonce. The table locks the id's own buckets
 * instead (process-shared locks in its memory), so workers do not queue on
 * one lock. The cache is global to the server (not per virtual host) because
 * a signature names its application, not a host. Keys are hashed (SHA-256)
 * so their length is fixed whatever the nonce.
 *
 * The cache and its mutex live in the process pool, not in the configuration
 * pool: a graceful restart must not forget the nonces accepted before it
 * (they stay valid for the signature's lifetime), and workers of the old
 * generation still finishing requests keep using the same cache and lock as
 * the new ones. Only the provider functions are looked up again per cycle
 * (httpd reloads the provider module); the instance data is the provider's
 * own and survives. The table's shared memory lives there too, in its own
 * subpool. A changed TrustedAppReplayCache starts a new cache.
 *
 * Pools: the provider's create() gets a pool that is never destroyed, since
 * providers register cleanups there that point into their module, which
 * httpd unloads (and may map elsewhere) at every restart; the shared memory
 * and the mutex live in a subpool of the process pool, whose cleanups are
 * APR's own, destroyed at exit before the modules are unloaded. */
#include "mod_trustedapp.h"
#include "ta_mod_replay_table.h"

#include <string.h>
#include <apr_strings.h>
#include <apr_global_mutex.h>
#include "ap_provider.h"
#include "util_mutex.h"

/* Versioned: a graceful restart into a build whose table layout or record
 * naming differs must start a new cache, not read the old one with new code
 * (the old table stays mapped, unused, until the process exits). Bump it
 * with any such change. */
#define TA_REPLAY_USERDATA "mod_trustedapp:replay-cache:2"

/* Process pool: survives restarts. */
typedef struct {
  const char *spec;                 /* "provider[:args]" this instance was made for */
  ap_socache_instance_t *instance;
  apr_pool_t *instance_pool;        /* create(): unmanaged, never destroyed */
  apr_pool_t *data_pool;            /* init(): shared memory; subpool of the process pool */
  ta_replay_table_t *table;         /* the built-in table instead of a provider */
  apr_pool_t *table_pool;           /* its shared memory; subpool of the process pool */
  apr_global_mutex_t *mutex;
  apr_pool_t *mutex_pool;
} ta_replay_persist_t;

/* Per configuration cycle (reset in pre_config). replay_table_bytes != 0:
 * the built-in table (replay_provider NULL), spec "table:BYTES", so that
 * "table", "table:16M" and no directive name the same table. */
static const ap_socache_provider_t *replay_provider;
static apr_size_t replay_table_bytes;
static const char *replay_spec;
static const char *replay_args;
/* Per process: the persistent cache and this process's handle on the lock. */
static ta_replay_persist_t *replay_state;
static ta_replay_table_t *replay_table;
static apr_global_mutex_t *replay_mutex;
static int replay_ready;

/* Typical id: 32 bytes; value: 1 byte; most signatures live a few minutes. */
static struct ap_socache_hints replay_hints = {32, 1, 300 * APR_USEC_PER_SEC};

/* Overflow detection for shmcb. shmcb picks a sub-cache by the first byte of
 * the id and, when one is full, silently drops its oldest entries. A
 * never-expiring sentinel per first byte, stored when the cache is made, is
 * therefore dropped only once every older entry of its sub-cache is gone:
 * finding it missing proves that nonces were evicted before they expired
 * (replays of them would go unnoticed). The operator is told; the sentinel
 * is stored again to notice the next overflow. Other providers (memcache,
 * redis) must be sized or configured not to evict. */
#define TA_SENTINEL_ID_LEN 32
#define TA_OVERFLOW_WARN_INTERVAL apr_time_from_sec(60)
static int replay_is_shmcb;
static apr_time_t last_overflow_warning;

static void sentinel_id(unsigned char *id, unsigned first)
{
  static const char tag[] = "mod_trustedapp replay sentinel";
  memset(id, 0, TA_SENTINEL_ID_LEN);
  id[0] = (unsigned char)first;
  memcpy(id + 1, tag, sizeof tag - 1);
}

/* The sentinel's value is the time it was last stored again after an
 * overflow (0: never overflowed). */
static apr_status_t sentinel_store(server_rec *s, apr_pool_t *p, unsigned first, apr_time_t when)
{
  unsigned char id[TA_SENTINEL_ID_LEN], value[sizeof(apr_time_t)];
  sentinel_id(id, first);
  memcpy(value, &when, sizeof when);
  /* Ten years: never expires, leaves only by eviction. */
  return replay_provider->store(replay_state->instance, s, id, sizeof id,
                                apr_time_now() + apr_time_from_sec(10 * 365 * 86400), value,
                                sizeof value, p);
}

/* Under the replay mutex, after a store of an id starting with first.
 * Returns the last overflow time of that sub-cache (0: none): every nonce
 * first used after it is still in the cache. */
static apr_time_t check_overflow(request_rec *r, unsigned first)
{
  unsigned char id[TA_SENTINEL_ID_LEN], found[16];
  unsigned int found_len = sizeof found;
  apr_time_t now, when = 0;
  sentinel_id(id, first);
  if (replay_provider->retrieve(replay_state->instance, r->server, id, sizeof id, found, &found_len,
                                r->pool) == APR_SUCCESS) {
    if (found_len == sizeof when)
      memcpy(&when, found, sizeof when);
    return when;
  }
  now = apr_time_now();
  sentinel_store(r->server, r->pool, first, now);
  if (now - last_overflow_warning >= TA_OVERFLOW_WARN_INTERVAL || now < last_overflow_warning) {
    last_overflow_warning = now;
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "%s replay cache '%s' is too small: it dropped "
                  "nonces before they expired, so replays of older requests may go unnoticed%s; "
                  "enlarge it (TrustedAppReplayCache \"shmcb:FILE(BYTES)\")",
                  ta_mod_tag(r->pool, TA_E_CONFIG), replay_spec,
                  " (unless TrustedAppReplayCacheOverflow refuse)");
  }
  return now;
}

/* After this request's insert evicted an unexpired nonce. One warning a
 * minute for the whole server (the time is shared). */
static void table_overflow_warning(request_rec *r, apr_time_t now)
{
  apr_uint64_t evictions;
  if (!ta_replay_table_warn_due(replay_table, now, TA_OVERFLOW_WARN_INTERVAL, &evictions))
    return;
  ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "%s replay cache '%s' is too small: it dropped "
                "nonces before they expired (%" APR_UINT64_T_FMT " so far), so replays of older "
                "requests may go unnoticed (unless TrustedAppReplayCacheOverflow refuse); enlarge "
                "it (TrustedAppReplayCache table:BYTES, about 64 bytes per nonce alive at once; "
                "it has %" APR_UINT64_T_FMT " slots)", ta_mod_tag(r->pool, TA_E_CONFIG),
                replay_spec, evictions, ta_replay_table_slots(replay_table));
}

static const char *table_spec(apr_pool_t *p, apr_size_t bytes)
{
  return apr_psprintf(p, "table:%" APR_SIZE_T_FMT, bytes);
}

void ta_mod_replay_pre_config(apr_pool_t *pconf)
{
  replay_provider = NULL;
  replay_table_bytes = 0;
  replay_table = NULL;
  replay_is_shmcb = 0;
  replay_spec = NULL;
  replay_args = NULL;
  replay_state = NULL;
  replay_mutex = NULL;
  replay_ready = 0;
  ap_mutex_register(pconf, TA_REPLAY_MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0);
}

const char *ta_mod_replay_set(cmd_parms *cmd, const char *spec)
{
  const char *sep = strchr(spec, ':');
  const char *name = sep ? apr_pstrmemdup(cmd->pool, spec, (apr_size_t)(sep - spec)) : spec;
  ap_socache_instance_t *probe = NULL;
  const char *err;

  if (!strcmp(name, "table")) {
    apr_size_t bytes = TA_REPLAY_TABLE_DEFAULT_BYTES;
    if (sep && (err = ta_replay_table_parse_size(sep + 1, &bytes)) != NULL)
      return apr_psprintf(cmd->pool, "TrustedAppReplayCache: invalid value '%s' (%s:%d): %s",
                          spec, cmd->directive->filename, cmd->directive->line_num, err);
    replay_provider = NULL;
    replay_table_bytes = bytes;
    replay_spec = table_spec(cmd->pool, bytes);
    replay_args = NULL;
    return NULL;
  }
  replay_table_bytes = 0;
  replay_provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name, AP_SOCACHE_PROVIDER_VERSION);
  if (!replay_provider)
    return apr_psprintf(cmd->pool, "TrustedAppReplayCache: unknown socache provider '%s' "
                        "(%s:%d); load mod_socache_%s first", name, cmd->directive->filename,
                        cmd->directive->line_num, name);
  /* Checks the arguments now; the real instance is made in post_config. */
  err = replay_provider->create(&probe, sep ? sep + 1 : NULL, cmd->temp_pool, cmd->temp_pool);
  if (err)
    return apr_psprintf(cmd->pool, "TrustedAppReplayCache: '%s' (%s:%d): %s", spec,
                        cmd->directive->filename, cmd->directive->line_num, err);
  replay_spec = apr_pstrdup(cmd->pool, spec);
  replay_args = sep ? apr_pstrdup(cmd->pool, sep + 1) : NULL;
  return NULL;
}

static ta_replay_persist_t *persistent_state(server_rec *s)
{
  apr_pool_t *pp = s->process->pool;
  void *data = NULL;
  apr_pool_userdata_get(&data, TA_REPLAY_USERDATA, pp);
  if (!data) {
    data = apr_pcalloc(pp, sizeof(ta_replay_persist_t));
    apr_pool_userdata_set(data, TA_REPLAY_USERDATA, apr_pool_cleanup_null, pp);
  }
  return data;
}

int ta_mod_replay_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
  apr_pool_t *pp = s->process->pool;
  ta_replay_persist_t *st;
  apr_status_t rv;
  const char *err;

  if (!ta_mod_any_registry(s))
    return OK;   /* module loaded but unused: no shared memory, no mutex */
  if (!replay_provider && !replay_table_bytes) {
    replay_table_bytes = TA_REPLAY_TABLE_DEFAULT_BYTES;
    replay_spec = table_spec(pconf, replay_table_bytes);
    replay_args = NULL;
  }

  st = persistent_state(s);
  if (st->instance && strcmp(st->spec, replay_spec)) {
    /* Configured differently now: retire the old cache with its provider. */
    const char *sep = strchr(st->spec, ':');
    const char *old_name = sep ? apr_pstrmemdup(ptemp, st->spec, (apr_size_t)(sep - st->spec)) : st->spec;
    const ap_socache_provider_t *old = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, old_name,
                                                          AP_SOCACHE_PROVIDER_VERSION);
    if (old)
      old->destroy(st->instance, s);
    apr_pool_destroy(st->data_pool);
    st->instance = NULL;
    st->data_pool = NULL;
  }
  if (st->table && strcmp(st->spec, replay_spec)) {
    /* Children forked before keep their mapping until they exit. */
    apr_pool_destroy(st->table_pool);
    st->table = NULL;
    st->table_pool = NULL;
  }
  if (replay_table_bytes) {
    if (!st->table) {
      if (apr_pool_create(&st->table_pool, pp) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "%s replay cache: out of memory",
                     ta_mod_tag(ptemp, TA_E_CONFIG));
        return HTTP_INTERNAL_SERVER_ERROR;
      }
      apr_status_t map_rv = APR_SUCCESS;
      rv = ta_replay_table_create(&st->table, replay_table_bytes,
                                  ap_runtime_dir_relative(st->table_pool, "trustedapp-replay-table"),
                                  st->table_pool);
      /* Committed now: a table the machine cannot hold fails here, not later. */
      if (rv == APR_SUCCESS && APR_STATUS_IS_ENOMEM(map_rv = ta_replay_table_map_all(st->table)))
        rv = map_rv;
      if (rv != APR_SUCCESS) {
        apr_pool_destroy(st->table_pool);
        st->table = NULL;
        st->table_pool = NULL;
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, "%s cannot create the replay cache '%s' in "
                     "shared memory (TrustedAppReplayCache table:BYTES)%s",
                     ta_mod_tag(ptemp, TA_E_CONFIG), replay_spec,
                     APR_STATUS_IS_ENOMEM(rv) ? ": not enough memory, make it smaller" : "");
        return HTTP_INTERNAL_SERVER_ERROR;
      }
      if (map_rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_INFO, map_rv, s, "%s replay cache '%s': its pages are mapped "
                     "as requests first touch them (no MADV_POPULATE_WRITE here)",
                     ta_mod_tag(ptemp, TA_OK), replay_spec);
      st->spec = apr_pstrdup(pp, replay_spec);
      ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "%s replay cache '%s': new table of %"
                   APR_UINT64_T_FMT " nonce slots in shared memory", ta_mod_tag(ptemp, TA_OK),
                   replay_spec, ta_replay_table_slots(st->table));
    }
  } else if (!st->instance) {
    if (apr_pool_create_unmanaged_ex(&st->instance_pool, NULL, NULL) != APR_SUCCESS
        || apr_pool_create(&st->data_pool, pp) != APR_SUCCESS) {
      ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "%s replay cache: out of memory",
                   ta_mod_tag(ptemp, TA_E_CONFIG));
      return HTTP_INTERNAL_SERVER_ERROR;
    }
    err = replay_provider->create(&st->instance, replay_args, ptemp, st->instance_pool);
    if (err) {
      st->instance = NULL;
      ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "%s replay cache '%s': %s",
                   ta_mod_tag(ptemp, TA_E_CONFIG), replay_spec, err);
      return HTTP_INTERNAL_SERVER_ERROR;
    }
    rv = replay_provider->init(st->instance, "mod_trustedapp-replay", &replay_hints, s,
                               st->data_pool);
    if (rv != APR_SUCCESS) {
      st->instance = NULL;
      ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, "%s cannot initialise the replay cache '%s'",
                   ta_mod_tag(ptemp, TA_E_CONFIG), replay_spec);
      return HTTP_INTERNAL_SERVER_ERROR;
    }
    st->spec = apr_pstrdup(pp, replay_spec);
    if (!strcmp(replay_provider->name, "shmcb")) {
      unsigned k;
      replay_state = st;
      for (k = 0; k < 256; k++)
        sentinel_store(s, ptemp, k, 0);
    }
  }
  replay_is_shmcb = replay_provider && !strcmp(replay_provider->name, "shmcb");
  /* Socache providers need the server-wide mutex; the table locks itself. */
  if (!replay_table_bytes && !st->mutex) {
    if (apr_pool_create(&st->mutex_pool, pp) != APR_SUCCESS)
      return HTTP_INTERNAL_SERVER_ERROR;
    rv = ap_global_mutex_create(&st->mutex, NULL, TA_REPLAY_MUTEX_TYPE, NULL, s, st->mutex_pool, 0);
    if (rv != APR_SUCCESS) {
      st->mutex = NULL;
      ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, "%s cannot create the replay cache mutex",
                   ta_mod_tag(ptemp, TA_E_CONFIG));
      return HTTP_INTERNAL_SERVER_ERROR;
    }
  }
  replay_state = st;
  replay_table = replay_table_bytes ? st->table : NULL;
  replay_mutex = replay_table_bytes ? NULL : st->mutex;
  replay_ready = 1;
  return OK;
}

void ta_mod_replay_child_init(apr_pool_t *pchild, server_rec *s)
{
  apr_status_t rv;
  if (replay_table) {
    rv = ta_replay_table_map_all(replay_table);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOTIMPL(rv))
      ap_log_error(APLOG_MARK, APLOG_DEBUG, rv, s, "%s replay cache table not mapped in advance "
                   "in this child", ta_mod_tag(pchild, TA_OK));
  }
  if (!replay_mutex)
    return;
  rv = apr_global_mutex_child_init(&replay_mutex, apr_global_mutex_lockfile(replay_mutex), pchild);
  if (rv != APR_SUCCESS) {
    ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "%s replay cache mutex unusable in this child; "
                 "signed requests will fail as the cache is unavailable",
                 ta_mod_tag(pchild, TA_E_REPLAY_UNAVAILABLE));
    replay_ready = 0;
  }
}

/* Socache providers: look up, then store when absent (under the mutex).
 * *overflow: shmcb's last overflow of the id's sub-cache (0: none, or
 * another provider, which must be sized not to evict). */
static ta_status_t socache_record(request_rec *r, const unsigned char *id, size_t id_len,
                                  apr_time_t expires, apr_time_t *overflow, const char **detail)
{
  unsigned char value[1] = {1}, found[8];
  unsigned int found_len = sizeof found;
  apr_status_t rv;
  char ebuf[120];

  rv = replay_provider->retrieve(replay_state->instance, r->server, id, (unsigned int)id_len, found,
                                 &found_len, r->pool);
  if (rv == APR_SUCCESS) {
    *detail = "nonce already used";
    return TA_E_REPLAY;
  }
  if (rv != APR_NOTFOUND) {
    *detail = apr_psprintf(r->pool, "replay cache '%s' lookup failed: %s", replay_spec,
                           apr_strerror(rv, ebuf, sizeof ebuf));
    return TA_E_REPLAY_UNAVAILABLE;
  }
  rv = replay_provider->store(replay_state->instance, r->server, id, (unsigned int)id_len, expires, value,
                              sizeof value, r->pool);
  if (rv != APR_SUCCESS) {
    *detail = apr_psprintf(r->pool, "replay cache '%s' store failed: %s", replay_spec,
                           apr_strerror(rv, ebuf, sizeof ebuf));
    return TA_E_REPLAY_UNAVAILABLE;
  }
  if (replay_is_shmcb)
    *overflow = check_overflow(r, id[0]);
  return TA_OK;
}

/* A request whose first use may predate the overflow cannot be proven
 * fresh: its earlier use may have been dropped. */
static ta_status_t overflow_verdict(request_rec *r, apr_time_t overflow, apr_time_t created,
                                    int future_skew_sec, int refuse_overflow,
                                    int *overflow_refused, const char **detail)
{
  if (!refuse_overflow || !overflow || created > overflow + apr_time_from_sec(future_skew_sec))
    return TA_OK;
  *overflow_refused = 1;
  *detail = apr_psprintf(r->pool, "replay cache '%s' overflowed %" APR_TIME_T_FMT
                         " s ago; requests created before then cannot be proven fresh",
                         replay_spec, apr_time_sec(apr_time_now() - overflow));
  return TA_E_REPLAY_UNAVAILABLE;
}

/* The verdict's replay id is the table's id and the socache key. */
_Static_assert(TA_VERDICT_REPLAY_ID_LEN == TA_REPLAY_TABLE_ID_LEN, "replay ids are table ids");

static void name_table_record(const void *record, size_t len, unsigned char *id)
{
  ta_replay_table_id(replay_table, record, len, id);
}

static void prefetch_table_slots(const unsigned char *id)
{
  ta_replay_table_prefetch(replay_table, id);
}

ta_replay_id_fn *ta_mod_replay_id(void)
{
  return replay_table && replay_ready ? name_table_record : NULL;
}

ta_replay_id_known_fn *ta_mod_replay_id_known(void)
{
  return replay_table && replay_ready ? prefetch_table_slots : NULL;
}

ta_status_t ta_mod_replay_record(request_rec *r, const unsigned char *id, apr_time_t expires,
                                 apr_time_t created, apr_time_t now, int future_skew_sec,
                                 int refuse_overflow, int *overflow_refused, const char **detail)
{
  const size_t id_len = TA_VERDICT_REPLAY_ID_LEN;
  apr_time_t overflow = 0;
  apr_status_t rv, urv;
  ta_status_t st;
  char ebuf[120];

  *overflow_refused = 0;
  if (!replay_ready) {
    *detail = "replay cache not initialised";
    return TA_E_REPLAY_UNAVAILABLE;
  }
  if (expires <= now)
    expires = now + apr_time_from_sec(1);
  if (replay_table) {
    /* The table takes its own per-bucket locks: no server-wide mutex. */
    int evicted, seen;
    seen = ta_replay_table_insert_now(replay_table, id, expires, &now, &overflow, &evicted);
    if (seen < 0) {
      *detail = "replay table lock failed";
      return TA_E_REPLAY_UNAVAILABLE;
    }
    if (seen) {
      *detail = "nonce already used";
      return TA_E_REPLAY;
    }
    if (evicted)
      table_overflow_warning(r, now);
    return overflow_verdict(r, overflow, created, future_skew_sec, refuse_overflow,
                            overflow_refused, detail);
  }

  rv = apr_global_mutex_lock(replay_mutex);
  if (rv != APR_SUCCESS) {
    *detail = apr_psprintf(r->pool, "replay cache lock failed: %s", apr_strerror(rv, ebuf, sizeof ebuf));
    return TA_E_REPLAY_UNAVAILABLE;
  }
  st = socache_record(r, id, id_len, expires, &overflow, detail);
  if (st == TA_OK)
    st = overflow_verdict(r, overflow, created, future_skew_sec, refuse_overflow,
                          overflow_refused, detail);
  urv = apr_global_mutex_unlock(replay_mutex);
  if (urv != APR_SUCCESS)
    ap_log_rerror(APLOG_MARK, APLOG_ERR, urv, r, "%s replay cache unlock failed",
                  ta_mod_tag(r->pool, TA_E_INTERNAL));
  return st;
}
