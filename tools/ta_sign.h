/* Signing a request for trustapp-admin sign / request: native RFC 9421
 * profile (the same components, parameters and user header the module
 * requires) or the legacy Seraph headers. */
#ifndef TA_SIGN_H
#define TA_SIGN_H

#include <apr_tables.h>

#include "ta_cli.h"

typedef struct {
  const char *method;
  const char *url;
  const char *body;              /* NULL = no body */
  size_t body_len;
  apr_array_header_t *extra;     /* "Name: value" lines given with --header (sent, not added) */
  apr_array_header_t *added;     /* "Name: value" lines the signer adds (user, digest, signature) */
  const char *base;              /* the signature base (native), for --json debugging */
  const char *protocol;          /* "native", "seraph" or "none" */
  const char *keyid;
  long long created;
  const char *nonce;
} ta_signed_req_t;

/* Reads the common signing options (--key --id --method --url --user
 * --header --body/--body-file --nonce --created --expires --ttl --alg
 * --label --user-header --digest --cover --protocol --seraph-version) and
 * signs. Returns an exit code (failure recorded). */
int ta_sign_from_options(ta_cli_t *c, ta_signed_req_t *out);

/* The option table entries shared by sign and request. */
#define TA_SIGN_OPTS \
  {"key", "FILE", 0, "this application's private key (PEM)"}, \
  {"id", "ID", 0, "this application's ID (the keyid the server knows)"}, \
  {"method", "METHOD", 0, "HTTP method (default GET)"}, \
  {"url", "URL", 0, "full request URL as the server sees it"}, \
  {"user", "USER", 0, "the acting user"}, \
  {"header", "'NAME: VALUE'", 1, "extra request header"}, \
  {"cover", "COMPONENT", 1, "also cover this component (e.g. a --header name)"}, \
  {"body", "TEXT", 0, "request body"}, \
  {"body-file", "FILE", 0, "request body from a file"}, \
  {"nonce", "NONCE", 0, "nonce (default: 18 random bytes, base64url)"}, \
  {"no-nonce", NULL, 0, "send no nonce"}, \
  {"created", "EPOCH", 0, "created time in seconds (default now)"}, \
  {"expires", "EPOCH", 0, "expires time in seconds (default created + --ttl)"}, \
  {"ttl", "SECONDS", 0, "lifetime when --expires is not given (default 60; 0 = no expires)"}, \
  {"alg", "ALG", 0, "key algorithm (needed for RSA keys); also sent as the alg parameter"}, \
  {"label", "LABEL", 0, "signature label (default ta)"}, \
  {"user-header", "NAME", 0, "header carrying the user (default TrustedApp-User)"}, \
  {"digest", "ALG", 0, "Content-Digest algorithm: sha-256 (default) or sha-512"}, \
  {"protocol", "PROTO", 0, "native (RFC 9421, default), seraph (legacy headers, RSA key) or none"}, \
  {"seraph-version", "N", 0, "Seraph protocol version (default 2)"}

extern const ta_cmd_t ta_cmd_sign, ta_cmd_request;

#endif
