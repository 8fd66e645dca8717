/* The RFC 9421 profile: parameters, application, coverage, clock, keys,
 * replay record, then the shared policy steps. Cheap and unauthenticated
 * checks come first; 403 policy answers only after the signature verified. */
#include "ta_verify_int.h"

#include <string.h>

#include <apr_strings.h>

#include "ta_digest.h"
#include "ta_httpsig.h"

static int valid_nonce(const char *nonce)
{
  size_t len = strnlen(nonce, TA_VERIFY_NONCE_MAX + 1);
  if (len < TA_VERIFY_NONCE_MIN || len > TA_VERIFY_NONCE_MAX)
    return 0;
  for (size_t i = 0; i < len; i++) {
    char c = nonce[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return 0;
  }
  return 1;
}

static int valid_keyid(const char *keyid)
{
  size_t len = strnlen(keyid, TA_VERIFY_MAX_KEYID + 1);
  if (len == 0 || len > TA_VERIFY_MAX_KEYID)
    return 0;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)keyid[i] <= 0x20 || (unsigned char)keyid[i] >= 0x7f)
      return 0;
  return 1;
}

static ta_status_t check_params(apr_pool_t *p, const ta_policy_t *pol, const ta_httpsig_t *sig,
                                ta_verdict_t *out)
{
  if (sig->keyid == NULL)
    return ta_verify_fail(out, TA_E_PARAM_MISSING, "keyid is missing");
  if (!valid_keyid(sig->keyid))
    return ta_verify_fail(out, TA_E_PARAM_INVALID,
                          apr_psprintf(p, "keyid must be 1-%d printable characters without spaces",
                                       TA_VERIFY_MAX_KEYID));
  if (!sig->has_created)
    return ta_verify_fail(out, TA_E_PARAM_MISSING, "created is missing");
  if (sig->nonce != NULL) {
    if (!valid_nonce(sig->nonce))
      return ta_verify_fail(out, TA_E_PARAM_INVALID,
                            apr_psprintf(p, "nonce must be %d-%d characters of [A-Za-z0-9_-]",
                                         TA_VERIFY_NONCE_MIN, TA_VERIFY_NONCE_MAX));
  } else if (pol->replay_protection) {
    return ta_verify_fail(out, TA_E_PARAM_MISSING, "nonce is missing (replay protection is on)");
  }
  if (sig->has_expires && sig->expires < sig->created)
    return ta_verify_fail(out, TA_E_PARAM_INVALID, "expires lies before created");
  if (sig->alg != NULL) {
    ta_alg_t alg = ta_alg_from_name(sig->alg);
    if (alg == TA_ALG_NONE || alg == TA_ALG_HMAC_SHA256)
      return ta_verify_fail(out, TA_E_ALG_UNSUPPORTED,
                            apr_psprintf(p, "alg %s is not supported", ta_verify_log_id(p, sig->alg)));
  }
  return TA_OK;
}

/* *digest gets the covered Content-Digest value when the request has a body.
 * user_lines: how many lines of the user header the request carries. */
static ta_status_t check_coverage(apr_pool_t *p, const ta_policy_t *pol, const ta_msg_t *msg,
                                  const ta_conn_t *conn, const ta_httpsig_t *sig, int user_lines,
                                  const char **digest, ta_verdict_t *out)
{
  *digest = NULL;
  if (!ta_httpsig_covers(sig, "@method"))
    return ta_verify_fail(out, TA_E_COVERAGE, "@method is not covered");
  int target = ta_httpsig_covers(sig, "@target-uri")
               || (ta_httpsig_covers(sig, "@authority") && ta_httpsig_covers(sig, "@path")
                   && (msg->query == NULL || ta_httpsig_covers(sig, "@query")));
  if (!target)
    return ta_verify_fail(out, TA_E_COVERAGE,
                          msg->query ? "neither @target-uri nor @authority, @path and @query are covered"
                                     : "neither @target-uri nor @authority and @path are covered");
  const char *user_header = pol->user_header ? pol->user_header : TA_DEFAULT_USER_HEADER;
  /* Field names compare case-insensitively; the message names the component in lower case. */
  if (user_lines > 0 && !ta_httpsig_covers_field(sig, user_header)) {
    char *lower = apr_pstrdup(p, user_header);
    for (char *c = lower; *c; c++)
      if (*c >= 'A' && *c <= 'Z')
        *c = (char)(*c - 'A' + 'a');
    return ta_verify_fail(out, TA_E_COVERAGE,
                          apr_psprintf(p, "the user header %s is sent but not covered", lower));
  }
  if (conn->has_body) {
    const char *value = ta_msg_field_lines(p, msg, TA_DIGEST_FIELD, NULL);
    if (value == NULL)
      return ta_verify_fail(out, TA_E_DIGEST_MISSING, "the request has a body but no Content-Digest");
    if (!ta_httpsig_covers_field(sig, "content-digest"))
      return ta_verify_fail(out, TA_E_COVERAGE, "the request has a body but content-digest is not covered");
    ta_digest_expect_t expect;
    if (ta_digest_parse(p, value, strlen(value), &expect) != TA_OK)
      return ta_verify_fail(out, TA_E_DIGEST_INVALID,
                            "Content-Digest is malformed or has no sha-256/sha-512 member");
    *digest = value;
  }
  return TA_OK;
}

