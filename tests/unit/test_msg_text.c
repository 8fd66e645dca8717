/* Raw HTTP/1.1 text -> ta_msg_t: what is kept, normalised and refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "ta_msg_text.h"

static apr_pool_t *pool;

static ta_status_t parse(const char *text, const char *scheme, ta_msg_t **m)
{
  return ta_msg_parse_text(pool, text, strlen(text), scheme, m, NULL, NULL);
}

static void test_request(void **state)
{
  (void)state;
  const char *text = "POST /foo/b%2Fr?param=Value&Pet=dog HTTP/1.1\r\n"
                     "Host: Example.COM:443\r\n"
                     "Accept:application/json\r\n"
                     "X-Empty:\r\n"
                     "accept: \t */*  \r\n"
                     "\r\n"
                     "{\"hello\": \"world\"}";
  ta_msg_t *m = NULL;
  const char *body;
  size_t body_len;
  assert_int_equal(ta_msg_parse_text(pool, text, strlen(text), "https", &m, &body, &body_len), TA_OK);
  assert_false(m->is_response);
  assert_string_equal(m->method, "POST");
  assert_string_equal(m->scheme, "https");
  assert_string_equal(m->authority, "example.com");
  assert_string_equal(m->path, "/foo/b%2Fr");
  assert_string_equal(m->query, "param=Value&Pet=dog");
  assert_null(m->request);
  assert_int_equal(m->fields->nelts, 4);
  const ta_field_t *f = (const ta_field_t *)m->fields->elts;
  assert_string_equal(f[0].name, "Host");
  assert_string_equal(f[1].name, "Accept");
  assert_string_equal(f[1].value, "application/json");
  assert_string_equal(f[2].value, "");
  assert_string_equal(f[3].name, "accept");
  assert_string_equal(f[3].value, "*/*");
  assert_string_equal(ta_msg_field(pool, m, "ACCEPT"), "application/json, */*");
  assert_int_equal(body_len, 18);
  assert_memory_equal(body, "{\"hello\": \"world\"}", 18);

  /* LF only, no body, last line without LF; http keeps a non-default port */
  assert_int_equal(parse("GET / HTTP/1.0\nHost: h:8080", "http", &m), TA_OK);
  assert_string_equal(m->authority, "h:8080");
  assert_null(m->query);
  assert_int_equal(parse("GET /?x HTTP/1.1\nHost: h:80\n\n", "http", &m), TA_OK);
  assert_string_equal(m->authority, "h");
  assert_string_equal(m->query, "x");
  assert_int_equal(parse("GET /? HTTP/1.1\nHost: [2001:DB8::1]:443\n\n", "https", &m), TA_OK);
  assert_string_equal(m->authority, "[2001:db8::1]");
  assert_string_equal(m->query, "");
  /* absolute-form wins over Host and the caller's scheme */
  assert_int_equal(parse("GET HTTP://Www.Example.com:80?q=1 HTTP/1.1\nHost: other\n\n", "https", &m), TA_OK);
  assert_string_equal(m->scheme, "http");
  assert_string_equal(m->authority, "www.example.com");
  assert_string_equal(m->path, "/");
  assert_string_equal(m->query, "q=1");
  assert_int_equal(parse("OPTIONS * HTTP/1.1\nHost: h\n\n", "https", &m), TA_OK);
  assert_string_equal(m->path, "*");
}

static void test_response(void **state)
{
  (void)state;
  ta_msg_t *m = NULL;
  assert_int_equal(parse("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", NULL, &m), TA_OK);
  assert_true(m->is_response);
  assert_int_equal(m->status, 503);
  assert_null(m->method);
  assert_null(m->authority);
  assert_int_equal(parse("HTTP/1.1 204\r\n\r\n", NULL, &m), TA_OK);
  assert_int_equal(m->status, 204);
  assert_int_equal(parse("HTTP/1.1 99 Low\r\n\r\n", NULL, &m), TA_E_MSG_INVALID);
  assert_int_equal(parse("HTTP/1.1 2000 OK\r\n\r\n", NULL, &m), TA_E_MSG_INVALID);
  assert_int_equal(parse("HTTP/1.1 20x OK\r\n\r\n", NULL, &m), TA_E_MSG_INVALID);
}

