/* Registry editing and the locked, validated, atomic file update. */
#include "ta_registry_write.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlstring.h>

struct ta_regdoc {
  apr_pool_t *p;
  xmlDocPtr doc;
  const char *name;
};

static void (*prerename_hook)(const char *tmp_path);

void ta_registry_set_prerename_hook(void (*hook)(const char *tmp_path))
{
  prerename_hook = hook;
}

static apr_status_t free_doc(void *d)
{
  xmlFreeDoc(d);
  return APR_SUCCESS;
}

static ta_status_t set_err(const char **err, const char *msg)
{
  if (err)
    *err = msg;
  return TA_E_CONFIG;
}

static ta_status_t wrap(apr_pool_t *p, xmlDocPtr doc, const char *name, ta_regdoc_t **out)
{
  ta_regdoc_t *d = apr_pcalloc(p, sizeof(*d));
  d->p = p;
  d->doc = doc;
  d->name = apr_pstrdup(p, name ? name : "registry");
  apr_pool_cleanup_register(p, doc, free_doc, apr_pool_cleanup_null);
  *out = d;
  return TA_OK;
}

ta_status_t ta_regdoc_new(apr_pool_t *p, ta_regdoc_t **out)
{
  xmlInitParser();
  xmlDocPtr doc = xmlNewDoc((const xmlChar *)"1.0");
  if (!doc)
    return TA_E_NOMEM;
  xmlNodePtr root = xmlNewDocNode(doc, NULL, (const xmlChar *)"registry", NULL);
  xmlNsPtr ns = root ? xmlNewNs(root, (const xmlChar *)TA_REGISTRY_NS, NULL) : NULL;
  if (!root || !ns) {
    xmlFreeDoc(doc);
    return TA_E_NOMEM;
  }
  xmlSetNs(root, ns);
  xmlSetProp(root, (const xmlChar *)"version", (const xmlChar *)"1");
  xmlDocSetRootElement(doc, root);
  return wrap(p, doc, "registry", out);
}

static void strip_blank_text(xmlNodePtr n)
{
  xmlNodePtr c = n->children;
  int has_element = 0;
  for (xmlNodePtr k = c; k; k = k->next)
    if (k->type == XML_ELEMENT_NODE)
      has_element = 1;
  while (c) {
    xmlNodePtr next = c->next;
    if (has_element && c->type == XML_TEXT_NODE && xmlIsBlankNode(c)) {
      xmlUnlinkNode(c);
      xmlFreeNode(c);
    } else if (c->type == XML_ELEMENT_NODE) {
      strip_blank_text(c);
    }
    c = next;
  }
}

ta_status_t ta_regdoc_parse(apr_pool_t *p, const char *xml, size_t len, const char *name,
                            ta_regdoc_t **out, const char **err)
{
  void *doc = NULL;
  ta_status_t st = ta_registry_read_xml(p, xml, len, name, &doc, err);
  if (st != TA_OK)
    return st;
  xmlNodePtr root = xmlDocGetRootElement(doc);
  if (!root || !root->ns || xmlStrcmp(root->ns->href, (const xmlChar *)TA_REGISTRY_NS) != 0 ||
      xmlStrcmp(root->name, (const xmlChar *)"registry") != 0) {
    xmlFreeDoc(doc);
    return set_err(err, apr_psprintf(p, "%s: the root element is not <registry xmlns=\"%s\">",
                                     name ? name : "registry", TA_REGISTRY_NS));
  }
  /* Whitespace-only text between elements would fight the serialiser's
   * indentation after edits; drop it (comments and content stay). */
  strip_blank_text(root);
  return wrap(p, doc, name, out);
}

ta_status_t ta_regdoc_serialize(const ta_regdoc_t *d, apr_pool_t *p, char **xml, size_t *len)
{
  xmlChar *buf = NULL;
  int size = 0;
  xmlDocDumpFormatMemoryEnc(d->doc, &buf, &size, "UTF-8", 1);
  if (!buf || size <= 0) {
    if (buf)
      xmlFree(buf);
    return TA_E_NOMEM;
  }
  *xml = apr_pstrmemdup(p, (const char *)buf, (apr_size_t)size);
  if (len)
    *len = (size_t)size;
  xmlFree(buf);
  return TA_OK;
}

