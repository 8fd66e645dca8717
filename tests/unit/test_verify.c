/* The policy engine end to end: a registry parsed from XML, requests signed
 * with the library's own RFC 9421 (and Seraph) signers, one table row per
 * outcome. Keys are generated once per run, so nothing here is a fixed
 * expected signature. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "ta_digest.h"
#include "ta_httpsig.h"
#include "ta_keys.h"
#include "ta_registry.h"
#include "ta_seraph_codec.h"
#include "ta_verify.h"

#define NOW_SEC INT64_C(1764115200) /* 2025-11-26T00:00:00Z */
#define APP1_TIMEOUT_SEC 60
#define CERT_APP1 "ab00000000000000000000000000000000000000000000000000000000000001"
#define CERT_MTLS "cd00000000000000000000000000000000000000000000000000000000000002"
#define CERT_OTHER "ef00000000000000000000000000000000000000000000000000000000000003"
#define NONCE "n0nce-0123456789_ABCDEF"

static apr_pool_t *pool;     /* per run: keys, registry */
static apr_pool_t *tpool;    /* per test */

enum { K_APP1, K_ROT_OLD, K_ROT_NEW, K_STALE, K_OFF, K_MTLS, K_NOIPS, K_STRANGER, K_SUBJ, K_P256, K_SERAPH, N_KEYS };
static ta_key_t *keys[N_KEYS];
static const ta_registry_t *registry;

static const char *pem(int k)
{
  return ta_key_public_pem(pool, keys[k]);
}

static int group_setup(void **state)
{
  (void)state;
  apr_pool_create(&pool, NULL);
  for (int i = 0; i < N_KEYS; i++) {
    ta_alg_t alg = i == K_P256 ? TA_ALG_ECDSA_P256_SHA256
                 : i == K_SERAPH ? TA_ALG_RSA_V1_5_SHA256 : TA_ALG_ED25519;
    const char *err = NULL;
    if (ta_key_generate(pool, alg, 2048, &keys[i], &err) != TA_OK) {
      fprintf(stderr, "keygen: %s\n", err ? err : "?");
      return -1;
    }
  }
  const char *xml = apr_pstrcat(pool,
    "<?xml version=\"1.0\"?>\n<registry xmlns=\"urn:mod-trustedapp:registry:1\" version=\"1\">\n",
    "<application id=\"app1\" name=\"App One\">\n<key>", pem(K_APP1), "</key>\n",
    "<timeout>60000</timeout>\n<ip>10.0.0.0/8</ip>\n<ip>192.168.*.*</ip>\n<ip>2001:db8::/32</ip>\n",
    "<path>/rest</path>\n<path>/api/v2</path>\n",
    "<user-allow>alice</user-allow>\n<user-allow>svc-*</user-allow>\n<user-deny>svc-root</user-deny>\n",
    "<client-cert sha256=\"" CERT_APP1 "\"/>\n</application>\n",
    "<application id=\"rot\">\n",
    "<key not-after=\"2025-11-01T00:00:00Z\">", pem(K_ROT_OLD), "</key>\n",
    "<key not-before=\"2025-11-01T00:00:00Z\">", pem(K_ROT_NEW), "</key>\n",
    "<ip>0.0.0.0/0</ip>\n<ip>::/0</ip>\n<path>/</path>\n</application>\n",
    "<application id=\"stale\">\n<key not-after=\"2025-01-01T00:00:00Z\">", pem(K_STALE), "</key>\n",
    "<ip>0.0.0.0/0</ip>\n<path>/</path>\n</application>\n",
    "<application id=\"off\" enabled=\"false\">\n<key>", pem(K_OFF), "</key>\n",
    "<ip>0.0.0.0/0</ip>\n<path>/</path>\n</application>\n",
    "<application id=\"certapp\" protocols=\"mtls\">\n<key>", pem(K_MTLS), "</key>\n",
    "<ip>10.0.0.0/8</ip>\n<path>/</path>\n<client-cert sha256=\"" CERT_MTLS "\"/>\n</application>\n",
    "<application id=\"subjapp\" protocols=\"mtls rfc9421\">\n<key>", pem(K_SUBJ), "</key>\n",
    "<ip>10.0.0.0/8</ip>\n<path>/rest</path>\n",
    "<client-cert subject=\"CN=build,O=Example\" issuer=\"CN=Example CA,O=Example\"/>\n</application>\n",
    "<application id=\"noips\">\n<key>", pem(K_NOIPS), "</key>\n<path>/</path>\n</application>\n",
    "<application id=\"legacy\" protocols=\"seraph\">\n<key alg=\"rsa-v1_5-sha256\">", pem(K_SERAPH),
    "</key>\n<timeout>60000</timeout>\n</application>\n",
    "</registry>\n", NULL);
  ta_registry_t *r = NULL;
  const char *err = NULL;
  if (ta_registry_parse(pool, xml, strlen(xml), "test-registry.xml", &r, &err) != TA_OK) {
    fprintf(stderr, "registry: %s\n", err ? err : "?");
    return -1;
  }
  registry = r;
  return 0;
}

static int group_teardown(void **state)
{
  (void)state;
  apr_pool_destroy(pool);
  return 0;
}

static int setup(void **state)
{
  (void)state;
  return apr_pool_create(&tpool, pool) == APR_SUCCESS ? 0 : -1;
}

