/* mod_trustedapp internals shared by the glue files. The decision itself is
 * libtrustedapp's (ta_verify_request); this layer only translates between
 * httpd and the library: configuration, the request view, the replay cache,
 * registry generations, the authz provider and the responses. */
#ifndef MOD_TRUSTEDAPP_H
#define MOD_TRUSTEDAPP_H

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_request.h"
#include "ap_socache.h"

#include <apr_tables.h>
#include <apr_thread_mutex.h>

#include "ta_error.h"
#include "ta_msg.h"
#include "ta_verify.h"
#include "ta_registry.h"
#include "ta_ip.h"
#include "ta_path.h"

extern module AP_MODULE_DECLARE_DATA trustedapp_module;

/* AP_DECLARE_MODULE (mod_trustedapp.c) declares the log index itself. */
#if defined(APLOG_USE_MODULE) && !defined(TA_MOD_MAIN)
APLOG_USE_MODULE(trustedapp);
#endif

#define TA_AUTH_TYPE "TrustedApp"
#define TA_AUTHZ_PROVIDER "trusted-app"
#define TA_REPLAY_MUTEX_TYPE "trustedapp-replay"
#define TA_DEFAULT_MAX_BODY ((apr_off_t)64 * 1024 * 1024)
#define TA_MAX_MAX_BODY ((apr_int64_t)4 * 1024 * 1024 * 1024)

#define TA_UNSET (-1)

typedef enum {
  TA_PROXY_HEADER_UNSET = 0,
  TA_PROXY_HEADER_XFF,        /* X-Forwarded-For */
  TA_PROXY_HEADER_FORWARDED,  /* RFC 7239 Forwarded */
  TA_PROXY_HEADER_REMOTEIP    /* trust r->useragent_ip as set by mod_remoteip */
} ta_proxy_header_t;

/* ---------------------------------------------------------------- registry */
/* One loaded registry file with its own pool; requests hold a reference so a
 * reload never frees a registry in use. */
typedef struct ta_mod_generation ta_mod_generation_t;

/* Per registry file, per process: the current generation and the file
 * identity it was read from. Lives in the process pool across restarts so a
 * broken file at graceful restart keeps the last good registry. */
typedef struct ta_mod_registry ta_mod_registry_t;

/* ---------------------------------------------------------------- config */
typedef struct {
  const char *registry_path;        /* TrustedAppRegistry, absolute; NULL: none */
  const char *registry_where;       /* "file:line" of the directive, for messages */
  ta_mod_registry_t *registry;      /* set in post_config */
  const char *cert_doc_path;        /* TrustedAppCertificatePath; NULL: not served */
  const char *cert_doc_alg;         /* its optional algorithm (RSA self keys) */
  const char *cert_doc_json;        /* built in post_config; NULL: not served (404) */
  const char *seraph_doc_path;      /* TrustedAppSeraphCertificatePath; NULL: not served */
  const char *seraph_doc_text;      /* legacy /admin/appTrustCertificate text; NULL: 404 */
} ta_srv_conf_t;

typedef struct {
  unsigned protocols;               /* TA_PROTO_* mask; 0 = unset */
  int future_skew_sec;              /* TA_UNSET or >= 0 */
  int past_limit_sec;               /* TA_UNSET or >= 0 (0: the app's timeout alone) */
  int replay_protection;            /* TA_UNSET, 0, 1 */
  int replay_fail_open;             /* TA_UNSET, 0 (closed), 1 (open) */
  int replay_refuse_overflow;       /* TA_UNSET, 0 (warn), 1 (refuse) */
  const ta_ip_set_t *trusted_proxies;  /* NULL: unset */
  apr_array_header_t *proxy_patterns;  /* const char *, as written */
  int proxy_header;                 /* ta_proxy_header_t */
  int every_hop;                    /* TA_UNSET, 0, 1 */
  const ta_path_set_t *paths;       /* TrustedAppPathPrefix; NULL: unset */
  apr_array_header_t *path_prefixes;
  const char *user_header;          /* NULL: unset */
  int require_user;
  int error_detail;
  int require_tls;
  int require_client_cert;
  const char *seraph_base_url;      /* NULL: unset */
  int seraph_insecure_versions;
  int seraph_raw_path;
  apr_off_t max_body;               /* TA_UNSET or bytes checked against Content-Digest */
  int forwarded_proto;              /* TA_UNSET, 0, 1: believe a trusted proxy's proto */
} ta_dir_conf_t;

/* ta_mod_config.c */
extern const command_rec ta_mod_cmds[];
void *ta_mod_create_dir_conf(apr_pool_t *p, char *dir);
void *ta_mod_merge_dir_conf(apr_pool_t *p, void *basev, void *addv);
void *ta_mod_create_srv_conf(apr_pool_t *p, server_rec *s);
void *ta_mod_merge_srv_conf(apr_pool_t *p, void *basev, void *addv);
/* Effective values (unset -> default). */
void ta_mod_policy_from_conf(const ta_dir_conf_t *dc, ta_policy_t *pol);
int ta_mod_flag(int value, int dflt);
/* Warnings about risky settings, once per start (Seraph insecure versions). */
void ta_mod_config_warnings(apr_pool_t *ptemp, server_rec *s);
void ta_mod_config_reset(void);
int ta_mod_any_registry(server_rec *s);

/* ta_mod_registry.c */
/* Loads (or re-uses) every server's registry. At first start a broken file
 * is fatal; later a broken file keeps the last good generation. */
int ta_mod_registry_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
/* Parent process: keeps the last good registry text current. */
int ta_mod_registry_monitor(apr_pool_t *p, server_rec *s);
/* apache2 -t: parse every registry, report errors. */
int ta_mod_registry_test_config(apr_pool_t *pconf, server_rec *s);
/* The current registry for this request, reloaded first when the file
 * changed (checked at most once a second; now: the request's time). The
 * reference is released when r->pool is cleared, so the registry's strings
 * live as long as the request's. NULL when the server has no registry. */
