#include "ta_httpsig.h"

#include <string.h>
#include <apr_strings.h>

static ta_status_t string_param(apr_pool_t *p, const ta_sf_bare_t *v, const char **out)
{
  if (v->type != TA_SF_STRING || v->v.str.len > TA_HTTPSIG_MAX_STRING_PARAM)
    return TA_E_PARAM_INVALID;
  *out = apr_pstrmemdup(p, v->v.str.ptr, v->v.str.len);
  return TA_OK;
}

static ta_status_t time_param(const ta_sf_bare_t *v, int *has, int64_t *out)
{
  if (v->type != TA_SF_INTEGER || v->v.integer < 0 || v->v.integer > TA_HTTPSIG_MAX_TIME)
    return TA_E_PARAM_INVALID;
  *has = 1;
  *out = v->v.integer;
  return TA_OK;
}

static ta_status_t read_params(apr_pool_t *p, const ta_sf_params_t *params, ta_httpsig_t *sig)
{
  for (size_t i = 0; i < params->n; i++) {
    const char *k = params->items[i].key;
    const ta_sf_bare_t *v = &params->items[i].value;
    ta_status_t st = TA_OK;
    /* the first byte picks the only name it can be */
    switch (k[0]) {
    case 'c':
      if (strcmp(k, "created") == 0)
        st = time_param(v, &sig->has_created, &sig->created);
      break;
    case 'e':
      if (strcmp(k, "expires") == 0)
        st = time_param(v, &sig->has_expires, &sig->expires);
      break;
    case 'k':
      if (strcmp(k, "keyid") == 0)
        st = string_param(p, v, &sig->keyid);
      break;
    case 'n':
      if (strcmp(k, "nonce") == 0)
        st = string_param(p, v, &sig->nonce);
      break;
    case 'a':
      if (strcmp(k, "alg") == 0)
        st = string_param(p, v, &sig->alg);
      break;
    case 't':
      if (strcmp(k, "tag") == 0)
        st = string_param(p, v, &sig->tag);
      break;
    default:
      break;
    }
    /* other parameters are signed (they are in @signature-params) but carry no meaning here */
    if (st != TA_OK)
      return st;
  }
  return TA_OK;
}

/* "(" identifiers separated by SP ")" parameters: RFC 8941 4.1.1.1 over
 * identifiers that are already serialized items. */
static const char *inner_list_value(apr_pool_t *p, const ta_component_t *c, size_t n,
                                    const char *params_text, size_t params_len)
{
  size_t total = 2 + params_len + (n ? n - 1 : 0);
  for (size_t i = 0; i < n; i++)
    total += c[i].id_len;
  char *v = apr_palloc(p, total + 1), *w = v;
  *w++ = '(';
  for (size_t i = 0; i < n; i++) {
    if (i)
      *w++ = ' ';
    memcpy(w, c[i].id, c[i].id_len);
    w += c[i].id_len;
  }
  *w++ = ')';
  memcpy(w, params_text, params_len);
  w[params_len] = '\0';
  return v;
}