static int teardown(void **state)
{
  (void)state;
  apr_pool_destroy(tpool);
  return 0;
}

/* One request, its signature, the connection and the policy. Zero values
 * are the defaults noted. */
typedef struct {
  const char *name;
  ta_status_t want;
  /* request */
  const char *method;        /* NULL: GET */
  const char *path;          /* NULL: /rest/api/2/issue */
  const char *query;         /* NULL: none */
  const char *user;          /* TrustedApp-User value; NULL: "alice"; "-": absent */
  int user_twice;            /* send the user header on two lines */
  int body;                  /* a JSON body with Content-Digest */
  const char *digest_value;  /* overrides the Content-Digest value */
  int no_digest_field;       /* body but no Content-Digest field */
  /* signature */
  int unsigned_request;
  const char *keyid;         /* NULL: app1; "-": omitted */
  int key;                   /* signing key; 0 = K_APP1 */
  const char *components;    /* space separated; NULL: the profile for this request */
  int no_created;
  int64_t created_delta;     /* created = now + delta */
  int has_expires;
  int64_t expires_delta;
  const char *nonce;         /* NULL: NONCE; "-": omitted */
  const char *alg;
  const char *raw_input, *raw_signature; /* replace the signer's fields */
  const char *tamper_path;   /* change the path after signing */
  /* connection */
  const char *ip;            /* NULL: 10.1.2.3 */
  const char *hops;          /* comma separated: every-hop mode */
  int plain_http;
  const char *cert;
  const char *cert_subject, *cert_issuer;
  /* policy */
  unsigned protocols;        /* 0: native */
  int replay_off, user_optional, require_tls, require_client_cert, past_limit;
  int named_ids;             /* the policy names replay records (name_record) */
  const char *location_path;
  int raw_paths;
  /* expected verdict details (NULL: not checked) */
  const char *want_app, *want_claimed, *want_user, *want_detail, *want_protocol;
} vcase_t;

static const char *const *split(const char *s, size_t *n)
{
  char *copy = apr_pstrdup(tpool, s), *last = NULL;
  apr_array_header_t *a = apr_array_make(tpool, 8, sizeof(char *));
  for (char *t = apr_strtok(copy, " ,", &last); t; t = apr_strtok(NULL, " ,", &last))
    *(const char **)apr_array_push(a) = t;
  *n = (size_t)a->nelts;
  return (const char *const *)a->elts;
}

static const char *BODY = "{\"summary\": \"hello\"}";

static ta_msg_t *build_request(const vcase_t *c)
{
  ta_msg_t *m = ta_msg_make(tpool);
  m->method = c->method ? c->method : "GET";
  m->scheme = c->plain_http ? "http" : "https";
  m->authority = "jira.example.com";
  m->path = c->path ? c->path : "/rest/api/2/issue";
  m->query = c->query;
  ta_msg_add_field(m, "Host", "jira.example.com");
  const char *user = c->user ? c->user : "alice";
  if (strcmp(user, "-") != 0) {
    ta_msg_add_field(m, "TrustedApp-User", user);
    if (c->user_twice)
      ta_msg_add_field(m, "TrustedApp-User", "bob");
  }
  if (c->body) {
    ta_msg_add_field(m, "Content-Type", "application/json");
    if (!c->no_digest_field)
      ta_msg_add_field(m, "Content-Digest", c->digest_value ? c->digest_value
                       : ta_digest_field_value(tpool, TA_DIGEST_SHA256, BODY, strlen(BODY)));
  }
  return m;
}

static void sign_request(const vcase_t *c, ta_msg_t *m)
{
  if (c->raw_input || c->raw_signature) {
    if (c->raw_input)
      ta_msg_add_field(m, "Signature-Input", c->raw_input);
    if (c->raw_signature)
      ta_msg_add_field(m, "Signature", c->raw_signature);
    return;
  }
  const char *components = c->components;
  if (components == NULL) {
    components = "@method @target-uri";
    if (ta_msg_field_count(m, "TrustedApp-User") > 0)
      components = apr_pstrcat(tpool, components, " trustedapp-user", NULL);
    if (ta_msg_field_count(m, "Content-Digest") > 0)
      components = apr_pstrcat(tpool, components, " content-digest", NULL);
  }
  ta_httpsig_sign_params_t sp;
  memset(&sp, 0, sizeof(sp));
  sp.label = "ta";
  sp.components = split(components, &sp.n_components);
  sp.created = c->no_created ? -1 : NOW_SEC + c->created_delta;
  sp.expires = c->has_expires ? NOW_SEC + c->expires_delta : -1;
  sp.keyid = c->keyid ? (strcmp(c->keyid, "-") == 0 ? NULL : c->keyid) : "app1";
  sp.nonce = c->nonce ? (strcmp(c->nonce, "-") == 0 ? NULL : c->nonce) : NONCE;
  sp.alg = c->alg;
  assert_int_equal(ta_httpsig_sign(tpool, m, &sp, keys[c->key], 1, NULL, NULL, NULL, NULL), TA_OK);
}

/* Every case runs with a replay_id_known hook that only records its calls. */
static int hint_calls;
static unsigned char hint_id[TA_VERDICT_REPLAY_ID_LEN];

static void record_hint(const unsigned char *id)
{
  hint_calls++;
  memcpy(hint_id, id, TA_VERDICT_REPLAY_ID_LEN);
}

