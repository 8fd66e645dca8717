/* Nonce table: a header and N buckets of K slots, each slot a 32-byte id
 * and its expiry. An id may live in one of two buckets; it
 * goes to the one holding fewer unexpired nonces. With one bucket per id
 * the first bucket fills up when the table is ~15 % full; with two choices
 * of 7 slots, at 66-72 % (simulated for 16 MiB), so the memory buys
 * nonces. Every operation reads two buckets: constant work, whatever the
 * table's fill (~0.3 us per insert, flat from 10 % to 90 % full).
 *
 * The buckets come from SipHash-2-4 of the id under a random key made with
 * the table: ids derive from nonces a client chooses, and one that could
 * aim at a bucket (as with shmcb's first byte) could flush a captured
 * request's nonce out of it to replay the request.
 *
 * The table also names the records it is given (ta_replay_table_id): two
 * SipHash-2-4-128 under two more keys of its own, 256 bits that no client
 * can compute and that stay the same for as long as the table lives (across
 * graceful restarts), for a fraction of the cost of SHA-256.
 *
 * An expired slot is free; nothing ever sweeps. When both buckets are full
 * of unexpired nonces the one expiring soonest is evicted and the bucket
 * remembers when: a later id whose buckets never evicted anything after its
 * first possible use is proven fresh; others are the overflow policy's
 * business (TrustedAppReplayCacheOverflow).
 *
 * The memory comes zero-filled from the kernel (fresh anonymous mapping or
 * fresh segment): an expiry of 0 is an empty slot, so nothing is written at
 * creation. It is committed then all the same, and mapped into each child
 * as it starts (ta_replay_table_map_all): the ids are spread over the whole
 * table, so a lazily mapped one would cost a page fault in most requests
 * for as long as it takes each child to have touched every page once. */
#include "ta_mod_replay_table.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <apr_errno.h>
#include <apr_general.h>
#include <apr_shm.h>

/* A bucket is five cache lines: the first holds everything an insert reads
 * (the overflow time, and per slot its expiry and a tag from its id), the
 * other four the ids, read only where a tag matches and written by a store.
 * An insert so reads two lines from a table of hundreds of megabytes, plus
 * the line it writes, instead of the twelve that interleaving ids and
 * expiries spread a bucket over. */
#define TA_REPLAY_TABLE_SLOTS_PER_BUCKET 7
#define TA_REPLAY_TABLE_LINE 64

/* A slot's stamp: its expiry (microseconds, 56 bits: until the year 4253)
 * and, in the top byte, a byte of its id. 0: never used; an expiry <= now:
 * free again. */
#define STAMP_EXPIRY_MASK ((APR_UINT64_C(1) << 56) - 1)
#define STAMP_TAG_SHIFT 56

typedef struct {
  apr_time_t overflow;                /* last eviction of an unexpired nonce; 0: none */
  apr_uint64_t stamp[TA_REPLAY_TABLE_SLOTS_PER_BUCKET];
  unsigned char id[TA_REPLAY_TABLE_SLOTS_PER_BUCKET][TA_REPLAY_TABLE_ID_LEN];
  unsigned char pad[5 * TA_REPLAY_TABLE_LINE - 8 - 8 * TA_REPLAY_TABLE_SLOTS_PER_BUCKET
                    - TA_REPLAY_TABLE_SLOTS_PER_BUCKET * TA_REPLAY_TABLE_ID_LEN];
} table_bucket_t;

/* Shared by every process. The counters are updated atomically; a bucket
 * is read and written only under its lock. */
typedef struct {
  apr_uint64_t bucket_key[2];         /* SipHash key: random, never changes */
  apr_uint64_t id_key[4];             /* ta_replay_table_id's two keys: the same */
  apr_time_t last_warning;
  apr_uint64_t evictions;
  apr_uint64_t n_locks;
} table_header_t;

/* Bucket i is guarded by lock i % n_locks: a request takes the locks of its
 * two buckets (lower index first), so workers contend only when their ids
 * share a lock, instead of all queueing on one server-wide mutex. Robust
 * process-shared mutexes: a process that dies holding one (it is held for
 * a scan of 16 slots) leaves at worst one half-written slot, a harmless
 * entry, and the next locker takes the lock over. */
