/* libFuzzer target: the whole policy engine (ta_verify_request) over a raw
 * HTTP request, as the module would hand it over. Byte 0 picks policy
 * variants; the rest is the request text (ta_msg_parse_text). The registry
 * holds the RFC 9421 ed25519 test key (seeds signed with it reach the
 * signature check), a legacy Seraph app with the RFC RSA test key and a
 * disabled app.
 *
 * Invariants: every status is in the stable error table with an HTTP status
 * a client may see; an accepted request names an enabled application, a
 * protocol and, when required, a user; a replay key comes with acceptance
 * under replay protection; the detail is bounded and never repeats the
 * Signature field's bytes (no secrets in logs). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "ta_error.h"
#include "ta_msg.h"
#include "ta_msg_text.h"
#include "ta_registry.h"
#include "ta_verify.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* RFC 9421 B.2.6 created, plus a few seconds. */
#define FUZZ_NOW_SEC 1618884480

static const char registry_xml[] =
  "<?xml version=\"1.0\"?>\n"
  "<registry xmlns=\"urn:mod-trustedapp:registry:1\" version=\"1\">\n"
  "<application id=\"test-key-ed25519\" name=\"RFC ed25519\">\n<key alg=\"ed25519\">\n"
  "-----BEGIN PUBLIC KEY-----\n"
  "MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\n"
  "-----END PUBLIC KEY-----\n"
  "</key>\n<timeout>300000</timeout>\n<ip>127.0.0.1</ip>\n<ip>192.168.*.*</ip>\n<ip>2001:db8::/32</ip>\n"
  "<path>/foo</path>\n<path>/rest</path>\n<user-allow>alice</user-allow>\n<user-allow>svc-*</user-allow>\n"
  "<user-deny>svc-root</user-deny>\n</application>\n"
  "<application id=\"legacy\" protocols=\"seraph\">\n<key alg=\"rsa-v1_5-sha256\">\n"
  "-----BEGIN PUBLIC KEY-----\n"
  "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAhAKYdtoeoy8zcAcR874L\n"
  "8cnZxKzAGwd7v36APp7Pv6Q2jdsPBRrwWEBnez6d0UDKDwGbc6nxfEXAy5mbhgaj\n"
  "zrw3MOEt8uA5txSKobBpKDeBLOsdJKFqMGmXCQvEG7YemcxDTRPxAleIAgYYRjTS\n"
  "d/QBwVW9OwNFhekro3RtlinV0a75jfZgkne/YiktSvLG34lw2zqXBDTC5NHROUqG\n"
  "TlML4PlNZS5Ri2U4aCNx2rUPRcKIlE0PuKxI4T+HIaFpv8+rdV6eUgOrB2xeI1dS\n"
  "FFn/nnv5OoZJEIB+VmuKn3DCUcCZSFlQPSXSfBDiUGhwOw76WuSSsf1D4b/vLoJ1\n"
  "0wIDAQAB\n"
  "-----END PUBLIC KEY-----\n"
  "</key>\n<timeout>60000</timeout>\n</application>\n"
  "<application id=\"off\" enabled=\"false\">\n<key alg=\"ed25519\">\n"
  "-----BEGIN PUBLIC KEY-----\n"
  "MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\n"
  "-----END PUBLIC KEY-----\n"
  "</key>\n<ip>0.0.0.0/0</ip>\n<path>/</path>\n</application>\n"
  "</registry>\n";

static apr_pool_t *root;
static ta_registry_t *registry;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  const char *err = NULL;
  (void)argc;
  (void)argv;
  if (apr_initialize() != APR_SUCCESS || apr_pool_create(&root, NULL) != APR_SUCCESS)
    abort();
  /* The registry's keys are freed by pool cleanups: run them before the
   * leak checker looks (APR's pool memory is invisible to it). */
  atexit(apr_terminate);
  if (ta_registry_parse(root, registry_xml, sizeof(registry_xml) - 1, "fuzz-registry.xml",
                        &registry, &err) != TA_OK)
    abort();
  return 0;
}

/* The byte sequence of the first Signature member, if long enough to be a secret. */
static const char *signature_bytes(apr_pool_t *p, const ta_msg_t *msg)
{
  const char *field = ta_msg_field(p, msg, "signature");
  const char *open, *close;
  if (!field)
    return NULL;
  open = strchr(field, ':');
  close = open ? strchr(open + 1, ':') : NULL;
  if (!close || close - open - 1 < 16)
    return NULL;
  return apr_pstrmemdup(p, open + 1, (apr_size_t)(close - open - 1));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  apr_pool_t *p;
  ta_policy_t pol;
  ta_conn_t conn;
  ta_verdict_t v;
  ta_msg_t *msg = NULL;
  const char *body = NULL, *secret;
  size_t body_len = 0;
  ta_status_t st;
  int http;
  unsigned flags;

  if (size < 1)
    return 0;
  flags = data[0];
  if (apr_pool_create(&p, root) != APR_SUCCESS)
    abort();
  if (ta_msg_parse_text(p, (const char *)data + 1, size - 1, (flags & 0x20) ? "https" : "http",
                        &msg, &body, &body_len) != TA_OK) {
    apr_pool_destroy(p);
    return 0;
  }
  ta_policy_init(&pol);
  pol.protocols = TA_PROTO_NATIVE | ((flags & 0x01) ? TA_PROTO_SERAPH : 0);
  pol.replay_protection = !(flags & 0x02);
  pol.require_user = !(flags & 0x04);
  pol.path_raw_prefix = (flags & 0x08) != 0;
  pol.require_tls = (flags & 0x10) != 0;

  memset(&conn, 0, sizeof conn);
  conn.client_ip = (flags & 0x40) ? "192.168.7.7" : "127.0.0.1";
  conn.is_tls = (flags & 0x20) != 0;
  conn.has_body = body_len > 0;
  if (flags & 0x80) {
    static const char *const hops[] = {"10.1.2.3", "127.0.0.1"};
    conn.hops = hops;
    conn.n_hops = 2;
  }

  memset(&v, 0, sizeof v);
  st = ta_verify_request(p, registry, &pol, msg, &conn, apr_time_from_sec(FUZZ_NOW_SEC), &v);

  if (!strcmp(ta_error_token(st), "unknown"))
    abort();
  http = ta_error_http_status(st);
  if (http != 200 && http != 400 && http != 401 && http != 403 && http != 413 && http != 500
      && http != 502 && http != 503)
    abort();
  if (st == TA_OK) {
    if (!v.app || !v.app->enabled || !v.protocol)
      abort();
    if (pol.require_user && (!v.user || !*v.user))
      abort();
    if (!strcmp(v.protocol, "native") && pol.replay_protection && !v.replay_key)
      abort();
  }
  if (v.detail) {
    if (strlen(v.detail) > 4096)
      abort();
    secret = signature_bytes(p, msg);
    if (secret && strstr(v.detail, secret))
      abort();
  }
  apr_pool_destroy(p);
  return 0;
}
