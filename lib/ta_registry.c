/* Registry loader: bounded, entity-free XML parse, schema validation with
 * the embedded XSD, then semantic checks and one-time parsing of every key
 * and pattern. Work is linear in the size of the file (hash tables for the
 * uniqueness checks), so 100,000 applications load in seconds. */
#include "ta_registry.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <apr_hash.h>
#include <apr_strings.h>
#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>

struct ta_registry {
  const char *source;
  ta_app_t *apps;
  size_t n_apps;
  apr_hash_t *by_id;     /* id -> ta_app_t* */
  apr_hash_t *by_cert;   /* lower-case sha256 hex -> ta_app_t* */
  ta_self_t *self;
  apr_array_header_t *warnings;
};

/* ---- embedded schema, compiled once per process ------------------------ */

static pthread_once_t schema_once = PTHREAD_ONCE_INIT;
static xmlSchemaPtr schema_compiled;

static void schema_silent(void *ctx, const char *msg, ...) { (void)ctx; (void)msg; }

static void schema_compile(void)
{
  size_t len;
  const char *text = ta_registry_schema(&len);
  xmlInitParser();
  xmlSchemaParserCtxtPtr pc = xmlSchemaNewMemParserCtxt(text, (int)len);
  if (!pc)
    return;
  xmlSchemaSetParserErrors(pc, schema_silent, schema_silent, NULL);
  schema_compiled = xmlSchemaParse(pc);
  xmlSchemaFreeParserCtxt(pc);
}

/* ---- error collection -------------------------------------------------- */

typedef struct {
  int seen;
  long line;
  char msg[512];
} first_error_t;

/* libxml2 names elements "{urn:...}ip": drop the namespace for readability. */
static void tidy_message(char *dst, size_t cap, const char *src)
{
  static const char ns[] = "{" TA_REGISTRY_NS "}";
  size_t o = 0;
  while (src && *src && o + 1 < cap) {
    if (strncmp(src, ns, sizeof(ns) - 1) == 0) {
      src += sizeof(ns) - 1;
      continue;
    }
    dst[o++] = (*src == '\n' || *src == '\r') ? ' ' : *src;
    src++;
  }
  while (o > 0 && dst[o - 1] == ' ')
    o--;
  dst[o] = '\0';
}

static void collect_structured(void *ctx, xmlErrorPtr e)
{
  first_error_t *fe = ctx;
  if (fe->seen || !e || e->level < XML_ERR_ERROR)
    return;
  fe->seen = 1;
  fe->line = e->line;
  tidy_message(fe->msg, sizeof(fe->msg), e->message ? e->message : "invalid document");
}

/* ---- small parsers ----------------------------------------------------- */

static const char *xml_attr(apr_pool_t *p, xmlNodePtr n, const char *name)
{
  xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
  if (!v)
    return NULL;
  char *s = apr_pstrdup(p, (const char *)v);
  xmlFree(v);
  return s;
}

static const char *xml_text(apr_pool_t *p, xmlNodePtr n)
{
  xmlChar *v = xmlNodeGetContent(n);
  if (!v)
    return apr_pstrdup(p, "");
  char *s = apr_pstrdup(p, (const char *)v);
  xmlFree(v);
  return s;
}

static int is_elem(xmlNodePtr n, const char *name)
{
  return n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
         strcmp((const char *)n->ns->href, TA_REGISTRY_NS) == 0 &&
         strcmp((const char *)n->name, name) == 0;
}

/* PEM inside XML is usually indented: drop leading whitespace of each line
 * and surrounding blank lines, so OpenSSL's PEM reader sees clean lines. */
static char *normalize_key_text(apr_pool_t *p, const char *in, size_t *out_len)
{
  size_t n = strlen(in);
  char *out = apr_palloc(p, n + 2);
  size_t o = 0;
  int at_line_start = 1;
  for (size_t i = 0; i < n; i++) {
    char c = in[i];
    if (at_line_start && (c == ' ' || c == '\t' || c == '\r' || c == '\n'))
      continue;
    if (c == '\r')
      continue;
    at_line_start = (c == '\n');
    out[o++] = c;
  }
  while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t' || out[o - 1] == '\n'))
    o--;
  out[o++] = '\n';
  out[o] = '\0';
  *out_len = o;
  return out;
}

static int parse_digits(const char *s, int n, int *v)
{
  int r = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)s[i]))
      return -1;
    r = r * 10 + (s[i] - '0');
  }
  *v = r;
  return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * civil-from-days inverse). */