ta_status_t ta_httpsig_parse(apr_pool_t *p, const ta_msg_t *msg,
                             const char *preferred_label, ta_httpsig_t **out)
{
  ta_status_t st;
  int n_input, n_sig;
  const char *input_value = ta_msg_field_lines(p, msg, TA_HTTPSIG_INPUT_FIELD, &n_input);
  const char *sig_value = ta_msg_field_lines(p, msg, TA_HTTPSIG_FIELD, &n_sig);
  if (!n_input && !n_sig)
    return TA_E_NO_CREDENTIALS;
  if (!n_input)
    return TA_E_SIG_INPUT_MISSING;
  if (!n_sig)
    return TA_E_SIG_MISSING;

  /* combined values are bounded before any parsing */
  size_t input_len = strlen(input_value), sig_len = strlen(sig_value);
  if (input_len > TA_SIG_MAX_FIELD || sig_len > TA_SIG_MAX_FIELD)
    return TA_E_TOO_LARGE;
  ta_sf_dict_t inputs, sigs;
  if ((st = ta_sf_parse_dict(p, input_value, input_len, &inputs)) != TA_OK
      || (st = ta_sf_parse_dict(p, sig_value, sig_len, &sigs)) != TA_OK)
    return st;
  if (inputs.n == 0)
    return TA_E_SIG_INPUT_MISSING;

  /* the label is taken from the parsed dictionary (pool memory), never the caller's string */
  const ta_sf_member_t *input = preferred_label ? ta_sf_dict_get(&inputs, preferred_label) : NULL;
  if (!input) {
    if (inputs.n != 1)
      return TA_E_SIG_AMBIGUOUS;
    input = &inputs.members[0];
  }
  const char *label = inputs.keys[input - inputs.members];
  const ta_sf_member_t *value = ta_sf_dict_get(&sigs, label);
  if (!value)
    return TA_E_SIG_MISSING;
  if (!input->is_inner_list)
    return TA_E_SF_PARSE;
  if (value->is_inner_list || value->item.bare.type != TA_SF_BYTES || value->item.bare.v.str.len == 0)
    return TA_E_SIG_ENCODING;
  if (input->n_inner > TA_SIG_MAX_COMPONENTS)
    return TA_E_TOO_LARGE;

  ta_httpsig_t *sig = apr_pcalloc(p, sizeof(*sig));
  sig->pool = p;
  sig->label = label;
  sig->sig = (const unsigned char *)value->item.bare.v.str.ptr;
  sig->sig_len = value->item.bare.v.str.len;
  if ((st = read_params(p, &input->params, sig)) != TA_OK)
    return st;
  /* Parameters sent in canonical form (as signers write them) are taken
   * as they are; others are serialized. */
  const char *params_text = input->params.canonical;
  size_t params_len = input->params.canonical_len;
  if (!params_text) {
    params_text = ta_sf_serialize_params(p, &input->params);
    if (!params_text)
      return TA_E_SF_PARSE;
    params_len = strlen(params_text);
  }

  sig->components = apr_pcalloc(p, (input->n_inner ? input->n_inner : 1) * sizeof(ta_component_t));
  /* n_components only counts identifiers that passed, for callers that look
   * at a signature whose parsing failed */
  sig->n_components = 0;
  ta_status_t component_st = TA_OK;
  for (size_t i = 0; i < input->n_inner && component_st == TA_OK; i++) {
    if ((component_st = ta_component_from_item(p, &input->inner[i], &sig->components[i])) != TA_OK)
      break;
    for (size_t j = 0; j < i; j++)
      if (ta_component_equal(&sig->components[i], &sig->components[j]))
        component_st = TA_E_COMPONENT_DUP;
    if (component_st == TA_OK)
      sig->n_components = i + 1;
  }
  /* The inner list's items serialize to the identifiers just built, so
   * @signature-params is assembled from them; when an identifier failed, the
   * member serializer decides, as it always did, whether the signature is
   * returned (with its keyid for the log) or refused as unserializable. */
  if (component_st != TA_OK) {
    sig->signature_params = ta_sf_serialize_member(p, input);
    if (!sig->signature_params)
      return TA_E_SF_PARSE;
    *out = sig;
    return component_st;
  }
  sig->signature_params = inner_list_value(p, sig->components, sig->n_components, params_text,
                                           params_len);
  *out = sig;

  char *base;
  size_t base_len;
  st = ta_sigbase_build(p, msg, sig->components, sig->n_components, sig->signature_params,
                        &base, &base_len);
  if (st != TA_OK)
    return st;
  sig->base = base;
  sig->base_len = base_len;
  return TA_OK;
}

/* A bare lower-case identifier without parameters ("@method",
 * "content-digest") names exactly the component of that name without
 * flags, key or name: the common case needs no structured-field parse. */
static size_t plain_identifier_length(const char *s)
{
  const char *start = s;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '@'
          || *s == '_' || *s == '.'))
      return 0;
  return (size_t)(s - start);
}