/* A store's own naming of replay records: the record's bytes, its length
 * in the last byte, zero-padded (readable in a failed assertion). */
static int name_calls;

static void name_record(const void *record, size_t len, unsigned char *id)
{
  name_calls++;
  memset(id, 0, TA_VERDICT_REPLAY_ID_LEN);
  memcpy(id, record, len < TA_VERDICT_REPLAY_ID_LEN - 1 ? len : TA_VERDICT_REPLAY_ID_LEN - 1);
  id[TA_VERDICT_REPLAY_ID_LEN - 1] = (unsigned char)len;
}

static ta_status_t run_case(const vcase_t *c, ta_verdict_t *v)
{
  ta_msg_t *m = build_request(c);
  if (!c->unsigned_request)
    sign_request(c, m);
  if (c->tamper_path)
    m->path = c->tamper_path;

  ta_conn_t conn;
  memset(&conn, 0, sizeof(conn));
  conn.client_ip = c->ip ? c->ip : "10.1.2.3";
  if (c->hops)
    conn.hops = split(c->hops, &conn.n_hops);
  conn.is_tls = !c->plain_http;
  conn.client_cert_sha256 = c->cert;
  conn.client_cert_subject = c->cert_subject;
  conn.client_cert_issuer = c->cert_issuer;
  conn.has_body = c->body;

  ta_policy_t pol;
  ta_policy_init(&pol);
  if (c->protocols)
    pol.protocols = c->protocols;
  pol.replay_protection = !c->replay_off;
  pol.replay_id_known = record_hint;
  pol.replay_id = c->named_ids ? name_record : NULL;
  hint_calls = name_calls = 0;
  pol.require_user = !c->user_optional;
  pol.require_tls = c->require_tls;
  pol.require_client_cert = c->require_client_cert;
  pol.past_limit_sec = c->past_limit;
  pol.path_raw_prefix = c->raw_paths;
  if (c->location_path) {
    ta_path_set_t *ls = NULL;
    const char *one[] = {c->location_path};
    assert_int_equal(ta_path_set_parse(tpool, one, 1, &ls, NULL), TA_OK);
    pol.location_paths = ls;
  }
  return ta_verify_request(tpool, registry, &pol, m, &conn, apr_time_from_sec(NOW_SEC), v);
}

static char *long_string(char ch, size_t n)
{
  char *s = apr_palloc(tpool, n + 1);
  memset(s, ch, n);
  s[n] = '\0';
  return s;
}

