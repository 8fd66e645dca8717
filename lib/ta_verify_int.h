/* Internal to the policy engine: the per-protocol credential checks
 * (ta_verify_native.c, ta_verify_seraph.c) and the shared policy steps
 * (ta_verify.c) they hand over to. Not part of the library's contract. */
#ifndef TA_VERIFY_INT_H
#define TA_VERIFY_INT_H

#include "ta_verify.h"

#define TA_VERIFY_MAX_KEYID 128
#define TA_VERIFY_NONCE_MIN 16
#define TA_VERIFY_NONCE_MAX 128
#define TA_VERIFY_LOG_ID_MAX 128

/* Sets out->status and out->detail and returns status. */
TA_FAILURE_PATH ta_status_t ta_verify_fail(ta_verdict_t *out, ta_status_t st, const char *detail);

/* The id of a replay record under the policy (its replay_id, else SHA-256). */
ta_status_t ta_verify_replay_id(const ta_policy_t *pol, const void *record, size_t len,
                                unsigned char id[TA_VERDICT_REPLAY_ID_LEN]);

/* A claimed identifier made safe for logs: printable ASCII, no quotes or
 * backslashes (as \xHH), truncated. */
const char *ta_verify_log_id(apr_pool_t *p, const char *id);

/* The seconds-granular clock window of a credential. limit_usec is the
 * accepted age. Fills out->clock_offset_sec. TA_OK, TA_E_CLOCK_FUTURE,
 * TA_E_CLOCK_PAST or TA_E_EXPIRED (when has_expires). */
ta_status_t ta_verify_clock(apr_pool_t *p, int64_t created, int has_expires, int64_t expires,
                            apr_interval_time_t limit_usec, int future_skew_sec,
                            apr_time_t now, ta_verdict_t *out);

/* The age limit for an application under a policy: its timeout capped by
 * past_limit_sec; for protocols that must bound the age (native), an
 * unbounded timeout falls back to the registry default. */
apr_interval_time_t ta_verify_age_limit(const ta_app_t *app, const ta_policy_t *pol,
                                        int must_bound);

/* Steps shared by every protocol once the application is authenticated:
 * client address, path, user, TLS and client-certificate binding.
 * empty_allows_all: Seraph semantics for empty IP and path lists.
 * user may be NULL (absent). Sets out->user on success. */
ta_status_t ta_verify_policy(apr_pool_t *p, const ta_policy_t *pol, const ta_msg_t *msg,
                             const ta_conn_t *conn, const ta_app_t *app, const char *user,
                             int empty_allows_all, int raw_paths, int check_client_cert,
                             ta_verdict_t *out);

/* The acting user header (pol->user_header) of msg: *user NULL when
 * absent; TA_E_USER_INVALID when sent on several lines. */
ta_status_t ta_verify_user_header(apr_pool_t *p, const ta_policy_t *pol, const ta_msg_t *msg,
                                  const char **user, ta_verdict_t *out);
/* The same from its value and line count, already looked up
 * (ta_msg_field_lines). */
ta_status_t ta_verify_user_lines(apr_pool_t *p, const ta_policy_t *pol, const char *value, int n,
                                 const char **user, ta_verdict_t *out);

/* RFC 9421 profile. Called when Signature-Input or Signature is present. */
ta_status_t ta_verify_native(apr_pool_t *p, const ta_registry_t *reg, const ta_policy_t *pol,
                             const ta_msg_t *msg, const ta_conn_t *conn, apr_time_t now,
                             ta_verdict_t *out);

/* Legacy Seraph headers. Called when ta_seraph_present(). */
ta_status_t ta_verify_seraph(apr_pool_t *p, const ta_registry_t *reg, const ta_policy_t *pol,
                             const ta_msg_t *msg, const ta_conn_t *conn, apr_time_t now,
                             ta_verdict_t *out);

#endif
