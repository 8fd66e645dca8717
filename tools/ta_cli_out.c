/* trustapp-admin output: one result object per command, printed either as
 * JSON (--json, stdout, one document) or as text (generic key: value
 * rendering, or the command's own preformatted text); errors go to stderr
 * in text mode with a one-line fix. */
#include "ta_cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

static void print_scalar(FILE *f, const json_t *v)
{
  switch (json_typeof(v)) {
  case JSON_STRING: fputs(json_string_value(v), f); break;
  case JSON_INTEGER: fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
  case JSON_REAL: fprintf(f, "%g", json_real_value(v)); break;
  case JSON_TRUE: fputs("yes", f); break;
  case JSON_FALSE: fputs("no", f); break;
  case JSON_NULL: fputs("-", f); break;
  default: break;
  }
}

static int is_scalar(const json_t *v)
{
  return !json_is_object(v) && !json_is_array(v);
}

static void render_object(FILE *f, const json_t *obj, int indent, int first_prefix);

static void render_value(FILE *f, const char *key, const json_t *v, int indent, const char *lead)
{
  fprintf(f, "%s%*s%s:", lead, lead[0] ? 0 : indent, "", key);
  if (is_scalar(v)) {
    fputc(' ', f);
    print_scalar(f, v);
    fputc('\n', f);
    return;
  }
  if (json_is_object(v)) {
    fputc('\n', f);
    render_object(f, v, indent + 2, 0);
    return;
  }
  size_t n = json_array_size(v);
  int all_scalar = 1;
  for (size_t i = 0; i < n; i++)
    if (!is_scalar(json_array_get(v, i)))
      all_scalar = 0;
  if (n == 0) {
    fputs(" (none)\n", f);
    return;
  }
  if (all_scalar) {
    for (size_t i = 0; i < n; i++) {
      fputs(i ? ", " : " ", f);
      print_scalar(f, json_array_get(v, i));
    }
    fputc('\n', f);
    return;
  }
  fputc('\n', f);
  for (size_t i = 0; i < n; i++) {
    const json_t *e = json_array_get(v, i);
    if (json_is_object(e))
      render_object(f, e, indent + 2, 1);
    else {
      fprintf(f, "%*s- ", indent + 2, "");
      print_scalar(f, e);
      fputc('\n', f);
    }
  }
}

/* first_prefix: the first line of this object starts a list item ("- "). */
static void render_object(FILE *f, const json_t *obj, int indent, int first_prefix)
{
  const char *key;
  json_t *v;
  int first = 1;
  json_object_foreach((json_t *)obj, key, v) {
    if (first && first_prefix) {
      char lead[64];
      snprintf(lead, sizeof lead, "%*s- ", indent, "");
      render_value(f, key, v, indent + 2, lead);
    } else {
      render_value(f, key, v, first_prefix ? indent + 2 : indent, "");
    }
    first = 0;
  }
}

void ta_out_textf(ta_cli_t *c, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  char *s = apr_pvsprintf(c->pool, fmt, ap);
  va_end(ap);
  c->text = c->text ? apr_pstrcat(c->pool, c->text, s, NULL) : s;
}

void ta_out_render(ta_cli_t *c, int exit_code)
{
  if (c->json) {
    json_t *doc = json_object();
    json_object_set_new(doc, "ok", json_boolean(exit_code == TA_EXIT_OK));
    json_object_set_new(doc, "exit_code", json_integer(exit_code));
    json_object_update(doc, c->result);
    if (c->error)
      json_object_set(doc, "error", c->error);
    char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s) {
      fputs(s, stdout);
      fputc('\n', stdout);
      free(s);
    }
    json_decref(doc);
    fflush(stdout);
    return;
  }
  if (c->text)
    fputs(c->text, stdout);
  else {
    json_t *shown = json_deep_copy(c->result);
    json_object_del(shown, "command");
    render_object(stdout, shown, 0, 0);
    json_decref(shown);
  }
  fflush(stdout);
  if (c->error) {
    const char *msg = json_string_value(json_object_get(c->error, "message"));
    const char *fix = json_string_value(json_object_get(c->error, "fix"));
    const char *token = json_string_value(json_object_get(c->error, "token"));
    fprintf(stderr, "trustapp-admin: error (%s): %s\n", token ? token : "failed", msg ? msg : "");
    if (fix)
      fprintf(stderr, "  fix: %s\n", fix);
  }
}

void ta_out_command_help(const ta_cmd_t *cmd)
{
  printf("usage: trustapp-admin %s %s\n\n%s\n", cmd->name, cmd->args, cmd->summary);
  if (cmd->opts && cmd->opts[0].name) {
    puts("\noptions:");
    for (size_t i = 0; cmd->opts[i].name; i++) {
      char left[64];
      snprintf(left, sizeof left, "--%s%s%s", cmd->opts[i].name, cmd->opts[i].value ? " " : "",
               cmd->opts[i].value ? cmd->opts[i].value : "");
      printf("  %-26s %s%s\n", left, cmd->opts[i].help, cmd->opts[i].repeatable ? " (repeatable)" : "");
    }
  }
  puts("\nglobal options: --registry FILE --cacert FILE --cert FILE --cert-key FILE\n"
       "                --connect-timeout SECONDS --json   (see trustapp-admin --help)");
  if (cmd->example)
    printf("\nexample:\n  %s\n", cmd->example);
  puts("\nexit codes: 0 ok, 1 operation failed, 2 usage, 3 registry invalid, 4 network/TLS, 5 server refused");
}