static long long days_from_civil(int y, int m, int d)
{
  y -= m <= 2;
  long long era = (y >= 0 ? y : y - 399) / 400;
  long long yoe = y - era * 400;
  long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/* xs:dateTime with a mandatory time zone: YYYY-MM-DDTHH:MM:SS[.f+](Z|+HH:MM|-HH:MM),
 * years 1970-9999. Returns 0 on success. */
static int parse_datetime(const char *s, apr_time_t *out)
{
  int Y, M, D, h, mi, sec, tzh = 0, tzm = 0, sign = 0;
  while (isspace((unsigned char)*s))
    s++;
  if (strlen(s) < 20 || parse_digits(s, 4, &Y) || s[4] != '-' || parse_digits(s + 5, 2, &M) ||
      s[7] != '-' || parse_digits(s + 8, 2, &D) || s[10] != 'T' || parse_digits(s + 11, 2, &h) ||
      s[13] != ':' || parse_digits(s + 14, 2, &mi) || s[16] != ':' || parse_digits(s + 17, 2, &sec))
    return -1;
  s += 19;
  long usec = 0;
  if (*s == '.') {
    s++;
    long scale = 100000;
    if (!isdigit((unsigned char)*s))
      return -1;
    while (isdigit((unsigned char)*s)) {
      usec += (*s - '0') * scale;
      scale /= 10;
      s++;
    }
  }
  if (*s == 'Z') {
    s++;
  } else if (*s == '+' || *s == '-') {
    sign = (*s == '-') ? -1 : 1;
    if (parse_digits(s + 1, 2, &tzh) || s[3] != ':' || parse_digits(s + 4, 2, &tzm))
      return -1;
    s += 6;
  } else {
    return -1; /* a local time without zone would depend on the server's TZ */
  }
  while (isspace((unsigned char)*s))
    s++;
  if (*s)
    return -1;
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (Y < 1970 || M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || mi > 59 || sec > 59 ||
      tzh > 14 || tzm > 59)
    return -1;
  if (M == 2 && D == 29 && !((Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0))
    return -1;
  long long t = days_from_civil(Y, M, D) * 86400LL + h * 3600LL + mi * 60LL + sec;
  t -= sign * (tzh * 3600LL + tzm * 60LL);
  if (t <= 0)
    return -1;
  *out = (apr_time_t)t * APR_USEC_PER_SEC + usec;
  return 0;
}

static int parse_timeout_ms(const char *s, long long *ms)
{
  while (isspace((unsigned char)*s))
    s++;
  if (!isdigit((unsigned char)*s))
    return -1;
  long long v = 0;
  while (isdigit((unsigned char)*s)) {
    v = v * 10 + (*s - '0');
    if (v > 86400000LL)
      return -1;
    s++;
  }
  while (isspace((unsigned char)*s))
    s++;
  if (*s)
    return -1;
  *ms = v;
  return 0;
}

ta_status_t ta_registry_parse_protocols(apr_pool_t *p, const char *text, unsigned *mask,
                                        const char **err)
{
  unsigned m = 0;
  char *copy = apr_pstrdup(p, text ? text : ""), *last = NULL;
  for (char *tok = apr_strtok(copy, " \t\r\n", &last); tok; tok = apr_strtok(NULL, " \t\r\n", &last)) {
    unsigned bit;
    if (strcmp(tok, "rfc9421") == 0)
      bit = TA_APP_PROTO_RFC9421;
    else if (strcmp(tok, "seraph") == 0)
      bit = TA_APP_PROTO_SERAPH;
    else if (strcmp(tok, "mtls") == 0)
      bit = TA_APP_PROTO_MTLS;
    else {
      if (err)
        *err = apr_psprintf(p, "unknown protocol '%s' (expected rfc9421, seraph or mtls)", tok);
      return TA_E_CONFIG;
    }
    if (m & bit) {
      if (err)
        *err = apr_psprintf(p, "protocol '%s' listed twice", tok);
      return TA_E_CONFIG;
    }
    m |= bit;
  }
  if (!m) {
    if (err)
      *err = "empty protocols list";
    return TA_E_CONFIG;
  }
  *mask = m;
  return TA_OK;
}

static int is_hex64(const char *s)
{
  size_t i;
  for (i = 0; s[i]; i++)
    if (!isxdigit((unsigned char)s[i]))
      return 0;
  return i == 64;
}

static char *lower_dup(apr_pool_t *p, const char *s)
{
  char *d = apr_pstrdup(p, s);
  for (char *c = d; *c; c++)
    *c = (char)tolower((unsigned char)*c);
  return d;
}

static void format_time(char *buf, size_t cap, apr_time_t t)
{
  apr_time_exp_t x;
  apr_size_t rs;
  if (apr_time_exp_gmt(&x, t) != APR_SUCCESS ||
      apr_strftime(buf, &rs, cap, "%Y-%m-%dT%H:%M:%SZ", &x) != APR_SUCCESS)
    apr_cpystrn(buf, "?", cap);
}

/* ---- line numbers -------------------------------------------------------- */

/* libxml2 keeps an element's line in 16 bits; beyond 65535 it guesses from
 * a neighbouring text node, which can be off by one. The parse hook below
 * records such lines in the element's otherwise unused psvi pointer. */
static long node_line(xmlNodePtr n)
{
  if (!n)
    return 0;
  if (n->type == XML_ELEMENT_NODE && n->line == 65535 && n->psvi)
    return (long)(intptr_t)n->psvi;
  return xmlGetLineNo(n);
}

static void start_element_keep_line(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                                    const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
                                    int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
  xmlParserCtxtPtr pc = ctx;
  xmlSAX2StartElementNs(ctx, localname, prefix, uri, nb_namespaces, namespaces, nb_attributes,
                        nb_defaulted, attributes);
  if (pc->node && pc->input && pc->input->line >= 65535)
    pc->node->psvi = (void *)(intptr_t)pc->input->line;
}

/* ---- the loader proper ------------------------------------------------- */

typedef struct {
  apr_pool_t *p;        /* registry lifetime */
  apr_pool_t *scratch;  /* freed at the end of the load */
  const char *name;
  ta_registry_t *reg;
  apr_hash_t *fp_owner; /* fingerprint -> app id, for the shared-key warning */
  apr_time_t now;
  const char *err;
} loader_t;

static ta_status_t fail(loader_t *L, xmlNodePtr at, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));
static ta_status_t fail(loader_t *L, xmlNodePtr at, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  const char *msg = apr_pvsprintf(L->p, fmt, ap);
  va_end(ap);
  L->err = apr_psprintf(L->p, "%s:%ld: %s", L->name, node_line(at), msg);
  return TA_E_CONFIG;
}

static void warn(loader_t *L, xmlNodePtr at, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));
static void warn(loader_t *L, xmlNodePtr at, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  const char *msg = apr_pvsprintf(L->p, fmt, ap);
  va_end(ap);
  APR_ARRAY_PUSH(L->reg->warnings, const char *) =
    apr_psprintf(L->p, "%s:%ld: %s", L->name, node_line(at), msg);
}