int ta_httpsig_covers(const ta_httpsig_t *sig, const char *component)
{
  ta_component_t c;
  size_t len = sig && component ? plain_identifier_length(component) : 0;
  if (len > 0) {
    for (size_t i = 0; i < sig->n_components; i++) {
      const ta_component_t *have = &sig->components[i];
      /* without parameters the identifier is "name": its length tells most apart */
      if (have->flags == 0 && have->key == NULL && have->qname == NULL
          && (have->id_len == 0 || have->id_len == len + 2)
          && strcmp(have->name, component) == 0)
        return 1;
    }
    return 0;
  }
  if (!sig || ta_component_parse(sig->pool, component, &c) != TA_OK)
    return 0;
  for (size_t i = 0; i < sig->n_components; i++)
    if (ta_component_equal(&sig->components[i], &c))
      return 1;
  return 0;
}

int ta_httpsig_covers_field(const ta_httpsig_t *sig, const char *field_name)
{
  if (!sig || !field_name)
    return 0;
  for (size_t i = 0; i < sig->n_components; i++) {
    const ta_component_t *c = &sig->components[i];
    if (!c->is_derived && !c->key && !(c->flags & TA_COMP_REQ)
        && ta_msg_name_eq(c->name, field_name))
      return 1;
  }
  return 0;
}

static ta_status_t check_alg(const char *alg, const ta_key_t *key)
{
  if (!alg)
    return TA_OK;
  const char *key_alg = ta_alg_name(ta_key_alg(key));
  return key_alg && strcmp(key_alg, alg) == 0 ? TA_OK : TA_E_ALG_MISMATCH;
}

ta_status_t ta_httpsig_verify(const ta_httpsig_t *sig, const ta_key_t *key)
{
  if (!sig || !key || !sig->base)
    return TA_E_INTERNAL;
  ta_status_t st = check_alg(sig->alg, key);
  if (st != TA_OK)
    return st;
  return ta_key_verify(key, (const unsigned char *)sig->base, sig->base_len,
                       sig->sig, sig->sig_len);
}

static void push_param(ta_sf_param_t *items, size_t *n, const char *key, ta_sf_bare_t v)
{
  items[*n].key = key;
  items[*n].value = v;
  (*n)++;
}

static ta_sf_bare_t bare_int(int64_t i)
{
  ta_sf_bare_t b;
  memset(&b, 0, sizeof(b));
  b.type = TA_SF_INTEGER;
  b.v.integer = i;
  return b;
}

static ta_sf_bare_t bare_string(const char *s)
{
  ta_sf_bare_t b;
  memset(&b, 0, sizeof(b));
  b.type = TA_SF_STRING;
  b.v.str.ptr = s;
  b.v.str.len = strlen(s);
  return b;
}

/* One-member dictionary "label=<member>", which also validates the label. */
static char *single_member_dict(apr_pool_t *p, const char *label, const ta_sf_member_t *m)
{
  ta_sf_dict_t d;
  d.keys = &label;
  d.members = (ta_sf_member_t *)m;
  d.n = 1;
  return ta_sf_serialize_dict(p, &d);
}