const ta_registry_t *ta_mod_registry_acquire(request_rec *r, apr_time_t now);

/* The generation in force (post_config, parent only). */
const ta_registry_t *ta_mod_registry_current(ta_mod_registry_t *h);

/* ta_mod_certdoc.c */
int ta_mod_certdoc_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
int ta_mod_certdoc_quick_handler(request_rec *r, int lookup_uri);

/* ta_mod_replay.c */
void ta_mod_replay_pre_config(apr_pool_t *pconf);
/* TrustedAppReplayCache: "table[:BYTES]" (the built-in shared-memory nonce
 * table, also the default) or a socache provider "name[:args]". */
const char *ta_mod_replay_set(cmd_parms *cmd, const char *spec);
int ta_mod_replay_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
void ta_mod_replay_child_init(apr_pool_t *pchild, server_rec *s);

/* How the verifier should name replay records (ta_policy_t.replay_id): the
 * built-in table's keyed id, else NULL (SHA-256, which shared caches need). */
ta_replay_id_fn *ta_mod_replay_id(void);

/* What the verifier should call with a replay id before it verifies the
 * signature (ta_policy_t.replay_id_known): the built-in table's prefetch,
 * else NULL. */
ta_replay_id_known_fn *ta_mod_replay_id_known(void);

/* Records the verdict's replay id (TA_VERDICT_REPLAY_ID_LEN bytes) unless
 * present: TA_OK, TA_E_REPLAY (seen before) or
 * TA_E_REPLAY_UNAVAILABLE (cache or lock failed, or, with refuse_overflow,
 * the cache overflowed after this request could first have been used:
 * created <= overflow time + future_skew_sec; *overflow_refused is then set,
 * and TrustedAppReplayCacheFailure open does not override it). now: the
 * request's time, with which entries' expiries are compared. */
ta_status_t ta_mod_replay_record(request_rec *r, const unsigned char *id, apr_time_t expires,
                                 apr_time_t created, apr_time_t now, int future_skew_sec,
                                 int refuse_overflow, int *overflow_refused, const char **detail);

/* ta_mod_request.c */
/* The request headers the module reads besides the signed fields, noted
 * in the one pass over r->headers_in that builds the message view (instead
 * of a table scan per name): the first line of each, as apr_table_get. */
typedef struct {
  const char *host;
  const char *x_forwarded_for;
  const char *forwarded;
  const char *transfer_encoding;
  const char *content_length;
  int lookalikes;                 /* how many ta_mod_is_lookalike names */
} ta_mod_headers_t;

/* The protocol-neutral view of r (headers in received order); *seen is
 * filled on the way. */
ta_msg_t *ta_mod_build_msg(request_rec *r, ta_mod_headers_t *seen);
/* Connection facts: client address (peer, proxy walk or mod_remoteip), hops
 * for every-hop mode, TLS and the verified client certificate. */
ta_status_t ta_mod_build_conn(request_rec *r, const ta_dir_conf_t *dc, const ta_mod_headers_t *seen,
                              ta_conn_t *conn, const char **detail);

/* ta_mod_tls.c */
/* Whether the client's request came over TLS: the connection's own TLS, or,
 * with TrustedAppForwardedProto on and the peer a TrustedAppTrustedProxy,
 * that proxy's X-Forwarded-Proto / Forwarded proto= claim.
 * connection_is_tls: ap_ssl_conn_is_ssl(r->connection). */
int ta_mod_tls_in_use(request_rec *r, const ta_dir_conf_t *dc, int connection_is_tls);

/* ta_mod_body.c */
/* Reads the body (at most max bytes) while hashing it, keeping it in memory
 * up to 64 KiB and in an unlinked temporary file beyond; checks it against
 * the covered Content-Digest and, only if it matches, replays it to the
 * handler through an input filter. */
ta_status_t ta_mod_check_body(request_rec *r, const char *content_digest, apr_off_t max,
                              const char **detail);
void ta_mod_body_register_filters(void);

/* ta_mod_response.c */
/* What authentication established for this request (request_config). */
typedef struct {
  const char *app_id;
  const char *app_name;
  const char *protocol;
  const char *user;
  const char *client_ip;
  const ta_app_t *app;             /* valid for the life of the main request */
} ta_mod_auth_note_t;

/* Headers a client could use to impersonate what the module exports
 * (TrustedApp-Id, Remote-User, ...) or legacy credentials (X-Seraph-Trusted-App-*). */
int ta_mod_is_lookalike(const char *name);
void ta_mod_strip_lookalikes(request_rec *r, const ta_dir_conf_t *dc);
void ta_mod_export(request_rec *r, const ta_mod_auth_note_t *note);
const ta_mod_auth_note_t *ta_mod_auth_note(const request_rec *r);
void ta_mod_set_auth_note(request_rec *r, const ta_mod_auth_note_t *note);
/* Logs one line, sets the error headers and returns the HTTP status. */
TA_FAILURE_PATH int ta_mod_fail(request_rec *r, const ta_dir_conf_t *dc, const ta_policy_t *pol,
                const ta_msg_t *msg, ta_status_t st, const ta_verdict_t *v,
                const char *client_ip, const char *detail);
/* "TA<code> <token>" prefix for log lines not tied to a request failure. */
const char *ta_mod_tag(apr_pool_t *p, ta_status_t st);
const char *ta_mod_log_id(request_rec *r);

/* ta_mod_authz.c */
void ta_mod_authz_register(apr_pool_t *p);

#endif
