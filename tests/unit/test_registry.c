/* Registry loader: the example file, field semantics, every refusal with
 * its FILE:LINE message, warnings, hardening, and a 20,000-application load. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "ta_registry.h"

static apr_pool_t *pool;
static const char *ed_pem, *ed_fp, *ed2_pem, *p256_pem, *rsa_pem;

#define HEAD "<registry xmlns=\"urn:mod-trustedapp:registry:1\" version=\"1\">\n"
#define TAIL "</registry>\n"

static const char *gen_pem(ta_alg_t alg, int bits, const char **fp)
{
  ta_key_t *k = NULL;
  const char *err = NULL;
  assert_int_equal(ta_key_generate(pool, alg, bits, &k, &err), TA_OK);
  if (fp)
    *fp = ta_key_fingerprint(pool, k);
  return ta_key_public_pem(pool, k);
}

/* RSA below the minimum cannot come from ta_key_generate: ask OpenSSL. */
static const char *weak_rsa_pem(void)
{
  EVP_PKEY *pk = EVP_RSA_gen(1024);
  assert_non_null(pk);
  BIO *b = BIO_new(BIO_s_mem());
  assert_int_equal(PEM_write_bio_PUBKEY(b, pk), 1);
  char *data;
  long n = BIO_get_mem_data(b, &data);
  const char *s = apr_pstrmemdup(pool, data, (apr_size_t)n);
  BIO_free(b);
  EVP_PKEY_free(pk);
  return s;
}

static int setup(void **state)
{
  (void)state;
  apr_initialize();
  apr_pool_create(&pool, NULL);
  ed_pem = gen_pem(TA_ALG_ED25519, 0, &ed_fp);
  ed2_pem = gen_pem(TA_ALG_ED25519, 0, NULL);
  p256_pem = gen_pem(TA_ALG_ECDSA_P256_SHA256, 0, NULL);
  rsa_pem = gen_pem(TA_ALG_RSA_PSS_SHA512, 2048, NULL);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  apr_pool_destroy(pool);
  apr_terminate();
  return 0;
}

static ta_status_t parse(const char *xml, ta_registry_t **r, const char **err)
{
  return ta_registry_parse(pool, xml, strlen(xml), "t.xml", r, err);
}

/* Line (1-based) of the first occurrence of marker in xml. */
static int line_of(const char *xml, const char *marker)
{
  const char *at = strstr(xml, marker);
  assert_non_null(at);
  int line = 1;
  for (const char *c = xml; c < at; c++)
    line += *c == '\n';
  return line;
}

/* Expect a refusal whose message starts with "t.xml:LINE:" (LINE: where
 * marker first occurs; marker NULL: not checked) and names `needle`. */
static void expect_error(const char *xml, const char *marker, const char *needle)
{
  int line = marker ? line_of(xml, marker) : 0;
  ta_registry_t *r = (ta_registry_t *)1;
  const char *err = NULL;
  ta_status_t st = parse(xml, &r, &err);
  if (st == TA_OK || !err || !strstr(err, needle))
    fail_msg("expected error containing '%s', got status %d: %s", needle, st, err ? err : "(none)");
  assert_null(r);
  if (line > 0) {
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "t.xml:%d: ", line);
    if (strncmp(err, prefix, strlen(prefix)) != 0)
      fail_msg("expected prefix '%s' in: %s", prefix, err);
  }
}

static const char *app_xml(const char *id, const char *attrs, const char *pem, const char *body)
{
  return apr_psprintf(pool, "<application id=\"%s\" %s>\n<key>%s</key>\n%s</application>\n", id,
                      attrs, pem, body);
}

