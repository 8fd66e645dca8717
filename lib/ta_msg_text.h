/* Raw HTTP/1.1 message text -> ta_msg_t, for tests and trustapp-admin
 * (the module builds its ta_msg_t from request_rec instead).
 *
 * Accepts CRLF or bare LF line ends. A request line gives method, path and
 * query (origin-form "/p?q", asterisk-form "*", or absolute-form
 * "scheme://authority/p?q", whose scheme and authority then win); Host gives
 * the authority of origin-form targets. A status line gives the status.
 * Field lines are kept in order, OWS trimmed. obs-fold, bare CR, NUL and other
 * control characters, empty or invalid field names, whitespace before the
 * colon and a request without an authority are refused. Everything after the
 * empty line is the body (returned as is, not interpreted). */
#ifndef TA_MSG_TEXT_H
#define TA_MSG_TEXT_H

#include <stddef.h>
#include <apr_pools.h>

#include "ta_error.h"
#include "ta_msg.h"

#define TA_MSG_TEXT_MAX_HEAD   (64 * 1024)  /* start line + field section */
#define TA_MSG_TEXT_MAX_FIELDS 256
#define TA_MSG_TEXT_MAX_LINE   (16 * 1024)

/* scheme: "http" or "https" (the transport the message arrived on; also
 * used to drop the default port from the authority), NULL meaning "https";
 * responses get scheme NULL. body/body_len may be
 * NULL. Returns TA_OK, TA_E_TOO_LARGE (a bound above) or TA_E_MSG_INVALID. */
ta_status_t ta_msg_parse_text(apr_pool_t *p, const char *text, size_t len,
                              const char *scheme, ta_msg_t **out,
                              const char **body, size_t *body_len);

/* Lower-cased authority with the scheme's default port dropped, or NULL
 * when host[:port] is malformed (empty, bad characters, bad port). */
const char *ta_msg_normalize_authority(apr_pool_t *p, const char *scheme,
                                       const char *authority);

#endif