static ta_status_t load_key(loader_t *L, ta_app_t *app, xmlNodePtr n, ta_app_key_t *k)
{
  const char *alg_name = xml_attr(L->scratch, n, "alg");
  const char *nb = xml_attr(L->scratch, n, "not-before");
  const char *na = xml_attr(L->scratch, n, "not-after");
  const char *fp = xml_attr(L->scratch, n, "fingerprint");
  ta_alg_t alg = TA_ALG_NONE;
  if (alg_name) {
    alg = ta_alg_from_name(alg_name);
    if (alg == TA_ALG_NONE || alg == TA_ALG_HMAC_SHA256)
      return fail(L, n, "application '%s': unsupported key algorithm '%s'", app->id, alg_name);
  }
  memset(k, 0, sizeof(*k));
  if (nb && parse_datetime(nb, &k->not_before))
    return fail(L, n, "application '%s': not-before '%s' is not a date-time with time zone (e.g. 2026-01-31T00:00:00Z)", app->id, nb);
  if (na && parse_datetime(na, &k->not_after))
    return fail(L, n, "application '%s': not-after '%s' is not a date-time with time zone (e.g. 2027-01-31T00:00:00Z)", app->id, na);
  if (nb && na && k->not_after < k->not_before)
    return fail(L, n, "application '%s': key not-after '%s' is before not-before '%s'", app->id, na, nb);

  size_t len;
  char *text = normalize_key_text(L->p, xml_text(L->scratch, n), &len);
  const char *kerr = NULL;
  ta_key_t *key = NULL;
  if (ta_key_load_public(L->p, text, len, alg, &key, &kerr) != TA_OK || !key)
    return fail(L, n, "application '%s': key%s%s cannot be used: %s", app->id,
                alg_name ? " with alg " : "", alg_name ? alg_name : "", kerr ? kerr : "unreadable key");
  if (ta_key_is_private(key))
    return fail(L, n, "application '%s': the key is a private key; register only the public key", app->id);
  ta_alg_t kalg = ta_key_alg(key);
  if (alg != TA_ALG_NONE && kalg != alg)
    return fail(L, n, "application '%s': key is %s but alg is '%s'", app->id,
                ta_alg_name(kalg) ? ta_alg_name(kalg) : "of another type", alg_name);
  if ((kalg == TA_ALG_RSA_PSS_SHA512 || kalg == TA_ALG_RSA_V1_5_SHA256) &&
      ta_key_bits(key) < TA_RSA_MIN_BITS)
    return fail(L, n, "application '%s': RSA key of %d bits is too weak (minimum %d)", app->id,
                ta_key_bits(key), TA_RSA_MIN_BITS);
  const char *actual = ta_key_fingerprint(L->p, key);
  if (!actual)
    return fail(L, n, "application '%s': cannot compute the key fingerprint", app->id);
  if (fp && strcmp(fp, actual) != 0)
    return fail(L, n, "application '%s': fingerprint mismatch: registered '%s', key is '%s'", app->id, fp, actual);
  k->key = key;
  k->alg = kalg;
  k->fingerprint = actual;
  k->pem = text;
  if (k->not_after && k->not_after < L->now) {
    char when[32];
    format_time(when, sizeof(when), k->not_after);
    warn(L, n, "application '%s': key %s expired at %s", app->id, actual, when);
  }
  return TA_OK;
}