/* Any key valid now may verify (rotation). When none does, the most
 * telling reason wins: a key of the signed algorithm that did not verify,
 * then a signature of the wrong size, then an alg that names no key. */
static ta_status_t check_keys(apr_pool_t *p, const ta_app_t *app, const ta_httpsig_t *sig,
                              apr_time_t now, ta_verdict_t *out)
{
  size_t n_valid = 0;
  int bad = 0, encoding = 0, mismatch = 0;
  ta_status_t other = TA_OK;
  for (size_t i = 0; i < app->n_keys; i++) {
    const ta_app_key_t *k = &app->keys[i];
    if (!ta_app_key_valid_at(k, now))
      continue;
    n_valid++;
    ta_status_t st = ta_httpsig_verify(sig, k->key);
    if (st == TA_OK)
      return TA_OK;
    if (st == TA_E_BAD_SIGNATURE)
      bad = 1;
    else if (st == TA_E_SIG_ENCODING)
      encoding = 1;
    else if (st == TA_E_ALG_MISMATCH)
      mismatch = 1;
    else
      other = st;
  }
  const char *id = ta_verify_log_id(p, app->id);
  if (n_valid == 0)
    return ta_verify_fail(out, TA_E_NO_VALID_KEY,
                          apr_psprintf(p, "none of the %" APR_SIZE_T_FMT " keys of application '%s' "
                                       "is valid now", app->n_keys, id));
  if (bad)
    return ta_verify_fail(out, TA_E_BAD_SIGNATURE,
                          apr_psprintf(p, "the signature does not verify with any of the %" APR_SIZE_T_FMT
                                       " valid keys of application '%s'", n_valid, id));
  if (encoding)
    return ta_verify_fail(out, TA_E_SIG_ENCODING,
                          apr_psprintf(p, "the signature has the wrong length for the keys of application '%s'", id));
  if (mismatch)
    return ta_verify_fail(out, TA_E_ALG_MISMATCH,
                          apr_psprintf(p, "alg %s is not the algorithm of any valid key of application '%s'",
                                       ta_verify_log_id(p, sig->alg), id));
  return ta_verify_fail(out, other != TA_OK ? other : TA_E_INTERNAL, NULL);
}

/* Fixed-length cache key: app ids and nonces are bounded but together may
 * exceed what memcache accepts, and a hash keeps the key free of separators.
 * The id itself goes to md (the verdict's replay_id). */
static const char *replay_key(apr_pool_t *p, const ta_policy_t *pol, const char *app_id,
                              const char *nonce, unsigned char md[TA_VERDICT_REPLAY_ID_LEN])
{
  static const char hex[] = "0123456789abcdef";
  const size_t md_len = TA_VERDICT_REPLAY_ID_LEN;
  size_t id_len = strlen(app_id), nonce_len = strlen(nonce);
  char stack[512];
  char *material = id_len + 1 + nonce_len <= sizeof stack ? stack
                                                          : apr_palloc(p, id_len + 1 + nonce_len);
  memcpy(material, app_id, id_len);
  material[id_len] = '\n';
  memcpy(material + id_len + 1, nonce, nonce_len);
  if (ta_verify_replay_id(pol, material, id_len + 1 + nonce_len, md) != TA_OK)
    return NULL;
  char *key = apr_palloc(p, sizeof("rfc9421:") + md_len * 2);
  memcpy(key, "rfc9421:", 8);
  for (size_t i = 0; i < md_len; i++) {
    key[8 + 2 * i] = hex[md[i] >> 4];
    key[8 + 2 * i + 1] = hex[md[i] & 15];
  }
  key[8 + 2 * md_len] = '\0';
  return key;
}