static void test_refused(void **state)
{
  (void)state;
  ta_msg_t *m = NULL;
  const char *const bad[] = {
    "",
    "\r\n",
    "GET / HTTP/1.1\r\nHost: h\r\nX-Fold: a\r\n  b\r\n\r\n",      /* obs-fold */
    "GET / HTTP/1.1\r\nHost: h\r\nX-Fold: a\r\n\tb\r\n\r\n",      /* obs-fold (tab) */
    "GET / HTTP/1.1\r\n Host: h\r\n\r\n",                          /* first field folded */
    "GET / HTTP/1.1\r\n\r\n",                                      /* no authority */
    "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",                /* two Hosts */
    "GET / HTTP/1.1\r\nHost: \r\n\r\n",                            /* empty Host */
    "GET / HTTP/1.1\r\nHost: u@h\r\n\r\n",                         /* userinfo */
    "GET / HTTP/1.1\r\nHost: h:99999\r\n\r\n",                     /* port */
    "GET / HTTP/1.1\r\nHost: h:8a\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n",
    "GET / HTTP/1.1\r\nHost : h\r\n\r\n",                          /* space before colon */
    "GET / HTTP/1.1\r\nHost: h\r\nNo colon\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: h\r\n: empty name\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: h\r\nX-Ctl: a\001b\r\n\r\n",          /* control character */
    "GET / HTTP/1.1\r\nHost: h\r\nX-Del: a\x7f\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: h\r\nX-Cr: a\rb\r\n\r\n",             /* bare CR */
    "GET / HTTP/1.1\r\nHost: h\r\nX\xc3\xa9: v\r\n\r\n",           /* non-token name */
    "GET  / HTTP/1.1\r\nHost: h\r\n\r\n",                          /* double space */
    "GET / HTTP/1.1 \r\nHost: h\r\n\r\n",
    "GET / HTTP/11\r\nHost: h\r\n\r\n",
    "GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n",                     /* fragment */
    "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n",
    "G(T / HTTP/1.1\r\nHost: h\r\n\r\n",                           /* method not a token */
    "GET relative HTTP/1.1\r\nHost: h\r\n\r\n",
    "CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n",                   /* authority-form */
    "GET https:///x HTTP/1.1\r\nHost: h\r\n\r\n",                  /* empty authority */
    "GET / HTTP/1.1",                                              /* no Host at all */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    if (parse(bad[i], "https", &m) != TA_E_MSG_INVALID)
      fail_msg("accepted #%zu: %s", i, bad[i]);
  /* a NUL inside the head */
  const char nul[] = "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n";
  assert_int_equal(ta_msg_parse_text(pool, nul, sizeof(nul) - 1, "https", &m, NULL, NULL), TA_E_MSG_INVALID);
  /* unknown transport scheme */
  assert_int_equal(parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n", "ftp", &m), TA_E_MSG_INVALID);
}

static void test_bounds(void **state)
{
  (void)state;
  ta_msg_t *m = NULL;
  /* field count */
  const char *text = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 1; i < TA_MSG_TEXT_MAX_FIELDS; i++)
    text = apr_pstrcat(pool, text, "X: y\r\n", NULL);
  assert_int_equal(parse(apr_pstrcat(pool, text, "\r\n", NULL), "https", &m), TA_OK);
  assert_int_equal(m->fields->nelts, TA_MSG_TEXT_MAX_FIELDS);
  assert_int_equal(parse(apr_pstrcat(pool, text, "X: y\r\n\r\n", NULL), "https", &m), TA_E_TOO_LARGE);

  /* line length */
  char *longv = apr_palloc(pool, TA_MSG_TEXT_MAX_LINE + 1);
  memset(longv, 'v', TA_MSG_TEXT_MAX_LINE);
  longv[TA_MSG_TEXT_MAX_LINE] = '\0';
  assert_int_equal(parse(apr_psprintf(pool, "GET / HTTP/1.1\r\nHost: h\r\nX: %s\r\n\r\n", longv + 3),
                         "https", &m), TA_OK);
  assert_int_equal(parse(apr_psprintf(pool, "GET / HTTP/1.1\r\nHost: h\r\nX: %s\r\n\r\n", longv),
                         "https", &m), TA_E_TOO_LARGE);

  /* whole head */
  text = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 5; i++)
    text = apr_psprintf(pool, "%sX%d: %s\r\n", text, i, longv + 100);
  assert_int_equal(parse(apr_pstrcat(pool, text, "\r\n", NULL), "https", &m), TA_E_TOO_LARGE);

  /* the body is not part of the head bound */
  char *body = apr_palloc(pool, 200001);
  memset(body, 'b', 200000);
  body[200000] = '\0';
  const char *body_out;
  size_t body_len;
  text = apr_pstrcat(pool, "POST / HTTP/1.1\r\nHost: h\r\n\r\n", body, NULL);
  assert_int_equal(ta_msg_parse_text(pool, text, strlen(text), "https", &m, &body_out, &body_len), TA_OK);
  assert_int_equal(body_len, 200000);
}

static void test_authority(void **state)
{
  (void)state;
  assert_string_equal(ta_msg_normalize_authority(pool, "https", "A.b:443"), "a.b");
  assert_string_equal(ta_msg_normalize_authority(pool, "https", "a.b:80"), "a.b:80");
  assert_string_equal(ta_msg_normalize_authority(pool, "http", "a.b:80"), "a.b");
  assert_string_equal(ta_msg_normalize_authority(pool, "http", "a.b:"), "a.b");
  assert_string_equal(ta_msg_normalize_authority(pool, "https", "[::1]:8443"), "[::1]:8443");
  assert_string_equal(ta_msg_normalize_authority(pool, "https", "192.0.2.1"), "192.0.2.1");
  assert_null(ta_msg_normalize_authority(pool, "https", ""));
  assert_null(ta_msg_normalize_authority(pool, "https", NULL));
  assert_null(ta_msg_normalize_authority(pool, "https", ":443"));
  assert_null(ta_msg_normalize_authority(pool, "https", "a b"));
  assert_null(ta_msg_normalize_authority(pool, "https", "a/b"));
  assert_null(ta_msg_normalize_authority(pool, "https", "[]"));
  assert_null(ta_msg_normalize_authority(pool, "https", "[::1]x"));
  assert_null(ta_msg_normalize_authority(pool, "https", "a:123456"));
  assert_null(ta_msg_normalize_authority(pool, "https", "a:-1"));
}

int main(void)
{
  apr_initialize();
  apr_pool_create(&pool, NULL);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_request),
    cmocka_unit_test(test_response),
    cmocka_unit_test(test_refused),
    cmocka_unit_test(test_bounds),
    cmocka_unit_test(test_authority),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  apr_pool_destroy(pool);
  apr_terminate();
  return rc;
}
