/* Client address patterns, parsed once at load time into sorted prefix
 * arrays (one per family) so a request matches in O(log n) per prefix
 * length. Accepted patterns: exact IPv4/IPv6, CIDR (v4/v6), and Seraph
 * wildcards "192.168.*.*" (exactly 4 dot-separated parts, decimal 0-255
 * without leading zeros, '*' only as trailing whole octets). A bare "*" is
 * refused: write 0.0.0.0/0 and ::/0. An IPv4-mapped IPv6 address
 * (::ffff:1.2.3.4) is matched as the IPv4 address it carries. */
#ifndef TA_IP_H
#define TA_IP_H

#include <stddef.h>
#include <apr_pools.h>

#include "ta_error.h"

#define TA_IP_MAX_TEXT 64        /* longest address text accepted (IPv6 + zone-less) */

typedef struct ta_ip_set ta_ip_set_t;

/* TA_OK, or TA_E_CONFIG with *err (may be NULL) naming the bad pattern. */
ta_status_t ta_ip_set_parse(apr_pool_t *p, const char *const *patterns, size_t n,
                            ta_ip_set_t **out, const char **err);
/* 1 = match; a malformed ip never matches; a NULL set never matches. */
int ta_ip_set_match(const ta_ip_set_t *s, const char *ip);
size_t ta_ip_set_count(const ta_ip_set_t *s);

/* Strict address text check (IPv4 dotted quad or IPv6, no zone, no port):
 * 1 when valid. Used by the forwarded-header parsers. */
int ta_ip_is_valid(const char *ip);

#endif
