/* RFC 9421 HTTP Message Signatures over ta_msg_t: select and parse one
 * signature from Signature-Input/Signature, build its signature base,
 * verify it with a ta_key_t, and sign a message.
 *
 * This file applies RFC 9421 only. The profile (which components must be
 * covered, whether created/nonce are required, clock windows) is applied by
 * ta_verify.c with the accessors below. */
#ifndef TA_HTTPSIG_H
#define TA_HTTPSIG_H

#include <stddef.h>
#include <stdint.h>
#include <apr_pools.h>

#include "ta_error.h"
#include "ta_keys.h"
#include "ta_msg.h"
#include "ta_sigbase.h"

#define TA_HTTPSIG_INPUT_FIELD "Signature-Input"
#define TA_HTTPSIG_FIELD "Signature"
/* Largest accepted created/expires (9999-12-31T23:59:59Z). */
#define TA_HTTPSIG_MAX_TIME INT64_C(253402300799)
#define TA_HTTPSIG_MAX_STRING_PARAM 1024    /* keyid, nonce, tag, alg */

typedef struct {
  const char *label;                 /* the selected dictionary key */
  ta_component_t *components;        /* covered, in signed order */
  size_t n_components;
  const char *signature_params;      /* @signature-params value (canonical inner list) */
  /* Parameters (RFC 9421 2.3); has_* / NULL when absent. */
  int has_created;
  int64_t created;                   /* seconds since the epoch, 0..TA_HTTPSIG_MAX_TIME */
  int has_expires;
  int64_t expires;
  const char *nonce;
  const char *keyid;
  const char *alg;
  const char *tag;
  /* The signature value and the base it must verify over. */
  const unsigned char *sig;
  size_t sig_len;
  const char *base;                  /* NULL if building the base failed */
  size_t base_len;
  apr_pool_t *pool;                  /* the pool it was parsed in (used by the accessors) */
} ta_httpsig_t;

/* Parse the signature labelled preferred_label (may be NULL), or the only
 * one when that label is absent. Errors:
 *   TA_E_NO_CREDENTIALS     neither field present
 *   TA_E_SIG_INPUT_MISSING  Signature without Signature-Input (or label absent from it)
 *   TA_E_SIG_MISSING        Signature-Input without a Signature member of that label
 *   TA_E_SIG_AMBIGUOUS      several signatures, none with the preferred label
 *   TA_E_TOO_LARGE          a field over TA_SIG_MAX_FIELD, > TA_SIG_MAX_COMPONENTS components
 *   TA_E_SF_PARSE           a field is not an RFC 8941 dictionary, member of the wrong shape
 *   TA_E_SIG_ENCODING       the Signature member is not a byte sequence
 *   TA_E_PARAM_INVALID      created/expires not integers in range, keyid/nonce/alg/tag not strings
 *   TA_E_COMPONENT_*        bad, duplicate or (while building the base) absent components
 * *out is set once the label and parameters are known, even when building
 * the base then fails (base == NULL), so the caller can log the keyid. */
ta_status_t ta_httpsig_parse(apr_pool_t *p, const ta_msg_t *msg,
                             const char *preferred_label, ta_httpsig_t **out);

/* 1 when the signature covers this component identifier (any form that
 * ta_component_parse accepts: "@method", "content-digest", "\"x\";req"). */
int ta_httpsig_covers(const ta_httpsig_t *sig, const char *component);
/* 1 when the whole value of this field (name compared case-insensitively)
 * of the message itself is covered: the plain identifier, or with ;sf or
 * ;bs; not ;key (one member only) nor ;req. For policy rules such as "the
 * user header must be covered". */
int ta_httpsig_covers_field(const ta_httpsig_t *sig, const char *field_name);

/* Verify the signature over its base with key. An alg parameter must equal
 * ta_alg_name(ta_key_alg(key)) (TA_E_ALG_MISMATCH). Returns TA_OK,
 * TA_E_BAD_SIGNATURE, TA_E_SIG_ENCODING, TA_E_ALG_MISMATCH, or the base's
 * build error. Never logs. */
ta_status_t ta_httpsig_verify(const ta_httpsig_t *sig, const ta_key_t *key);

/* What to sign. Parameters are emitted in the order created, keyid, alg,
 * expires, nonce, tag (the RFC 9421 appendix B examples' order). */
typedef struct {
  const char *label;                  /* NULL: TA_HTTPSIG_DEFAULT_LABEL */
  const char *const *components;      /* identifiers, as ta_component_parse accepts */
  size_t n_components;
  int64_t created;                    /* < 0: omitted */
  int64_t expires;                    /* < 0: omitted */
  const char *keyid, *alg, *nonce, *tag; /* NULL: omitted */
} ta_httpsig_sign_params_t;

#define TA_HTTPSIG_DEFAULT_LABEL "ta"

/* Sign msg with a private key: returns the Signature-Input and Signature
 * field values (one dictionary member each) and, when add_fields, appends
 * them to msg as field lines. base/base_len (may be NULL) get the signed
 * base. An alg parameter must name the key's algorithm (TA_E_ALG_MISMATCH). */
ta_status_t ta_httpsig_sign(apr_pool_t *p, ta_msg_t *msg,
                            const ta_httpsig_sign_params_t *sp,
                            const ta_key_t *key, int add_fields,
                            const char **signature_input,
                            const char **signature,
                            const char **base, size_t *base_len);

#endif
