/* The legacy Seraph protocol: ta_seraph_verify does the protocol part
 * (headers, application, keys, certificate, timestamp, URL signature);
 * this adds the shared policy with Seraph's semantics (empty IP and path
 * lists allow all, optional raw startsWith paths) and the replay record. */
#include "ta_verify_int.h"

#include <string.h>

#include <apr_strings.h>

#include "ta_seraph.h"

ta_status_t ta_verify_seraph(apr_pool_t *p, const ta_registry_t *reg, const ta_policy_t *pol,
                             const ta_msg_t *msg, const ta_conn_t *conn, apr_time_t now,
                             ta_verdict_t *out)
{
  out->protocol = "seraph";
  ta_seraph_opts_t opts;
  ta_seraph_opts_init(&opts);
  opts.base_url = pol->seraph_base_url;
  opts.allow_insecure_versions = pol->seraph_insecure_versions;
  opts.future_skew_sec = pol->seraph_future_skew_sec;
  opts.past_limit_sec = pol->past_limit_sec;

  ta_seraph_claim_t claim;
  memset(&claim, 0, sizeof(claim));
  const char *detail = NULL;
  ta_status_t st = ta_seraph_verify(p, reg, msg, &opts, now, &claim, &detail);
  out->app = claim.app;
  out->claimed_app_id = claim.app_id; /* already escaped for logs and bounded by the codec */
  out->clock_offset_sec = claim.clock_offset_sec;
  if (st != TA_OK)
    return ta_verify_fail(out, st, detail);

  const ta_app_t *app = claim.app;
  if (!(app->protocols & TA_APP_PROTO_SERAPH))
    return ta_verify_fail(out, TA_E_APP_NOT_AUTHORIZED,
                          apr_psprintf(p, "application '%s' is not registered for the Seraph protocol "
                                       "(protocols)", ta_verify_log_id(p, app->id)));

  const char *user = claim.user && claim.user[0] ? claim.user : NULL;
  if ((st = ta_verify_policy(p, pol, msg, conn, app, user, 1, pol->path_raw_prefix, 1, out)) != TA_OK)
    return st;
  if (pol->replay_protection && claim.replay_key) {
    if (ta_verify_replay_id(pol, claim.replay_key, strlen(claim.replay_key), out->replay_id) != TA_OK)
      return ta_verify_fail(out, TA_E_INTERNAL, "hashing the replay key failed");
    out->replay_key = claim.replay_key;
    out->replay_expires = claim.replay_expires;
  }
  return TA_OK;
}
