/* trustapp-admin internals: the command framework shared by every
 * subcommand (option parsing, global options, result and error reporting).
 * Tool-only; the library never includes this. */
#ifndef TA_CLI_H
#define TA_CLI_H

#include <stddef.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

/* Documented exit codes (docs/TOOL.md). */
enum {
  TA_EXIT_OK = 0,
  TA_EXIT_FAILED = 1,    /* the operation failed (bad input file, unknown ID, crypto) */
  TA_EXIT_USAGE = 2,     /* command line error */
  TA_EXIT_REGISTRY = 3,  /* the registry file is invalid */
  TA_EXIT_NETWORK = 4,   /* connection, TLS or proxy failure */
  TA_EXIT_REFUSED = 5    /* the server answered but refused the request */
};

#define TA_CLI_DEFAULT_REGISTRY "/etc/apache2/trustedapp/registry.xml"
#define TA_CLI_DEFAULT_CONNECT_TIMEOUT_MS 10000L

typedef struct {
  const char *name;    /* long option without "--" */
  const char *value;   /* metavar ("FILE"); NULL for a flag */
  int repeatable;
  const char *help;
} ta_opt_spec_t;

typedef struct ta_cli ta_cli_t;
typedef int (*ta_cmd_fn)(ta_cli_t *cli);

typedef struct {
  const char *name;
  const char *args;              /* positional synopsis, e.g. "ID FILE" */
  const char *summary;
  const ta_opt_spec_t *opts;     /* terminated by a {NULL} entry; may be NULL */
  int min_args, max_args;
  ta_cmd_fn run;
  const char *example;           /* shown by --help */
} ta_cmd_t;

typedef struct {
  const char *name;
  const char *value;             /* "1" for flags */
} ta_opt_value_t;

struct ta_cli {
  apr_pool_t *pool;
  const ta_cmd_t *cmd;
  /* global options */
  const char *registry_path;
  const char *cacert;
  const char *client_cert;
  const char *client_key;
  long connect_timeout_ms;
  int json;
  /* this command's parsed options (ta_opt_value_t) and positionals (const char *) */
  apr_array_header_t *opts;
  apr_array_header_t *args;
  /* what the command reports: result object (always), error object (on failure),
   * and optional preformatted text that replaces the generic text rendering */
  json_t *result;
  json_t *error;
  const char *text;
};

/* Option access: last value given, every value given (repeatable), flag set. */
const char *ta_cli_opt(const ta_cli_t *c, const char *name);
apr_array_header_t *ta_cli_opt_all(const ta_cli_t *c, const char *name);
int ta_cli_flag(const ta_cli_t *c, const char *name);
const char *ta_cli_arg(const ta_cli_t *c, int i);

/* Records the failure (token is stable, message names the bad value, fix is
 * one line or NULL) and returns exit_code, so commands can `return ta_cli_fail(...)`. */
int ta_cli_fail(ta_cli_t *c, int exit_code, const char *token, const char *fix,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Output (ta_cli_out.c): print the result/error in text or JSON form. */
void ta_out_render(ta_cli_t *c, int exit_code);
/* Appends formatted text to c->text (text mode override). */
void ta_out_textf(ta_cli_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the command's help to stdout. */
void ta_out_command_help(const ta_cmd_t *cmd);

/* Small helpers shared by commands. */
/* Reads a whole file (at most max bytes) into pool memory, NUL-terminated. */
int ta_cli_read_file(ta_cli_t *c, const char *path, size_t max, char **data, size_t *len,
                     const char **err);
/* Writes a file with the given mode; exclusive: refuse to replace an existing file. */
int ta_cli_write_file(ta_cli_t *c, const char *path, const char *data, size_t len,
                      unsigned mode, int exclusive, const char **err);
/* Parses a non-negative integer with an optional unit suffix (ms, s, m, h) into
 * milliseconds; bare numbers are milliseconds (like Jira's timeout field). */
int ta_cli_parse_duration_ms(const char *s, long long *out_ms);

/* Algorithm from a command-line name: registry names ("ecdsa-p256-sha256")
 * or the short forms ed25519, ecdsa-p256, ecdsa-p384, rsa (= rsa-pss-sha512),
 * rsa-pss, rsa-v1_5. Returns 0 (TA_ALG_NONE) when unknown. */
int ta_cli_alg(const char *name);
/* Loads a private key file (alg_name may be NULL to infer). Records the
 * failure and returns an exit code, or TA_EXIT_OK with *key set. */
struct ta_key;
int ta_cli_load_private_key(ta_cli_t *c, const char *path, const char *alg_name,
                            struct ta_key **key);

/* Command tables contributed by each concern. */
extern const ta_cmd_t ta_cmd_tls_fetch, ta_cmd_keygen;

#endif
