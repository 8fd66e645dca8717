/* Nonce table: a header and N buckets of K slots, each slot a 32-byte id
 * (SHA-256 output, so uniform) and its expiry. An id may live in one of two
 * buckets, chosen by two independent 8-byte words of the id; it goes to the
 * one holding fewer unexpired nonces. With one bucket per id the first
 * bucket fills up when the table is ~15 % full; with two choices, at ~73 %
 * (simulated for 16 MiB), so the memory buys nonces. Every operation reads
 * two buckets: constant work, whatever the table's fill.
 *
 * An expired slot is free; nothing ever sweeps. When both buckets are full
 * of unexpired nonces the one expiring soonest is evicted and the bucket
 * remembers when: a later id whose buckets never evicted anything after its
 * first possible use is proven fresh; others are the overflow policy's
 * business (TrustedAppReplayCacheOverflow).
 *
 * The memory comes zero-filled from the kernel (fresh anonymous mapping or
 * fresh segment): an expiry of 0 is an empty slot, so nothing is written at
 * creation and a large table costs memory only as it fills. */
#include "ta_mod_replay_table.h"

#include <string.h>
#include <apr_errno.h>
#include <apr_shm.h>

#define TA_REPLAY_TABLE_SLOTS_PER_BUCKET 8

typedef struct {
  unsigned char id[TA_REPLAY_TABLE_ID_LEN];
  apr_time_t expires;                 /* 0: never used; <= now: free again */
} table_slot_t;

typedef struct {
  apr_time_t overflow;                /* last eviction of an unexpired nonce; 0: none */
  table_slot_t slots[TA_REPLAY_TABLE_SLOTS_PER_BUCKET];
} table_bucket_t;

/* Shared by every process; written only under the replay mutex. */
typedef struct {
  apr_time_t last_warning;
  apr_uint64_t evictions;
} table_header_t;

/* Per process (inherited across fork: the mapping keeps its address). */
struct ta_replay_table {
  apr_shm_t *shm;
  table_header_t *header;
  table_bucket_t *buckets;
  apr_uint64_t n_buckets;
};

const char *ta_replay_table_parse_size(const char *text, apr_size_t *bytes)
{
  apr_uint64_t v = 0, unit = 1;
  const char *c = text;

  if (*c < '0' || *c > '9')
    return "a size is BYTES or a number with K, M or G (binary units), e.g. 64M";
  for (; *c >= '0' && *c <= '9'; c++) {
    if (v > TA_REPLAY_TABLE_MAX_BYTES)
      break;                          /* already too large; no overflow */
    v = v * 10 + (apr_uint64_t)(*c - '0');
  }
  while (*c >= '0' && *c <= '9')
    c++;
  switch (*c) {
  case 'K': case 'k': unit = (apr_uint64_t)1 << 10; c++; break;
  case 'M': case 'm': unit = (apr_uint64_t)1 << 20; c++; break;
  case 'G': case 'g': unit = (apr_uint64_t)1 << 30; c++; break;
  default: break;
  }
  if (*c)
    return "a size is BYTES or a number with K, M or G (binary units), e.g. 64M";
  if (v > TA_REPLAY_TABLE_MAX_BYTES / unit || v * unit > TA_REPLAY_TABLE_MAX_BYTES)
    return "too large: at most 4G";
  v *= unit;
  if (v < TA_REPLAY_TABLE_MIN_BYTES)
    return "too small: at least 4K (a real table is megabytes: about 64 bytes per nonce "
           "alive at once)";
  if (v > (apr_uint64_t)(apr_size_t)-1)
    return "too large for this platform's address space";
  *bytes = (apr_size_t)v;
  return NULL;
}

