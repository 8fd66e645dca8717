/* Editing the registry file (used by trustapp-admin).
 *
 * ta_regdoc_t is an editable model of one registry document: the libxml2
 * tree itself, so comments and the order of unknown-to-the-editor content
 * survive an edit. Edit functions change the tree only; nothing is checked
 * beyond the arguments until the whole document is validated.
 *
 * ta_registry_update() is the only way the tool writes the file:
 *   lock "<registry>.lock" (fcntl F_SETLKW, blocking), re-read the current
 *   file under the lock, call the caller's edit callback, serialise and
 *   validate the result with the very loader the module uses (invalid:
 *   nothing is written and *err says why), write "<dir>/.<name>.XXXXXX",
 *   fsync it, give it the original file's mode and owner (new file: 0644),
 *   rename it over the registry, fsync the directory, unlock.
 * So concurrent writers serialise and never lose each other's changes, and
 * a crash at any point leaves either the old or the new complete file. */
#ifndef TA_REGISTRY_WRITE_H
#define TA_REGISTRY_WRITE_H

#include <stddef.h>
#include <apr_pools.h>
#include <apr_time.h>

#include "ta_error.h"
#include "ta_keys.h"
#include "ta_registry.h"

typedef struct ta_regdoc ta_regdoc_t;

/* Which repeated element of an application a list operation addresses. */
typedef enum {
  TA_REGDOC_IP = 0,      /* <ip> */
  TA_REGDOC_PATH,        /* <path> */
  TA_REGDOC_USER_ALLOW,  /* <user-allow> */
  TA_REGDOC_USER_DENY    /* <user-deny> */
} ta_regdoc_list_t;

/* An empty registry (<registry version="1"/>). */
ta_status_t ta_regdoc_new(apr_pool_t *p, ta_regdoc_t **out);
/* Parse an existing document (well-formedness only; no schema check, so a
 * broken file can still be repaired by an edit). */
ta_status_t ta_regdoc_parse(apr_pool_t *p, const char *xml, size_t len, const char *name,
                            ta_regdoc_t **out, const char **err);
/* Indented UTF-8 text, NUL-terminated, allocated from p. */
ta_status_t ta_regdoc_serialize(const ta_regdoc_t *d, apr_pool_t *p, char **xml, size_t *len);
/* Full validation: exactly ta_registry_parse() on the serialised text. */
ta_status_t ta_regdoc_validate(const ta_regdoc_t *d, apr_pool_t *p, ta_registry_t **out,
                               const char **err);

/* All edit functions return TA_OK, or TA_E_CONFIG with *err (may be NULL)
 * saying why (unknown application, duplicate id, missing key...). */
int ta_regdoc_has_app(const ta_regdoc_t *d, const char *id);
/* New <application id enabled="true"> at the end; name NULL = no name. */
ta_status_t ta_regdoc_add_app(ta_regdoc_t *d, const char *id, const char *name, const char **err);
ta_status_t ta_regdoc_remove_app(ta_regdoc_t *d, const char *id, const char **err);
/* name NULL removes the attribute. */
ta_status_t ta_regdoc_set_name(ta_regdoc_t *d, const char *id, const char *name, const char **err);
ta_status_t ta_regdoc_set_enabled(ta_regdoc_t *d, const char *id, int enabled, const char **err);
/* protocols NULL removes the attribute (all protocols, the location decides). */
ta_status_t ta_regdoc_set_protocols(ta_regdoc_t *d, const char *id, const char *protocols,
                                    const char **err);
/* ms < 0 removes <timeout> (default applies). */
ta_status_t ta_regdoc_set_timeout_ms(ta_regdoc_t *d, const char *id, long long ms, const char **err);
/* Replace the whole list (n = 0 clears it). */
ta_status_t ta_regdoc_set_list(ta_regdoc_t *d, const char *id, ta_regdoc_list_t which,
                               const char *const *values, size_t n, const char **err);
/* Append one value unless already present (then TA_OK, no change). */
ta_status_t ta_regdoc_add_list_item(ta_regdoc_t *d, const char *id, ta_regdoc_list_t which,
                                    const char *value, const char **err);
/* Remove one value; TA_E_CONFIG when absent. */
ta_status_t ta_regdoc_remove_list_item(ta_regdoc_t *d, const char *id, ta_regdoc_list_t which,
                                       const char *value, const char **err);
/* Add a <key>: pem is the public key text; alg TA_ALG_NONE omits the
 * attribute (inferred from the key, not allowed for RSA); not_before /
 * not_after 0 = unbounded; the fingerprint attribute is computed and
 * written so the loader checks it. Refuses a key the application already has. */
ta_status_t ta_regdoc_add_key(ta_regdoc_t *d, const char *id, const char *pem, ta_alg_t alg,
                              apr_time_t not_before, apr_time_t not_after, const char **err);
/* Remove the key whose fingerprint ("SHA256:...") matches. */
ta_status_t ta_regdoc_remove_key(ta_regdoc_t *d, const char *id, const char *fingerprint,
                                 const char **err);
/* Client-certificate binding: sha256 (64 hex digits) or subject (+ optional
 * issuer); all NULL removes <client-cert>. */
ta_status_t ta_regdoc_set_client_cert(ta_regdoc_t *d, const char *id, const char *sha256_hex,
                                      const char *subject, const char *issuer, const char **err);
/* <self>: id NULL removes it; name/key_file NULL omit the attribute. */
ta_status_t ta_regdoc_set_self(ta_regdoc_t *d, const char *id, const char *name,
                               const char *key_file, const char **err);

/* The caller's edit, run under the lock on the freshly re-read document.
 * Return TA_OK to commit, anything else to abort (nothing is written). */
typedef ta_status_t (*ta_registry_edit_fn)(ta_regdoc_t *doc, void *baton, const char **err);

#define TA_REGISTRY_CREATE 0x1  /* a missing or empty file starts as an empty registry */

/* Locked read-modify-validate-write (see the top of this file). On success
 * *out (may be NULL) is the registry as written. Errors: TA_E_CONFIG (the
 * edit or the result is invalid; the file is unchanged) or TA_E_INTERNAL
 * (I/O; *err names the file and the system error). */
ta_status_t ta_registry_update(apr_pool_t *p, const char *path, int flags,
                               ta_registry_edit_fn edit, void *baton,
                               ta_registry_t **out, const char **err);

/* Test hook: when set, called with the temp file's path after it is fully
 * written and fsynced and before the rename (a test kills the process here
 * to simulate a crash). Process-global; NULL to clear. */
void ta_registry_set_prerename_hook(void (*hook)(const char *tmp_path));

#endif
