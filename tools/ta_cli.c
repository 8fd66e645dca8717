/* trustapp-admin command framework helpers: option access, failure
 * recording, bounded file reading, duration parsing. */
#include "ta_cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

const char *ta_cli_opt(const ta_cli_t *c, const char *name)
{
  const char *found = NULL;
  for (int i = 0; i < c->opts->nelts; i++) {
    const ta_opt_value_t *ov = &APR_ARRAY_IDX(c->opts, i, ta_opt_value_t);
    if (strcmp(ov->name, name) == 0)
      found = ov->value;
  }
  return found;
}

apr_array_header_t *ta_cli_opt_all(const ta_cli_t *c, const char *name)
{
  apr_array_header_t *all = apr_array_make(c->pool, 4, sizeof(const char *));
  for (int i = 0; i < c->opts->nelts; i++) {
    const ta_opt_value_t *ov = &APR_ARRAY_IDX(c->opts, i, ta_opt_value_t);
    if (strcmp(ov->name, name) == 0)
      APR_ARRAY_PUSH(all, const char *) = ov->value;
  }
  return all;
}

int ta_cli_flag(const ta_cli_t *c, const char *name)
{
  return ta_cli_opt(c, name) != NULL;
}

const char *ta_cli_arg(const ta_cli_t *c, int i)
{
  return i < c->args->nelts ? APR_ARRAY_IDX(c->args, i, const char *) : NULL;
}

int ta_cli_fail(ta_cli_t *c, int exit_code, const char *token, const char *fix,
                const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  char *msg = apr_pvsprintf(c->pool, fmt, ap);
  va_end(ap);
  json_decref(c->error);
  c->error = json_object();
  json_object_set_new(c->error, "token", json_string(token ? token : "failed"));
  json_object_set_new(c->error, "message", json_string(msg));
  if (fix && *fix)
    json_object_set_new(c->error, "fix", json_string(fix));
  return exit_code;
}

int ta_cli_read_file(ta_cli_t *c, const char *path, size_t max, char **data, size_t *len,
                     const char **err)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *err = apr_psprintf(c->pool, "cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    *err = apr_psprintf(c->pool, "%s is not a regular file", path);
    close(fd);
    return -1;
  }
  if ((unsigned long long)st.st_size > max) {
    *err = apr_psprintf(c->pool, "%s is larger than %zu bytes", path, max);
    close(fd);
    return -1;
  }
  size_t cap = (size_t)st.st_size + 1, n = 0;
  char *buf = apr_palloc(c->pool, cap);
  for (;;) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      *err = apr_psprintf(c->pool, "cannot read %s: %s", path, strerror(errno));
      close(fd);
      return -1;
    }
    if (r == 0 || n + (size_t)r >= cap - 1) {
      n += (size_t)r;
      break;
    }
    n += (size_t)r;
  }
  close(fd);
  buf[n] = '\0';
  *data = buf;
  *len = n;
  return 0;
}

int ta_cli_parse_duration_ms(const char *s, long long *out_ms)
{
  if (s == NULL || *s < '0' || *s > '9')
    return -1;
  errno = 0;
  char *end;
  long long v = strtoll(s, &end, 10);
  if (errno != 0 || v < 0)
    return -1;
  long long mult;
  if (*end == '\0' || strcmp(end, "ms") == 0)
    mult = 1;
  else if (strcmp(end, "s") == 0)
    mult = 1000;
  else if (strcmp(end, "m") == 0)
    mult = 60000;
  else if (strcmp(end, "h") == 0)
    mult = 3600000;
  else
    return -1;
  if (v > (long long)1e12 / mult)
    return -1;
  *out_ms = v * mult;
  return 0;
}