static void test_example_file_loads(void **state)
{
  (void)state;
  ta_registry_t *r = NULL;
  const char *err = NULL;
  const char *path = TA_SRCDIR "/conf-examples/registry.xml";
  ta_status_t st = ta_registry_load(pool, path, &r, &err);
  if (st != TA_OK)
    fail_msg("%s", err);
  assert_int_equal(ta_registry_count(r), 4);
  assert_int_equal(ta_registry_warnings(r)->nelts, 0);
  const ta_self_t *self = ta_registry_self(r);
  assert_non_null(self);
  assert_string_equal(self->id, "jira:8812004");
  assert_string_equal(self->key_file, "/etc/apache2/trustedapp/self.key");

  const ta_app_t *c = ta_registry_find(r, "confluence:5749012");
  assert_non_null(c);
  assert_int_equal(c->protocols, TA_APP_PROTO_RFC9421 | TA_APP_PROTO_SERAPH);
  assert_int_equal(c->timeout, 10000 * 1000);
  assert_int_equal(c->n_keys, 1);
  assert_int_equal(c->keys[0].alg, TA_ALG_RSA_V1_5_SHA256);
  assert_int_equal(c->n_ip, 2);
  assert_true(ta_ip_set_match(c->ips, "192.168.44.3"));
  assert_false(ta_ip_set_match(c->ips, "192.169.0.1"));
  assert_true(ta_path_set_match(c->paths, "/rest/api/2/issue"));
  assert_false(ta_path_set_match(c->paths, "/restricted"));

  const ta_app_t *b = ta_registry_find(r, "billing");
  assert_int_equal(b->n_keys, 2);
  assert_int_equal(ta_user_check(b->users, "svc-orders"), TA_OK);
  assert_int_equal(ta_user_check(b->users, "svc-legacy"), TA_E_USER_DENIED);
  assert_int_equal(ta_user_check(b->users, "bob"), TA_E_USER_DENIED);
  assert_true(ta_ip_set_match(b->ips, "2001:db8:40::9"));

  const ta_app_t *m = ta_registry_find(r, "monitoring");
  assert_int_equal(m->n_keys, 0);
  assert_ptr_equal(ta_registry_find_by_cert(r, "9F2C6D1E8A7B4C3D2E1F0A9B8C7D6E5F4A3B2C1D0E9F8A7B6C5D4E3F2A1B0C9D"), m);
  assert_false(ta_registry_find(r, "reporting")->enabled);
  assert_true(c->enabled);
  assert_ptr_equal(ta_registry_app(r, 0), c);
  assert_null(ta_registry_app(r, 4));
}