/* On a bad entry, find which one and where, parsing each alone. */
typedef ta_status_t (*single_parse_fn)(apr_pool_t *p, const char *value, const char **err);

static ta_status_t ip_single(apr_pool_t *p, const char *v, const char **err)
{
  ta_ip_set_t *s;
  return ta_ip_set_parse(p, &v, 1, &s, err);
}

static ta_status_t path_single(apr_pool_t *p, const char *v, const char **err)
{
  ta_path_set_t *s;
  return ta_path_set_parse(p, &v, 1, &s, err);
}

static ta_status_t locate_bad(loader_t *L, ta_app_t *app, xmlNodePtr *nodes, const char **values,
                              size_t n, single_parse_fn single, const char *what, const char *set_err)
{
  for (size_t i = 0; i < n; i++) {
    const char *e = NULL;
    if (single(L->scratch, values[i], &e) != TA_OK)
      return fail(L, nodes[i], "application '%s': bad %s '%s': %s", app->id, what, values[i],
                  e ? e : "invalid");
  }
  return fail(L, nodes[0], "application '%s': bad %s list: %s", app->id, what, set_err ? set_err : "invalid");
}

typedef struct {
  apr_array_header_t *values; /* const char * */
  apr_array_header_t *nodes;  /* xmlNodePtr */
} list_t;

static void list_init(list_t *l, apr_pool_t *p)
{
  l->values = apr_array_make(p, 4, sizeof(const char *));
  l->nodes = apr_array_make(p, 4, sizeof(xmlNodePtr));
}

static void list_push(loader_t *L, list_t *l, xmlNodePtr n)
{
  APR_ARRAY_PUSH(l->values, const char *) = xml_text(L->p, n);
  APR_ARRAY_PUSH(l->nodes, xmlNodePtr) = n;
}

static const char **list_copy(loader_t *L, const list_t *l)
{
  const char **v = apr_pcalloc(L->p, sizeof(const char *) * ((size_t)l->values->nelts + 1));
  if (l->values->nelts)
    memcpy(v, l->values->elts, sizeof(const char *) * (size_t)l->values->nelts);
  return v;
}