static const vcase_t cases[] = {
  /* success and the verdict it carries */
  {.name = "signed GET", .want = TA_OK, .want_app = "app1", .want_user = "alice", .want_protocol = "native"},
  {.name = "authority+path instead of target-uri", .want = TA_OK,
   .components = "@method @authority @path trustedapp-user"},
  {.name = "authority+path+query", .want = TA_OK, .query = "a=1",
   .components = "@method @authority @path @query trustedapp-user"},
  {.name = "no user, not required", .want = TA_OK, .user = "-", .user_optional = 1},
  {.name = "replay off, no nonce", .want = TA_OK, .replay_off = 1, .nonce = "-"},

  /* 1. credentials */
  {.name = "no credentials", .want = TA_E_NO_CREDENTIALS, .unsigned_request = 1},
  {.name = "signature at a Seraph-only location", .want = TA_E_NO_CREDENTIALS, .protocols = TA_PROTO_SERAPH,
   .want_detail = "does not accept"},
  {.name = "Signature without Signature-Input", .want = TA_E_SIG_INPUT_MISSING, .raw_signature = "ta=:AAAA:"},
  {.name = "Signature-Input without Signature", .want = TA_E_SIG_MISSING,
   .raw_input = "ta=(\"@method\");created=1764115200;keyid=\"app1\""},

  /* 2. parameters */
  {.name = "created missing", .want = TA_E_PARAM_MISSING, .no_created = 1, .want_claimed = "app1"},
  {.name = "nonce missing", .want = TA_E_PARAM_MISSING, .nonce = "-"},
  {.name = "nonce too short", .want = TA_E_PARAM_INVALID, .nonce = "abcdefghijklmno"},
  {.name = "nonce of 16 is enough", .want = TA_OK, .nonce = "abcdefghijklmnop"},
  {.name = "nonce with a bad character", .want = TA_E_PARAM_INVALID, .nonce = "abcdefghijklmnop.q"},
  {.name = "keyid missing", .want = TA_E_PARAM_MISSING, .keyid = "-"},
  {.name = "alg unknown", .want = TA_E_ALG_UNSUPPORTED,
   .raw_input = "ta=(\"@method\" \"@target-uri\" \"trustedapp-user\");created=1764115200;keyid=\"app1\";"
                "nonce=\"" NONCE "\";alg=\"rsa-sha1\"", .raw_signature = "ta=:AAAA:"},
  {.name = "expires before created", .want = TA_E_PARAM_INVALID, .has_expires = 1, .expires_delta = -1},

  /* 3. application */
  {.name = "unknown app", .want = TA_E_UNKNOWN_APP, .keyid = "nobody", .want_claimed = "nobody"},
  {.name = "claimed id is sanitised", .want = TA_E_UNKNOWN_APP, .keyid = "evil'id\\x",
   .want_claimed = "evil\\x27id\\x5cx"},
  {.name = "disabled app", .want = TA_E_APP_DISABLED, .keyid = "off", .key = K_OFF, .want_app = "off"},

  /* 4. coverage */
  {.name = "method not covered", .want = TA_E_COVERAGE, .components = "@target-uri trustedapp-user"},
  {.name = "target not covered", .want = TA_E_COVERAGE, .components = "@method @path trustedapp-user"},
  {.name = "query not covered", .want = TA_E_COVERAGE, .query = "a=1",
   .components = "@method @authority @path trustedapp-user"},
  {.name = "user header not covered", .want = TA_E_COVERAGE, .components = "@method @target-uri"},
  {.name = "body: digest not covered", .want = TA_E_COVERAGE, .method = "POST", .body = 1,
   .components = "@method @target-uri trustedapp-user"},
  {.name = "body: no Content-Digest", .want = TA_E_DIGEST_MISSING, .method = "POST", .body = 1,
   .no_digest_field = 1},
  {.name = "body: Content-Digest unusable", .want = TA_E_DIGEST_INVALID, .method = "POST", .body = 1,
   .digest_value = "sha-1=:AAAA:"},
  {.name = "body: covered digest", .want = TA_OK, .method = "POST", .body = 1},

  /* 5. clock (app1 timeout 60 s, future skew 30 s) */
  {.name = "created at the future limit", .want = TA_OK, .created_delta = 30},
  {.name = "created one second past the future limit", .want = TA_E_CLOCK_FUTURE, .created_delta = 31},
  {.name = "created exactly timeout ago", .want = TA_OK, .created_delta = -APP1_TIMEOUT_SEC},
  {.name = "created one second too old", .want = TA_E_CLOCK_PAST, .created_delta = -APP1_TIMEOUT_SEC - 1},
  {.name = "location cap at its limit", .want = TA_OK, .created_delta = -10, .past_limit = 10},
  {.name = "location cap exceeded", .want = TA_E_CLOCK_PAST, .created_delta = -11, .past_limit = 10},
  {.name = "expires now", .want = TA_OK, .created_delta = -5, .has_expires = 1, .expires_delta = 0},
  {.name = "expired a second ago", .want = TA_E_EXPIRED, .created_delta = -5, .has_expires = 1,
   .expires_delta = -1},

  /* 6. keys and crypto */
  {.name = "no key valid now", .want = TA_E_NO_VALID_KEY, .keyid = "stale", .key = K_STALE},
  {.name = "signed by a stranger", .want = TA_E_BAD_SIGNATURE, .key = K_STRANGER},
  {.name = "path changed after signing", .want = TA_E_BAD_SIGNATURE, .tamper_path = "/rest/api/2/user"},
  {.name = "alg of another key type", .want = TA_E_ALG_MISMATCH, .key = K_P256, .alg = "ecdsa-p256-sha256"},
  {.name = "rotation: new key", .want = TA_OK, .keyid = "rot", .key = K_ROT_NEW, .want_app = "rot"},
  {.name = "rotation: expired old key", .want = TA_E_BAD_SIGNATURE, .keyid = "rot", .key = K_ROT_OLD},
  {.name = "app not registered for rfc9421", .want = TA_E_APP_NOT_AUTHORIZED, .keyid = "certapp",
   .key = K_MTLS},

  /* 8. client address */
  {.name = "address outside patterns", .want = TA_E_IP_NOT_ALLOWED, .ip = "11.0.0.1", .want_detail = "11.0.0.1"},
  {.name = "Seraph wildcard", .want = TA_OK, .ip = "192.168.44.1"},
  {.name = "IPv4-mapped IPv6", .want = TA_OK, .ip = "::ffff:192.168.1.1"},
  {.name = "IPv6 prefix", .want = TA_OK, .ip = "2001:db8:1::1"},
  {.name = "no address", .want = TA_E_IP_NOT_ALLOWED, .ip = "not-an-address"},
  {.name = "every hop matches", .want = TA_OK, .hops = "10.0.0.1,192.168.3.3"},
  {.name = "one hop outside", .want = TA_E_IP_NOT_ALLOWED, .hops = "10.0.0.1,8.8.8.8", .want_detail = "8.8.8.8"},
  {.name = "native app without IP patterns", .want = TA_E_IP_NOT_ALLOWED, .keyid = "noips", .key = K_NOIPS},

  /* 9. path */
  {.name = "second prefix", .want = TA_OK, .path = "/api/v2/thing"},
  {.name = "prefix is not a segment", .want = TA_E_PATH_NOT_ALLOWED, .path = "/restricted"},
  {.name = "dot-dot out of the prefix", .want = TA_E_PATH_NOT_ALLOWED, .path = "/rest/../admin"},
  {.name = "encoded dot-dot", .want = TA_E_PATH_NOT_ALLOWED, .path = "/rest/%2e%2e/admin"},
  {.name = "encoded slash", .want = TA_E_PATH_NOT_ALLOWED, .path = "/rest%2fadmin"},
  {.name = "segment parameter trick", .want = TA_E_PATH_NOT_ALLOWED, .path = "/rest/..;/admin"},
  {.name = "location prefix also applies", .want = TA_E_PATH_NOT_ALLOWED, .location_path = "/rest/api/3"},
  {.name = "location prefix allows", .want = TA_OK, .location_path = "/rest/api"},

  /* 10. user */
  {.name = "user missing", .want = TA_E_USER_MISSING, .user = "-"},
  {.name = "built-in denial", .want = TA_E_USER_DENIED, .user = "root"},
  {.name = "not in allow list", .want = TA_E_USER_DENIED, .user = "bob", .want_detail = "bob"},
  {.name = "deny wins over wildcard", .want = TA_E_USER_DENIED, .user = "svc-root"},
  {.name = "wildcard allow", .want = TA_OK, .user = "svc-build", .want_user = "svc-build"},
  {.name = "user header twice", .want = TA_E_USER_INVALID, .user_twice = 1},

  /* 11. transport */
  {.name = "TLS required", .want = TA_E_TLS_REQUIRED, .plain_http = 1, .require_tls = 1},
  {.name = "client cert required, none", .want = TA_E_CLIENT_CERT_MISSING, .require_client_cert = 1},
  {.name = "client cert required, other", .want = TA_E_CLIENT_CERT_MISMATCH, .require_client_cert = 1,
   .cert = CERT_OTHER},
  {.name = "client cert required, registered", .want = TA_OK, .require_client_cert = 1, .cert = CERT_APP1},

  /* mutual TLS alone */
  {.name = "mTLS identifies the app", .want = TA_OK, .unsigned_request = 1,
   .protocols = TA_PROTO_NATIVE | TA_PROTO_MTLS, .cert = CERT_MTLS, .want_app = "certapp",
   .want_protocol = "mtls", .want_user = "alice"},
  {.name = "mTLS unknown certificate", .want = TA_E_CLIENT_CERT_UNKNOWN, .unsigned_request = 1,
   .protocols = TA_PROTO_MTLS, .cert = CERT_OTHER},
  {.name = "mTLS app policy applies", .want = TA_E_IP_NOT_ALLOWED, .unsigned_request = 1,
   .protocols = TA_PROTO_MTLS, .cert = CERT_MTLS, .ip = "192.0.2.1"},
  {.name = "mTLS user rules apply", .want = TA_E_USER_DENIED, .unsigned_request = 1,
   .protocols = TA_PROTO_MTLS, .cert = CERT_MTLS, .user = "admin"},
  {.name = "mTLS by subject and issuer", .want = TA_OK, .unsigned_request = 1, .protocols = TA_PROTO_MTLS,
   .cert_subject = "CN=build,O=Example", .cert_issuer = "CN=Example CA,O=Example", .want_app = "subjapp"},
  {.name = "mTLS subject from another issuer", .want = TA_E_CLIENT_CERT_UNKNOWN, .unsigned_request = 1,
   .protocols = TA_PROTO_MTLS, .cert_subject = "CN=build,O=Example", .cert_issuer = "CN=Evil CA"},
  {.name = "subject binding required with signature", .want = TA_OK, .keyid = "subjapp", .key = K_SUBJ,
   .require_client_cert = 1, .cert_subject = "CN=build,O=Example", .cert_issuer = "CN=Example CA,O=Example"},
  {.name = "subject binding, other subject", .want = TA_E_CLIENT_CERT_MISMATCH, .keyid = "subjapp",
   .key = K_SUBJ, .require_client_cert = 1, .cert_subject = "CN=other,O=Example",
   .cert_issuer = "CN=Example CA,O=Example", .want_detail = "CN=other"},
  {.name = "certificate without mTLS at the location", .want = TA_E_NO_CREDENTIALS, .unsigned_request = 1,
   .cert = CERT_MTLS},
  {.name = "signature wins over certificate", .want = TA_OK, .protocols = TA_PROTO_NATIVE | TA_PROTO_MTLS,
   .cert = CERT_MTLS, .want_app = "app1", .want_protocol = "native"},
};

