/* Legacy Atlassian Seraph trusted-applications protocol: the verifier the
 * policy engine (ta_verify.c) calls when a location accepts TA_PROTO_SERAPH.
 *
 * ta_seraph_verify does the protocol part: headers, application lookup
 * (known, enabled, an RSA key valid now), Magic, certificate, timestamp
 * (app timeout in the past, future_skew_sec ahead) and the URL signature.
 * The caller then applies the policy it shares with the native protocol
 * (client address, path, user rules, TLS binding, replay recording) to the
 * claim, and answers failures with ta_seraph_error_header.
 *
 * Replay: the original protocol has none. A version-2 signature covers only
 * (timestamp, URL); anyone holding the public key can unwrap the RC4 key and
 * re-encrypt the certificate with another user name, so the only thing a
 * replay cache can meaningfully protect is the signed pair. claim.replay_key
 * is therefore "seraph:" app id ":" hex SHA-256 of (created "\n" URL), valid
 * until replay_expires. Recording it makes each signed (timestamp, URL) usable
 * once, which also blocks the user-substitution attack, but refuses clients
 * that legitimately re-send cached headers (atlassian-trusted-apps-core 3+
 * caches per user and URL for 900 s): only enable replay protection on Seraph
 * locations whose peers sign every request afresh. See docs/SERAPH.md. */
#ifndef TA_SERAPH_H
#define TA_SERAPH_H

#include "ta_seraph_codec.h"
#include "ta_registry.h"

typedef struct {
  const char *base_url;        /* external "scheme://host[:port][/prefix]"; NULL: from the message */
  int allow_insecure_versions; /* accept protocol 0 and 1 (not bound to the URL) */
  int allow_version3;          /* accept protocol 3 (plain certificate, user signed); default on */
  int check_time;              /* 0 skips the timestamp checks (test vectors only) */
  int future_skew_sec;         /* created may be this far ahead (default 900: clients stamp now+900 s) */
  int past_limit_sec;          /* > 0: caps the application's timeout (and applies when it is 0) */
} ta_seraph_opts_t;

/* Defaults: version 2 (and 3) only, time checked, future skew 900 s. */
void ta_seraph_opts_init(ta_seraph_opts_t *o);

typedef struct {
  const ta_app_t *app;         /* set once the application is identified (also on most failures) */
  const char *app_id;          /* as claimed, escaped for logs (non-printables as \xHH); NULL if none */
  const ta_app_key_t *key;     /* registered key that verified */
  size_t key_index;
  int version;                 /* protocol version of the request */
  const char *version_str;     /* Version header as received (for BAD_PROTOCOL_VERSION) */
  const char *user;            /* certificate user (success) */
  int64_t created_ms;          /* certificate timestamp */
  apr_time_t created;
  long clock_offset_sec;       /* created - now */
  const char *url;             /* URL the signature was checked against (for BAD_SIGNATURE diagnosis) */
  const char *replay_key;      /* see above; NULL for protocols 0/1 (nothing is signed) */
  apr_time_t replay_expires;
} ta_seraph_claim_t;

/* TA_OK, or: every status of ta_seraph_parse (except TA_E_NO_CREDENTIALS,
 * which means "no attempt"), TA_E_SERAPH_PROTOCOL (version refused by
 * opts), TA_E_UNKNOWN_APP, TA_E_APP_DISABLED, TA_E_NO_VALID_KEY (no RSA
 * key valid now), TA_E_SERAPH_MAGIC, TA_E_SERAPH_CERT, TA_E_USER_INVALID,
 * TA_E_CLOCK_PAST, TA_E_CLOCK_FUTURE, TA_E_SERAPH_URL, TA_E_NOMEM.
 * *detail (may be NULL) is for the log; it never holds secrets. */
ta_status_t ta_seraph_verify(apr_pool_t *p, const ta_registry_t *reg,
                             const ta_msg_t *m, const ta_seraph_opts_t *opts,
                             apr_time_t now, ta_seraph_claim_t *out,
                             const char **detail);

/* The same against one application (tests, trustapp-admin test). */
ta_status_t ta_seraph_verify_app(apr_pool_t *p, const ta_app_t *app,
                                 const ta_msg_t *m, const ta_seraph_opts_t *opts,
                                 apr_time_t now, ta_seraph_claim_t *out,
                                 const char **detail);

/* The protocol part against one raw RSA public key and a timeout (usec,
 * 0 = none): test vectors (Atlassian's 1024-bit keys, which the registry
 * refuses) and trustapp-admin checks of a peer's certificate document. */
ta_status_t ta_seraph_verify_pkey(apr_pool_t *p, struct evp_pkey_st *pub,
                                  apr_interval_time_t timeout, const ta_msg_t *m,
                                  const ta_seraph_opts_t *opts, apr_time_t now,
                                  ta_seraph_claim_t *out, const char **detail);

/* The legacy error code for a status ("BAD_SIGNATURE", "OLD_CERT",
 * "BAD_REMOTE_IP", ...); "SYSTEM" for statuses without a legacy twin. */
const char *ta_seraph_legacy_error(ta_status_t st);

/* Full X-Seraph-Trusted-App-Error value as the Java filter formats it:
 * CODE ";\t" template ";\t" JSON array of parameters. claim (may be NULL)
 * provides app id, created and URL; remote_ip and path (may be NULL) fill
 * BAD_REMOTE_IP / BAD_XFORWARD_IP / BAD_URL. The result is a single header
 * line: control characters are JSON-escaped. */
const char *ta_seraph_error_header(apr_pool_t *p, ta_status_t st,
                                   const ta_seraph_claim_t *claim,
                                   const char *remote_ip, const char *path);

/* The same when the caller kept no claim (the module answering from a
 * verdict): app_id as claimed or identified (may be NULL), and the request
 * with the location's base URL so BAD_SIGNATURE names the URL the server
 * expected and BAD_PROTOCOL_VERSION the version received. */
const char *ta_seraph_error_header_msg(apr_pool_t *p, ta_status_t st, const char *app_id,
                                       const ta_msg_t *m, const char *base_url,
                                       const char *remote_ip, const char *path);

#endif
