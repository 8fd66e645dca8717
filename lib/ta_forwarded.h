/* Strict parsers of the forwarded-for chain (X-Forwarded-For and RFC 7239
 * Forwarded "for=") and the trusted-proxy walk, in the spirit of
 * mod_remoteip: a proxy's claim is believed only while the hop that made it
 * is itself a trusted proxy. */
#ifndef TA_FORWARDED_H
#define TA_FORWARDED_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "ta_error.h"
#include "ta_ip.h"

#define TA_FORWARDED_MAX_HOPS 32
#define TA_FORWARDED_MAX_INPUT 4096

/* Into an array of const char * address strings, leftmost (client) first.
 * X-Forwarded-For: comma-separated addresses (IPv6 may be bracketed;
 * a ":port" on IPv4 or bracketed IPv6 is dropped). Forwarded: the "for="
 * of each element; other parameters are skipped; "unknown" and obfuscated
 * identifiers ("_hidden") are refused, since policy cannot match them.
 * TA_E_PROXY_CHAIN on garbage, more than TA_FORWARDED_MAX_HOPS hops, or
 * input over TA_FORWARDED_MAX_INPUT bytes. */
ta_status_t ta_xff_parse(apr_pool_t *p, const char *value, apr_array_header_t **ips);
ta_status_t ta_forwarded_parse(apr_pool_t *p, const char *value, apr_array_header_t **ips);

/* From the peer, walk the chain right to left while the current hop is a
 * trusted proxy; returns the client IP (the peer itself when it is not
 * trusted or the chain is NULL/empty). */
const char *ta_proxy_walk(const char *peer, const apr_array_header_t *chain,
                          const ta_ip_set_t *trusted);

#endif