/* Returns the number of mismatches, each reported (so one run shows every
 * failing row). */
static int case_errors(const vcase_t *c)
{
  int errors = 0;
#define CASE_FAIL(...) do { print_error(__VA_ARGS__); errors++; } while (0)
  ta_verdict_t v;
  ta_status_t st = run_case(c, &v);
  if (st != c->want || v.status != c->want) {
    CASE_FAIL("%s: got %s (%s), want %s\n", c->name, ta_error_token(st), v.detail ? v.detail : "",
              ta_error_token(c->want));
    return errors;
  }
  if (c->want_app && (!v.app || strcmp(v.app->id, c->want_app) != 0))
    CASE_FAIL("%s: app %s, want %s\n", c->name, v.app ? v.app->id : "(none)", c->want_app);
  if (c->want_claimed && (!v.claimed_app_id || strcmp(v.claimed_app_id, c->want_claimed) != 0))
    CASE_FAIL("%s: claimed %s, want %s\n", c->name, v.claimed_app_id ? v.claimed_app_id : "(none)",
             c->want_claimed);
  if (c->want_user && (!v.user || strcmp(v.user, c->want_user) != 0))
    CASE_FAIL("%s: user %s, want %s\n", c->name, v.user ? v.user : "(none)", c->want_user);
  if (c->want_detail && (!v.detail || !strstr(v.detail, c->want_detail)))
    CASE_FAIL("%s: detail '%s' lacks '%s'\n", c->name, v.detail ? v.detail : "", c->want_detail);
  if (c->want_protocol && (!v.protocol || strcmp(v.protocol, c->want_protocol) != 0))
    CASE_FAIL("%s: protocol %s, want %s\n", c->name, v.protocol ? v.protocol : "(none)", c->want_protocol);
  if (st == TA_OK) {
    if (v.detail != NULL)
      CASE_FAIL("%s: success with a detail\n", c->name);
  } else {
    if (v.detail == NULL)
      CASE_FAIL("%s: failure without a detail\n", c->name);
    if (v.user || v.replay_key || v.content_digest)
      CASE_FAIL("%s: a failure carries a user, replay key or digest\n", c->name);
  }
  return errors;
#undef CASE_FAIL
}