ta_status_t ta_regdoc_validate(const ta_regdoc_t *d, apr_pool_t *p, ta_registry_t **out,
                               const char **err)
{
  char *xml;
  size_t len;
  ta_registry_t *reg = NULL;
  ta_status_t st = ta_regdoc_serialize(d, p, &xml, &len);
  if (st != TA_OK)
    return st;
  st = ta_registry_parse(p, xml, len, d->name, &reg, err);
  if (out)
    *out = reg;
  return st;
}

/* ---- tree helpers ------------------------------------------------------ */

static int is_elem(xmlNodePtr n, const char *name)
{
  return n && n->type == XML_ELEMENT_NODE && n->ns &&
         xmlStrcmp(n->ns->href, (const xmlChar *)TA_REGISTRY_NS) == 0 &&
         xmlStrcmp(n->name, (const xmlChar *)name) == 0;
}

static xmlNsPtr reg_ns(const ta_regdoc_t *d)
{
  xmlNodePtr root = xmlDocGetRootElement(d->doc);
  return xmlSearchNsByHref(d->doc, root, (const xmlChar *)TA_REGISTRY_NS);
}

/* Text for an attribute or element: valid UTF-8, no control characters
 * (except newline and tab where allow_newlines), not empty. */
static int clean_text(const char *s, int allow_newlines)
{
  if (!s || !*s || !xmlCheckUTF8((const unsigned char *)s))
    return 0;
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if (*c == 0x7f)
      return 0;
    if (*c < 0x20 && !(allow_newlines && (*c == '\n' || *c == '\t' || *c == '\r')))
      return 0;
  }
  return 1;
}

static xmlNodePtr find_app(const ta_regdoc_t *d, const char *id)
{
  xmlNodePtr root = xmlDocGetRootElement(d->doc);
  if (!root || !id)
    return NULL;
  for (xmlNodePtr c = root->children; c; c = c->next) {
    if (!is_elem(c, "application"))
      continue;
    xmlChar *v = xmlGetNoNsProp(c, (const xmlChar *)"id");
    int same = v && strcmp((const char *)v, id) == 0;
    if (v)
      xmlFree(v);
    if (same)
      return c;
  }
  return NULL;
}

static ta_status_t need_app(const ta_regdoc_t *d, const char *id, xmlNodePtr *app, const char **err)
{
  *app = find_app(d, id);
  if (!*app)
    return set_err(err, apr_psprintf(d->p, "no application with id '%s'", id ? id : "(null)"));
  return TA_OK;
}

/* Children of <application> in schema order. */
static int child_rank(xmlNodePtr n)
{
  static const char *const order[] = {"key", "timeout", "ip", "path", "user-allow", "user-deny", "client-cert"};
  for (int i = 0; i < (int)(sizeof(order) / sizeof(order[0])); i++)
    if (is_elem(n, order[i]))
      return i;
  return 100;
}

static int rank_of_name(const char *name)
{
  static const char *const order[] = {"key", "timeout", "ip", "path", "user-allow", "user-deny", "client-cert"};
  for (int i = 0; i < (int)(sizeof(order) / sizeof(order[0])); i++)
    if (strcmp(order[i], name) == 0)
      return i;
  return 100;
}

/* Insert after the last child of the same or an earlier rank, keeping
 * schema order. */
static void insert_ordered(xmlNodePtr app, xmlNodePtr node, const char *name)
{
  int rank = rank_of_name(name);
  xmlNodePtr after = NULL, first_elem = NULL;
  for (xmlNodePtr c = app->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE)
      continue;
    if (!first_elem)
      first_elem = c;
    if (child_rank(c) <= rank)
      after = c;
  }
  if (after)
    xmlAddNextSibling(after, node);
  else if (first_elem)
    xmlAddPrevSibling(first_elem, node);
  else
    xmlAddChild(app, node);
}

static xmlNodePtr new_text_elem(ta_regdoc_t *d, const char *name, const char *text)
{
  xmlNodePtr n = xmlNewDocNode(d->doc, reg_ns(d), (const xmlChar *)name, NULL);
  if (n && text)
    xmlNodeAddContent(n, (const xmlChar *)text);
  return n;
}

