/* sign: produce the headers that authenticate one request, in the native
 * RFC 9421 profile or the legacy Seraph protocol. */
#include "ta_cli.h"
#include "ta_sign.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_time.h>
#include <openssl/rand.h>

#include "ta_b64.h"
#include "ta_digest.h"
#include "ta_httpsig.h"
#include "ta_keys.h"
#include "ta_msg.h"
#include "ta_msg_text.h"
#include "ta_seraph_codec.h"

#define DEFAULT_USER_HEADER "TrustedApp-User"
#define DEFAULT_TTL_SEC 60

/* scheme://authority/path?query#frag -> message fields, keeping the path
 * and query exactly as they will be sent. */
static int msg_from_url(ta_cli_t *c, const char *url, ta_msg_t *m)
{
  const char *sep = strstr(url, "://");
  if (sep == NULL)
    goto bad;
  char *scheme = apr_pstrndup(c->pool, url, (apr_size_t)(sep - url));
  for (char *s = scheme; *s; s++)
    *s = (char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s);
  if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
    goto bad;
  const char *rest = sep + 3;
  size_t alen = strcspn(rest, "/?#");
  const char *authority = apr_pstrndup(c->pool, rest, alen);
  if (strchr(authority, '@'))
    goto bad;
  m->scheme = scheme;
  m->authority = ta_msg_normalize_authority(c->pool, scheme, authority);
  if (m->authority == NULL)
    goto bad;
  const char *target = rest + alen;
  size_t tlen = strcspn(target, "#");
  target = apr_pstrndup(c->pool, target, tlen);
  const char *q = strchr(target, '?');
  m->path = q ? apr_pstrndup(c->pool, target, (apr_size_t)(q - target)) : target;
  if (*m->path == '\0')
    m->path = "/";
  m->query = q ? q + 1 : NULL;
  for (const char *s = target; *s; s++)
    if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
      goto bad;
  return TA_EXIT_OK;
bad:
  return ta_cli_fail(c, TA_EXIT_USAGE, "usage", "give --url as http(s)://host[:port]/path?query (percent-encoded)",
                     "--url '%s' is not an absolute http(s) URL", url);
}

static int parse_epoch(ta_cli_t *c, const char *opt, const char *s, long long *out)
{
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < 0 || v > TA_HTTPSIG_MAX_TIME)
    return ta_cli_fail(c, TA_EXIT_USAGE, "usage", "seconds since 1970-01-01 UTC", "--%s '%s' is not an epoch time",
                       opt, s);
  *out = v;
  return TA_EXIT_OK;
}

static void add_line(ta_cli_t *c, ta_signed_req_t *out, ta_msg_t *m, const char *name, const char *value)
{
  if (m)
    ta_msg_add_field(m, name, value);
  APR_ARRAY_PUSH(out->added, const char *) = apr_pstrcat(c->pool, name, ": ", value, NULL);
}

static int sign_seraph(ta_cli_t *c, ta_signed_req_t *out, const char *user)
{
  const char *alg = ta_cli_opt(c, "alg") ? ta_cli_opt(c, "alg") : "rsa-v1_5-sha256";
  ta_key_t *key;
  /* The Seraph certificate names the acting user: there is no request without one. */
  if (user == NULL || *user == '\0')
    return ta_cli_fail(c, TA_EXIT_USAGE, "usage", "give --user USER", "Seraph needs --user");
  int rc = ta_cli_load_private_key(c, ta_cli_opt(c, "key"), alg, (struct ta_key **)&key);
  if (rc != TA_EXIT_OK)
    return rc;
  int version = 2;
  const char *v = ta_cli_opt(c, "seraph-version");
  if (v && (strlen(v) != 1 || v[0] < '0' || v[0] > '3'))
    return ta_cli_fail(c, TA_EXIT_USAGE, "usage", "use 2 (default) or 3; 0/1 are insecure", "--seraph-version '%s'", v);
  if (v)
    version = v[0] - '0';
  apr_time_t created = out->created >= 0 ? apr_time_from_sec(out->created) : apr_time_now();
  ta_seraph_headers_t h;
  const char *err = NULL;
  ta_status_t st = ta_seraph_sign(c->pool, key, out->keyid, user ? user : "", out->url, version, created, &h, &err);
  if (st != TA_OK)
    return ta_cli_fail(c, TA_EXIT_FAILED, ta_error_token(st), ta_error_fix(st), "cannot sign (Seraph): %s",
                       err ? err : ta_error_summary(st));
  apr_array_header_t *fields = ta_seraph_headers_fields(c->pool, &h);
  for (int i = 0; i < fields->nelts; i++) {
    const ta_field_t *f = &APR_ARRAY_IDX(fields, i, ta_field_t);
    add_line(c, out, NULL, f->name, f->value);
  }
  out->created = apr_time_sec(created);
  return TA_EXIT_OK;
}