static ta_status_t load_app(loader_t *L, xmlNodePtr n, ta_app_t *app)
{
  memset(app, 0, sizeof(*app));
  app->line = (int)node_line(n);
  app->id = xml_attr(L->p, n, "id");
  if (!app->id)
    return fail(L, n, "application without id");
  const ta_app_t *dup = apr_hash_get(L->reg->by_id, app->id, APR_HASH_KEY_STRING);
  if (dup)
    return fail(L, n, "duplicate application id '%s' (first defined at line %d)", app->id, dup->line);
  app->name = xml_attr(L->p, n, "name");
  const char *en = xml_attr(L->scratch, n, "enabled");
  app->enabled = !en || strcmp(en, "true") == 0 || strcmp(en, "1") == 0;
  const char *protos = xml_attr(L->scratch, n, "protocols");
  app->protocols = TA_APP_PROTO_ALL;
  if (protos) {
    const char *perr = NULL;
    if (ta_registry_parse_protocols(L->scratch, protos, &app->protocols, &perr) != TA_OK)
      return fail(L, n, "application '%s': %s", app->id, perr);
  }

  apr_pool_t *sp = L->scratch;
  apr_array_header_t *key_nodes = apr_array_make(sp, 2, sizeof(xmlNodePtr));
  list_t ips, paths, allow, deny;
  list_init(&ips, sp);
  list_init(&paths, sp);
  list_init(&allow, sp);
  list_init(&deny, sp);
  xmlNodePtr timeout_node = NULL, cert_node = NULL;
  for (xmlNodePtr c = n->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE)
      continue;
    if (is_elem(c, "key"))
      APR_ARRAY_PUSH(key_nodes, xmlNodePtr) = c;
    else if (is_elem(c, "timeout"))
      timeout_node = c;
    else if (is_elem(c, "ip"))
      list_push(L, &ips, c);
    else if (is_elem(c, "path"))
      list_push(L, &paths, c);
    else if (is_elem(c, "user-allow"))
      list_push(L, &allow, c);
    else if (is_elem(c, "user-deny"))
      list_push(L, &deny, c);
    else if (is_elem(c, "client-cert"))
      cert_node = c;
    else
      return fail(L, c, "application '%s': unexpected element <%s>", app->id, (const char *)c->name);
  }

  if (key_nodes->nelts == 0 && app->protocols != TA_APP_PROTO_MTLS)
    return fail(L, n, "application '%s' has no <key> (only protocols=\"mtls\" applications may omit it)", app->id);
  app->n_keys = (size_t)key_nodes->nelts;
  app->keys = apr_pcalloc(L->p, sizeof(ta_app_key_t) * (app->n_keys ? app->n_keys : 1));
  for (size_t i = 0; i < app->n_keys; i++) {
    xmlNodePtr kn = APR_ARRAY_IDX(key_nodes, (int)i, xmlNodePtr);
    ta_status_t st = load_key(L, app, kn, &app->keys[i]);
    if (st != TA_OK)
      return st;
    for (size_t j = 0; j < i; j++)
      if (strcmp(app->keys[j].fingerprint, app->keys[i].fingerprint) == 0)
        return fail(L, kn, "application '%s': key %s is registered twice", app->id, app->keys[i].fingerprint);
    const char *owner = apr_hash_get(L->fp_owner, app->keys[i].fingerprint, APR_HASH_KEY_STRING);
    if (owner)
      warn(L, kn, "application '%s': key %s is also registered for application '%s'", app->id,
           app->keys[i].fingerprint, owner);
    else
      apr_hash_set(L->fp_owner, app->keys[i].fingerprint, APR_HASH_KEY_STRING, app->id);
  }
  if (app->enabled && app->n_keys && ta_app_valid_key_count(app, L->now) == 0)
    warn(L, n, "application '%s' has no key valid now", app->id);

  long long ms = TA_REGISTRY_DEFAULT_TIMEOUT_MS;
  if (timeout_node) {
    const char *t = xml_text(sp, timeout_node);
    if (parse_timeout_ms(t, &ms))
      return fail(L, timeout_node, "application '%s': timeout '%s' is not a number of milliseconds (0-86400000)", app->id, t);
    if (ms == 0 && (app->protocols & TA_APP_PROTO_RFC9421))
      return fail(L, timeout_node, "application '%s': timeout 0 (no age check) is only allowed for Seraph-only or mTLS-only applications (set protocols=\"seraph\")", app->id);
  }
  app->timeout = (apr_interval_time_t)ms * 1000;

  app->n_ip = (size_t)ips.values->nelts;
  app->ip_patterns = list_copy(L, &ips);
  if (app->n_ip) {
    ta_ip_set_t *set = NULL;
    const char *e = NULL;
    if (ta_ip_set_parse(L->p, app->ip_patterns, app->n_ip, &set, &e) != TA_OK)
      return locate_bad(L, app, (xmlNodePtr *)ips.nodes->elts, app->ip_patterns, app->n_ip,
                        ip_single, "IP pattern", e);
    app->ips = set;
  }
  app->n_path = (size_t)paths.values->nelts;
  app->path_prefixes = list_copy(L, &paths);
  if (app->n_path) {
    ta_path_set_t *set = NULL;
    const char *e = NULL;
    if (ta_path_set_parse(L->p, app->path_prefixes, app->n_path, &set, &e) != TA_OK)
      return locate_bad(L, app, (xmlNodePtr *)paths.nodes->elts, app->path_prefixes, app->n_path,
                        path_single, "path prefix", e);
    app->paths = set;
  }
  app->n_users_allow = (size_t)allow.values->nelts;
  app->users_allow = list_copy(L, &allow);
  app->n_users_deny = (size_t)deny.values->nelts;
  app->users_deny = list_copy(L, &deny);
  {
    ta_user_rules_t *rules = NULL;
    const char *e = NULL;
    if (ta_user_rules_parse(L->p, app->users_allow, app->n_users_allow, app->users_deny,
                            app->n_users_deny, &rules, &e) != TA_OK) {
      xmlNodePtr at = app->n_users_allow ? APR_ARRAY_IDX(allow.nodes, 0, xmlNodePtr)
                    : app->n_users_deny ? APR_ARRAY_IDX(deny.nodes, 0, xmlNodePtr) : n;
      return fail(L, at, "application '%s': bad user rule: %s", app->id, e ? e : "invalid");
    }
    app->users = rules;
  }

  if (cert_node) {
    const char *sha = xml_attr(sp, cert_node, "sha256");
    const char *subj = xml_attr(L->p, cert_node, "subject");
    const char *iss = xml_attr(L->p, cert_node, "issuer");
    if (sha && subj)
      return fail(L, cert_node, "application '%s': <client-cert> takes either sha256 or subject, not both", app->id);
    if (!sha && !subj)
      return fail(L, cert_node, "application '%s': <client-cert> needs sha256 or subject", app->id);
    if (iss && !subj)
      return fail(L, cert_node, "application '%s': <client-cert> issuer requires subject", app->id);
    if (sha) {
      if (!is_hex64(sha))
        return fail(L, cert_node, "application '%s': client-cert sha256 '%s' is not 64 hex digits", app->id, sha);
      app->client_cert_sha256 = lower_dup(L->p, sha);
      const ta_app_t *other = apr_hash_get(L->reg->by_cert, app->client_cert_sha256, APR_HASH_KEY_STRING);
      if (other)
        return fail(L, cert_node, "application '%s': client certificate %s is already bound to application '%s'",
                    app->id, app->client_cert_sha256, other->id);
    }
    app->client_cert_subject = subj;
    app->client_cert_issuer = iss;
  }
  if ((app->protocols == TA_APP_PROTO_MTLS) && !cert_node)
    return fail(L, n, "application '%s': protocols=\"mtls\" needs a <client-cert>", app->id);
  return TA_OK;
}