ta_status_t ta_httpsig_sign(apr_pool_t *p, ta_msg_t *msg,
                            const ta_httpsig_sign_params_t *sp,
                            const ta_key_t *key, int add_fields,
                            const char **signature_input,
                            const char **signature,
                            const char **base_out, size_t *base_len_out)
{
  ta_status_t st;
  if (!msg || !sp || !key)
    return TA_E_INTERNAL;
  const char *label = sp->label ? sp->label : TA_HTTPSIG_DEFAULT_LABEL;
  if (sp->n_components > TA_SIG_MAX_COMPONENTS)
    return TA_E_TOO_LARGE;
  if ((st = check_alg(sp->alg, key)) != TA_OK)
    return st;
  if ((sp->created >= 0 && sp->created > TA_HTTPSIG_MAX_TIME)
      || (sp->expires >= 0 && sp->expires > TA_HTTPSIG_MAX_TIME))
    return TA_E_PARAM_INVALID;

  ta_component_t *comps = apr_pcalloc(p, (sp->n_components ? sp->n_components : 1) * sizeof(*comps));
  for (size_t i = 0; i < sp->n_components; i++)
    if ((st = ta_component_parse(p, sp->components[i], &comps[i])) != TA_OK)
      return st;

  ta_sf_params_t params;
  params.items = apr_pcalloc(p, 6 * sizeof(ta_sf_param_t));
  params.n = 0;
  params.canonical = NULL;
  params.canonical_len = 0;
  if (sp->created >= 0)
    push_param(params.items, &params.n, "created", bare_int(sp->created));
  if (sp->keyid)
    push_param(params.items, &params.n, "keyid", bare_string(sp->keyid));
  if (sp->alg)
    push_param(params.items, &params.n, "alg", bare_string(sp->alg));
  if (sp->expires >= 0)
    push_param(params.items, &params.n, "expires", bare_int(sp->expires));
  if (sp->nonce)
    push_param(params.items, &params.n, "nonce", bare_string(sp->nonce));
  if (sp->tag)
    push_param(params.items, &params.n, "tag", bare_string(sp->tag));
  for (size_t i = 0; i < params.n; i++)
    if (params.items[i].value.type == TA_SF_STRING
        && params.items[i].value.v.str.len > TA_HTTPSIG_MAX_STRING_PARAM)
      return TA_E_PARAM_INVALID;

  const char *sig_params = ta_sigbase_params_value(p, comps, sp->n_components, &params);
  if (!sig_params)
    return TA_E_PARAM_INVALID; /* a string parameter outside printable ASCII */

  char *base;
  size_t base_len;
  if ((st = ta_sigbase_build(p, msg, comps, sp->n_components, sig_params, &base, &base_len)) != TA_OK)
    return st;

  unsigned char *sig_bytes;
  size_t sig_len;
  if ((st = ta_key_sign(p, key, (const unsigned char *)base, base_len, &sig_bytes, &sig_len)) != TA_OK)
    return st;

  ta_sf_member_t input_member;
  memset(&input_member, 0, sizeof(input_member));
  input_member.is_inner_list = 1;
  input_member.n_inner = sp->n_components;
  input_member.inner = apr_pcalloc(p, (sp->n_components ? sp->n_components : 1) * sizeof(ta_sf_item_t));
  for (size_t i = 0; i < sp->n_components; i++)
    input_member.inner[i] = comps[i].item;
  input_member.params = params;

  ta_sf_member_t sig_member;
  memset(&sig_member, 0, sizeof(sig_member));
  sig_member.item.bare.type = TA_SF_BYTES;
  sig_member.item.bare.v.str.ptr = (const char *)sig_bytes;
  sig_member.item.bare.v.str.len = sig_len;

  char *input_value = single_member_dict(p, label, &input_member);
  char *sig_value = single_member_dict(p, label, &sig_member);
  if (!input_value || !sig_value)
    return TA_E_PARAM_INVALID; /* the label is not an RFC 8941 key */

  if (add_fields) {
    /* a second member with the same label would silently replace the first */
    const char *existing = ta_msg_field(p, msg, TA_HTTPSIG_INPUT_FIELD);
    ta_sf_dict_t d;
    if (existing && ta_sf_parse_dict(p, existing, strlen(existing), &d) == TA_OK
        && ta_sf_dict_get(&d, label))
      return TA_E_SIG_AMBIGUOUS;
    ta_msg_add_field(msg, TA_HTTPSIG_INPUT_FIELD, input_value);
    ta_msg_add_field(msg, TA_HTTPSIG_FIELD, sig_value);
  }
  if (signature_input)
    *signature_input = input_value;
  if (signature)
    *signature = sig_value;
  if (base_out)
    *base_out = base;
  if (base_len_out)
    *base_len_out = base_len;
  return TA_OK;
}