static void remove_children_named(xmlNodePtr app, const char *name)
{
  xmlNodePtr c = app->children;
  while (c) {
    xmlNodePtr next = c->next;
    if (is_elem(c, name)) {
      xmlUnlinkNode(c);
      xmlFreeNode(c);
    }
    c = next;
  }
}

static const char *list_elem_name(ta_regdoc_list_t which)
{
  switch (which) {
  case TA_REGDOC_IP: return "ip";
  case TA_REGDOC_PATH: return "path";
  case TA_REGDOC_USER_ALLOW: return "user-allow";
  case TA_REGDOC_USER_DENY: return "user-deny";
  }
  return NULL;
}

static ta_status_t set_attr(ta_regdoc_t *d, xmlNodePtr n, const char *attr, const char *value,
                            const char **err)
{
  if (!value) {
    xmlUnsetNsProp(n, NULL, (const xmlChar *)attr);
    return TA_OK;
  }
  if (!clean_text(value, 0))
    return set_err(err, apr_psprintf(d->p, "%s: empty value, invalid UTF-8 or control characters", attr));
  return xmlSetProp(n, (const xmlChar *)attr, (const xmlChar *)value) ? TA_OK : TA_E_NOMEM;
}

/* ---- edits ------------------------------------------------------------- */

int ta_regdoc_has_app(const ta_regdoc_t *d, const char *id)
{
  return d && find_app(d, id) != NULL;
}

ta_status_t ta_regdoc_add_app(ta_regdoc_t *d, const char *id, const char *name, const char **err)
{
  if (!clean_text(id, 0))
    return set_err(err, "application id: empty, invalid UTF-8 or control characters");
  if (find_app(d, id))
    return set_err(err, apr_psprintf(d->p, "an application with id '%s' already exists", id));
  xmlNodePtr app = xmlNewDocNode(d->doc, reg_ns(d), (const xmlChar *)"application", NULL);
  if (!app)
    return TA_E_NOMEM;
  xmlSetProp(app, (const xmlChar *)"id", (const xmlChar *)id);
  ta_status_t st = set_attr(d, app, "name", name, err);
  if (st != TA_OK) {
    xmlFreeNode(app);
    return st;
  }
  xmlSetProp(app, (const xmlChar *)"enabled", (const xmlChar *)"true");
  xmlAddChild(xmlDocGetRootElement(d->doc), app);
  return TA_OK;
}

ta_status_t ta_regdoc_remove_app(ta_regdoc_t *d, const char *id, const char **err)
{
  xmlNodePtr app;
  ta_status_t st = need_app(d, id, &app, err);
  if (st != TA_OK)
    return st;
  xmlUnlinkNode(app);
  xmlFreeNode(app);
  return TA_OK;
}

ta_status_t ta_regdoc_set_name(ta_regdoc_t *d, const char *id, const char *name, const char **err)
{
  xmlNodePtr app;
  ta_status_t st = need_app(d, id, &app, err);
  return st != TA_OK ? st : set_attr(d, app, "name", name, err);
}

ta_status_t ta_regdoc_set_enabled(ta_regdoc_t *d, const char *id, int enabled, const char **err)
{
  xmlNodePtr app;
  ta_status_t st = need_app(d, id, &app, err);
  return st != TA_OK ? st : set_attr(d, app, "enabled", enabled ? "true" : "false", err);
}

ta_status_t ta_regdoc_set_protocols(ta_regdoc_t *d, const char *id, const char *protocols,
                                    const char **err)
{
  xmlNodePtr app;
  ta_status_t st = need_app(d, id, &app, err);
  if (st != TA_OK)
    return st;
  if (protocols) {
    unsigned mask;
    st = ta_registry_parse_protocols(d->p, protocols, &mask, err);
    if (st != TA_OK)
      return st;
    /* Write the canonical spelling. */
    protocols = apr_pstrcat(d->p, (mask & TA_APP_PROTO_RFC9421) ? "rfc9421 " : "",
                            (mask & TA_APP_PROTO_SERAPH) ? "seraph " : "",
                            (mask & TA_APP_PROTO_MTLS) ? "mtls " : "", NULL);
    ((char *)protocols)[strlen(protocols) - 1] = '\0';
  }
  return set_attr(d, app, "protocols", protocols, err);
}