ta_status_t ta_verify_native(apr_pool_t *p, const ta_registry_t *reg, const ta_policy_t *pol,
                             const ta_msg_t *msg, const ta_conn_t *conn, apr_time_t now,
                             ta_verdict_t *out)
{
  out->protocol = "native";
  ta_httpsig_t *sig = NULL;
  ta_status_t st = ta_httpsig_parse(p, msg, pol->signature_label ? pol->signature_label
                                                                  : TA_DEFAULT_SIGNATURE_LABEL, &sig);
  if (sig && sig->keyid)
    out->claimed_app_id = ta_verify_log_id(p, sig->keyid);
  if (st != TA_OK)
    return ta_verify_fail(out, st, apr_psprintf(p, "Signature-Input/Signature: %s", ta_error_summary(st)));

  if ((st = check_params(p, pol, sig, out)) != TA_OK)
    return st;

  const ta_app_t *app = ta_registry_find(reg, sig->keyid);
  if (app == NULL)
    return ta_verify_fail(out, TA_E_UNKNOWN_APP,
                          apr_psprintf(p, "keyid '%s' is not a registered application", out->claimed_app_id));
  out->app = app;
  if (!app->enabled)
    return ta_verify_fail(out, TA_E_APP_DISABLED,
                          apr_psprintf(p, "application '%s' is disabled", out->claimed_app_id));

  /* The user header is looked up once: coverage needs its presence, the
   * policy (after the signature verified) its value. */
  int user_lines = 0;
  const char *user_value = ta_msg_field_lines(p, msg, pol->user_header ? pol->user_header
                                                                       : TA_DEFAULT_USER_HEADER,
                                              &user_lines);
  const char *digest = NULL;
  if ((st = check_coverage(p, pol, msg, conn, sig, user_lines, &digest, out)) != TA_OK)
    return st;

  apr_interval_time_t limit = ta_verify_age_limit(app, pol, 1);
  if ((st = ta_verify_clock(p, sig->created, sig->has_expires, sig->expires, limit,
                            pol->future_skew_sec, now, out)) != TA_OK)
    return st;

  /* The replay record is named before the verification, so that the
   * store's memory can be fetched while the signature is checked. */
  const char *key = NULL;
  apr_time_t key_expires = 0;
  if (pol->replay_protection) {
    key = replay_key(p, pol, app->id, sig->nonce, out->replay_id);
    if (key == NULL)
      return ta_verify_fail(out, TA_E_INTERNAL, "hashing the replay key failed");
    if (pol->replay_id_known)
      pol->replay_id_known(out->replay_id);
    /* The signature is acceptable until created + limit (or expires);
     * the skew margin covers a server clock that steps back. */
    key_expires = apr_time_from_sec(sig->created) + limit;
    if (sig->has_expires && apr_time_from_sec(sig->expires) < key_expires)
      key_expires = apr_time_from_sec(sig->expires);
    key_expires += apr_time_from_sec(pol->future_skew_sec > 0 ? pol->future_skew_sec : 0);
  }

  if ((st = check_keys(p, app, sig, now, out)) != TA_OK)
    return st;

  /* Authenticated from here on. */
  if (!(app->protocols & TA_APP_PROTO_RFC9421))
    return ta_verify_fail(out, TA_E_APP_NOT_AUTHORIZED,
                          apr_psprintf(p, "application '%s' is not registered for RFC 9421 signatures "
                                       "(protocols)", out->claimed_app_id));

  const char *user = NULL;
  if ((st = ta_verify_user_lines(p, pol, user_value, user_lines, &user, out)) != TA_OK)
    return st;
  if ((st = ta_verify_policy(p, pol, msg, conn, app, user, 0, 0, 1, out)) != TA_OK)
    return st;

  out->content_digest = digest;
  out->replay_key = key;
  out->replay_expires = key_expires;
  return TA_OK;
}
