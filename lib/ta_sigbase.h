/* RFC 9421 section 2: component identifiers, component values and the
 * signature base, over a ta_msg_t.
 *
 * Supported derived components: @method, @target-uri, @authority, @scheme,
 * @request-target, @path, @query, @query-param;name="..", @status. Field
 * components take ;sf, ;key="..", ;bs, and (on a response) ;req. ;tr is
 * refused (ta_msg_t carries no trailers). Field names in identifiers must be
 * lower case. Every failure is one of TA_E_COMPONENT_INVALID (bad name,
 * parameter or combination), TA_E_COMPONENT_MISSING (absent from the message),
 * TA_E_COMPONENT_DUP (covered twice), TA_E_TOO_LARGE (limits below). */
#ifndef TA_SIGBASE_H
#define TA_SIGBASE_H

#include <stddef.h>
#include <apr_pools.h>

#include "ta_error.h"
#include "ta_msg.h"
#include "ta_sf.h"

#define TA_SIG_MAX_COMPONENTS 64
#define TA_SIG_MAX_FIELD (8 * 1024)         /* Signature-Input, Signature (combined value) */
#define TA_SIG_MAX_BASE (256 * 1024)        /* the whole signature base */

/* Component flags (parameters of the identifier). */
#define TA_COMP_SF  0x1
#define TA_COMP_BS  0x2
#define TA_COMP_REQ 0x4

typedef struct {
  const char *name;     /* "@method" or a lower-case field name */
  int is_derived;       /* name starts with '@' */
  unsigned flags;       /* TA_COMP_* */
  const char *key;      /* ;key="..." (field dictionary member), or NULL */
  const char *qname;    /* ;name="..." of @query-param, or NULL */
  const char *id;       /* canonical serialized identifier, e.g. "\"@query-param\";name=\"Pet\"" */
  ta_sf_item_t item;    /* the identifier as an RFC 8941 item */
  /* Set by ta_component_from_item so the base needs no name lookups or
   * strlen; 0 in a component filled by hand: derived from name and id. */
  unsigned kind;        /* which derived component, or a field */
  size_t id_len;        /* strlen(id) */
} ta_component_t;

/* Validate one identifier taken from a Signature-Input inner list. */
ta_status_t ta_component_from_item(apr_pool_t *p, const ta_sf_item_t *item,
                                   ta_component_t *out);
/* Parse an identifier written by a person or a peer: either RFC 8941 form
 * ("\"@query-param\";name=\"a\"", "\"content-type\";sf") or bare
 * (@method, content-digest;req, "@query-param;name=\"a\""). */
ta_status_t ta_component_parse(apr_pool_t *p, const char *text,
                               ta_component_t *out);

/* Two identifiers name the same component (same name and parameters, in
 * any order). */
int ta_component_equal(const ta_component_t *a, const ta_component_t *b);

/* The component's value(s) in msg. Most components have one value; a
 * repeated @query-param has one per occurrence, in order. Values never
 * contain CR, LF or other control characters (TA_E_COMPONENT_INVALID). */
ta_status_t ta_component_values(apr_pool_t *p, const ta_msg_t *msg,
                                const ta_component_t *c,
                                const char ***values, size_t *n_values);

/* The signature base (section 2.5) for the covered components and the
 * already serialized @signature-params value (the inner list with its
 * parameters). *base is NUL-terminated; *len excludes the NUL.
 * Refuses duplicates and more than TA_SIG_MAX_COMPONENTS components. */
ta_status_t ta_sigbase_build(apr_pool_t *p, const ta_msg_t *msg,
                             const ta_component_t *components, size_t n,
                             const char *signature_params,
                             char **base, size_t *len);

/* Serialized @signature-params value (inner list of the identifiers with the
 * given parameters). NULL when a parameter cannot be serialized. */
char *ta_sigbase_params_value(apr_pool_t *p, const ta_component_t *components,
                              size_t n, const ta_sf_params_t *params);

#endif
