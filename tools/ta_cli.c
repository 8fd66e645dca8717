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

#include "ta_keys.h"

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
    *err = apr_psprintf(c->pool, "%s is larger than %lu bytes", path, (unsigned long)max);
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

int ta_cli_write_file(ta_cli_t *c, const char *path, const char *data, size_t len,
                      unsigned mode, int exclusive, const char **err)
{
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC);
  int fd = open(path, flags, (mode_t)mode);
  if (fd < 0) {
    *err = apr_psprintf(c->pool, "cannot create %s: %s", path, strerror(errno));
    return -1;
  }
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(fd, data + off, len - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0) {
      *err = apr_psprintf(c->pool, "cannot write %s: %s", path, strerror(errno));
      close(fd);
      return -1;
    }
    off += (size_t)w;
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    *err = apr_psprintf(c->pool, "cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  return 0;
}

int ta_cli_alg(const char *name)
{
  static const struct { const char *shorthand; ta_alg_t alg; } aliases[] = {
    {"ecdsa-p256", TA_ALG_ECDSA_P256_SHA256}, {"ecdsa-p384", TA_ALG_ECDSA_P384_SHA384},
    {"rsa", TA_ALG_RSA_PSS_SHA512}, {"rsa-pss", TA_ALG_RSA_PSS_SHA512},
    {"rsa-v1_5", TA_ALG_RSA_V1_5_SHA256}, {NULL, TA_ALG_NONE}
  };
  if (name == NULL)
    return TA_ALG_NONE;
  for (size_t i = 0; aliases[i].shorthand; i++)
    if (strcmp(aliases[i].shorthand, name) == 0)
      return aliases[i].alg;
  ta_alg_t alg = ta_alg_from_name(name);
  return alg == TA_ALG_HMAC_SHA256 ? TA_ALG_NONE : alg;
}

int ta_cli_load_private_key(ta_cli_t *c, const char *path, const char *alg_name,
                            struct ta_key **key)
{
  ta_alg_t alg = TA_ALG_NONE;
  if (alg_name && (alg = (ta_alg_t)ta_cli_alg(alg_name)) == TA_ALG_NONE)
    return ta_cli_fail(c, TA_EXIT_USAGE, "usage",
                       "use ed25519, ecdsa-p256, ecdsa-p384, rsa-pss-sha512 or rsa-v1_5-sha256",
                       "unknown algorithm '%s'", alg_name);
  char *pem;
  size_t len;
  const char *err;
  if (ta_cli_read_file(c, path, 1024 * 1024, &pem, &len, &err) != 0)
    return ta_cli_fail(c, TA_EXIT_FAILED, "key-unreadable", NULL, "%s", err);
  if (ta_key_load_private(c->pool, pem, len, alg, key, &err) != TA_OK)
    return ta_cli_fail(c, TA_EXIT_FAILED, ta_error_token(TA_E_KEY_INVALID),
                       alg == TA_ALG_NONE ? "an RSA key needs --alg rsa-pss-sha512 or rsa-v1_5-sha256"
                                          : ta_error_fix(TA_E_KEY_INVALID),
                       "%s: %s", path, err ? err : "not a usable private key");
  return TA_EXIT_OK;
}