#define TA_REPLAY_TABLE_MAX_LOCKS 256
/* Tables smaller than this many buckets per lock have one lock. */
#define TA_REPLAY_TABLE_BUCKETS_PER_LOCK 16

_Static_assert(sizeof(table_bucket_t) == 5 * TA_REPLAY_TABLE_LINE, "a bucket is five cache lines");
_Static_assert(offsetof(table_bucket_t, id) == TA_REPLAY_TABLE_LINE, "the first line holds the stamps");

/* Per process (inherited across fork: the mapping keeps its address). */
struct ta_replay_table {
  apr_shm_t *shm;
  int anonymous;                      /* not the file fallback */
  table_header_t *header;
  pthread_mutex_t *locks;
  apr_uint64_t n_locks;
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
  t->anonymous = rv == APR_SUCCESS;
  if (APR_STATUS_IS_ENOTIMPL(rv) && fallback_file) {
    /* A segment left by a crashed server would be refused (EEXIST). */
    apr_shm_remove(fallback_file, p);
    rv = apr_shm_create(&t->shm, bytes, fallback_file, p);
  }
  if (rv != APR_SUCCESS)
    return rv;
  t->header = apr_shm_baseaddr_get(t->shm);
  rv = apr_generate_random_bytes((unsigned char *)t->header->bucket_key,
                                 sizeof t->header->bucket_key);
  if (rv == APR_SUCCESS)
    rv = apr_generate_random_bytes((unsigned char *)t->header->id_key, sizeof t->header->id_key);
  if (rv != APR_SUCCESS) {
    apr_shm_destroy(t->shm);
    return rv;
  }
  apr_size_t size = apr_shm_size_get(t->shm);
  apr_uint64_t raw_buckets = (size - sizeof(table_header_t)) / sizeof(table_bucket_t);
  t->n_locks = raw_buckets >= (apr_uint64_t)TA_REPLAY_TABLE_MAX_LOCKS * TA_REPLAY_TABLE_BUCKETS_PER_LOCK
               ? TA_REPLAY_TABLE_MAX_LOCKS : 1;
  t->locks = (pthread_mutex_t *)(t->header + 1);
  /* Buckets start on a cache line: APR's segment begins a few bytes into
   * its mapping, so the line is found from the address, not the offset. */
  apr_size_t used = sizeof(table_header_t) + t->n_locks * sizeof(pthread_mutex_t);
  apr_uintptr_t first = (apr_uintptr_t)t->header + used;
  used += (TA_REPLAY_TABLE_LINE - first % TA_REPLAY_TABLE_LINE) % TA_REPLAY_TABLE_LINE;
  if (size < used + sizeof(table_bucket_t)) {
    apr_shm_destroy(t->shm);
    return APR_EINVAL;
  }
  pthread_mutexattr_t attr;
  int ok = pthread_mutexattr_init(&attr) == 0;
  ok = ok && pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) == 0
       && pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) == 0;
  for (apr_uint64_t i = 0; ok && i < t->n_locks; i++)
    ok = pthread_mutex_init(&t->locks[i], &attr) == 0;
  pthread_mutexattr_destroy(&attr);
  if (!ok) {
    apr_shm_destroy(t->shm);
    return APR_EGENERAL;
  }
  t->header->n_locks = t->n_locks;
  t->buckets = (table_bucket_t *)((char *)t->header + used);
  t->n_buckets = (size - used) / sizeof(table_bucket_t);
  *out = t;
  return APR_SUCCESS;
}

apr_status_t ta_replay_table_map_all(const ta_replay_table_t *t)
{
#ifdef MADV_POPULATE_WRITE
  /* A file-backed fallback segment would be written out block by block. */
  if (!t->anonymous)
    return APR_ENOTIMPL;
  long page = sysconf(_SC_PAGESIZE);
  if (page <= 0)
    return APR_ENOTIMPL;
  /* APR's segment starts a few bytes into its page-aligned mapping. */
  apr_uintptr_t mask = (apr_uintptr_t)page - 1;
  apr_uintptr_t start = (apr_uintptr_t)t->header & ~mask;
  apr_uintptr_t end = ((apr_uintptr_t)t->header + apr_shm_size_get(t->shm) + mask) & ~mask;
  if (madvise((void *)start, end - start, MADV_POPULATE_WRITE) != 0)
    return APR_FROM_OS_ERROR(errno);
  return APR_SUCCESS;
#else
  (void)t;
  return APR_ENOTIMPL;
#endif
}