static ta_status_t load_self(loader_t *L, xmlNodePtr n)
{
  ta_self_t *s = apr_pcalloc(L->p, sizeof(*s));
  s->id = xml_attr(L->p, n, "id");
  s->name = xml_attr(L->p, n, "name");
  s->key_file = xml_attr(L->p, n, "key-file");
  if (!s->id)
    return fail(L, n, "<self> without id");
  L->reg->self = s;
  return TA_OK;
}

/* SAX hook: any DOCTYPE stops the parse before entities can be declared. */
static int doctype_seen_key;
static void refuse_doctype(void *ctx, const xmlChar *name, const xmlChar *ext, const xmlChar *sys)
{
  xmlParserCtxtPtr pc = ctx;
  (void)name;
  (void)ext;
  (void)sys;
  pc->_private = &doctype_seen_key;
  xmlStopParser(pc);
}

static ta_status_t parse_document(apr_pool_t *p, const char *name, const char *xml, size_t len,
                                  xmlDocPtr *out, const char **err)
{
  *out = NULL;
  if (len > TA_REGISTRY_MAX_BYTES) {
    *err = apr_psprintf(p, "%s: %" APR_SIZE_T_FMT " bytes is more than the %u byte limit", name,
                        len, TA_REGISTRY_MAX_BYTES);
    return TA_E_CONFIG;
  }
  if (len == 0 || !xml) {
    *err = apr_psprintf(p, "%s: empty file", name);
    return TA_E_CONFIG;
  }
  xmlInitParser();
  xmlParserCtxtPtr pc = xmlNewParserCtxt();
  if (!pc)
    return TA_E_NOMEM;
  pc->sax->internalSubset = refuse_doctype;
  pc->sax->startElementNs = start_element_keep_line;
  pc->_private = NULL;
  xmlDocPtr doc = xmlCtxtReadMemory(pc, xml, (int)len, name, NULL,
                                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                    XML_PARSE_BIG_LINES);
  if (pc->_private == &doctype_seen_key) {
    long line = pc->input ? pc->input->line : 0;
    if (doc)
      xmlFreeDoc(doc);
    xmlFreeParserCtxt(pc);
    *err = apr_psprintf(p, "%s:%ld: DOCTYPE declarations are not allowed in the registry", name, line);
    return TA_E_CONFIG;
  }
  if (!doc || !pc->wellFormed) {
    xmlErrorPtr e = xmlCtxtGetLastError(pc);
    char msg[512];
    tidy_message(msg, sizeof(msg), e && e->message ? e->message : "not well-formed XML");
    *err = apr_psprintf(p, "%s:%d: %s", name, e ? e->line : 0, msg);
    if (doc)
      xmlFreeDoc(doc);
    xmlFreeParserCtxt(pc);
    return TA_E_CONFIG;
  }
  xmlFreeParserCtxt(pc);
  *out = doc;
  return TA_OK;
}

