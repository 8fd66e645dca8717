/* Native certificate document (docs/CERTIFICATE.md): strict JSON parser
 * and canonical serializer over jansson. */
#include <stdarg.h>
#include <string.h>

#include <apr_strings.h>
#include <jansson.h>

#include "ta_certdoc.h"

#define PEM_SPKI_BEGIN "-----BEGIN PUBLIC KEY-----"
#define MAX_PEM_BYTES (16 * 1024)
#define MAX_PROTO_LEN 32
#define MAX_SERAPH_JSON (16 * 1024)

/* ---- time ------------------------------------------------------------- */

static int is_leap(long y)
{
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (y >= 1970). */
static long days_since_epoch(long y, int m, int d)
{
  static const int before_month[] = { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334 };
  long days = (y - 1970) * 365 + ((y - 1969) / 4) - ((y - 1901) / 100) + ((y - 1601) / 400);
  days += before_month[m - 1] + (m > 2 && is_leap(y)) + d - 1;
  return days;
}

static int digits(const char *s, int n, int *out)
{
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return 0;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 1;
}

ta_status_t ta_certdoc_parse_time(const char *s, apr_time_t *out)
{
  static const int month_days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
  int y, mo, d, h, mi, se;
  if (s == NULL || strlen(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T'
      || s[13] != ':' || s[16] != ':' || s[19] != 'Z'
      || !digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d)
      || !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
    return TA_E_CERTDOC_INVALID;
  if (y < 1970 || mo < 1 || mo > 12 || d < 1
      || d > month_days[mo - 1] + (mo == 2 && is_leap(y)) || h > 23 || mi > 59 || se > 59)
    return TA_E_CERTDOC_INVALID;
  apr_int64_t secs = (apr_int64_t)days_since_epoch(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
  *out = apr_time_from_sec(secs);
  return TA_OK;
}

char *ta_certdoc_format_time(apr_pool_t *p, apr_time_t t)
{
  apr_time_exp_t e;
  if (t < 0 || apr_time_exp_gmt(&e, t) != APR_SUCCESS)
    return NULL;
  return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02dZ", e.tm_year + 1900, e.tm_mon + 1,
                      e.tm_mday, e.tm_hour, e.tm_min, e.tm_sec);
}

/* ---- value rules shared by parser and serializer ----------------------- */

static int valid_id(const char *id)
{
  size_t n = id ? strlen(id) : 0;
  if (n == 0 || n > TA_CERTDOC_MAX_ID)
    return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)id[i] < 0x21 || (unsigned char)id[i] > 0x7e)
      return 0;
  return 1;
}

/* UTF-8 validity is jansson's; we refuse control characters. */
static int valid_name(const char *name)
{
  size_t n = strlen(name);
  if (n > TA_CERTDOC_MAX_NAME)
    return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
      return 0;
  return 1;
}

static int valid_proto(const char *s)
{
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > MAX_PROTO_LEN || !((s[0] >= 'a' && s[0] <= 'z')))
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
      return 0;
  return 1;
}

int ta_certdoc_has_protocol(const ta_certdoc_t *doc, const char *proto)
{
  for (size_t i = 0; doc && proto && i < doc->n_protocols; i++)
    if (strcmp(doc->protocols[i], proto) == 0)
      return 1;
  return 0;
}

int ta_certdoc_key_valid_at(const ta_certdoc_key_t *k, apr_time_t now)
{
  return k != NULL && (k->not_before == 0 || now >= k->not_before)
         && (k->not_after == 0 || now < k->not_after);
}

/* ---- parser ------------------------------------------------------------ */

typedef struct {
  apr_pool_t *p;
  const char **err;
} parse_ctx_t;