int ta_sign_from_options(ta_cli_t *c, ta_signed_req_t *out)
{
  memset(out, 0, sizeof *out);
  out->extra = apr_array_make(c->pool, 4, sizeof(const char *));
  out->added = apr_array_make(c->pool, 6, sizeof(const char *));
  out->created = -1;
  out->protocol = ta_cli_opt(c, "protocol") ? ta_cli_opt(c, "protocol") : "native";
  out->method = ta_cli_opt(c, "method") ? ta_cli_opt(c, "method") : "GET";
  out->url = ta_cli_opt(c, "url");
  out->keyid = ta_cli_opt(c, "id");
  if (strcmp(out->protocol, "native") != 0 && strcmp(out->protocol, "seraph") != 0 &&
      strcmp(out->protocol, "none") != 0)
    return ta_cli_fail(c, TA_EXIT_USAGE, "usage", "use --protocol native, seraph or none",
                       "unknown --protocol '%s'", out->protocol);
  int needs_key = strcmp(out->protocol, "none") != 0;
  if (out->url == NULL || (needs_key && (ta_cli_opt(c, "key") == NULL || out->keyid == NULL)))
    return ta_cli_fail(c, TA_EXIT_USAGE, "usage", "give --key FILE --id ID --url URL",
                       "missing %s", out->url == NULL ? "--url" : ta_cli_opt(c, "key") == NULL ? "--key" : "--id");
  for (const char *s = out->method; *s; s++)
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '-'))
      return ta_cli_fail(c, TA_EXIT_USAGE, "usage", NULL, "--method '%s' is not an HTTP method token", out->method);
  ta_msg_t *m = ta_msg_make(c->pool);
  m->method = out->method;
  int rc = msg_from_url(c, out->url, m);
  if (rc != TA_EXIT_OK)
    return rc;
  const char *created_s = ta_cli_opt(c, "created");
  if (created_s && (rc = parse_epoch(c, "created", created_s, &out->created)))
    return rc;

  /* extra headers are part of the message (and may be covered with --cover) */
  apr_array_header_t *hdrs = ta_cli_opt_all(c, "header");
  for (int i = 0; i < hdrs->nelts; i++) {
    const char *line = APR_ARRAY_IDX(hdrs, i, const char *);
    const char *colon = strchr(line, ':');
    if (colon == NULL || colon == line || strpbrk(line, "\r\n"))
      return ta_cli_fail(c, TA_EXIT_USAGE, "usage", "--header 'Name: value'", "--header '%s' is malformed", line);
    const char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
      v++;
    ta_msg_add_field(m, apr_pstrndup(c->pool, line, (apr_size_t)(colon - line)), v);
    APR_ARRAY_PUSH(out->extra, const char *) = line;
  }
  const char *body_file = ta_cli_opt(c, "body-file");
  if (ta_cli_opt(c, "body") && body_file)
    return ta_cli_fail(c, TA_EXIT_USAGE, "usage", NULL, "give --body or --body-file, not both");
  if (ta_cli_opt(c, "body")) {
    out->body = ta_cli_opt(c, "body");
    out->body_len = strlen(out->body);
  } else if (body_file) {
    char *data;
    const char *err;
    if (ta_cli_read_file(c, body_file, 64 * 1024 * 1024, &data, &out->body_len, &err) != 0)
      return ta_cli_fail(c, TA_EXIT_FAILED, "body-unreadable", NULL, "%s", err);
    out->body = data;
  }
  const char *user = ta_cli_opt(c, "user");
  if (strcmp(out->protocol, "none") == 0)
    return TA_EXIT_OK;
  if (strcmp(out->protocol, "seraph") == 0)
    return sign_seraph(c, out, user);

  ta_key_t *key;
  if ((rc = ta_cli_load_private_key(c, ta_cli_opt(c, "key"), ta_cli_opt(c, "alg"), (struct ta_key **)&key)))
    return rc;
  const char *covered[32];
  size_t n = 0;
  covered[n++] = "@method";
  covered[n++] = "@target-uri";
  const char *user_header = ta_cli_opt(c, "user-header") ? ta_cli_opt(c, "user-header") : DEFAULT_USER_HEADER;
  if (user) {
    if (strpbrk(user, "\r\n") || strlen(user) > 256)
      return ta_cli_fail(c, TA_EXIT_USAGE, "usage", ta_error_fix(TA_E_USER_INVALID), "--user is malformed");
    add_line(c, out, m, user_header, user);
    covered[n++] = apr_pstrdup(c->pool, user_header);
    for (char *s = (char *)covered[n - 1]; *s; s++)
      *s = (char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s);
  }
  if (out->body) {
    const char *dname = ta_cli_opt(c, "digest") ? ta_cli_opt(c, "digest") : "sha-256";
    ta_digest_alg_t dalg = ta_digest_alg_from_name(dname);
    if (dalg == TA_DIGEST_NONE)
      return ta_cli_fail(c, TA_EXIT_USAGE, "usage", "use sha-256 or sha-512", "unknown --digest '%s'", dname);
    add_line(c, out, m, TA_DIGEST_FIELD, ta_digest_field_value(c->pool, dalg, out->body, out->body_len));
    covered[n++] = "content-digest";
  }
  apr_array_header_t *more = ta_cli_opt_all(c, "cover");
  for (int i = 0; i < more->nelts && n < 32; i++)
    covered[n++] = APR_ARRAY_IDX(more, i, const char *);

  ta_httpsig_sign_params_t sp;
  memset(&sp, 0, sizeof sp);
  sp.label = ta_cli_opt(c, "label") ? ta_cli_opt(c, "label") : TA_HTTPSIG_DEFAULT_LABEL;
  sp.components = covered;
  sp.n_components = n;
  if (out->created < 0)
    out->created = (long long)apr_time_sec(apr_time_now());
  sp.created = out->created;
  sp.expires = -1;
  const char *exp_s = ta_cli_opt(c, "expires");
  const char *ttl_s = ta_cli_opt(c, "ttl");
  if (exp_s) {
    long long e = 0;
    if ((rc = parse_epoch(c, "expires", exp_s, &e)))
      return rc;
    sp.expires = e;
  } else {
    long long ttl = DEFAULT_TTL_SEC;
    if (ttl_s && (rc = parse_epoch(c, "ttl", ttl_s, &ttl)))
      return rc;
    if (ttl > 0)
      sp.expires = out->created + ttl;
  }
  sp.keyid = out->keyid;
  sp.alg = ta_cli_opt(c, "alg") ? ta_alg_name(ta_key_alg(key)) : NULL;
  if (!ta_cli_flag(c, "no-nonce")) {
    out->nonce = ta_cli_opt(c, "nonce");
    if (out->nonce == NULL) {
      unsigned char rnd[18];
      if (RAND_bytes(rnd, sizeof rnd) != 1)
        return ta_cli_fail(c, TA_EXIT_FAILED, "internal", NULL, "no randomness for the nonce");
      out->nonce = ta_b64_encode(c->pool, TA_B64_URL, rnd, sizeof rnd);
    }
    sp.nonce = out->nonce;
  }
  const char *sig_input, *sig, *base;
  size_t base_len;
  ta_status_t st = ta_httpsig_sign(c->pool, m, &sp, key, 0, &sig_input, &sig, &base, &base_len);
  if (st != TA_OK)
    return ta_cli_fail(c, TA_EXIT_FAILED, ta_error_token(st), ta_error_fix(st), "cannot sign: %s",
                       ta_error_summary(st));
  add_line(c, out, NULL, TA_HTTPSIG_INPUT_FIELD, sig_input);
  add_line(c, out, NULL, TA_HTTPSIG_FIELD, sig);
  out->base = base;
  return TA_EXIT_OK;
}