static void check_case(const vcase_t *c)
{
  if (case_errors(c) != 0)
    fail_msg("%s failed", c->name);
}

static void test_table(void **state)
{
  (void)state;
  int errors = 0;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    apr_pool_clear(tpool);
    errors += case_errors(&cases[i]);
  }
  if (errors)
    fail_msg("%d mismatches in the table", errors);
}

/* The id is handed out once, before the signature is verified (a store
 * prefetches meanwhile), and is the id of the record a success returns. */
static void test_replay_id_known_before_verification(void **state)
{
  (void)state;
  ta_verdict_t v;
  vcase_t ok = {.name = "ok", .want = TA_OK};
  assert_int_equal(run_case(&ok, &v), TA_OK);
  assert_int_equal(hint_calls, 1);
  assert_memory_equal(hint_id, v.replay_id, TA_VERDICT_REPLAY_ID_LEN);

  /* a signature that does not verify: announced all the same, nothing to record */
  unsigned char ok_id[TA_VERDICT_REPLAY_ID_LEN];
  memcpy(ok_id, v.replay_id, sizeof ok_id);
  vcase_t forged = {.name = "forged", .want = TA_E_BAD_SIGNATURE, .tamper_path = "/rest/api/2/user"};
  assert_int_equal(run_case(&forged, &v), TA_E_BAD_SIGNATURE);
  assert_int_equal(hint_calls, 1);
  assert_memory_equal(hint_id, ok_id, TA_VERDICT_REPLAY_ID_LEN);   /* same app, same nonce */
  assert_null(v.replay_key);
  static const unsigned char zero[TA_VERDICT_REPLAY_ID_LEN];
  assert_memory_equal(v.replay_id, zero, TA_VERDICT_REPLAY_ID_LEN);

  /* no record to name: replay protection off, an unknown application, a request too old */
  vcase_t none[] = {
    {.name = "replay off", .want = TA_OK, .replay_off = 1},
    {.name = "unknown app", .want = TA_E_UNKNOWN_APP, .keyid = "nobody"},
    {.name = "too old", .want = TA_E_CLOCK_PAST, .created_delta = -APP1_TIMEOUT_SEC - 1},
  };
  for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
    assert_int_equal(run_case(&none[i], &v), none[i].want);
    assert_int_equal(hint_calls, 0);
  }
}

/* A policy's replay_id names the record (the application and the nonce) in
 * place of SHA-256: the verdict, its hex key and the early hint carry it. */
static void test_policy_names_replay_records(void **state)
{
  (void)state;
  ta_verdict_t v;
  vcase_t named = {.name = "named", .want = TA_OK, .named_ids = 1};
  assert_int_equal(run_case(&named, &v), TA_OK);
  assert_int_equal(name_calls, 1);
  unsigned char want[TA_VERDICT_REPLAY_ID_LEN];
  const char *record = apr_pstrcat(tpool, "app1\n", NONCE, NULL);
  name_record(record, strlen(record), want);
  assert_memory_equal(v.replay_id, want, TA_VERDICT_REPLAY_ID_LEN);
  assert_memory_equal(hint_id, want, TA_VERDICT_REPLAY_ID_LEN);
  char hex[2 * TA_VERDICT_REPLAY_ID_LEN + 1];
  for (size_t i = 0; i < TA_VERDICT_REPLAY_ID_LEN; i++)
    snprintf(hex + 2 * i, 3, "%02x", want[i]);
  assert_string_equal(v.replay_key, apr_pstrcat(tpool, "rfc9421:", hex, NULL));

  /* without it, SHA-256 of the same record */
  vcase_t plain = {.name = "plain", .want = TA_OK};
  assert_int_equal(run_case(&plain, &v), TA_OK);
  assert_int_equal(name_calls, 0);
  unsigned char md[TA_DIGEST_MAX_LEN];
  size_t md_len = 0;
  assert_int_equal(ta_digest_once(TA_DIGEST_SHA256, record, strlen(record), md, &md_len), TA_OK);
  assert_memory_equal(v.replay_id, md, TA_VERDICT_REPLAY_ID_LEN);

  /* replay protection off: nothing is named */
  vcase_t off = {.name = "off", .want = TA_OK, .named_ids = 1, .replay_off = 1};
  assert_int_equal(run_case(&off, &v), TA_OK);
  assert_int_equal(name_calls, 0);
}

static void test_long_keyid_and_user(void **state)
{
  (void)state;
  vcase_t c = {.name = "keyid of 129", .want = TA_E_PARAM_INVALID, .keyid = long_string('k', 129)};
  check_case(&c);
  vcase_t u = {.name = "user of 257 bytes", .want = TA_E_USER_INVALID, .user = long_string('u', 257)};
  check_case(&u);
}