apr_uint64_t ta_replay_table_slots(const ta_replay_table_t *t)
{
  return t->n_buckets * TA_REPLAY_TABLE_SLOTS_PER_BUCKET;
}

/* Little-endian words in one load or store (memcpy: any alignment). */
static apr_uint64_t load_le64(const unsigned char *b)
{
  apr_uint64_t w;
  memcpy(&w, b, sizeof w);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  w = __builtin_bswap64(w);
#endif
  return w;
}

static void store_le64(unsigned char *b, apr_uint64_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  w = __builtin_bswap64(w);
#endif
  memcpy(b, &w, sizeof w);
}

#define ROTL64(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                     \
  do {                                                                               \
    v0 += v1; v1 = ROTL64(v1, 13); v1 ^= v0; v0 = ROTL64(v0, 32);                    \
    v2 += v3; v3 = ROTL64(v3, 16); v3 ^= v2;                                         \
    v0 += v3; v3 = ROTL64(v3, 21); v3 ^= v0;                                         \
    v2 += v1; v1 = ROTL64(v1, 17); v1 ^= v2; v2 = ROTL64(v2, 32);                    \
  } while (0)

/* SipHash-2-4 (Aumasson, Bernstein) of len bytes under key: the 64-bit
 * output in out[0], or with wide the 128-bit variant's in out[0] and out[1]. */
static void siphash24(const apr_uint64_t key[2], const unsigned char *in, size_t len, int wide,
                      apr_uint64_t out[2])
{
  apr_uint64_t v0 = key[0] ^ APR_UINT64_C(0x736f6d6570736575);
  apr_uint64_t v1 = key[1] ^ APR_UINT64_C(0x646f72616e646f6d);
  apr_uint64_t v2 = key[0] ^ APR_UINT64_C(0x6c7967656e657261);
  apr_uint64_t v3 = key[1] ^ APR_UINT64_C(0x7465646279746573);
  apr_uint64_t m;
  size_t whole = len & ~(size_t)7;

  if (wide)
    v1 ^= 0xee;
  for (size_t i = 0; i < whole; i += 8) {
    m = load_le64(in + i);
    v3 ^= m;
    SIPROUND;
    SIPROUND;
    v0 ^= m;
  }
  m = (apr_uint64_t)(len & 0xff) << 56;             /* length byte, then the tail */
  for (size_t i = whole; i < len; i++)
    m |= (apr_uint64_t)in[i] << (8 * (i - whole));
  v3 ^= m;
  SIPROUND;
  SIPROUND;
  v0 ^= m;
  v2 ^= wide ? 0xee : 0xff;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  out[0] = v0 ^ v1 ^ v2 ^ v3;
  if (!wide)
    return;
  v1 ^= 0xdd;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  out[1] = v0 ^ v1 ^ v2 ^ v3;
}

static apr_uint64_t siphash24_id(const apr_uint64_t key[2], const unsigned char *id)
{
  apr_uint64_t h[2];
  siphash24(key, id, TA_REPLAY_TABLE_ID_LEN, 0, h);
  return h[0];
}

void ta_siphash24(const unsigned char key[16], const void *in, size_t len, unsigned char *out,
                  size_t out_len)
{
  apr_uint64_t k[2] = {load_le64(key), load_le64(key + 8)}, h[2];
  siphash24(k, in, len, out_len == 16, h);
  store_le64(out, h[0]);
  if (out_len == 16)
    store_le64(out + 8, h[1]);
}