ta_status_t ta_registry_read_xml(apr_pool_t *p, const char *xml, size_t len, const char *name,
                                 void **doc, const char **err)
{
  const char *e = NULL;
  xmlDocPtr d = NULL;
  if (!p || !doc)
    return TA_E_INTERNAL;
  ta_status_t st = parse_document(p, name ? name : "registry", xml, len, &d, &e);
  if (err)
    *err = e;
  *doc = d;
  return st;
}

static ta_status_t validate_document(loader_t *L, xmlDocPtr doc)
{
  xmlNodePtr root = xmlDocGetRootElement(doc);
  if (!root || !is_elem(root, "registry"))
    return fail(L, root, "the root element must be <registry xmlns=\"%s\" version=\"1\">", TA_REGISTRY_NS);
  pthread_once(&schema_once, schema_compile);
  if (!schema_compiled) {
    L->err = "internal: the embedded registry schema does not compile";
    return TA_E_INTERNAL;
  }
  xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(schema_compiled);
  if (!vc)
    return TA_E_NOMEM;
  first_error_t fe = {0};
  xmlSchemaSetValidStructuredErrors(vc, collect_structured, &fe);
  int rc = xmlSchemaValidateDoc(vc, doc);
  xmlSchemaFreeValidCtxt(vc);
  if (rc != 0) {
    L->err = apr_psprintf(L->p, "%s:%ld: schema: %s", L->name, fe.seen ? fe.line : 0L,
                          fe.seen ? fe.msg : "document does not match the registry schema");
    return TA_E_CONFIG;
  }
  return TA_OK;
}

static ta_status_t build_registry(loader_t *L, xmlDocPtr doc)
{
  xmlNodePtr root = xmlDocGetRootElement(doc);
  size_t n_apps = 0;
  for (xmlNodePtr c = root->children; c; c = c->next)
    if (is_elem(c, "application"))
      n_apps++;
  ta_registry_t *reg = L->reg;
  reg->apps = apr_pcalloc(L->p, sizeof(ta_app_t) * (n_apps ? n_apps : 1));
  /* Per-application temporaries live in a pool cleared after each one, so
   * the transient memory does not grow with the number of applications. */
  apr_pool_t *outer = L->scratch, *per_app;
  if (apr_pool_create(&per_app, outer) != APR_SUCCESS)
    return TA_E_NOMEM;
  L->scratch = per_app;
  ta_status_t st = TA_OK;
  for (xmlNodePtr c = root->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE)
      continue;
    if (is_elem(c, "self")) {
      st = load_self(L, c);
    } else if (is_elem(c, "application")) {
      ta_app_t *app = &reg->apps[reg->n_apps];
      st = load_app(L, c, app);
      if (st == TA_OK) {
        reg->n_apps++;
        apr_hash_set(reg->by_id, app->id, APR_HASH_KEY_STRING, app);
        if (app->client_cert_sha256)
          apr_hash_set(reg->by_cert, app->client_cert_sha256, APR_HASH_KEY_STRING, app);
      }
    } else {
      st = fail(L, c, "unexpected element <%s>", (const char *)c->name);
    }
    apr_pool_clear(per_app);
    if (st != TA_OK)
      break;
  }
  L->scratch = outer;
  return st;
}

ta_status_t ta_registry_parse(apr_pool_t *p, const char *xml, size_t len, const char *name,
                              ta_registry_t **out, const char **err)
{
  if (out)
    *out = NULL;
  if (err)
    *err = NULL;
  if (!p || !out || (!xml && len))
    return TA_E_INTERNAL;
  if (!name)
    name = "registry";
  apr_pool_t *rp, *sp;
  if (apr_pool_create(&rp, p) != APR_SUCCESS)
    return TA_E_NOMEM;
  if (apr_pool_create(&sp, rp) != APR_SUCCESS) {
    apr_pool_destroy(rp);
    return TA_E_NOMEM;
  }
  loader_t L = {.p = rp, .scratch = sp, .name = apr_pstrdup(rp, name), .now = apr_time_now()};
  ta_registry_t *reg = apr_pcalloc(rp, sizeof(*reg));
  reg->source = L.name;
  reg->by_id = apr_hash_make(rp);
  reg->by_cert = apr_hash_make(rp);
  reg->warnings = apr_array_make(rp, 0, sizeof(const char *));
  L.reg = reg;
  L.fp_owner = apr_hash_make(sp);

  xmlDocPtr doc = NULL;
  ta_status_t st = parse_document(rp, L.name, xml, len, &doc, &L.err);
  if (st == TA_OK)
    st = validate_document(&L, doc);
  if (st == TA_OK)
    st = build_registry(&L, doc);
  if (doc)
    xmlFreeDoc(doc);
  if (st != TA_OK) {
    if (err)
      *err = apr_pstrdup(p, L.err ? L.err : "registry could not be loaded");
    apr_pool_destroy(rp);
    return st;
  }
  apr_pool_destroy(sp);
#ifdef __GLIBC__
  /* The document tree, about twice the size of what is kept, is freed by
   * now but interleaved with the kept keys; without this the process
   * holds on to those pages (5.5 instead of 2.3 KB per application). */
  malloc_trim(0);
#endif
  *out = reg;
  return TA_OK;
}

