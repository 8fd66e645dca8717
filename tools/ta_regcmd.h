/* Registry helpers shared by the registry commands and the commands that
 * register a peer from its certificate document (add --url). */
#ifndef TA_REGCMD_H
#define TA_REGCMD_H

#include <apr_time.h>

#include "ta_cli.h"
#include "ta_keys.h"
#include "ta_registry.h"

/* One key to register. */
typedef struct {
  const char *pem;
  ta_alg_t alg;                  /* TA_ALG_NONE: inferred by the loader */
  apr_time_t not_before, not_after;
  const char *fingerprint;
} ta_regcmd_key_t;

/* Loads the registry; exit 3 (registry-invalid, message "FILE:LINE: ...")
 * or 1 (missing file) recorded on failure. */
int ta_regcmd_load(ta_cli_t *c, const char *path, ta_registry_t **reg);
/* Validates a public key (PEM/DER/JWK) into a key to register (canonical
 * PEM, algorithm, fingerprint; no validity bounds). */
int ta_regcmd_public_key(ta_cli_t *c, const char *data, size_t len, const char *alg_name,
                         const char *what, ta_regcmd_key_t *out);
/* Registers application id with these keys (ta_regcmd_key_t) plus the
 * command's --name, --timeout, --ip, --path, --user-allow/--user-deny,
 * --protocols, --cert-sha256, --disabled options. */
int ta_regcmd_add_app(ta_cli_t *c, const char *id, const apr_array_header_t *keys);
/* add --url: fetch the peer's certificate document over verified HTTPS. */
int ta_regcmd_add_from_url(ta_cli_t *c, const char *base_url);
const char *ta_regcmd_time_iso(apr_pool_t *p, apr_time_t t);

extern const ta_cmd_t ta_cmd_add, ta_cmd_list, ta_cmd_show, ta_cmd_set, ta_cmd_remove,
    ta_cmd_enable, ta_cmd_disable, ta_cmd_add_key, ta_cmd_remove_key, ta_cmd_validate, ta_cmd_cert;

#endif