static int run_sign(ta_cli_t *c)
{
  if (ta_cli_opt(c, "protocol") && strcmp(ta_cli_opt(c, "protocol"), "none") == 0)
    return ta_cli_fail(c, TA_EXIT_USAGE, "usage", "use native or seraph", "sign needs a signing protocol");
  ta_signed_req_t s;
  int rc = ta_sign_from_options(c, &s);
  if (rc != TA_EXIT_OK)
    return rc;
  json_t *headers = json_array();
  for (int i = 0; i < s.added->nelts; i++) {
    const char *line = APR_ARRAY_IDX(s.added, i, const char *);
    const char *colon = strchr(line, ':');
    json_array_append_new(headers, json_pack("{s:s%, s:s}", "name", line, (size_t)(colon - line),
                                             "value", colon + 2));
    ta_out_textf(c, "%s\n", line);
  }
  json_object_set_new(c->result, "protocol", json_string(s.protocol));
  json_object_set_new(c->result, "keyid", json_string(s.keyid));
  json_object_set_new(c->result, "created", json_integer(s.created));
  if (s.nonce)
    json_object_set_new(c->result, "nonce", json_string(s.nonce));
  json_object_set_new(c->result, "headers", headers);
  if (s.base)
    json_object_set_new(c->result, "signature_base", json_string(s.base));
  return TA_EXIT_OK;
}

static const ta_opt_spec_t sign_opts[] = {TA_SIGN_OPTS, {NULL, NULL, 0, NULL}};

const ta_cmd_t ta_cmd_sign = {
  "sign", "--key FILE --id ID --url URL [--method M] [--user U] [--body TEXT] [options]",
  "Print the headers that sign one request (Signature-Input, Signature, Content-Digest, user header).",
  sign_opts, 0, 0, run_sign,
  "trustapp-admin sign --key self.key --id jira:1 --method POST --url https://wiki.example.com/rest/api "
  "--user alice --body '{\"q\":1}'"
};