ta_status_t ta_regdoc_set_timeout_ms(ta_regdoc_t *d, const char *id, long long ms, const char **err)
{
  xmlNodePtr app;
  ta_status_t st = need_app(d, id, &app, err);
  if (st != TA_OK)
    return st;
  if (ms > 86400000LL)
    return set_err(err, apr_psprintf(d->p, "timeout %" APR_INT64_T_FMT " ms is more than one day", (apr_int64_t)ms));
  remove_children_named(app, "timeout");
  if (ms < 0)
    return TA_OK;
  xmlNodePtr t = new_text_elem(d, "timeout", apr_psprintf(d->p, "%" APR_INT64_T_FMT, (apr_int64_t)ms));
  if (!t)
    return TA_E_NOMEM;
  insert_ordered(app, t, "timeout");
  return TA_OK;
}

/* The first <name> child of app whose text is value, or NULL. */
static xmlNodePtr find_value(xmlNodePtr app, const char *name, const char *value)
{
  for (xmlNodePtr c = app->children; c; c = c->next) {
    if (!is_elem(c, name))
      continue;
    xmlChar *v = xmlNodeGetContent(c);
    int same = v && strcmp((const char *)v, value) == 0;
    if (v)
      xmlFree(v);
    if (same)
      return c;
  }
  return NULL;
}

static ta_status_t append_value(ta_regdoc_t *d, xmlNodePtr app, const char *name, const char *value,
                                const char **err)
{
  if (!clean_text(value, 0))
    return set_err(err, apr_psprintf(d->p, "<%s>: empty value, invalid UTF-8 or control characters", name));
  if (find_value(app, name, value))
    return TA_OK;
  xmlNodePtr n = new_text_elem(d, name, value);
  if (!n)
    return TA_E_NOMEM;
  insert_ordered(app, n, name);
  return TA_OK;
}

ta_status_t ta_regdoc_set_list(ta_regdoc_t *d, const char *id, ta_regdoc_list_t which,
                               const char *const *values, size_t n, const char **err)
{
  xmlNodePtr app;
  const char *name = list_elem_name(which);
  if (!name)
    return set_err(err, "unknown list");
  ta_status_t st = need_app(d, id, &app, err);
  if (st != TA_OK)
    return st;
  for (size_t i = 0; i < n; i++)
    if (!clean_text(values[i], 0))
      return set_err(err, apr_psprintf(d->p, "<%s>: empty value, invalid UTF-8 or control characters", name));
  remove_children_named(app, name);
  for (size_t i = 0; i < n; i++) {
    st = append_value(d, app, name, values[i], err);
    if (st != TA_OK)
      return st;
  }
  return TA_OK;
}

ta_status_t ta_regdoc_add_list_item(ta_regdoc_t *d, const char *id, ta_regdoc_list_t which,
                                    const char *value, const char **err)
{
  xmlNodePtr app;
  const char *name = list_elem_name(which);
  if (!name)
    return set_err(err, "unknown list");
  ta_status_t st = need_app(d, id, &app, err);
  return st != TA_OK ? st : append_value(d, app, name, value, err);
}

ta_status_t ta_regdoc_remove_list_item(ta_regdoc_t *d, const char *id, ta_regdoc_list_t which,
                                       const char *value, const char **err)
{
  xmlNodePtr app;
  const char *name = list_elem_name(which);
  if (!name || !value)
    return set_err(err, "unknown list or no value");
  ta_status_t st = need_app(d, id, &app, err);
  if (st != TA_OK)
    return st;
  xmlNodePtr found = find_value(app, name, value);
  if (found) {
    xmlUnlinkNode(found);
    xmlFreeNode(found);
    return TA_OK;
  }
  return set_err(err, apr_psprintf(d->p, "application '%s' has no <%s>%s</%s>", id, name, value, name));
}

