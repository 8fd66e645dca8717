/* trustapp-admin transport (tools/ta_http.c): what ta_http_perform decides
 * before or without a server - URL refusals, the https-only rule, the host
 * name kept for the diagnosis - using only a closed loopback port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <curl/curl.h>
#include <jansson.h>

#include "ta_cli.h"
#include "ta_http.h"

#include "test_tool_fixture.h"

static int setup(void **state)
{
  (void)state;
  /* the environment's proxies must not turn a loopback refusal into a proxy error */
  static const char *const proxies[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                                        "all_proxy", "ALL_PROXY"};
  for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++)
    unsetenv(proxies[i]);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return -1;
  return tool_fixture_open(NULL);
}

static int teardown(void **state)
{
  (void)state;
  int rc = tool_fixture_close();
  curl_global_cleanup();
  return rc;
}

static ta_cli_t *new_cli(void)
{
  ta_cli_t *c = new_cli_context();
  c->connect_timeout_ms = 2000;
  return c;
}

static const char *token(const ta_cli_t *c)
{
  return json_string_value(json_object_get(c->error, "token"));
}

static void test_malformed_urls_are_usage_errors(void **state)
{
  (void)state;
  static const char *const urls[] = {"", "not a url", "https://", "http://exa mple.com/", "https://[::1/"};
  for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
    ta_cli_t *c = new_cli();
    ta_http_req_t req = {.url = urls[i]};
    ta_http_resp_t resp;
    int rc = ta_http_perform(c, &req, &resp);
    if (rc != TA_EXIT_USAGE)
      fail_msg("'%s': exit %d", urls[i], rc);
    assert_string_equal(token(c), "usage");
    assert_null(resp.host);
    assert_int_equal(resp.curl_code, 0);  /* nothing was attempted */
    free_cli(c);
  }
}

static void test_https_only_refuses_http(void **state)
{
  (void)state;
  ta_cli_t *c = new_cli();
  ta_http_req_t req = {.url = "http://127.0.0.1:1/.well-known/x", .https_only = 1};
  ta_http_resp_t resp;
  assert_int_equal(ta_http_perform(c, &req, &resp), TA_EXIT_NETWORK);
  assert_int_equal(resp.curl_code, CURLE_UNSUPPORTED_PROTOCOL);
  assert_string_equal(token(c), "network-error");
  assert_int_equal(resp.tls->certs->nelts, 0);
  free_cli(c);
}

static void test_refused_connection_is_diagnosed(void **state)
{
  (void)state;
  ta_cli_t *c = new_cli();
  ta_http_req_t req = {.url = "https://127.0.0.1:1/"};
  ta_http_resp_t resp;
  assert_int_equal(ta_http_perform(c, &req, &resp), TA_EXIT_NETWORK);
  assert_int_equal(resp.curl_code, CURLE_COULDNT_CONNECT);
  assert_string_equal(token(c), "connection-refused");
  assert_string_equal(resp.host, "127.0.0.1");
  assert_string_equal(resp.facts.host, "127.0.0.1");
  assert_int_equal(resp.facts.curl_code, CURLE_COULDNT_CONNECT);
  assert_null(resp.facts.proxy);
  assert_int_equal(resp.facts.client_cert_given, 0);
  assert_int_equal(resp.facts.connect_timeout_ms, 2000);
  assert_true(resp.received_at >= resp.sent_at);
  assert_non_null(json_object_get(c->error, "fix"));
  free_cli(c);
}

static void test_ipv6_literal_host_without_brackets(void **state)
{
  (void)state;
  ta_cli_t *c = new_cli();
  c->client_cert = "/nonexistent/client.pem";
  ta_http_req_t req = {.url = "https://[::1]:1/path"};
  ta_http_resp_t resp;
  assert_int_equal(ta_http_perform(c, &req, &resp), TA_EXIT_NETWORK);
  /* the name a certificate would carry: no brackets */
  assert_string_equal(resp.host, "::1");
  assert_string_equal(resp.facts.host, "::1");
  assert_int_equal(resp.facts.client_cert_given, 1);
  free_cli(c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_malformed_urls_are_usage_errors),
    cmocka_unit_test(test_https_only_refuses_http),
    cmocka_unit_test(test_refused_connection_is_diagnosed),
    cmocka_unit_test(test_ipv6_literal_host_without_brackets),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