void ta_replay_table_id(const ta_replay_table_t *t, const void *record, size_t len,
                        unsigned char id[TA_REPLAY_TABLE_ID_LEN])
{
  apr_uint64_t h[4];
  siphash24(t->header->id_key, record, len, 1, h);
  siphash24(t->header->id_key + 2, record, len, 1, h + 2);
  for (int i = 0; i < 4; i++)
    store_le64(id + 8 * i, h[i]);
}

static apr_time_t stamp_expiry(apr_uint64_t stamp)
{
  return (apr_time_t)(stamp & STAMP_EXPIRY_MASK);
}

static apr_uint64_t make_stamp(apr_time_t expires, const unsigned char *id)
{
  /* Later than the year 4253 is as good as never; 0 would be an empty slot. */
  apr_uint64_t e = expires <= 0 ? 1 : (apr_uint64_t)expires > STAMP_EXPIRY_MASK ? STAMP_EXPIRY_MASK
                                                                                : (apr_uint64_t)expires;
  return e | (apr_uint64_t)id[0] << STAMP_TAG_SHIFT;
}

/* Scans one bucket: 1 when an unexpired slot holds id. Otherwise counts
 * the unexpired slots and gives a free one (-1: full) and the one expiring
 * soonest. Ids are compared only where the tag matches. */
static int scan_bucket(const table_bucket_t *b, const unsigned char *id, apr_time_t now,
                       unsigned *live, int *free_slot, int *soonest)
{
  const apr_uint64_t tag = (apr_uint64_t)id[0] << STAMP_TAG_SHIFT;
  *live = 0;
  *free_slot = -1;
  *soonest = -1;
  for (int i = 0; i < TA_REPLAY_TABLE_SLOTS_PER_BUCKET; i++) {
    apr_uint64_t stamp = b->stamp[i];
    apr_time_t expires = stamp_expiry(stamp);
    if (expires <= now) {
      if (*free_slot < 0)
        *free_slot = i;
      continue;
    }
    if ((stamp & ~STAMP_EXPIRY_MASK) == tag && !memcmp(b->id[i], id, TA_REPLAY_TABLE_ID_LEN))
      return 1;
    ++*live;
    if (*soonest < 0 || expires < stamp_expiry(b->stamp[*soonest]))
      *soonest = i;
  }
  return 0;
}

/* The two buckets an id may live in, and their locks. */
typedef struct {
  table_bucket_t *b1, *b2;
  pthread_mutex_t *l1, *l2;
} id_place_t;

static id_place_t place_of(const ta_replay_table_t *t, const unsigned char *id)
{
  /* n_buckets < 2^32 (4 GiB / 320 bytes): each half picks one. */
  apr_uint64_t h = siphash24_id(t->header->bucket_key, id);
  apr_uint64_t i1 = (h & 0xffffffffu) % t->n_buckets, i2 = (h >> 32) % t->n_buckets;
  id_place_t place = {&t->buckets[i1], &t->buckets[i2], &t->locks[i1 % t->n_locks],
                      &t->locks[i2 % t->n_locks]};
  return place;
}

/* Asks the CPU to fetch the buckets' first lines and the locks (and their
 * pages' address translations) at once: in a table of hundreds of
 * megabytes they are rarely cached. Prefetches read nothing the program
 * sees, and write nothing. */
static void prefetch_place(const id_place_t *place)
{
  __builtin_prefetch(place->b1, 1);
  __builtin_prefetch(place->b2, 1);
  __builtin_prefetch(place->l1, 1);
  __builtin_prefetch(place->l2, 1);
}

void ta_replay_table_prefetch(const ta_replay_table_t *t, const unsigned char *id)
{
  id_place_t place = place_of(t, id);
  prefetch_place(&place);
}

static int lock_bucket_lock(pthread_mutex_t *m)
{
  int rc = pthread_mutex_lock(m);
  if (rc == EOWNERDEAD)
    rc = pthread_mutex_consistent(m);
  return rc;
}

/* Under the locks of both buckets. *now: the time expiries are compared
 * with; with stamp_fresh, an eviction reads the clock (now, under the
 * locks) for its stamp and returns it there. */
