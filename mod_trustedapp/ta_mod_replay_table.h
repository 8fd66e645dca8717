/* The built-in replay store: a fixed-size nonce table in shared memory with
 * constant-time insert-if-absent (TrustedAppReplayCache table[:BYTES], the
 * default). Plain APR and pthreads, no httpd headers. The table locks
 * itself: each call takes the process-shared locks of the id's two buckets,
 * so callers need no mutex of their own. */
#ifndef TA_MOD_REPLAY_TABLE_H
#define TA_MOD_REPLAY_TABLE_H

#include <apr_pools.h>
#include <apr_time.h>

#define TA_REPLAY_TABLE_ID_LEN 32
/* The minimum has 84 slots, about 60 nonces: only good for seeing an overflow in a
 * test. Real tables are megabytes (about 64 bytes per nonce alive at once). */
#define TA_REPLAY_TABLE_MIN_BYTES ((apr_uint64_t)4 * 1024)
#define TA_REPLAY_TABLE_MAX_BYTES ((apr_uint64_t)4 * 1024 * 1024 * 1024)
/* 367,000 slots, of which 66-72 % fill before the first eviction: about
 * 240,000 live nonces, ~800 signed requests/s with 300 s signatures. */
#define TA_REPLAY_TABLE_DEFAULT_BYTES ((apr_size_t)16 * 1024 * 1024)

typedef struct ta_replay_table ta_replay_table_t;

/* "BYTES" or a number with a binary suffix K, M or G (64M = 64 MiB), within
 * the bounds above. NULL when valid, else why not. */
const char *ta_replay_table_parse_size(const char *text, apr_size_t *bytes);

/* A new, empty table of about `bytes` in anonymous shared memory (inherited
 * by processes forked afterwards), or, where APR has no anonymous shared
 * memory, in one named by fallback_file. Freed with pool p. */
apr_status_t ta_replay_table_create(ta_replay_table_t **out, apr_size_t bytes,
                                    const char *fallback_file, apr_pool_t *p);

/* Allocates the whole table now, if this is the process that made it, and
 * maps it into this process's page tables, which fork does not copy for
 * shared memory: called at creation and in each child, so that no request
 * pays a page fault for its bucket. APR_ENOTIMPL where the kernel (before
 * Linux 5.14) or the file fallback cannot; the table then fills lazily. */
apr_status_t ta_replay_table_map_all(const ta_replay_table_t *t);

/* Names a record (len bytes; a server's replay records are the application
 * and the nonce) with an id for this table: keyed with secrets of the table,
 * so no client can compute it, and the same for as long as the table lives. */
void ta_replay_table_id(const ta_replay_table_t *t, const void *record, size_t len,
                        unsigned char id[TA_REPLAY_TABLE_ID_LEN]);

/* SipHash-2-4 with out_len 8 (64-bit output: the buckets) or 16 (the
 * 128-bit variant: the ids), key and output as bytes of little-endian
 * words; what the table is made of, exposed for its known answers. */
void ta_siphash24(const unsigned char key[16], const void *in, size_t len, unsigned char *out,
                  size_t out_len);

/* Starts fetching what inserting id will touch (its buckets and their
 * locks) and returns at once, with no other effect: called while something
 * slower runs (the signature's verification), it takes the memory latency
 * of a large table off the insert that follows. */
void ta_replay_table_prefetch(const ta_replay_table_t *t, const unsigned char *id);

/* Number of nonce slots. */
apr_uint64_t ta_replay_table_slots(const ta_replay_table_t *t);

/* Records id until `expires` unless an unexpired entry already holds it.
 * Returns 1 when it does (a replay), 0 when stored, -1 when a lock cannot
 * be taken (the cache is then unavailable). When the id's slots are
 * all held by unexpired nonces, the one expiring soonest is evicted (its
 * replay could go unnoticed): *overflow is the last time the slots this id
 * can occupy lost an unexpired nonce (0: never), so any id first used
 * after it is certainly still known. *evicted_now says this insert evicted. */
int ta_replay_table_insert(ta_replay_table_t *t, const unsigned char *id, apr_time_t expires,
                           apr_time_t now, apr_time_t *overflow, int *evicted_now);

/* The same for a server: expiries are compared with *now, a recent time
 * (the request's; an older time only keeps a slot a moment longer), and an
 * eviction is stamped with the clock read once the id's locks are held, so
 * never before the insert of a nonce it drops; that time is returned in
 * *now. Most inserts so read no clock. */
int ta_replay_table_insert_now(ta_replay_table_t *t, const unsigned char *id, apr_time_t expires,
                               apr_time_t *now, apr_time_t *overflow, int *evicted_now);

/* Rate limit for the overflow warning, shared by every process: 1 (and the
 * time is recorded) when none was given in the last `interval`. *evictions:
 * unexpired nonces evicted since the table was made. */
int ta_replay_table_warn_due(ta_replay_table_t *t, apr_time_t now, apr_interval_time_t interval,
                             apr_uint64_t *evictions);

#endif