apr_status_t ta_replay_table_create(ta_replay_table_t **out, apr_size_t bytes,
                                    const char *fallback_file, apr_pool_t *p)
{
  ta_replay_table_t *t = apr_pcalloc(p, sizeof *t);
  apr_status_t rv;

  if (bytes < sizeof(table_header_t) + sizeof(table_bucket_t))
    return APR_EINVAL;
  rv = apr_shm_create(&t->shm, bytes, NULL, p);
  if (APR_STATUS_IS_ENOTIMPL(rv) && fallback_file) {
    /* A segment left by a crashed server would be refused (EEXIST). */
    apr_shm_remove(fallback_file, p);
    rv = apr_shm_create(&t->shm, bytes, fallback_file, p);
  }
  if (rv != APR_SUCCESS)
    return rv;
  t->header = apr_shm_baseaddr_get(t->shm);
  t->buckets = (table_bucket_t *)(t->header + 1);
  t->n_buckets = (apr_shm_size_get(t->shm) - sizeof(table_header_t)) / sizeof(table_bucket_t);
  *out = t;
  return APR_SUCCESS;
}

apr_uint64_t ta_replay_table_slots(const ta_replay_table_t *t)
{
  return t->n_buckets * TA_REPLAY_TABLE_SLOTS_PER_BUCKET;
}

static apr_uint64_t word_of(const unsigned char *id, unsigned offset)
{
  apr_uint64_t w;
  memcpy(&w, id + offset, sizeof w);
  return w;
}

/* Scans one bucket: 1 when an unexpired slot holds id. Otherwise counts
 * the unexpired slots and points at a free one (NULL: full) and at the
 * one expiring soonest. */
static int scan_bucket(table_bucket_t *b, const unsigned char *id, apr_time_t now, unsigned *live,
                       table_slot_t **free_slot, table_slot_t **soonest)
{
  *live = 0;
  *free_slot = NULL;
  *soonest = NULL;
  for (unsigned i = 0; i < TA_REPLAY_TABLE_SLOTS_PER_BUCKET; i++) {
    table_slot_t *s = &b->slots[i];
    if (s->expires <= now) {
      if (!*free_slot)
        *free_slot = s;
      continue;
    }
    if (!memcmp(s->id, id, TA_REPLAY_TABLE_ID_LEN))
      return 1;
    ++*live;
    if (!*soonest || s->expires < (*soonest)->expires)
      *soonest = s;
  }
  return 0;
}

int ta_replay_table_insert(ta_replay_table_t *t, const unsigned char *id, apr_time_t expires,
                           apr_time_t now, apr_time_t *overflow, int *evicted_now)
{
  table_bucket_t *b1 = &t->buckets[word_of(id, 0) % t->n_buckets];
  table_bucket_t *b2 = &t->buckets[word_of(id, 8) % t->n_buckets];
  table_slot_t *free1, *free2, *soon1, *soon2, *target;
  unsigned live1, live2;

  *evicted_now = 0;
  *overflow = b1->overflow > b2->overflow ? b1->overflow : b2->overflow;
  if (scan_bucket(b1, id, now, &live1, &free1, &soon1))
    return 1;
  if (b2 == b1) {
    live2 = TA_REPLAY_TABLE_SLOTS_PER_BUCKET + 1;
    free2 = soon2 = NULL;
  } else if (scan_bucket(b2, id, now, &live2, &free2, &soon2)) {
    return 1;
  }

  if (free1 && (!free2 || live1 <= live2)) {
    target = free1;
  } else if (free2) {
    target = free2;
  } else {
    /* Both full: sacrifice the nonce closest to expiring anyway. */
    table_bucket_t *home = (!soon2 || soon1->expires <= soon2->expires) ? b1 : b2;
    target = home == b1 ? soon1 : soon2;
    home->overflow = now;
    *overflow = now;
    *evicted_now = 1;
    t->header->evictions++;
  }
  memcpy(target->id, id, TA_REPLAY_TABLE_ID_LEN);
  target->expires = expires;
  return 0;
}

int ta_replay_table_warn_due(ta_replay_table_t *t, apr_time_t now, apr_interval_time_t interval,
                             apr_uint64_t *evictions)
{
  table_header_t *h = t->header;
  *evictions = h->evictions;
  if (h->last_warning && now - h->last_warning < interval && now >= h->last_warning)
    return 0;
  h->last_warning = now;
  return 1;
}