static ta_status_t bad(parse_ctx_t *c, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

static ta_status_t bad(parse_ctx_t *c, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  *c->err = apr_pvsprintf(c->p, fmt, ap);
  va_end(ap);
  return TA_E_CERTDOC_INVALID;
}

static ta_status_t opt_time(parse_ctx_t *c, json_t *key, const char *member, size_t i,
                            apr_time_t *out)
{
  json_t *v = json_object_get(key, member);
  *out = 0;
  if (v == NULL || json_is_null(v))
    return TA_OK;
  if (!json_is_string(v) || ta_certdoc_parse_time(json_string_value(v), out) != TA_OK)
    return bad(c, "keys[%" APR_SIZE_T_FMT "].%s: must be a UTC time like \"2026-01-31T23:59:59Z\" or null", i, member);
  return TA_OK;
}

static ta_status_t parse_key(parse_ctx_t *c, json_t *jk, size_t i, ta_certdoc_key_t *out)
{
  if (!json_is_object(jk))
    return bad(c, "keys[%" APR_SIZE_T_FMT "]: must be an object", i);
  json_t *alg = json_object_get(jk, "alg");
  json_t *pem = json_object_get(jk, "public_key");
  json_t *fp = json_object_get(jk, "fingerprint");
  if (!json_is_string(alg))
    return bad(c, "keys[%" APR_SIZE_T_FMT "].alg: missing or not a string", i);
  out->alg = ta_alg_from_name(json_string_value(alg));
  if (out->alg == TA_ALG_NONE || out->alg == TA_ALG_HMAC_SHA256)
    return bad(c, "keys[%" APR_SIZE_T_FMT "].alg: unsupported algorithm", i);
  if (!json_is_string(pem) || json_string_length(pem) > MAX_PEM_BYTES)
    return bad(c, "keys[%" APR_SIZE_T_FMT "].public_key: missing, not a string or over 16 KiB", i);
  const char *pem_s = json_string_value(pem);
  while (*pem_s == ' ' || *pem_s == '\n' || *pem_s == '\r' || *pem_s == '\t')
    pem_s++;
  if (strncmp(pem_s, PEM_SPKI_BEGIN, strlen(PEM_SPKI_BEGIN)) != 0)
    return bad(c, "keys[%" APR_SIZE_T_FMT "].public_key: must be a PEM \"PUBLIC KEY\" (SubjectPublicKeyInfo)", i);
  if (!json_is_string(fp))
    return bad(c, "keys[%" APR_SIZE_T_FMT "].fingerprint: missing or not a string", i);
  const char *why = NULL;
  out->public_key_pem = apr_pstrdup(c->p, json_string_value(pem));
  if (ta_key_load_public(c->p, out->public_key_pem, json_string_length(pem), out->alg,
                         &out->key, &why) != TA_OK)
    return bad(c, "keys[%" APR_SIZE_T_FMT "].public_key: %s", i, why ? why : "not a usable public key");
  out->fingerprint = ta_key_fingerprint(c->p, out->key);
  if (out->fingerprint == NULL || strcmp(out->fingerprint, json_string_value(fp)) != 0)
    return bad(c, "keys[%" APR_SIZE_T_FMT "].fingerprint: does not match the public key", i);
  ta_status_t st;
  if ((st = opt_time(c, jk, "not_before", i, &out->not_before)) != TA_OK
      || (st = opt_time(c, jk, "not_after", i, &out->not_after)) != TA_OK)
    return st;
  if (out->not_before != 0 && out->not_after != 0 && out->not_after <= out->not_before)
    return bad(c, "keys[%" APR_SIZE_T_FMT "]: not_after must be later than not_before", i);
  return TA_OK;
}

static ta_status_t parse_doc(parse_ctx_t *c, json_t *root, ta_certdoc_t *doc)
{
  if (!json_is_object(root))
    return bad(c, "the document must be a JSON object");
  json_t *format = json_object_get(root, "format");
  if (!json_is_string(format))
    return bad(c, "format: missing or not a string");
  if (strcmp(json_string_value(format), TA_CERTDOC_FORMAT) != 0)
    return bad(c, "format: \"%.64s\" is not supported (expected \"" TA_CERTDOC_FORMAT "\")",
               json_string_value(format));

  json_t *id = json_object_get(root, "id");
  if (!json_is_string(id) || !valid_id(json_string_value(id)))
    return bad(c, "id: must be a string of 1 to %d visible ASCII characters", TA_CERTDOC_MAX_ID);
  doc->id = apr_pstrdup(c->p, json_string_value(id));

  json_t *name = json_object_get(root, "name");
  if (name != NULL && !json_is_null(name)) {
    if (!json_is_string(name) || !valid_name(json_string_value(name)))
      return bad(c, "name: must be a string of at most %d bytes without control characters",
                 TA_CERTDOC_MAX_NAME);
    doc->name = apr_pstrdup(c->p, json_string_value(name));
  }

  json_t *keys = json_object_get(root, "keys");
  if (!json_is_array(keys) || json_array_size(keys) == 0
      || json_array_size(keys) > TA_CERTDOC_MAX_KEYS)
    return bad(c, "keys: must be an array of 1 to %d keys", TA_CERTDOC_MAX_KEYS);
  doc->n_keys = json_array_size(keys);
  doc->keys = apr_pcalloc(c->p, doc->n_keys * sizeof(*doc->keys));
  for (size_t i = 0; i < doc->n_keys; i++) {
    ta_status_t st = parse_key(c, json_array_get(keys, i), i, &doc->keys[i]);
    if (st != TA_OK)
      return st;
    for (size_t j = 0; j < i; j++)
      if (strcmp(doc->keys[j].fingerprint, doc->keys[i].fingerprint) == 0)
        return bad(c, "keys[%" APR_SIZE_T_FMT "]: the same key as keys[%" APR_SIZE_T_FMT "]", i, j);
  }

  json_t *protos = json_object_get(root, "protocols");
  if (!json_is_array(protos) || json_array_size(protos) == 0
      || json_array_size(protos) > TA_CERTDOC_MAX_PROTOCOLS)
    return bad(c, "protocols: must be an array of 1 to %d strings", TA_CERTDOC_MAX_PROTOCOLS);
  doc->protocols = apr_pcalloc(c->p, json_array_size(protos) * sizeof(*doc->protocols));
  for (size_t i = 0; i < json_array_size(protos); i++) {
    json_t *v = json_array_get(protos, i);
    if (!json_is_string(v) || !valid_proto(json_string_value(v)))
      return bad(c, "protocols[%" APR_SIZE_T_FMT "]: must be a lower-case token (a-z, 0-9, '-'), at most %d bytes",
                 i, MAX_PROTO_LEN);
    if (ta_certdoc_has_protocol(doc, json_string_value(v)))
      return bad(c, "protocols[%" APR_SIZE_T_FMT "]: listed twice", i);
    doc->protocols[doc->n_protocols++] = apr_pstrdup(c->p, json_string_value(v));
  }

  json_t *seraph = json_object_get(root, "seraph");
  if (seraph != NULL && !json_is_null(seraph)) {
    if (!json_is_object(seraph))
      return bad(c, "seraph: must be an object");
    char *s = json_dumps(seraph, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (s == NULL)
      return TA_E_NOMEM;
    if (strlen(s) > MAX_SERAPH_JSON) {
      free(s);
      return bad(c, "seraph: larger than %d bytes", MAX_SERAPH_JSON);
    }
    doc->seraph_json = apr_pstrdup(c->p, s);
    free(s);
  }
  return TA_OK;
}

ta_status_t ta_certdoc_parse(apr_pool_t *p, const char *body, size_t len,
                             ta_certdoc_t **out, const char **err)
{
  const char *dummy;
  json_error_t jerr;
  parse_ctx_t c = { p, err ? err : &dummy };
  *out = NULL;
  if (body == NULL || len == 0)
    return bad(&c, "empty document");
  if (len > TA_CERTDOC_MAX_BYTES)
    return bad(&c, "document larger than %d bytes", TA_CERTDOC_MAX_BYTES);
  /* jansson refuses NUL bytes and invalid UTF-8, and we refuse duplicate
   * members: one document, one meaning. */
  json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
  if (root == NULL)
    return bad(&c, "not JSON (line %d column %d): %s", jerr.line, jerr.column, jerr.text);
  ta_certdoc_t *doc = apr_pcalloc(p, sizeof(*doc));
  ta_status_t st = parse_doc(&c, root, doc);
  json_decref(root);
  if (st == TA_OK)
    *out = doc;
  return st;
}

/* ---- builders and serializer -------------------------------------------- */

ta_certdoc_t *ta_certdoc_make(apr_pool_t *p, const char *id, const char *name)
{
  ta_certdoc_t *doc = apr_pcalloc(p, sizeof(*doc));
  doc->id = id ? apr_pstrdup(p, id) : NULL;
  doc->name = name ? apr_pstrdup(p, name) : NULL;
  return doc;
}

ta_status_t ta_certdoc_add_key(apr_pool_t *p, ta_certdoc_t *doc, ta_key_t *key,
                               apr_time_t not_before, apr_time_t not_after)
{
  if (key == NULL || ta_key_alg(key) == TA_ALG_HMAC_SHA256 || ta_key_alg(key) == TA_ALG_NONE
      || not_before < 0 || not_after < 0)
    return TA_E_KEY_INVALID;
  /* The document carries whole seconds. */
  not_before = apr_time_from_sec(apr_time_sec(not_before));
  not_after = apr_time_from_sec(apr_time_sec(not_after));
  if (not_before != 0 && not_after != 0 && not_after <= not_before)
    return TA_E_KEY_INVALID;
  if (doc->n_keys >= TA_CERTDOC_MAX_KEYS)
    return TA_E_CERTDOC_INVALID;
  ta_certdoc_key_t k = { key, ta_key_alg(key), ta_key_public_pem(p, key),
                         ta_key_fingerprint(p, key), not_before, not_after };
  if (k.public_key_pem == NULL || k.fingerprint == NULL)
    return TA_E_KEY_INVALID;
  ta_certdoc_key_t *keys = apr_pcalloc(p, (doc->n_keys + 1) * sizeof(*keys));
  if (doc->n_keys > 0)
    memcpy(keys, doc->keys, doc->n_keys * sizeof(*keys));
  keys[doc->n_keys++] = k;
  doc->keys = keys;
  return TA_OK;
}

ta_status_t ta_certdoc_add_protocol(apr_pool_t *p, ta_certdoc_t *doc, const char *proto)
{
  if (!valid_proto(proto) || ta_certdoc_has_protocol(doc, proto)
      || doc->n_protocols >= TA_CERTDOC_MAX_PROTOCOLS)
    return TA_E_CERTDOC_INVALID;
  const char **protos = apr_pcalloc(p, (doc->n_protocols + 1) * sizeof(*protos));
  if (doc->n_protocols > 0)
    memcpy(protos, doc->protocols, doc->n_protocols * sizeof(*protos));
  protos[doc->n_protocols++] = apr_pstrdup(p, proto);
  doc->protocols = protos;
  return TA_OK;
}

static int set_time(apr_pool_t *p, json_t *obj, const char *member, apr_time_t t)
{
  if (t == 0)
    return json_object_set_new(obj, member, json_null()) == 0;
  const char *s = ta_certdoc_format_time(p, t);
  return s != NULL && json_object_set_new(obj, member, json_string(s)) == 0;
}

static json_t *build_json(apr_pool_t *p, const ta_certdoc_t *doc)
{
  json_t *root = json_object();
  json_t *keys = json_array();
  json_t *protos = json_array();
  int ok = root && keys && protos
           && json_object_set_new(root, "format", json_string(TA_CERTDOC_FORMAT)) == 0
           && json_object_set_new(root, "id", json_string(doc->id)) == 0
           && (doc->name == NULL || json_object_set_new(root, "name", json_string(doc->name)) == 0);
  for (size_t i = 0; ok && i < doc->n_keys; i++) {
    const ta_certdoc_key_t *k = &doc->keys[i];
    json_t *jk = json_object();
    ok = jk != NULL && json_array_append_new(keys, jk) == 0
         && json_object_set_new(jk, "alg", json_string(ta_alg_name(k->alg))) == 0
         && json_object_set_new(jk, "public_key", json_string(k->public_key_pem)) == 0
         && json_object_set_new(jk, "fingerprint", json_string(k->fingerprint)) == 0
         && set_time(p, jk, "not_before", k->not_before)
         && set_time(p, jk, "not_after", k->not_after);
  }
  for (size_t i = 0; ok && i < doc->n_protocols; i++)
    ok = json_array_append_new(protos, json_string(doc->protocols[i])) == 0;
  ok = ok && json_object_set(root, "keys", keys) == 0
       && json_object_set(root, "protocols", protos) == 0;
  if (ok && doc->seraph_json != NULL) {
    json_error_t jerr;
    json_t *seraph = json_loads(doc->seraph_json, JSON_REJECT_DUPLICATES, &jerr);
    ok = json_is_object(seraph) && json_object_set_new(root, "seraph", seraph) == 0;
    if (!ok)
      json_decref(seraph);
  }
  json_decref(keys);
  json_decref(protos);
  if (!ok) {
    json_decref(root);
    return NULL;
  }
  return root;
}

char *ta_certdoc_serialize(apr_pool_t *p, const ta_certdoc_t *doc)
{
  if (doc == NULL || !valid_id(doc->id) || (doc->name && !valid_name(doc->name))
      || doc->n_keys == 0 || doc->n_keys > TA_CERTDOC_MAX_KEYS
      || doc->n_protocols == 0 || doc->n_protocols > TA_CERTDOC_MAX_PROTOCOLS
      || (doc->seraph_json && strlen(doc->seraph_json) > MAX_SERAPH_JSON))
    return NULL;
  for (size_t i = 0; i < doc->n_protocols; i++)
    if (!valid_proto(doc->protocols[i]))
      return NULL;
  for (size_t i = 0; i < doc->n_keys; i++)
    if (doc->keys[i].public_key_pem == NULL || doc->keys[i].fingerprint == NULL
        || ta_alg_name(doc->keys[i].alg) == NULL || doc->keys[i].alg == TA_ALG_HMAC_SHA256)
      return NULL;
  json_t *root = build_json(p, doc);
  if (root == NULL)
    return NULL;
  char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
  json_decref(root);
  if (s == NULL)
    return NULL;
  char *out = apr_pstrcat(p, s, "\n", NULL);
  free(s);
  /* What we publish must pass our own parser (size, fingerprints, ...). */
  ta_certdoc_t *check;
  if (ta_certdoc_parse(p, out, strlen(out), &check, NULL) != TA_OK)
    return NULL;
  return out;
}