/* Fingerprint of an existing <key>: the attribute when present, else computed. */
static const char *key_node_fingerprint(ta_regdoc_t *d, xmlNodePtr k)
{
  xmlChar *fp = xmlGetNoNsProp(k, (const xmlChar *)"fingerprint");
  if (fp) {
    const char *s = apr_pstrdup(d->p, (const char *)fp);
    xmlFree(fp);
    return s;
  }
  xmlChar *alg = xmlGetNoNsProp(k, (const xmlChar *)"alg");
  ta_alg_t a = alg ? ta_alg_from_name((const char *)alg) : TA_ALG_NONE;
  if (alg)
    xmlFree(alg);
  xmlChar *text = xmlNodeGetContent(k);
  if (!text)
    return NULL;
  /* PEM in the file may be indented: let the loader's rules apply by
   * stripping leading whitespace per line. */
  const char *src = (const char *)text;
  size_t n = strlen(src), o = 0;
  char *clean = apr_palloc(d->p, n + 1);
  int bol = 1;
  for (size_t i = 0; i < n; i++) {
    if (bol && (src[i] == ' ' || src[i] == '\t' || src[i] == '\r' || src[i] == '\n'))
      continue;
    bol = src[i] == '\n';
    clean[o++] = src[i];
  }
  clean[o] = '\0';
  xmlFree(text);
  ta_key_t *key = NULL;
  if (ta_key_load_public(d->p, clean, o, a, &key, NULL) != TA_OK || !key)
    return NULL;
  return ta_key_fingerprint(d->p, key);
}

static void format_datetime(char *buf, size_t cap, apr_time_t t)
{
  apr_time_exp_t x;
  apr_size_t rs;
  if (apr_time_exp_gmt(&x, t) != APR_SUCCESS ||
      apr_strftime(buf, &rs, cap, "%Y-%m-%dT%H:%M:%SZ", &x) != APR_SUCCESS)
    buf[0] = '\0';
}

ta_status_t ta_regdoc_add_key(ta_regdoc_t *d, const char *id, const char *pem, ta_alg_t alg,
                              apr_time_t not_before, apr_time_t not_after, const char **err)
{
  xmlNodePtr app;
  ta_status_t st = need_app(d, id, &app, err);
  if (st != TA_OK)
    return st;
  if (!pem || !*pem)
    return set_err(err, "no key given");
  ta_key_t *key = NULL;
  const char *kerr = NULL;
  if (ta_key_load_public(d->p, pem, strlen(pem), alg, &key, &kerr) != TA_OK || !key)
    return set_err(err, apr_psprintf(d->p, "key cannot be used: %s", kerr ? kerr : "unreadable key"));
  if (ta_key_is_private(key))
    return set_err(err, "the key is a private key; register only the public key");
  if (not_before && not_after && not_after < not_before)
    return set_err(err, "not-after is before not-before");
  const char *fp = ta_key_fingerprint(d->p, key);
  const char *spki = ta_key_public_pem(d->p, key);
  const char *alg_name = ta_alg_name(ta_key_alg(key));
  if (!fp || !spki || !alg_name)
    return set_err(err, "cannot encode the key");
  for (xmlNodePtr c = app->children; c; c = c->next) {
    if (!is_elem(c, "key"))
      continue;
    const char *other = key_node_fingerprint(d, c);
    if (other && strcmp(other, fp) == 0)
      return set_err(err, apr_psprintf(d->p, "application '%s' already has key %s", id, fp));
  }
  xmlNodePtr k = new_text_elem(d, "key", apr_pstrcat(d->p, "\n", spki, NULL));
  if (!k)
    return TA_E_NOMEM;
  xmlSetProp(k, (const xmlChar *)"alg", (const xmlChar *)alg_name);
  char when[40];
  if (not_before) {
    format_datetime(when, sizeof(when), not_before);
    xmlSetProp(k, (const xmlChar *)"not-before", (const xmlChar *)when);
  }
  if (not_after) {
    format_datetime(when, sizeof(when), not_after);
    xmlSetProp(k, (const xmlChar *)"not-after", (const xmlChar *)when);
  }
  xmlSetProp(k, (const xmlChar *)"fingerprint", (const xmlChar *)fp);
  insert_ordered(app, k, "key");
  return TA_OK;
}

