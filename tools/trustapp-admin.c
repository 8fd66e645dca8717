/* trustapp-admin: manage the trusted-application registry and diagnose
 * connections. This file holds only the entry point: global options,
 * subcommand dispatch and the exit-code contract (docs/TOOL.md). */
#include "ta_cli.h"
#include "ta_regcmd.h"
#include "ta_sign.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <curl/curl.h>

static const ta_opt_spec_t global_opts[] = {
  {"registry", "FILE", 0, "registry XML (default $TRUSTAPP_REGISTRY or " TA_CLI_DEFAULT_REGISTRY ")"},
  {"cacert", "FILE", 0, "trust these CA certificates (PEM) instead of the system store"},
  {"cert", "FILE", 0, "client certificate (PEM) for mutual TLS"},
  {"cert-key", "FILE", 0, "private key of the client certificate (also --key where the command has no --key)"},
  {"connect-timeout", "SECONDS", 0, "connection + TLS handshake timeout (default 10)"},
  {"json", NULL, 0, "machine-readable output on stdout"},
  {"help", NULL, 0, "show help"},
  {NULL, NULL, 0, NULL}
};

static const ta_cmd_t *const commands[] = {
  &ta_cmd_add, &ta_cmd_list, &ta_cmd_show, &ta_cmd_set, &ta_cmd_remove,
  &ta_cmd_enable, &ta_cmd_disable, &ta_cmd_add_key, &ta_cmd_remove_key,
  &ta_cmd_validate, &ta_cmd_keygen, &ta_cmd_cert, &ta_cmd_sign, &ta_cmd_request, &ta_cmd_tls_fetch,
  NULL
};

static void print_main_help(FILE *f)
{
  fputs("usage: trustapp-admin [GLOBAL OPTIONS] COMMAND [ARGS] [OPTIONS]\n\n"
        "Manage the mod_trustedapp registry and diagnose trusted-application connections.\n\n"
        "commands:\n", f);
  for (size_t i = 0; commands[i]; i++)
    fprintf(f, "  %-12s %s\n", commands[i]->name, commands[i]->summary);
  fputs("\nglobal options (accepted before or after the command):\n", f);
  for (size_t i = 0; global_opts[i].name; i++) {
    char left[64];
    snprintf(left, sizeof left, "--%s%s%s", global_opts[i].name,
             global_opts[i].value ? " " : "", global_opts[i].value ? global_opts[i].value : "");
    fprintf(f, "  %-24s %s\n", left, global_opts[i].help);
  }
  fputs("\nexit codes: 0 ok, 1 operation failed, 2 usage, 3 registry invalid,\n"
        "            4 network/TLS, 5 server refused\n"
        "Run 'trustapp-admin COMMAND --help' for a command's options.\n", f);
}

static const ta_opt_spec_t *find_spec(const ta_opt_spec_t *specs, const char *name)
{
  if (specs == NULL)
    return NULL;
  for (size_t i = 0; specs[i].name; i++)
    if (strcmp(specs[i].name, name) == 0)
      return &specs[i];
  return NULL;
}

static const ta_cmd_t *find_command(const char *name)
{
  for (size_t i = 0; commands[i]; i++)
    if (strcmp(commands[i]->name, name) == 0)
      return commands[i];
  return NULL;
}

static int apply_global(ta_cli_t *c, const char *name, const char *value)
{
  if (strcmp(name, "registry") == 0)
    c->registry_path = value;
  else if (strcmp(name, "cacert") == 0)
    c->cacert = value;
  else if (strcmp(name, "cert") == 0)
    c->client_cert = value;
  else if (strcmp(name, "cert-key") == 0 || strcmp(name, "key") == 0)
    c->client_key = value;
  else if (strcmp(name, "json") == 0)
    c->json = 1;
  else if (strcmp(name, "connect-timeout") == 0) {
    long long ms;
    if (ta_cli_parse_duration_ms(value, &ms) != 0 || ms <= 0 || ms > 600000)
      return ta_cli_fail(c, TA_EXIT_USAGE, "usage", NULL,
                         "--connect-timeout: '%s' is not a duration between 1 ms and 600 s", value);
    /* a bare number here means seconds, as in curl --connect-timeout */
    if (strspn(value, "0123456789") == strlen(value))
      ms *= 1000;
    c->connect_timeout_ms = (long)ms;
  }
  return TA_EXIT_OK;
}

/* The value of an option that takes one: after its '=', else the next
 * argument (consumed); NULL when there is none. */
static const char *option_value(const char *eq, int argc, char **argv, int *i)
{
  if (eq)
    return eq + 1;
  if (*i + 1 < argc)
    return argv[++*i];
  return NULL;
}

/* Parses argv[from..] with the command's options plus the global ones.
 * Sets *want_help for --help. Returns an exit code (0 = parsed). */
