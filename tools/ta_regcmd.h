/* Registry helpers shared by the registry commands and the commands that
 * register a peer from its certificate document (add --url). */
#ifndef TA_REGCMD_H
#define TA_REGCMD_H

#include <apr_time.h>

#include "ta_cli.h"
#include "ta_keys.h"
#include "ta_registry.h"

/* Loads the registry; exit 3 (registry-invalid, message "FILE:LINE: ...")
 * or 1 (missing file) recorded on failure. */
int ta_regcmd_load(ta_cli_t *c, const char *path, ta_registry_t **reg);
/* Validates a public key (PEM/DER/JWK) and returns its canonical PEM, the
 * algorithm to register (TA_ALG_NONE = inferred) and its fingerprint. */
int ta_regcmd_public_key(ta_cli_t *c, const char *data, size_t len, const char *alg_name,
                         const char *what, const char **pem, ta_alg_t *alg, const char **fp);
/* Registers application id with this key plus the command's --name,
 * --timeout, --ip, --path, --user-allow/--user-deny, --protocols options. */
int ta_regcmd_add_app(ta_cli_t *c, const char *id, const char *key_data, size_t key_len,
                      const char *what, const char *alg_name);
/* add --url: fetch the peer's certificate document over verified HTTPS. */
int ta_regcmd_add_from_url(ta_cli_t *c, const char *base_url);
const char *ta_regcmd_time_iso(apr_pool_t *p, apr_time_t t);

extern const ta_cmd_t ta_cmd_add, ta_cmd_list, ta_cmd_show, ta_cmd_set, ta_cmd_remove,
    ta_cmd_enable, ta_cmd_disable, ta_cmd_add_key, ta_cmd_remove_key, ta_cmd_validate;

#endif
