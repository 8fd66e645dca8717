/* trustapp-admin outbound HTTP(S) over libcurl: TLS >= 1.2, peer and host
 * verification always on, optional client certificate, proxies from the
 * environment, and the presented chain captured for diagnosis. */
#ifndef TA_HTTP_H
#define TA_HTTP_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "ta_cli.h"
#include "ta_tls_diag.h"

#define TA_HTTP_MAX_BODY (1024 * 1024)

typedef struct {
  const char *method;           /* NULL = GET */
  const char *url;
  apr_array_header_t *headers;  /* "Name: value" strings, or NULL */
  const char *body;             /* NULL = no body */
  size_t body_len;
  int connect_only;             /* stop after the TLS handshake (tls-fetch) */
  int https_only;               /* refuse http:// (fetching keys) */
} ta_http_req_t;

typedef struct {
  int curl_code;
  const char *curl_error;
  long status;
  long connect_status;
  apr_table_t *headers;         /* of the final response */
  char *body;
  size_t body_len;
  int body_truncated;
  ta_tls_capture_t *tls;
  const char *host;
  const char *primary_ip;
  apr_time_t sent_at, received_at;  /* local clock around the exchange (skew measurement) */
  ta_net_facts_t facts;
} ta_http_resp_t;

/* Performs the transfer. Returns TA_EXIT_OK when an HTTP answer (any status)
 * or, for connect_only, a verified handshake was obtained; otherwise records
 * the diagnosis with ta_cli_fail and returns TA_EXIT_NETWORK (or USAGE for a
 * malformed URL). */
int ta_http_perform(ta_cli_t *c, const ta_http_req_t *req, ta_http_resp_t *resp);

#endif
