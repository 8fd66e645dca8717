/* The registry of trusted applications: an XML file (docs/REGISTRY.md,
 * schema lib/registry.xsd) read once at configuration time into immutable
 * structures. Loading is all-or-nothing: schema validation against the
 * embedded XSD, then semantic checks (duplicate ids and fingerprints, IP and
 * path patterns, key strength and algorithm, validity windows). Every key,
 * IP set, path set and user rule set is parsed here, never per request.
 * A loaded registry is read-only and safe to share between threads. */
#ifndef TA_REGISTRY_H
#define TA_REGISTRY_H

#include <stddef.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "ta_error.h"
#include "ta_keys.h"
#include "ta_ip.h"
#include "ta_path.h"
#include "ta_users.h"

#define TA_REGISTRY_NS "urn:mod-trustedapp:registry:1"
#define TA_REGISTRY_MAX_BYTES (64u * 1024u * 1024u)     /* larger files are refused */
#define TA_REGISTRY_DEFAULT_TIMEOUT_MS 300000          /* <timeout> absent: 5 minutes */

/* Protocols an application may use (attribute protocols="rfc9421 seraph
 * mtls"). Same bit values as ta_verify.h's TA_PROTO_* location mask. */
#define TA_APP_PROTO_RFC9421 0x1u
#define TA_APP_PROTO_SERAPH  0x2u
#define TA_APP_PROTO_MTLS    0x4u
#define TA_APP_PROTO_ALL     0x7u  /* attribute absent: the location decides */

typedef struct {
  ta_key_t *key;
  ta_alg_t alg;
  const char *fingerprint;           /* ta_key_fingerprint(): "SHA256:" + base64, always set */
  const char *pem;                   /* the key text as registered */
  apr_time_t not_before, not_after;  /* 0 = unbounded */
} ta_app_key_t;

typedef struct {
  const char *id, *name;
  int enabled;
  ta_app_key_t *keys; size_t n_keys;            /* rotation: any key valid now may verify */
  apr_interval_time_t timeout;                  /* usec; XML <timeout> is in milliseconds like Jira; 0 = no age check (Seraph compat only) */
  const char **ip_patterns; size_t n_ip;  const ta_ip_set_t *ips;     /* native: empty allows nothing; Seraph: empty allows all */
  const char **path_prefixes; size_t n_path; const ta_path_set_t *paths; /* same rule */
  const char **users_allow; size_t n_users_allow; const char **users_deny; size_t n_users_deny;
  const ta_user_rules_t *users;
  const char *client_cert_sha256;               /* lower-case hex of the DER cert's SHA-256, or NULL */
  const char *client_cert_subject, *client_cert_issuer; /* alternative binding, RFC 2253 strings, or NULL */
  /* Additions beyond the shared contract: */
  unsigned protocols;                           /* TA_APP_PROTO_* mask */
  int line;                                     /* line of <application> in the file, for messages */
} ta_app_t;

/* This server's own identity: <self id=".." name=".." key-file=".."/>. */
typedef struct {
  const char *id;
  const char *name;                             /* NULL when absent */
  const char *key_file;                         /* private key path as written; NULL when absent */
} ta_self_t;

typedef struct ta_registry ta_registry_t;

/* Parse + validate against the embedded schema + semantic checks; all-or-nothing.
 * *err = "FILE:LINE: message naming the value". */
ta_status_t ta_registry_load(apr_pool_t *p, const char *path, ta_registry_t **out, const char **err);
ta_status_t ta_registry_parse(apr_pool_t *p, const char *xml, size_t len, const char *name,
                              ta_registry_t **out, const char **err);
const ta_app_t *ta_registry_find(const ta_registry_t *r, const char *id);          /* O(1) hash */
const ta_app_t *ta_registry_find_by_cert(const ta_registry_t *r, const char *sha256_hex); /* case-insensitive hex */
size_t ta_registry_count(const ta_registry_t *r);
const ta_app_t *ta_registry_app(const ta_registry_t *r, size_t i);                 /* document order */
/* NULL when the file has no <self>. */
const ta_self_t *ta_registry_self(const ta_registry_t *r);
/* Non-fatal findings ("FILE:LINE: key ... of application 'x' expired ..."),
 * as an array of const char *; never NULL (possibly empty). */
const apr_array_header_t *ta_registry_warnings(const ta_registry_t *r);
/* The source name given to parse, or the path given to load. */
const char *ta_registry_source(const ta_registry_t *r);

/* 1 when the key's validity window contains now (bounds inclusive). */
int ta_app_key_valid_at(const ta_app_key_t *k, apr_time_t now);
/* Number of the app's keys valid at now. */
size_t ta_app_valid_key_count(const ta_app_t *a, apr_time_t now);

/* The schema text (lib/registry.xsd), NUL-terminated, for `trustapp-admin`
 * and tests. */
const char *ta_registry_schema(size_t *len);

/* The hardened XML parse the loader uses, shared with the writer: size
 * bound, no network, no entity substitution, no DTD (a DOCTYPE is refused
 * before any declaration is processed), big line numbers. *doc receives an
 * xmlDocPtr (void * keeps libxml2 headers out) that the caller frees with
 * xmlFreeDoc. TA_E_CONFIG with *err = "NAME:LINE: message". */
ta_status_t ta_registry_read_xml(apr_pool_t *p, const char *xml, size_t len, const char *name,
                                 void **doc, const char **err);

/* Strict parse of the protocols attribute ("rfc9421 seraph mtls", any order,
 * separated by whitespace, no duplicates). TA_E_CONFIG with *err naming the
 * bad token. */
ta_status_t ta_registry_parse_protocols(apr_pool_t *p, const char *text, unsigned *mask,
                                        const char **err);

#endif