ta_status_t ta_registry_load(apr_pool_t *p, const char *path, ta_registry_t **out, const char **err)
{
  if (out)
    *out = NULL;
  if (err)
    *err = NULL;
  if (!p || !path || !out)
    return TA_E_INTERNAL;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    if (err)
      *err = apr_psprintf(p, "%s: cannot open: %s", path, strerror(errno));
    return TA_E_CONFIG;
  }
  struct stat stbuf;
  if (fstat(fd, &stbuf) != 0 || !S_ISREG(stbuf.st_mode)) {
    if (err)
      *err = apr_psprintf(p, "%s: not a regular file", path);
    close(fd);
    return TA_E_CONFIG;
  }
  if ((unsigned long long)stbuf.st_size > TA_REGISTRY_MAX_BYTES) {
    if (err)
      *err = apr_psprintf(p, "%s: %" APR_INT64_T_FMT " bytes is more than the %u byte limit", path,
                          (apr_int64_t)stbuf.st_size, TA_REGISTRY_MAX_BYTES);
    close(fd);
    return TA_E_CONFIG;
  }
  apr_pool_t *fp;
  if (apr_pool_create(&fp, p) != APR_SUCCESS) {
    close(fd);
    return TA_E_NOMEM;
  }
  /* Read up to one byte past the limit: the file may grow after fstat. */
  size_t cap = (size_t)stbuf.st_size + 1, len = 0;
  char *buf = apr_palloc(fp, cap + 1);
  for (;;) {
    if (len == cap) {
      if (cap > TA_REGISTRY_MAX_BYTES)
        break;
      size_t ncap = cap * 2 > TA_REGISTRY_MAX_BYTES + 1 ? TA_REGISTRY_MAX_BYTES + 1 : cap * 2;
      char *nb = apr_palloc(fp, ncap + 1);
      memcpy(nb, buf, len);
      buf = nb;
      cap = ncap;
    }
    ssize_t r = read(fd, buf + len, cap - len);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      if (err)
        *err = apr_psprintf(p, "%s: read error: %s", path, strerror(errno));
      close(fd);
      apr_pool_destroy(fp);
      return TA_E_CONFIG;
    }
    if (r == 0)
      break;
    len += (size_t)r;
  }
  close(fd);
  buf[len] = '\0';
  ta_status_t st = ta_registry_parse(p, buf, len, path, out, err);
  apr_pool_destroy(fp);
  return st;
}

const ta_app_t *ta_registry_find(const ta_registry_t *r, const char *id)
{
  if (!r || !id)
    return NULL;
  return apr_hash_get(r->by_id, id, APR_HASH_KEY_STRING);
}

const ta_app_t *ta_registry_find_by_cert(const ta_registry_t *r, const char *sha256_hex)
{
  if (!r || !sha256_hex || !is_hex64(sha256_hex))
    return NULL;
  char lower[65];
  for (int i = 0; i < 64; i++)
    lower[i] = (char)tolower((unsigned char)sha256_hex[i]);
  lower[64] = '\0';
  return apr_hash_get(r->by_cert, lower, 64);
}

size_t ta_registry_count(const ta_registry_t *r)
{
  return r ? r->n_apps : 0;
}

const ta_app_t *ta_registry_app(const ta_registry_t *r, size_t i)
{
  return (r && i < r->n_apps) ? &r->apps[i] : NULL;
}

const ta_self_t *ta_registry_self(const ta_registry_t *r)
{
  return r ? r->self : NULL;
}

const apr_array_header_t *ta_registry_warnings(const ta_registry_t *r)
{
  return r ? r->warnings : NULL;
}

const char *ta_registry_source(const ta_registry_t *r)
{
  return r ? r->source : NULL;
}

int ta_app_key_valid_at(const ta_app_key_t *k, apr_time_t now)
{
  if (!k || !k->key)
    return 0;
  if (k->not_before && now < k->not_before)
    return 0;
  if (k->not_after && now > k->not_after)
    return 0;
  return 1;
}

size_t ta_app_valid_key_count(const ta_app_t *a, apr_time_t now)
{
  size_t n = 0;
  for (size_t i = 0; a && i < a->n_keys; i++)
    n += (size_t)ta_app_key_valid_at(&a->keys[i], now);
  return n;
}
