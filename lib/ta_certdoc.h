/* The native application certificate document: what a peer publishes at
 * TA_CERTDOC_PATH so that others can register it (trustapp-admin add
 * --url BASE fetches it, trustapp-admin cert prints it, the module can
 * serve it). JSON, format "trustedapp-certificate/1"; the exact format is
 * in docs/CERTIFICATE.md. Parsing is strict and bounded: types checked,
 * every key loaded and its fingerprint cross-checked; unknown members are
 * ignored so later minor additions stay readable. */
#ifndef TA_CERTDOC_H
#define TA_CERTDOC_H

#include <stddef.h>
#include <apr_pools.h>
#include <apr_time.h>

#include "ta_error.h"
#include "ta_keys.h"

#define TA_CERTDOC_PATH "/.well-known/trustedapp-certificate"
#define TA_CERTDOC_FORMAT "trustedapp-certificate/1"
#define TA_CERTDOC_MEDIA_TYPE "application/json"
#define TA_CERTDOC_MAX_BYTES (64 * 1024)
#define TA_CERTDOC_MAX_KEYS 16
#define TA_CERTDOC_MAX_PROTOCOLS 8
#define TA_CERTDOC_MAX_ID 256       /* bytes, visible ASCII */
#define TA_CERTDOC_MAX_NAME 1024    /* bytes of UTF-8 */
#define TA_CERTDOC_PROTO_RFC9421 "rfc9421"
#define TA_CERTDOC_PROTO_SERAPH "seraph"

typedef struct {
  ta_key_t *key;               /* loaded public key (pool-owned) */
  ta_alg_t alg;
  const char *public_key_pem;  /* SPKI PEM as published */
  const char *fingerprint;     /* "SHA256:..." (ta_key_fingerprint) */
  apr_time_t not_before;       /* 0 = unbounded */
  apr_time_t not_after;        /* 0 = unbounded */
} ta_certdoc_key_t;

typedef struct {
  const char *id;              /* application id peers register it under */
  const char *name;            /* display name, NULL when absent */
  ta_certdoc_key_t *keys;
  size_t n_keys;
  const char **protocols;      /* e.g. "rfc9421", "seraph"; unknown tokens kept */
  size_t n_protocols;
  /* The optional "seraph" member, owned by the Seraph component: kept as
   * compact JSON text of an object (NULL when absent), round-tripped as is. */
  const char *seraph_json;
} ta_certdoc_t;

/* TA_OK or TA_E_CERTDOC_INVALID with *err (may be NULL) naming the member
 * at fault, e.g. "keys[1].fingerprint: does not match the public key". */
ta_status_t ta_certdoc_parse(apr_pool_t *p, const char *body, size_t len,
                             ta_certdoc_t **out, const char **err);

/* Canonical serialization (members in the documented order, two-space
 * indent, trailing newline); NULL when doc breaks a rule ta_certdoc_parse
 * enforces, so whatever we publish parses back. */
char *ta_certdoc_serialize(apr_pool_t *p, const ta_certdoc_t *doc);

/* Builders for the publishing side (tool, module). */
ta_certdoc_t *ta_certdoc_make(apr_pool_t *p, const char *id, const char *name);
/* Adds a key's public half (PEM and fingerprint derived from key); TA_OK,
 * TA_E_KEY_INVALID (HMAC key, or not_after <= not_before) or
 * TA_E_CERTDOC_INVALID (too many keys). */
ta_status_t ta_certdoc_add_key(apr_pool_t *p, ta_certdoc_t *doc, ta_key_t *key,
                               apr_time_t not_before, apr_time_t not_after);
/* TA_OK or TA_E_CERTDOC_INVALID (bad token, duplicate, too many). */
ta_status_t ta_certdoc_add_protocol(apr_pool_t *p, ta_certdoc_t *doc, const char *proto);
int ta_certdoc_has_protocol(const ta_certdoc_t *doc, const char *proto);

/* Keys valid at now (not_before <= now < not_after, 0 bounds open). */
int ta_certdoc_key_valid_at(const ta_certdoc_key_t *k, apr_time_t now);

/* RFC 3339 UTC timestamps as used in the document: "2026-01-31T23:59:59Z"
 * exactly (no fraction, no offset other than Z). */
ta_status_t ta_certdoc_parse_time(const char *s, apr_time_t *out);
char *ta_certdoc_format_time(apr_pool_t *p, apr_time_t t);

#endif