static int insert_locked(ta_replay_table_t *t, table_bucket_t *b1, table_bucket_t *b2,
                         const unsigned char *id, apr_time_t expires, apr_time_t *now_io,
                         int stamp_fresh, apr_time_t *overflow, int *evicted_now)
{
  apr_time_t now = *now_io;
  int free1, free2, soon1, soon2, slot;
  unsigned live1, live2;
  table_bucket_t *home;

  *evicted_now = 0;
  *overflow = b1->overflow > b2->overflow ? b1->overflow : b2->overflow;
  if (scan_bucket(b1, id, now, &live1, &free1, &soon1))
    return 1;
  if (b2 == b1) {
    live2 = TA_REPLAY_TABLE_SLOTS_PER_BUCKET + 1;
    free2 = soon2 = -1;
  } else if (scan_bucket(b2, id, now, &live2, &free2, &soon2)) {
    return 1;
  }

  if (free1 >= 0 && (free2 < 0 || live1 <= live2)) {
    home = b1;
    slot = free1;
  } else if (free2 >= 0) {
    home = b2;
    slot = free2;
  } else {
    /* Both full: sacrifice the nonce closest to expiring anyway. */
    int first = soon2 < 0 || stamp_expiry(b1->stamp[soon1]) <= stamp_expiry(b2->stamp[soon2]);
    home = first ? b1 : b2;
    slot = first ? soon1 : soon2;
    /* Stamped no earlier than the insert of any nonce it drops, which
     * held this lock before; never moved back (a clock stepped back must
     * not forget it). */
    if (stamp_fresh) {
      now = apr_time_now();
      *now_io = now;
    }
    if (now > home->overflow)
      home->overflow = now;
    if (home->overflow > *overflow)
      *overflow = home->overflow;
    *evicted_now = 1;
    __atomic_fetch_add(&t->header->evictions, 1, __ATOMIC_RELAXED);
  }
  memcpy(home->id[slot], id, TA_REPLAY_TABLE_ID_LEN);
  home->stamp[slot] = make_stamp(expires, id);
  return 0;
}

static int insert(ta_replay_table_t *t, const unsigned char *id, apr_time_t expires,
                  apr_time_t *now, int stamp_fresh, apr_time_t *overflow, int *evicted_now)
{
  id_place_t place = place_of(t, id);
  pthread_mutex_t *first = place.l1 < place.l2 ? place.l1 : place.l2;
  pthread_mutex_t *second = place.l1 == place.l2 ? NULL : place.l1 < place.l2 ? place.l2 : place.l1;
  int result;

  *evicted_now = 0;
  *overflow = 0;
  prefetch_place(&place);
  if (lock_bucket_lock(first) != 0)
    return -1;
  if (second && lock_bucket_lock(second) != 0) {
    pthread_mutex_unlock(first);
    return -1;
  }
  result = insert_locked(t, place.b1, place.b2, id, expires, now, stamp_fresh, overflow,
                         evicted_now);
  if (second)
    pthread_mutex_unlock(second);
  pthread_mutex_unlock(first);
  return result;
}

int ta_replay_table_insert(ta_replay_table_t *t, const unsigned char *id, apr_time_t expires,
                           apr_time_t now, apr_time_t *overflow, int *evicted_now)
{
  return insert(t, id, expires, &now, 0, overflow, evicted_now);
}

int ta_replay_table_insert_now(ta_replay_table_t *t, const unsigned char *id, apr_time_t expires,
                               apr_time_t *now, apr_time_t *overflow, int *evicted_now)
{
  return insert(t, id, expires, now, 1, overflow, evicted_now);
}

int ta_replay_table_warn_due(ta_replay_table_t *t, apr_time_t now, apr_interval_time_t interval,
                             apr_uint64_t *evictions)
{
  table_header_t *h = t->header;
  apr_time_t last = __atomic_load_n(&h->last_warning, __ATOMIC_RELAXED);
  *evictions = __atomic_load_n(&h->evictions, __ATOMIC_RELAXED);
  if (last && now - last < interval && now >= last)
    return 0;
  /* Another process may have warned meanwhile: only one of them does. */
  return __atomic_compare_exchange_n(&h->last_warning, &last, now, 0, __ATOMIC_RELAXED,
                                     __ATOMIC_RELAXED);
}