ta_status_t ta_regdoc_remove_key(ta_regdoc_t *d, const char *id, const char *fingerprint,
                                 const char **err)
{
  xmlNodePtr app, match = NULL;
  int n_keys = 0;
  ta_status_t st = need_app(d, id, &app, err);
  if (st != TA_OK)
    return st;
  if (!fingerprint)
    return set_err(err, "no fingerprint given");
  for (xmlNodePtr c = app->children; c; c = c->next) {
    if (!is_elem(c, "key"))
      continue;
    n_keys++;
    const char *fp = key_node_fingerprint(d, c);
    if (!match && fp && strcmp(fp, fingerprint) == 0)
      match = c;
  }
  if (!match)
    return set_err(err, apr_psprintf(d->p, "application '%s' has no key %s", id, fingerprint));
  xmlChar *protos = xmlGetNoNsProp(app, (const xmlChar *)"protocols");
  int mtls_only = protos && xmlStrcmp(protos, (const xmlChar *)"mtls") == 0;
  if (protos)
    xmlFree(protos);
  if (n_keys == 1 && !mtls_only)
    return set_err(err, apr_psprintf(d->p, "key %s is the last key of application '%s'; add its successor first",
                                     fingerprint, id));
  xmlUnlinkNode(match);
  xmlFreeNode(match);
  return TA_OK;
}

ta_status_t ta_regdoc_set_client_cert(ta_regdoc_t *d, const char *id, const char *sha256_hex,
                                      const char *subject, const char *issuer, const char **err)
{
  xmlNodePtr app;
  ta_status_t st = need_app(d, id, &app, err);
  if (st != TA_OK)
    return st;
  if (sha256_hex && subject)
    return set_err(err, "give either a certificate SHA-256 or a subject, not both");
  if (issuer && !subject)
    return set_err(err, "an issuer needs a subject");
  remove_children_named(app, "client-cert");
  if (!sha256_hex && !subject)
    return TA_OK;
  xmlNodePtr c = new_text_elem(d, "client-cert", NULL);
  if (!c)
    return TA_E_NOMEM;
  if (sha256_hex) {
    char *lower = apr_pstrdup(d->p, sha256_hex);
    for (char *q = lower; *q; q++)
      if (*q >= 'A' && *q <= 'F')
        *q = (char)(*q - 'A' + 'a');
    st = set_attr(d, c, "sha256", lower, err);
  } else {
    st = set_attr(d, c, "subject", subject, err);
    if (st == TA_OK && issuer)
      st = set_attr(d, c, "issuer", issuer, err);
  }
  if (st != TA_OK) {
    xmlFreeNode(c);
    return st;
  }
  insert_ordered(app, c, "client-cert");
  return TA_OK;
}

ta_status_t ta_regdoc_set_self(ta_regdoc_t *d, const char *id, const char *name,
                               const char *key_file, const char **err)
{
  xmlNodePtr root = xmlDocGetRootElement(d->doc), self = NULL;
  for (xmlNodePtr c = root->children; c; c = c->next)
    if (is_elem(c, "self"))
      self = c;
  if (!id) {
    if (self) {
      xmlUnlinkNode(self);
      xmlFreeNode(self);
    }
    return TA_OK;
  }
  xmlNodePtr fresh = xmlNewDocNode(d->doc, reg_ns(d), (const xmlChar *)"self", NULL);
  if (!fresh)
    return TA_E_NOMEM;
  ta_status_t st = set_attr(d, fresh, "id", id, err);
  if (st == TA_OK)
    st = set_attr(d, fresh, "name", name, err);
  if (st == TA_OK)
    st = set_attr(d, fresh, "key-file", key_file, err);
  if (st != TA_OK) {
    xmlFreeNode(fresh);
    return st;
  }
  if (self) {
    xmlReplaceNode(self, fresh);
    xmlFreeNode(self);
  } else {
    xmlNodePtr first = NULL;
    for (xmlNodePtr c = root->children; c && !first; c = c->next)
      if (c->type == XML_ELEMENT_NODE)
        first = c;
    if (first)
      xmlAddPrevSibling(first, fresh);
    else
      xmlAddChild(root, fresh);
  }
  return TA_OK;
}