static void test_success_verdict(void **state)
{
  (void)state;
  vcase_t c = {.name = "verdict", .want = TA_OK, .created_delta = -3};
  ta_verdict_t v;
  assert_int_equal(run_case(&c, &v), TA_OK);
  assert_string_equal(v.app->id, "app1");
  assert_string_equal(v.claimed_app_id, "app1");
  assert_int_equal(v.clock_offset_sec, -3);
  assert_non_null(v.replay_key);
  assert_int_equal(strncmp(v.replay_key, "rfc9421:", 8), 0);
  assert_int_equal(strlen(v.replay_key), 8 + 64);
  /* the binary id is the hash the key names */
  char id_hex[2 * TA_VERDICT_REPLAY_ID_LEN + 1];
  for (size_t i = 0; i < TA_VERDICT_REPLAY_ID_LEN; i++)
    snprintf(id_hex + 2 * i, 3, "%02x", v.replay_id[i]);
  assert_string_equal(v.replay_key + 8, id_hex);
  /* created + timeout + future skew margin */
  assert_true(v.replay_expires == apr_time_from_sec(NOW_SEC - 3 + APP1_TIMEOUT_SEC + TA_DEFAULT_FUTURE_SKEW_SEC));
  assert_null(v.content_digest);

  /* same nonce, same key; another nonce, another key; expires shortens it */
  ta_verdict_t v2;
  assert_int_equal(run_case(&c, &v2), TA_OK);
  assert_string_equal(v.replay_key, v2.replay_key);
  vcase_t other = {.name = "other nonce", .want = TA_OK, .nonce = "another-nonce-0123456789"};
  assert_int_equal(run_case(&other, &v2), TA_OK);
  assert_string_not_equal(v.replay_key, v2.replay_key);
  assert_memory_not_equal(v.replay_id, v2.replay_id, TA_VERDICT_REPLAY_ID_LEN);
  vcase_t exp = {.name = "expires", .want = TA_OK, .has_expires = 1, .expires_delta = 10};
  assert_int_equal(run_case(&exp, &v2), TA_OK);
  assert_true(v2.replay_expires == apr_time_from_sec(NOW_SEC + 10 + TA_DEFAULT_FUTURE_SKEW_SEC));

  /* no replay protection: nothing to record */
  vcase_t off = {.name = "replay off", .want = TA_OK, .replay_off = 1};
  assert_int_equal(run_case(&off, &v2), TA_OK);
  assert_null(v2.replay_key);

  /* body: the covered digest is handed over for the body check */
  vcase_t body = {.name = "body", .want = TA_OK, .method = "POST", .body = 1};
  assert_int_equal(run_case(&body, &v2), TA_OK);
  assert_string_equal(v2.content_digest, ta_digest_field_value(tpool, TA_DIGEST_SHA256, BODY, strlen(BODY)));
}

static void test_clock_offset_on_failure(void **state)
{
  (void)state;
  vcase_t c = {.name = "future", .want = TA_E_CLOCK_FUTURE, .created_delta = 500};
  ta_verdict_t v;
  assert_int_equal(run_case(&c, &v), TA_E_CLOCK_FUTURE);
  assert_int_equal(v.clock_offset_sec, 500);
  assert_non_null(v.app);
}

/* Details never carry the signature value. */
static void test_detail_has_no_signature(void **state)
{
  (void)state;
  vcase_t c = {.name = "stranger", .want = TA_E_BAD_SIGNATURE, .key = K_STRANGER};
  ta_msg_t *m = build_request(&c);
  sign_request(&c, m);
  const char *sig = ta_msg_field(tpool, m, "Signature");
  const char *b64 = strchr(sig, ':') + 1;
  ta_verdict_t v;
  assert_int_equal(run_case(&c, &v), TA_E_BAD_SIGNATURE);
  assert_null(strstr(v.detail, apr_pstrndup(tpool, b64, 12)));
}

static ta_msg_t *seraph_request(const char *path, const char *user, int64_t created_sec)
{
  vcase_t c = {.path = path, .user = "-"};
  ta_msg_t *m = build_request(&c);
  ta_seraph_headers_t h;
  const char *err = NULL;
  const char *url = apr_pstrcat(tpool, "https://jira.example.com", m->path, NULL);
  assert_int_equal(ta_seraph_sign(tpool, keys[K_SERAPH], "legacy", user, url, 2,
                                  apr_time_from_sec(created_sec), &h, &err), TA_OK);
  ta_seraph_headers_add(m, &h);
  return m;
}

