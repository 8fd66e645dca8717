/* The policy engine: one protocol-neutral decision per request.
 *
 * The caller (the httpd module, or a test) describes the request (ta_msg_t),
 * the connection facts it established itself (addresses, TLS), the policy
 * configured for the location, the registry, and the time. ta_verify_request
 * then finds the credentials (native RFC 9421 signature, legacy Seraph
 * headers, or a client certificate), identifies the application, verifies
 * the cryptography, and applies every policy rule in a fixed order, cheap
 * unauthenticated checks first and 403 policy answers only after
 * authentication:
 *
 *   credentials -> parameters -> app (known, enabled) -> coverage ->
 *   clock (future/past/expires) -> keys valid now -> signature ->
 *   app may use this protocol -> client address -> path -> user ->
 *   TLS/client-certificate binding -> Content-Digest handed over
 *
 * Credentials: a signature (Signature-Input/Signature) when the location
 * accepts TA_PROTO_NATIVE, else Seraph headers when it accepts
 * TA_PROTO_SERAPH, else a verified client certificate when it accepts
 * TA_PROTO_MTLS; anything else is TA_E_NO_CREDENTIALS. Sent credentials
 * never fall back to another protocol when they fail.
 *
 * It never touches the replay cache: on success the verdict carries the
 * replay key and its lifetime, and the caller records it atomically (only the
 * caller knows whether the cache is shared between processes). */
#ifndef TA_VERIFY_H
#define TA_VERIFY_H

#include <stddef.h>
#include <apr_pools.h>
#include <apr_time.h>

#include "ta_error.h"
#include "ta_msg.h"
#include "ta_registry.h"
#include "ta_ip.h"
#include "ta_path.h"

#define TA_DEFAULT_USER_HEADER "TrustedApp-User"
#define TA_DEFAULT_SIGNATURE_LABEL "ta"
#define TA_DEFAULT_FUTURE_SKEW_SEC 30
#define TA_SERAPH_FUTURE_SKEW_SEC 900

/* Which credentials a location accepts. */
#define TA_PROTO_NATIVE 0x1  /* RFC 9421 profile */
#define TA_PROTO_SERAPH 0x2  /* legacy X-Seraph-Trusted-App-* */
#define TA_PROTO_MTLS   0x4  /* verified client certificate alone identifies the app */

/* Names a replay record (len bytes) with a TA_VERDICT_REPLAY_ID_LEN-byte id. */
typedef void ta_replay_id_fn(const void *record, size_t len, unsigned char *id);
typedef void ta_replay_id_known_fn(const unsigned char *id);

typedef struct {
  unsigned protocols;            /* TA_PROTO_* mask; 0 means TA_PROTO_NATIVE */
  int seraph_insecure_versions;  /* accept Seraph protocol 0/1 (documented as insecure) */
  const char *seraph_base_url;   /* external base URL for Seraph URL signatures; NULL: from the request */
  int future_skew_sec;           /* created may lie this far in the future (native) */
  int seraph_future_skew_sec;    /* the same for Seraph (legacy clients stamp ahead) */
  int past_limit_sec;            /* > 0: caps the app's timeout for this location */
  int replay_protection;         /* nonce required and returned for recording */
  int require_user;              /* a request without an asserted user is refused */
  const char *user_header;       /* field name carrying the acting user */
  const char *signature_label;   /* preferred RFC 9421 label */
  const ta_path_set_t *location_paths; /* NULL: no location restriction */
  int path_raw_prefix;           /* Seraph-compat raw startsWith matching (weaker); Seraph requests only */
  int require_tls;               /* refuse requests not on TLS */
  int require_client_cert;       /* signature AND registered client certificate */
  /* How replay records are named. NULL: SHA-256, the same id on every
   * server, as a cache shared between servers needs. A store of this server
   * alone may name them with a keyed hash instead: cheaper, and ids no
   * client can compute. */
  ta_replay_id_fn *replay_id;
  /* Called with the replay record's id (TA_VERDICT_REPLAY_ID_LEN bytes) as
   * soon as it is known, before the signature is verified; NULL: never. A
   * store can start fetching the id's slot then, so that recording it after
   * the verification does not wait for memory. It must have no other effect:
   * the request is not authenticated yet. */
  ta_replay_id_known_fn *replay_id_known;
} ta_policy_t;

/* Facts the caller established about the connection. */
typedef struct {
  const char *client_ip;         /* the address policy matches: peer, or the proxy walk's result */
  const char *const *hops;       /* Seraph every-hop mode: peer and each forwarded-for entry */
  size_t n_hops;                 /* 0: every-hop mode off */
  int is_tls;
  const char *client_cert_sha256;/* verified client certificate, hex SHA-256 of DER; NULL if none */
  int has_body;                  /* Content-Length > 0 or Transfer-Encoding present */
  /* Verified client certificate's RFC 2253 subject and issuer DNs (mod_ssl
   * SSL_CLIENT_S_DN / SSL_CLIENT_I_DN), for apps bound by subject; NULL if none. */
  const char *client_cert_subject;
  const char *client_cert_issuer;
} ta_conn_t;

#define TA_VERDICT_REPLAY_ID_LEN 32

typedef struct {
  ta_status_t status;
  const char *detail;            /* for logs and the optional detail header; never secrets */
  const char *protocol;          /* "native", "seraph", "mtls" or NULL */
  const ta_app_t *app;           /* identified application (also on most failures) */
  const char *claimed_app_id;    /* keyid/app id as claimed, sanitised for logs; NULL if none */
  const char *user;              /* asserted user on success */
  /* Replay record the caller must store atomically on success (key NULL: nothing). */
  const char *replay_key;
  apr_time_t replay_expires;
  /* The record's fixed-length cache id, set with replay_key: the policy's
   * replay_id (SHA-256 by default) of the record, which is the application
   * and the nonce for native requests (replay_key names the id in hex), and
   * replay_key itself for Seraph. Its bytes are uniform, as hashed stores
   * need. */
  unsigned char replay_id[TA_VERDICT_REPLAY_ID_LEN];
  /* Body integrity: when set, the caller must check the body against it. */
  const char *content_digest;    /* the covered Content-Digest field value */
  long clock_offset_sec;         /* created - now, for diagnosis */
} ta_verdict_t;

/* Defaults: native protocol only, future skew 30 s (Seraph 900 s), no
 * past cap, replay protection on, user required, TrustedApp-User header,
 * label "ta", no location paths, no TLS requirements. */
void ta_policy_init(ta_policy_t *pol);

ta_status_t ta_verify_request(apr_pool_t *p, const ta_registry_t *reg,
                              const ta_policy_t *pol, const ta_msg_t *msg,
                              const ta_conn_t *conn, apr_time_t now,
                              ta_verdict_t *out);

/* The Accept-Signature hint for a 401 under this policy, e.g.
 *   ta=("@method" "@target-uri" "trustedapp-user");created;keyid;nonce
 * NULL when the policy does not accept the native protocol. */
const char *ta_verify_accept_signature(apr_pool_t *p, const ta_policy_t *pol);

#endif