static void test_fields_and_defaults(void **state)
{
  (void)state;
  const char *xml = apr_pstrcat(pool, HEAD,
    app_xml("a1", "name=\"App One\"", ed_pem,
            "<ip>10.1.*.*</ip><path>/rest</path><user-allow>bob</user-allow>"
            "<client-cert sha256=\"ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789\"/>\n"),
    app_xml("a2", "enabled=\"false\" protocols=\"seraph mtls\"", ed2_pem, "<timeout>0</timeout>\n"),
    TAIL, NULL);
  ta_registry_t *r = NULL;
  const char *err = NULL;
  assert_int_equal(parse(xml, &r, &err), TA_OK);
  assert_string_equal(ta_registry_source(r), "t.xml");
  assert_null(ta_registry_self(r));
  const ta_app_t *a = ta_registry_find(r, "a1");
  assert_string_equal(a->name, "App One");
  assert_true(a->enabled);
  assert_int_equal(a->protocols, TA_APP_PROTO_ALL);
  assert_int_equal(a->timeout, (apr_interval_time_t)TA_REGISTRY_DEFAULT_TIMEOUT_MS * 1000);
  assert_int_equal(a->keys[0].alg, TA_ALG_ED25519);
  assert_string_equal(a->keys[0].fingerprint, ed_fp);
  assert_int_equal(a->keys[0].not_before, 0);
  assert_int_equal(a->keys[0].not_after, 0);
  assert_string_equal(a->ip_patterns[0], "10.1.*.*");
  assert_string_equal(a->path_prefixes[0], "/rest");
  assert_string_equal(a->users_allow[0], "bob");
  assert_int_equal(a->n_users_deny, 0);
  assert_string_equal(a->client_cert_sha256,
                      "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
  assert_ptr_equal(ta_registry_find_by_cert(r, "abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789"), a);
  assert_null(ta_registry_find_by_cert(r, "abcdef"));
  assert_null(ta_registry_find(r, "A1"));
  assert_int_equal(a->line, 2);

  const ta_app_t *b = ta_registry_find(r, "a2");
  assert_false(b->enabled);
  assert_int_equal(b->protocols, TA_APP_PROTO_SERAPH | TA_APP_PROTO_MTLS);
  assert_int_equal(b->timeout, 0);
  /* Empty lists: no sets; the policy applies native/Seraph semantics on the counts. */
  assert_int_equal(b->n_ip, 0);
  assert_int_equal(b->n_path, 0);
  assert_false(ta_ip_set_match(b->ips, "10.0.0.1"));
  assert_non_null(b->users);
  assert_int_equal(ta_user_check(b->users, "root"), TA_E_USER_DENIED);
}

static void test_key_windows_and_warnings(void **state)
{
  (void)state;
  const char *xml = apr_pstrcat(pool, HEAD,
    "<application id=\"rot\">\n"
    "<key not-after=\"2001-01-01T00:00:00Z\">", ed_pem, "</key>\n"
    "<key not-before=\"2020-01-01T01:00:00+01:00\" not-after=\"2099-12-31T23:59:59.5Z\">", ed2_pem, "</key>\n"
    "</application>\n"
    "<application id=\"old\">\n<key not-after=\"2010-05-01T00:00:00Z\">", p256_pem, "</key>\n</application>\n",
    TAIL, NULL);
  ta_registry_t *r = NULL;
  const char *err = NULL;
  assert_int_equal(parse(xml, &r, &err), TA_OK);
  const apr_array_header_t *w = ta_registry_warnings(r);
  /* rot's first key expired; old's only key expired and it has none valid. */
  assert_int_equal(w->nelts, 3);
  assert_non_null(strstr(APR_ARRAY_IDX(w, 0, const char *), "t.xml:3: application 'rot': key SHA256:"));
  assert_non_null(strstr(APR_ARRAY_IDX(w, 0, const char *), "expired at 2001-01-01T00:00:00Z"));
  assert_non_null(strstr(APR_ARRAY_IDX(w, 2, const char *), "'old' has no key valid now"));
  const ta_app_t *a = ta_registry_find(r, "rot");
  assert_int_equal(a->keys[1].not_before, apr_time_from_sec(1577836800));
  assert_int_equal(a->keys[1].not_after, apr_time_from_sec(4102444799) + 500000);
  apr_time_t now = apr_time_now();
  assert_false(ta_app_key_valid_at(&a->keys[0], now));
  assert_true(ta_app_key_valid_at(&a->keys[1], now));
  assert_int_equal(ta_app_valid_key_count(a, now), 1);
  /* Bounds are inclusive. */
  assert_true(ta_app_key_valid_at(&a->keys[1], a->keys[1].not_before));
  assert_false(ta_app_key_valid_at(&a->keys[1], a->keys[1].not_before - 1));
  assert_true(ta_app_key_valid_at(&a->keys[1], a->keys[1].not_after));
  assert_false(ta_app_key_valid_at(&a->keys[1], a->keys[1].not_after + 1));
  assert_int_equal(ta_app_valid_key_count(ta_registry_find(r, "old"), now), 0);
}

static void test_semantic_errors(void **state)
{
  (void)state;
  const char *k1 = app_xml("dup", "", ed_pem, "");
  expect_error(apr_pstrcat(pool, HEAD, k1, app_xml("dup", "name=\"second\"", ed2_pem, ""), TAIL, NULL),
               "name=\"second\"", "duplicate application id 'dup' (first defined at line 2)");
  expect_error(apr_pstrcat(pool, HEAD, app_xml("x", "", ed_pem, "<ip>10.0.0.1</ip>\n<ip>10.*.0.1</ip>\n"), TAIL, NULL),
               "<ip>10.*", "bad IP pattern '10.*.0.1'");
  expect_error(apr_pstrcat(pool, HEAD, app_xml("x", "", ed_pem, "<ip>300.1.1.1</ip>\n"), TAIL, NULL),
               "<ip>", "'300.1.1.1'");
  expect_error(apr_pstrcat(pool, HEAD, app_xml("x", "", ed_pem, "<path>/ok</path>\n<path>/../etc</path>\n"), TAIL, NULL),
               "<path>/..", "bad path prefix '/../etc'");
  expect_error(apr_pstrcat(pool, HEAD, "<application id=\"x\">\n<key alg=\"rsa-v1_5-sha256\">", weak_rsa_pem(),
                           "</key>\n</application>\n", TAIL, NULL), "<key", "application 'x'");
  expect_error(apr_pstrcat(pool, HEAD, "<application id=\"x\">\n<key alg=\"ecdsa-p256-sha256\">", ed_pem,
                           "</key>\n</application>\n", TAIL, NULL), "<key", "application 'x'");
  expect_error(apr_pstrcat(pool, HEAD, "<application id=\"x\">\n<key alg=\"ed25519\">", p256_pem,
                           "</key>\n</application>\n", TAIL, NULL), "<key", "application 'x'");
  /* An RSA key must name its algorithm (PSS or v1.5 cannot be guessed). */
  expect_error(apr_pstrcat(pool, HEAD, "<application id=\"x\">\n<key>", rsa_pem,
                           "</key>\n</application>\n", TAIL, NULL), "<key", "application 'x'");
  expect_error(apr_pstrcat(pool, HEAD, "<application id=\"x\">\n<key fingerprint=\"SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\">",
                           ed_pem, "</key>\n</application>\n", TAIL, NULL), "<key",
               apr_psprintf(pool, "fingerprint mismatch: registered 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', key is '%s'", ed_fp));
  expect_error(apr_pstrcat(pool, HEAD, "<application id=\"x\">\n<key not-before=\"2030-01-01T00:00:00Z\" not-after=\"2029-01-01T00:00:00Z\">",
                           ed_pem, "</key>\n</application>\n", TAIL, NULL), "<key",
               "not-after '2029-01-01T00:00:00Z' is before not-before '2030-01-01T00:00:00Z'");
  expect_error(apr_pstrcat(pool, HEAD, "<application id=\"x\">\n<key not-after=\"2030-01-01T00:00:00\">",
                           ed_pem, "</key>\n</application>\n", TAIL, NULL), "<key",
               "'2030-01-01T00:00:00' is not a date-time with time zone");
  expect_error(apr_pstrcat(pool, HEAD, app_xml("x", "protocols=\"rfc9421 foo\"", ed_pem, ""), TAIL, NULL),
               "<application", "'foo'");
  expect_error(apr_pstrcat(pool, HEAD, app_xml("x", "protocols=\"seraph seraph\"", ed_pem, ""), TAIL, NULL),
               "<application", "protocol 'seraph' listed twice");
  expect_error(apr_pstrcat(pool, HEAD, app_xml("x", "", ed_pem, "<timeout>0</timeout>\n"), TAIL, NULL),
               "<timeout>", "timeout 0 (no age check) is only allowed");
  expect_error(apr_pstrcat(pool, HEAD, "<application id=\"x\">\n<key>", ed_pem, "</key>\n<key alg=\"ed25519\">", ed_pem,
                           "</key>\n</application>\n", TAIL, NULL), "<key alg=", "is registered twice");
  const char *cert = "<client-cert sha256=\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"/>\n";
  const char *two = apr_pstrcat(pool, HEAD, app_xml("x", "", ed_pem, cert), app_xml("y", "", ed2_pem, cert), TAIL, NULL);
  expect_error(two, NULL, "client certificate 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff "
                          "is already bound to application 'x'");
  expect_error(apr_pstrcat(pool, HEAD, app_xml("x", "", ed_pem, "<client-cert issuer=\"CN=ca\"/>\n"), TAIL, NULL),
               "<client-cert", "needs sha256 or subject");
  expect_error(apr_pstrcat(pool, HEAD, "<application id=\"x\" protocols=\"mtls\">\n<ip>::/0</ip>\n</application>\n", TAIL, NULL),
               "<application", "protocols=\"mtls\" needs a <client-cert>");
  expect_error(apr_pstrcat(pool, HEAD, "<application id=\"x\">\n<ip>::/0</ip>\n</application>\n", TAIL, NULL),
               "<application", "application 'x' has no <key>");
  expect_error(apr_pstrcat(pool, HEAD, app_xml("x", "", ed_pem, "<user-allow>a*b</user-allow>\n"), TAIL, NULL),
               "<user-allow", "bad user rule");
}

static void test_private_key_refused(void **state)
{
  (void)state;
  ta_key_t *k = NULL;
  assert_int_equal(ta_key_generate(pool, TA_ALG_ED25519, 0, &k, NULL), TA_OK);
  const char *priv = ta_key_private_pem(pool, k);
  ta_registry_t *r = NULL;
  const char *err = NULL;
  const char *xml = apr_pstrcat(pool, HEAD, app_xml("x", "", priv, ""), TAIL, NULL);
  assert_int_not_equal(parse(xml, &r, &err), TA_OK);
  assert_non_null(err);
  assert_non_null(strstr(err, "t.xml:3: application 'x'"));
  /* The message names the problem, never the key material. */
  assert_null(strstr(err, "PRIVATE KEY-----\n"));
}

static void test_schema_and_xml_errors(void **state)
{
  (void)state;
  expect_error("<registry xmlns=\"urn:mod-trustedapp:registry:1\" version=\"1\">\n<application>\n", NULL, "t.xml:");
  expect_error("<registry xmlns=\"urn:other\" version=\"1\"/>\n", "<registry", "root element must be <registry");
  expect_error("<registry xmlns=\"urn:mod-trustedapp:registry:1\" version=\"2\"/>\n", "<registry", "schema:");
  expect_error(HEAD "<application id=\"bad id\">\n</application>\n" TAIL, "<application", "'bad id'");
  expect_error(apr_pstrcat(pool, HEAD, app_xml("x", "", ed_pem, "<ip>10.0.0.1</ip>\n<timeout>5</timeout>\n"), TAIL, NULL),
               "<timeout>", "schema: Element 'timeout'");
  expect_error(apr_pstrcat(pool, HEAD, app_xml("x", "", ed_pem, "<timeout>86400001</timeout>\n"), TAIL, NULL),
               "<timeout>", "schema:");
  expect_error(apr_pstrcat(pool, HEAD, app_xml("x", "", ed_pem, "<path>rest</path>\n"), TAIL, NULL), "<path>", "'rest'");
  expect_error(apr_pstrcat(pool, HEAD, app_xml("x", "", ed_pem, "<unknown/>\n"), TAIL, NULL), "<unknown", "schema:");
  ta_registry_t *r;
  const char *err;
  assert_int_equal(ta_registry_parse(pool, "", 0, "t.xml", &r, &err), TA_E_CONFIG);
  assert_non_null(strstr(err, "empty"));
}

static void test_doctype_and_entities_refused(void **state)
{
  (void)state;
  const char *lol =
    "<?xml version=\"1.0\"?>\n"
    "<!DOCTYPE registry [\n"
    " <!ENTITY a \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\">\n"
    " <!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
    " <!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n"
    "]>\n" HEAD "<self id=\"&c;\"/>\n" TAIL;
  expect_error(lol, NULL, "DOCTYPE declarations are not allowed");
  const char *ext =
    "<!DOCTYPE registry SYSTEM \"http://127.0.0.1:9/x.dtd\">\n" HEAD TAIL;
  expect_error(ext, "<!DOCTYPE", "DOCTYPE declarations are not allowed");
  const char *xxe =
    "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n" HEAD "<self id=\"&x;\"/>\n" TAIL;
  expect_error(xxe, NULL, "DOCTYPE");
  /* Character references are plain XML and fine. */
  ta_registry_t *r = NULL;
  const char *err = NULL;
  assert_int_equal(parse(HEAD "<self id=\"&#x6A;ira\" name=\"A &amp; B\"/>\n" TAIL, &r, &err), TA_OK);
  assert_string_equal(ta_registry_self(r)->id, "jira");
  assert_string_equal(ta_registry_self(r)->name, "A & B");
}

static void test_load_file_errors(void **state)
{
  (void)state;
  ta_registry_t *r = NULL;
  const char *err = NULL;
  assert_int_equal(ta_registry_load(pool, "/nonexistent/registry.xml", &r, &err), TA_E_CONFIG);
  assert_non_null(strstr(err, "/nonexistent/registry.xml: cannot open"));
  assert_int_equal(ta_registry_load(pool, "/tmp", &r, &err), TA_E_CONFIG);

  /* A sparse file over the size bound is refused before it is read. */
  char path[] = "/tmp/ta-registry-big-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, (off_t)TA_REGISTRY_MAX_BYTES + 1), 0);
  close(fd);
  assert_int_equal(ta_registry_load(pool, path, &r, &err), TA_E_CONFIG);
  assert_non_null(strstr(err, "byte limit"));
  unlink(path);

  /* Error lines come from the file. */
  char path2[] = "/tmp/ta-registry-line-XXXXXX";
  fd = mkstemp(path2);
  const char *xml = apr_pstrcat(pool, HEAD, "<!-- c -->\n\n", app_xml("x", "", ed_pem, "<ip>1.2.3</ip>\n"), TAIL, NULL);
  assert_int_equal(write(fd, xml, strlen(xml)), (ssize_t)strlen(xml));
  close(fd);
  assert_int_equal(ta_registry_load(pool, path2, &r, &err), TA_E_CONFIG);
  assert_non_null(strstr(err, apr_psprintf(pool, "%s:%d: application 'x': bad IP pattern '1.2.3'", path2,
                                           line_of(xml, "<ip>"))));
  unlink(path2);
}

/* Messages keep exact line numbers past 65535 (libxml2's 16-bit line field). */
static void test_big_line_numbers(void **state)
{
  (void)state;
  enum { BLANK = 70000 };
  char *blank = apr_palloc(pool, BLANK + 1);
  memset(blank, '\n', BLANK);
  blank[BLANK] = '\0';
  const char *xml = apr_pstrcat(pool, HEAD, blank, app_xml("far", "", ed_pem, "<ip>10.0.0.300</ip>\n"), TAIL, NULL);
  expect_error(xml, "<ip>", "bad IP pattern '10.0.0.300'");
  xml = apr_pstrcat(pool, HEAD, app_xml("twin", "", ed_pem, ""), blank,
                    app_xml("twin", "name=\"late\"", ed2_pem, ""), TAIL, NULL);
  expect_error(xml, "name=\"late\"", "duplicate application id 'twin' (first defined at line 2)");
}

static void test_protocols_parser(void **state)
{
  (void)state;
  unsigned m = 0;
  const char *err = NULL;
  assert_int_equal(ta_registry_parse_protocols(pool, " mtls\trfc9421 ", &m, &err), TA_OK);
  assert_int_equal(m, TA_APP_PROTO_MTLS | TA_APP_PROTO_RFC9421);
  assert_int_equal(ta_registry_parse_protocols(pool, "", &m, &err), TA_E_CONFIG);
  assert_int_equal(ta_registry_parse_protocols(pool, "RFC9421", &m, &err), TA_E_CONFIG);
  assert_non_null(strstr(err, "unknown protocol 'RFC9421'"));
}

static void test_schema_text(void **state)
{
  (void)state;
  size_t len = 0;
  const char *s = ta_registry_schema(&len);
  assert_true(len > 1000);
  assert_int_equal(strlen(s), len);
  assert_non_null(strstr(s, "targetNamespace=\"" TA_REGISTRY_NS "\""));
}

/* Many applications: linear work, O(1) lookups. Prints the time taken. */
static void test_twenty_thousand_apps(void **state)
{
  (void)state;
  enum { N = 20000 };
  apr_pool_t *tp;
  apr_pool_create(&tp, pool);
  /* A handful of distinct keys keeps generation cheap; repeated keys only warn. */
  const char *pems[16];
  for (int i = 0; i < 16; i++)
    pems[i] = gen_pem(TA_ALG_ED25519, 0, NULL);
  size_t cap = (size_t)N * 400 + 1024, len = 0;
  char *buf = malloc(cap);
  assert_non_null(buf);
  len += (size_t)snprintf(buf + len, cap - len, HEAD);
  for (int i = 0; i < N; i++) {
    len += (size_t)snprintf(buf + len, cap - len,
                            "<application id=\"app-%d\" name=\"Application %d\">\n<key>%s</key>\n"
                            "<ip>10.%d.%d.0/24</ip>\n<path>/rest/app%d</path>\n"
                            "<client-cert sha256=\"%064x\"/>\n</application>\n",
                            i, i, pems[i % 16], (i >> 8) & 255, i & 255, i, i);
    assert_true(len < cap);
  }
  len += (size_t)snprintf(buf + len, cap - len, TAIL);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  ta_registry_t *r = NULL;
  const char *err = NULL;
  ta_status_t st = ta_registry_parse(tp, buf, len, "big.xml", &r, &err);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  free(buf);
  if (st != TA_OK)
    fail_msg("%s", err);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("# loaded %d applications (%zu bytes) in %.3f s\n", N, len, secs);
  assert_int_equal(ta_registry_count(r), N);
  assert_int_equal(ta_registry_warnings(r)->nelts, N - 16);
  const ta_app_t *a = ta_registry_find(r, "app-12345");
  assert_non_null(a);
  assert_string_equal(a->name, "Application 12345");
  assert_true(ta_ip_set_match(a->ips, "10.48.57.200"));
  char hex[65];
  snprintf(hex, sizeof(hex), "%064x", 19999);
  assert_string_equal(ta_registry_find_by_cert(r, hex)->id, "app-19999");
  assert_ptr_equal(ta_registry_app(r, N - 1), ta_registry_find(r, "app-19999"));
  apr_pool_destroy(tp);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_example_file_loads),
    cmocka_unit_test(test_fields_and_defaults),
    cmocka_unit_test(test_key_windows_and_warnings),
    cmocka_unit_test(test_semantic_errors),
    cmocka_unit_test(test_private_key_refused),
    cmocka_unit_test(test_schema_and_xml_errors),
    cmocka_unit_test(test_doctype_and_entities_refused),
    cmocka_unit_test(test_load_file_errors),
    cmocka_unit_test(test_big_line_numbers),
    cmocka_unit_test(test_protocols_parser),
    cmocka_unit_test(test_schema_text),
    cmocka_unit_test(test_twenty_thousand_apps),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