static void test_seraph(void **state)
{
  (void)state;
  ta_policy_t pol;
  ta_policy_init(&pol);
  pol.protocols = TA_PROTO_SERAPH;
  pol.replay_protection = 0;
  ta_conn_t conn;
  memset(&conn, 0, sizeof(conn));
  conn.client_ip = "198.51.100.7";   /* legacy app: no IP patterns = any (Seraph semantics) */
  conn.is_tls = 1;
  apr_time_t now = apr_time_from_sec(NOW_SEC);
  ta_verdict_t v;

  ta_msg_t *m = seraph_request("/secure/Dashboard.jspa", "bob", NOW_SEC + 600);
  assert_int_equal(ta_verify_request(tpool, registry, &pol, m, &conn, now, &v), TA_OK);
  assert_string_equal(v.protocol, "seraph");
  assert_string_equal(v.app->id, "legacy");
  assert_string_equal(v.user, "bob");
  assert_null(v.replay_key);

  /* replay protection hands out the signed pair's key */
  pol.replay_protection = 1;
  assert_int_equal(ta_verify_request(tpool, registry, &pol, m, &conn, now, &v), TA_OK);
  assert_non_null(v.replay_key);
  /* its binary id: SHA-256 of the key (the cache id the module used to compute) */
  unsigned char md[TA_DIGEST_MAX_LEN];
  size_t md_len = 0;
  assert_int_equal(ta_digest_once(TA_DIGEST_SHA256, v.replay_key, strlen(v.replay_key), md, &md_len), TA_OK);
  assert_int_equal(md_len, TA_VERDICT_REPLAY_ID_LEN);
  assert_memory_equal(v.replay_id, md, TA_VERDICT_REPLAY_ID_LEN);
  /* a policy's own naming applies to the Seraph record too */
  pol.replay_id = name_record;
  name_calls = 0;
  assert_int_equal(ta_verify_request(tpool, registry, &pol, m, &conn, now, &v), TA_OK);
  assert_int_equal(name_calls, 1);
  name_record(v.replay_key, strlen(v.replay_key), md);
  assert_memory_equal(v.replay_id, md, TA_VERDICT_REPLAY_ID_LEN);
  pol.replay_id = NULL;

  /* the shared user rules apply to the certificate's user */
  m = seraph_request("/rest/x", "administrator", NOW_SEC);
  assert_int_equal(ta_verify_request(tpool, registry, &pol, m, &conn, now, &v), TA_E_USER_DENIED);
  assert_non_null(v.app);

  /* path normalisation applies in Seraph mode too */
  m = seraph_request("/rest/%2fx", "bob", NOW_SEC);
  assert_int_equal(ta_verify_request(tpool, registry, &pol, m, &conn, now, &v), TA_E_PATH_NOT_ALLOWED);

  /* the location's prefixes, raw startsWith in compat mode */
  ta_path_set_t *loc = NULL;
  const char *prefix[] = {"/rest"};
  assert_int_equal(ta_path_set_parse(tpool, prefix, 1, &loc, NULL), TA_OK);
  pol.location_paths = loc;
  m = seraph_request("/restricted", "bob", NOW_SEC);
  assert_int_equal(ta_verify_request(tpool, registry, &pol, m, &conn, now, &v), TA_E_PATH_NOT_ALLOWED);
  pol.path_raw_prefix = 1;
  assert_int_equal(ta_verify_request(tpool, registry, &pol, m, &conn, now, &v), TA_OK);
  pol.location_paths = NULL;

  /* a legacy app cannot sign natively, and Seraph headers at a native-only location are no credentials */
  pol.protocols = TA_PROTO_NATIVE;
  assert_int_equal(ta_verify_request(tpool, registry, &pol, m, &conn, now, &v), TA_E_NO_CREDENTIALS);

  /* protocol errors come from the Seraph verifier */
  pol.protocols = TA_PROTO_SERAPH;
  m = seraph_request("/rest/x", "bob", NOW_SEC - 61);
  assert_int_equal(ta_verify_request(tpool, registry, &pol, m, &conn, now, &v), TA_E_CLOCK_PAST);
  m = build_request(&(vcase_t){.user = "-"});
  ta_msg_add_field(m, "X-Seraph-Trusted-App-Cert", "AAAA");
  assert_int_equal(ta_verify_request(tpool, registry, &pol, m, &conn, now, &v), TA_E_SERAPH_APP_ID_MISSING);
}

static void test_no_registry(void **state)
{
  (void)state;
  ta_policy_t pol;
  ta_policy_init(&pol);
  ta_conn_t conn;
  memset(&conn, 0, sizeof(conn));
  vcase_t c = {.name = "x"};
  ta_verdict_t v;
  assert_int_equal(ta_verify_request(tpool, NULL, &pol, build_request(&c), &conn, 0, &v), TA_E_CONFIG);
}

static void test_accept_signature(void **state)
{
  (void)state;
  ta_policy_t pol;
  ta_policy_init(&pol);
  assert_string_equal(ta_verify_accept_signature(tpool, &pol),
                      "ta=(\"@method\" \"@target-uri\" \"trustedapp-user\");created;keyid;nonce");
  pol.replay_protection = 0;
  pol.user_header = "X-Remote-User";
  pol.signature_label = "sig1";
  assert_string_equal(ta_verify_accept_signature(tpool, &pol),
                      "sig1=(\"@method\" \"@target-uri\" \"x-remote-user\");created;keyid");
  pol.protocols = TA_PROTO_SERAPH;
  assert_null(ta_verify_accept_signature(tpool, &pol));
}

int main(void)
{
  apr_initialize();
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_table, setup, teardown),
    cmocka_unit_test_setup_teardown(test_long_keyid_and_user, setup, teardown),
    cmocka_unit_test_setup_teardown(test_replay_id_known_before_verification, setup, teardown),
    cmocka_unit_test_setup_teardown(test_policy_names_replay_records, setup, teardown),
    cmocka_unit_test_setup_teardown(test_success_verdict, setup, teardown),
    cmocka_unit_test_setup_teardown(test_clock_offset_on_failure, setup, teardown),
    cmocka_unit_test_setup_teardown(test_detail_has_no_signature, setup, teardown),
    cmocka_unit_test_setup_teardown(test_seraph, setup, teardown),
    cmocka_unit_test_setup_teardown(test_no_registry, setup, teardown),
    cmocka_unit_test_setup_teardown(test_accept_signature, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
  apr_terminate();
  return rc;
}