/* ---- the locked update ------------------------------------------------- */

static ta_status_t sys_err(apr_pool_t *p, const char **err, const char *what, const char *path, int e)
{
  if (err)
    *err = apr_psprintf(p, "%s: %s: %s", path, what, strerror(e));
  return TA_E_INTERNAL;
}

static ta_status_t read_all(apr_pool_t *p, int fd, const char *path, char **buf, size_t *len,
                            const char **err)
{
  size_t cap = 65536, n = 0;
  char *b = malloc(cap + 1);
  if (!b)
    return TA_E_NOMEM;
  for (;;) {
    if (n == cap) {
      if (cap > TA_REGISTRY_MAX_BYTES) {
        free(b);
        if (err)
          *err = apr_psprintf(p, "%s: larger than the %u byte limit", path, TA_REGISTRY_MAX_BYTES);
        return TA_E_CONFIG;
      }
      cap *= 2;
      char *nb = realloc(b, cap + 1);
      if (!nb) {
        free(b);
        return TA_E_NOMEM;
      }
      b = nb;
    }
    ssize_t r = read(fd, b + n, cap - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      int e = errno;
      free(b);
      return sys_err(p, err, "read", path, e);
    }
    if (r == 0)
      break;
    n += (size_t)r;
  }
  *buf = apr_pstrmemdup(p, b, n);
  *len = n;
  free(b);
  return TA_OK;
}

static int write_all(int fd, const char *buf, size_t len)
{
  while (len) {
    ssize_t w = write(fd, buf, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    buf += w;
    len -= (size_t)w;
  }
  return 0;
}

/* An exclusive flock on "<registry>.lock". flock needs only read access,
 * so an administrator who may write the registry (its directory) can take
 * the lock even when another user, root say, created the lock file first
 * with mode 0644 (a write lock with fcntl would need it writable). */
static ta_status_t lock_registry(apr_pool_t *p, const char *path, int *lock_fd, const char **err)
{
  const char *lock_path = apr_pstrcat(p, path, ".lock", NULL);
  int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0 && errno == EACCES)
    fd = open(lock_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return sys_err(p, err, "cannot open lock file", lock_path, errno);
  while (flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR)
      continue;
    int e = errno;
    close(fd);
    return sys_err(p, err, "cannot lock", lock_path, e);
  }
  *lock_fd = fd;
  return TA_OK;
}

/* Resolve a symlinked registry so the rename replaces the real file (a
 * dangling link names the file to create). */
static const char *real_target(apr_pool_t *p, const char *path)
{
  struct stat st;
  if (lstat(path, &st) != 0 || !S_ISLNK(st.st_mode))
    return path;
  char *r = realpath(path, NULL);
  if (r) {
    const char *s = apr_pstrdup(p, r);
    free(r);
    return s;
  }
  char target[PATH_MAX];
  ssize_t n = readlink(path, target, sizeof(target) - 1);
  if (n <= 0)
    return path;
  target[n] = '\0';
  if (target[0] == '/')
    return apr_pstrdup(p, target);
  const char *slash = strrchr(path, '/');
  if (!slash)
    return apr_pstrdup(p, target);
  return apr_pstrcat(p, apr_pstrmemdup(p, path, (apr_size_t)(slash - path + 1)), target, NULL);
}