static int parse_args(ta_cli_t *c, int argc, char **argv, int from, int *want_help)
{
  int only_positional = 0;
  for (int i = from; i < argc; i++) {
    const char *a = argv[i];
    if (only_positional || a[0] != '-' || strcmp(a, "-") == 0) {
      APR_ARRAY_PUSH(c->args, const char *) = a;
      continue;
    }
    if (strcmp(a, "--") == 0) {
      only_positional = 1;
      continue;
    }
    if (strcmp(a, "-h") == 0) {
      *want_help = 1;
      continue;
    }
    if (a[1] != '-')
      return ta_cli_fail(c, TA_EXIT_USAGE, "usage", "options are long (--name VALUE)",
                         "unknown option '%s'", a);
    const char *eq = strchr(a + 2, '=');
    const char *name = eq ? apr_pstrndup(c->pool, a + 2, (apr_size_t)(eq - a - 2)) : a + 2;
    const ta_opt_spec_t *spec = c->cmd ? find_spec(c->cmd->opts, name) : NULL;
    int is_global = 0;
    if (spec == NULL) {
      spec = find_spec(global_opts, name);
      /* --key is the mTLS key only where the command has no --key of its own */
      if (spec == NULL && strcmp(name, "key") == 0)
        spec = find_spec(global_opts, "cert-key");
      is_global = spec != NULL;
    }
    if (spec == NULL)
      return ta_cli_fail(c, TA_EXIT_USAGE, "usage", "see --help for the options",
                         "unknown option '--%s'%s%s", name, c->cmd ? " for " : "",
                         c->cmd ? c->cmd->name : "");
    const char *value = "1";
    if (spec->value) {
      if ((value = option_value(eq, argc, argv, &i)) == NULL)
        return ta_cli_fail(c, TA_EXIT_USAGE, "usage", NULL, "option '--%s' needs a value (%s)",
                           name, spec->value);
    } else if (eq) {
      return ta_cli_fail(c, TA_EXIT_USAGE, "usage", NULL, "option '--%s' takes no value", name);
    }
    if (strcmp(name, "help") == 0) {
      *want_help = 1;
      continue;
    }
    if (is_global) {
      int rc = apply_global(c, name, value);
      if (rc != TA_EXIT_OK)
        return rc;
      continue;
    }
    if (!spec->repeatable && ta_cli_opt(c, spec->name) != NULL)
      return ta_cli_fail(c, TA_EXIT_USAGE, "usage", NULL, "option '--%s' given twice", name);
    ta_opt_value_t *ov = &APR_ARRAY_PUSH(c->opts, ta_opt_value_t);
    ov->name = spec->name;
    ov->value = value;
  }
  return TA_EXIT_OK;
}

static int run(ta_cli_t *c, int argc, char **argv)
{
  int want_help = 0;
  int i = 1;
  /* global options before the command */
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      print_main_help(stdout);
      return -1;
    }
    const char *a = argv[i];
    const char *eq = strchr(a, '=');
    const char *name = a[1] == '-' ? (eq ? apr_pstrndup(c->pool, a + 2, (apr_size_t)(eq - a - 2)) : a + 2) : a;
    const ta_opt_spec_t *spec = find_spec(global_opts, name);
    if (spec == NULL && strcmp(name, "key") == 0)
      spec = find_spec(global_opts, "cert-key");
    if (spec == NULL || a[1] != '-')
      return ta_cli_fail(c, TA_EXIT_USAGE, "usage", "see trustapp-admin --help",
                         "unknown global option '%s'", a);
    const char *value = "1";
    if (spec->value && (value = option_value(eq, argc, argv, &i)) == NULL)
      return ta_cli_fail(c, TA_EXIT_USAGE, "usage", NULL, "option '%s' needs a value", a);
    int rc = apply_global(c, name, value);
    if (rc != TA_EXIT_OK)
      return rc;
  }
  if (i >= argc) {
    print_main_help(stderr);
    return TA_EXIT_USAGE;
  }
  if (strcmp(argv[i], "help") == 0) {
    const ta_cmd_t *cmd = i + 1 < argc ? find_command(argv[i + 1]) : NULL;
    if (cmd)
      ta_out_command_help(cmd);
    else
      print_main_help(stdout);
    return -1;
  }
  c->cmd = find_command(argv[i]);
  if (c->cmd == NULL)
    return ta_cli_fail(c, TA_EXIT_USAGE, "usage", "see trustapp-admin --help for the commands",
                       "unknown command '%s'", argv[i]);
  json_object_set_new(c->result, "command", json_string(c->cmd->name));
  int rc = parse_args(c, argc, argv, i + 1, &want_help);
  if (rc != TA_EXIT_OK)
    return rc;
  if (want_help) {
    ta_out_command_help(c->cmd);
    return -1;
  }
  int n = c->args->nelts;
  if (n < c->cmd->min_args || n > c->cmd->max_args)
    return ta_cli_fail(c, TA_EXIT_USAGE, "usage",
                       apr_psprintf(c->pool, "usage: trustapp-admin %s %s", c->cmd->name, c->cmd->args),
                       "%s takes %d..%d arguments, got %d", c->cmd->name, c->cmd->min_args,
                       c->cmd->max_args, n);
  return c->cmd->run(c);
}

int main(int argc, char **argv)
{
  apr_pool_t *pool;
  if (apr_initialize() != APR_SUCCESS || apr_pool_create(&pool, NULL) != APR_SUCCESS) {
    fputs("trustapp-admin: cannot initialise APR\n", stderr);
    return TA_EXIT_FAILED;
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    fputs("trustapp-admin: cannot initialise libcurl\n", stderr);
    return TA_EXIT_FAILED;
  }
  ta_cli_t cli;
  memset(&cli, 0, sizeof cli);
  cli.pool = pool;
  const char *env_registry = getenv("TRUSTAPP_REGISTRY");
  cli.registry_path = env_registry && *env_registry ? env_registry : TA_CLI_DEFAULT_REGISTRY;
  cli.connect_timeout_ms = TA_CLI_DEFAULT_CONNECT_TIMEOUT_MS;
  cli.opts = apr_array_make(pool, 8, sizeof(ta_opt_value_t));
  cli.args = apr_array_make(pool, 4, sizeof(const char *));
  cli.result = json_object();

  int rc = run(&cli, argc, argv);
  if (rc >= 0)
    ta_out_render(&cli, rc);
  else
    rc = TA_EXIT_OK;
  json_decref(cli.result);
  json_decref(cli.error);
  curl_global_cleanup();
  apr_pool_destroy(pool);
  apr_terminate();
  return rc;
}
