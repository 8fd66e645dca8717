/* Stable error codes shared by the module's log, its response header and
 * trustapp-admin's diagnosis. Tokens and numbers are a public contract:
 * never renumber or rename, only append. */
#ifndef TA_ERROR_H
#define TA_ERROR_H

/* X(enum, number, token, http_status, summary, fix) */
#define TA_ERROR_TABLE(X) \
  X(TA_OK,                     0, "ok",                      200, "accepted", "") \
  /* 1xxx: credentials absent or malformed (401) */ \
  X(TA_E_NO_CREDENTIALS,    1001, "no-credentials",          401, "request carries no trusted-application credentials", "sign the request (trustapp-admin sign) or check that a proxy does not strip Signature/Signature-Input") \
  X(TA_E_SF_PARSE,          1002, "malformed-field",         401, "a structured header field could not be parsed (RFC 8941)", "send Signature-Input/Signature as RFC 8941 dictionaries") \
  X(TA_E_SIG_INPUT_MISSING, 1003, "signature-input-missing", 401, "Signature present without Signature-Input", "send both Signature-Input and Signature") \
  X(TA_E_SIG_MISSING,       1004, "signature-missing",       401, "Signature-Input present without a matching Signature", "send a Signature member with the same label as Signature-Input") \
  X(TA_E_SIG_AMBIGUOUS,     1005, "signature-ambiguous",     401, "several signatures and none selected by label", "send exactly one signature, or the label the server expects") \
  X(TA_E_PARAM_MISSING,     1006, "parameter-missing",       401, "a required signature parameter is missing (keyid, created, nonce)", "include keyid, created and nonce in Signature-Input") \
  X(TA_E_PARAM_INVALID,     1007, "parameter-invalid",       401, "a signature parameter has the wrong type or value", "keyid/nonce/tag/alg are strings, created/expires integers") \
  X(TA_E_COMPONENT_MISSING, 1008, "component-missing",       401, "a covered component is absent from the message", "cover only components the request carries") \
  X(TA_E_COMPONENT_DUP,     1009, "component-duplicate",     401, "a component identifier is covered twice", "list every covered component once") \
  X(TA_E_COMPONENT_INVALID, 1010, "component-invalid",       401, "a component identifier or its parameters are malformed or unknown", "use RFC 9421 component names and parameters") \
  X(TA_E_COVERAGE,          1011, "coverage-insufficient",   401, "the signature does not cover a component this server requires", "cover @method, @target-uri (or @authority/@path/@query), the user header and content-digest") \
  X(TA_E_TOO_LARGE,         1012, "field-too-large",         401, "a signature-related field exceeds the size limit", "keep Signature-Input/Signature under the documented limits") \
  X(TA_E_SIG_ENCODING,      1013, "signature-encoding",      401, "the signature value is not a byte sequence of the right length", "send the signature as an RFC 8941 byte sequence") \
  X(TA_E_MSG_INVALID,       1014, "message-invalid",         400, "a raw HTTP message text could not be parsed (obs-fold, bad start line or field line)", "send an HTTP/1.1 message with CRLF line ends, one field per line and a Host field") \
  /* 2xxx: application and key */ \
  X(TA_E_UNKNOWN_APP,       2001, "unknown-app",             401, "no registered application has this keyid", "register the application (trustapp-admin add) or fix its keyid") \
  X(TA_E_APP_DISABLED,      2002, "app-disabled",            401, "the application is registered but disabled", "trustapp-admin enable ID") \
  X(TA_E_ALG_MISMATCH,      2003, "alg-mismatch",            401, "the alg parameter disagrees with the registered key's algorithm", "drop alg or send the registered algorithm") \
  X(TA_E_ALG_UNSUPPORTED,   2004, "alg-unsupported",         401, "unsupported signature algorithm", "use ed25519, ecdsa-p256-sha256, ecdsa-p384-sha384, rsa-pss-sha512 or rsa-v1_5-sha256") \
  X(TA_E_NO_VALID_KEY,      2005, "key-not-valid",           401, "no registered key of this application is valid now", "add a current key (trustapp-admin add-key) or fix not-before/not-after") \
  X(TA_E_BAD_SIGNATURE,     2006, "bad-signature",           401, "the signature does not verify", "sign with the registered private key over exactly the received request; check the URL the server sees behind proxies") \
  X(TA_E_KEY_INVALID,       2007, "key-invalid",             500, "a key could not be parsed or is too weak", "register an ed25519/ecdsa key or RSA >= 2048 bits") \
  /* 3xxx: time and replay */ \
  X(TA_E_CLOCK_PAST,        3001, "clock-skew-past",         401, "created is older than the application's timeout allows", "synchronise the client clock (NTP) or raise the timeout") \
  X(TA_E_CLOCK_FUTURE,      3002, "clock-skew-future",       401, "created lies in the future beyond the tolerance", "synchronise the client clock (NTP)") \
  X(TA_E_EXPIRED,           3003, "signature-expired",       401, "the signature's expires time has passed", "sign again with a later expires") \
  X(TA_E_REPLAY,            3004, "replay",                  401, "this nonce was already used by this application", "use a fresh random nonce for every request") \
  X(TA_E_REPLAY_UNAVAILABLE,3005, "replay-cache-unavailable",503, "the replay cache is unavailable and the policy fails closed", "check the TrustedAppReplayCache provider (shmcb/memcache/redis)") \
  /* 4xxx: policy (403) */ \
  X(TA_E_IP_NOT_ALLOWED,    4001, "ip-not-allowed",          403, "the client address does not match the application's IP patterns", "add the address the server saw (or the proxy) to the application's IP patterns") \
  X(TA_E_PATH_NOT_ALLOWED,  4002, "path-not-allowed",        403, "the path is outside the application's allowed prefixes", "add the path prefix to the application or the location") \
  X(TA_E_USER_MISSING,      4003, "user-missing",            401, "no acting user asserted", "send the user header and cover it in the signature") \
  X(TA_E_USER_DENIED,       4004, "user-denied",             403, "the application may not act as this user", "adjust the application's user allow/deny rules") \
  X(TA_E_USER_INVALID,      4005, "user-invalid",            401, "the asserted user name is malformed", "send a user name of printable characters, at most 256 bytes") \
  X(TA_E_APP_NOT_AUTHORIZED,4006, "app-not-authorized",      403, "authenticated application is not allowed here (Require trusted-app)", "add the application to the location's Require trusted-app list") \
  X(TA_E_PROXY_CHAIN,       4007, "proxy-chain-invalid",     403, "forwarded-for chain is malformed or a hop does not match", "check the trusted proxies and the X-Forwarded-For/Forwarded header") \
  /* 5xxx: body integrity and TLS */ \
  X(TA_E_DIGEST_MISSING,    5001, "digest-missing",          401, "request has a body but no covered Content-Digest", "send Content-Digest (sha-256 or sha-512) and cover it") \
  X(TA_E_DIGEST_MISMATCH,   5002, "digest-mismatch",         400, "the body does not match Content-Digest", "compute Content-Digest over the exact body sent") \
  X(TA_E_DIGEST_INVALID,    5003, "digest-invalid",          401, "Content-Digest is malformed or uses no supported algorithm", "use sha-256 or sha-512 per RFC 9530") \
  X(TA_E_TLS_REQUIRED,      5004, "tls-required",            403, "this location requires TLS", "use https") \
  X(TA_E_CLIENT_CERT_MISSING,5005,"client-cert-missing",     401, "this application must present its client certificate", "configure the client certificate (--cert/--key)") \
  X(TA_E_CLIENT_CERT_MISMATCH,5006,"client-cert-mismatch",   403, "the client certificate does not match the registered fingerprint", "register the certificate's SHA-256 fingerprint or send the right certificate") \
  X(TA_E_CLIENT_CERT_UNKNOWN,5007,"client-cert-unknown",     401, "no application is registered for this client certificate", "register the certificate fingerprint with trustapp-admin set --cert-sha256") \
  /* 6xxx: legacy Seraph protocol */ \
  X(TA_E_SERAPH_PROTOCOL,   6001, "seraph-bad-protocol",     401, "unsupported or disabled Seraph protocol version", "use protocol version 2 or enable legacy versions explicitly") \
  X(TA_E_SERAPH_CERT,       6002, "seraph-bad-certificate",  401, "Seraph certificate could not be decrypted or is malformed", "check the application's registered public key") \
  X(TA_E_SERAPH_MAGIC,      6003, "seraph-bad-magic",        401, "Seraph magic number mismatch", "check the application's registered public key") \
  X(TA_E_SERAPH_URL,        6004, "seraph-bad-url",          401, "Seraph URL signature does not match the reconstructed URL", "set TrustedAppSeraphBaseURL to the external URL clients use") \
  X(TA_E_SERAPH_APP_ID_MISSING,6005,"seraph-app-id-missing", 401, "Seraph certificate without X-Seraph-Trusted-App-ID", "send the application ID header with the certificate") \
  X(TA_E_SERAPH_KEY_MISSING,6006, "seraph-key-missing",      401, "Seraph certificate without X-Seraph-Trusted-App-Key", "send the wrapped secret key header (protocol 0-2)") \
  X(TA_E_SERAPH_MAGIC_MISSING,6007,"seraph-magic-missing",   401, "Seraph protocol >= 1 without X-Seraph-Trusted-App-Magic", "send the magic number header") \
  X(TA_E_SERAPH_SIGNATURE_MISSING,6008,"seraph-signature-missing",401, "Seraph protocol >= 2 without X-Seraph-Trusted-App-Signature", "sign the request URL (protocol 2)") \
  X(TA_E_SERAPH_HEADER_INVALID,6009,"seraph-header-invalid", 401, "a Seraph header is oversized, repeated, or not strict base64", "send each X-Seraph-Trusted-App-* header once, base64 without line breaks") \
  X(TA_E_SERAPH_CERTDOC,    6010, "seraph-bad-certificate-document", 502, "the peer's /admin/appTrustCertificate document is malformed", "check the peer base URL; the document is 4 lines: id, base64 SPKI, version, -1159983122") \
  /* 9xxx: server side */ \
  X(TA_E_INTERNAL,          9001, "internal",                500, "internal error", "see the server error log") \
  X(TA_E_NOMEM,             9002, "no-memory",               500, "out of memory", "see the server error log") \
  X(TA_E_CONFIG,            9003, "config",                  500, "configuration error", "see the server error log") \
  /* appended by the module: */ \
  X(TA_E_BODY_TOO_LARGE,    5008, "body-too-large",          413, "the request body exceeds what the server buffers to check Content-Digest", "send a smaller body or raise TrustedAppMaxBodySize") \
  /* appended by keys: */ \
  X(TA_E_CERTDOC_INVALID,   2008, "certificate-document-invalid", 502, "the peer's certificate document (/.well-known/trustedapp-certificate) is malformed", "check the peer base URL; the format is in docs/CERTIFICATE.md") \
  X(TA_E_BODY_MALFORMED,    5009, "body-malformed",          400, "the request body's chunked framing is malformed", "send a well-formed chunked body, or use Content-Length")

typedef enum {
#define TA_X_ENUM(e, n, tok, st, sum, fix) e = n,
  TA_ERROR_TABLE(TA_X_ENUM)
#undef TA_X_ENUM
} ta_status_t;

/* Stable token ("bad-signature"); "unknown" for values outside the table. */
const char *ta_error_token(ta_status_t code);
/* HTTP status a server answers with for this code. */
int ta_error_http_status(ta_status_t code);
const char *ta_error_summary(ta_status_t code);
/* One-line fix, for trustapp-admin diagnosis. */
const char *ta_error_fix(ta_status_t code);
/* Reverse lookup of a token received in a response header; -1 if unknown. */
int ta_error_from_token(const char *token);

/* For functions every failure path ends in: GCC and clang then treat the
 * paths that reach them as unlikely and move them, with the messages they
 * format, out of the code an accepted request runs through. */
#if defined(__GNUC__)
#define TA_FAILURE_PATH __attribute__((cold))
#else
#define TA_FAILURE_PATH
#endif

/* Response header carrying the token, and the optional detail header. */
#define TA_ERROR_HEADER "TrustedApp-Error"
#define TA_ERROR_DETAIL_HEADER "TrustedApp-Error-Detail"

#endif