static ta_status_t write_replace(apr_pool_t *p, const char *path, const char *xml, size_t len,
                                 const struct stat *orig, const char **err)
{
  const char *slash = strrchr(path, '/');
  const char *dir = slash ? (slash == path ? "/" : apr_pstrmemdup(p, path, (apr_size_t)(slash - path))) : ".";
  const char *base = slash ? slash + 1 : path;
  char *tmp = apr_psprintf(p, "%s/.%s.XXXXXX", dir, base);
  int fd = mkstemp(tmp);
  if (fd < 0)
    return sys_err(p, err, "cannot create temporary file in", dir, errno);
  const char *what = NULL;
  int e = 0;
  mode_t mode = orig ? (orig->st_mode & 07777) : 0644;
  struct stat tmp_st;
  if (write_all(fd, xml, len) != 0)
    what = "write";
  else if (fsync(fd) != 0)
    what = "fsync";
  else if (fchmod(fd, mode) != 0)
    what = "chmod";
  else if (fstat(fd, &tmp_st) != 0)
    what = "stat";
  else if (orig && (orig->st_uid != tmp_st.st_uid || orig->st_gid != tmp_st.st_gid) &&
           fchown(fd, orig->st_uid, orig->st_gid) != 0)
    what = "cannot keep the registry's owner/group (run as the owner or root)";
  if (what)
    e = errno;
  if (close(fd) != 0 && !what) {
    what = "close";
    e = errno;
  }
  if (!what && prerename_hook)
    prerename_hook(tmp);
  if (!what && rename(tmp, path) != 0) {
    what = "rename";
    e = errno;
  }
  if (what) {
    unlink(tmp);
    return sys_err(p, err, what, tmp, e);
  }
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    int rc = fsync(dfd);
    e = errno;
    close(dfd);
    if (rc != 0)
      return sys_err(p, err, "fsync of directory", dir, e);
  }
  return TA_OK;
}

ta_status_t ta_registry_update(apr_pool_t *p, const char *path, int flags,
                               ta_registry_edit_fn edit, void *baton,
                               ta_registry_t **out, const char **err)
{
  if (out)
    *out = NULL;
  if (err)
    *err = NULL;
  if (!p || !path || !*path || !edit)
    return TA_E_INTERNAL;
  apr_pool_t *sp;
  if (apr_pool_create(&sp, p) != APR_SUCCESS)
    return TA_E_NOMEM;
  path = real_target(p, path);
  int lock_fd = -1;
  const char *e = NULL;
  ta_status_t st = lock_registry(p, path, &lock_fd, &e);
  if (st != TA_OK)
    goto done;

  /* Re-read under the lock: another writer may have changed the file. */
  struct stat orig;
  int exists = 0;
  char *old = NULL;
  size_t old_len = 0;
  ta_regdoc_t *doc = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd >= 0) {
    exists = 1;
    if (fstat(fd, &orig) != 0 || !S_ISREG(orig.st_mode)) {
      close(fd);
      st = set_err(&e, apr_psprintf(p, "%s: not a regular file", path));
      goto done;
    }
    st = read_all(sp, fd, path, &old, &old_len, &e);
    close(fd);
    if (st != TA_OK)
      goto done;
    if (old_len == 0 && (flags & TA_REGISTRY_CREATE)) {
      /* An empty file (e.g. just created by an installer) starts empty. */
      st = ta_regdoc_new(sp, &doc);
      if (st != TA_OK)
        goto done;
      doc->name = path;
    } else {
      st = ta_regdoc_parse(sp, old, old_len, path, &doc, &e);
      if (st != TA_OK)
        goto done;
    }
  } else if (errno == ENOENT && (flags & TA_REGISTRY_CREATE)) {
    st = ta_regdoc_new(sp, &doc);
    if (st != TA_OK)
      goto done;
    doc->name = path;
  } else {
    st = sys_err(p, &e, "cannot open", path, errno);
    goto done;
  }

  st = edit(doc, baton, &e);
  if (st != TA_OK) {
    if (!e)
      e = "the edit was refused";
    goto done;
  }
  char *xml;
  size_t len;
  st = ta_regdoc_serialize(doc, sp, &xml, &len);
  if (st != TA_OK)
    goto done;
  ta_registry_t *reg = NULL;
  /* The very loader the module uses decides; the result lives in p. */
  st = ta_registry_parse(p, xml, len, path, &reg, &e);
  if (st != TA_OK) {
    e = apr_pstrcat(p, "the edited registry is invalid, nothing was written: ", e, NULL);
    goto done;
  }
  if (!(exists && old_len == len && memcmp(old, xml, len) == 0)) {
    st = write_replace(sp, path, xml, len, exists ? &orig : NULL, &e);
    if (st != TA_OK)
      goto done;
  }
  if (out)
    *out = reg;

done:
  if (lock_fd >= 0)
    close(lock_fd);
  if (err && e)
    *err = apr_pstrdup(p, e);
  apr_pool_destroy(sp);
  return st;
}
