/* The built-in replay nonce table (mod_trustedapp/ta_mod_replay_table.c):
 * size parsing, insert-if-absent with expiry, the documented overflow
 * trade-off (eviction of the soonest-expiring nonce, the per-bucket overflow
 * time), the shared warning rate limit, and sharing across fork().
 *
 * The table's bucket key is random per table, so fills are chosen with wide
 * margins (first eviction measured over 20,000 tables: never below 56 % of
 * the slots for 4 KiB, 60 % for 64 KiB); the properties that matter most are
 * checked in ways that do not depend on where ids land. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "ta_mod_replay_table.h"

#include "test_pool.h"

#define KIB ((apr_size_t)1024)
#define T0 apr_time_from_sec(1764115200)      /* 2025-11-26T00:00:00Z */
#define FAR (T0 + apr_time_from_sec(86400))   /* an expiry no test reaches */

/* Distinct ids that look unstructured: a tag and a counter, spread by
 * splitmix64 over the 32 bytes, with the counter kept verbatim at the end so
 * two (tag, seq) pairs never give the same id. */
static void make_id(unsigned char id[TA_REPLAY_TABLE_ID_LEN], uint32_t tag, uint32_t seq)
{
  uint64_t x = ((uint64_t)tag << 32) | seq;
  for (unsigned i = 0; i < TA_REPLAY_TABLE_ID_LEN - 8; i += 8) {
    uint64_t z = (x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    z ^= z >> 31;
    memcpy(id + i, &z, 8);
  }
  uint64_t raw = ((uint64_t)tag << 32) | seq;
  memcpy(id + TA_REPLAY_TABLE_ID_LEN - 8, &raw, 8);
}

static ta_replay_table_t *new_table(apr_size_t bytes)
{
  ta_replay_table_t *t = NULL;
  assert_int_equal(ta_replay_table_create(&t, bytes, NULL, pool), APR_SUCCESS);
  assert_non_null(t);
  return t;
}

/* insert() with the out-parameters poisoned, so a path that forgets to set
 * them shows up. */
static int insert(ta_replay_table_t *t, const unsigned char *id, apr_time_t expires, apr_time_t now,
                  apr_time_t *overflow, int *evicted_now)
{
  *overflow = -12345;
  *evicted_now = -1;
  int r = ta_replay_table_insert(t, id, expires, now, overflow, evicted_now);
  assert_true(r == 0 || r == 1);
  assert_true(*evicted_now == 0 || *evicted_now == 1);
  assert_true(*overflow >= 0);
  return r;
}

static apr_uint64_t evictions_of(ta_replay_table_t *t)
{
  apr_uint64_t n = 0;
  /* interval 0 never suppresses, so this only reads (and re-arms) the counter */
  ta_replay_table_warn_due(t, T0, 0, &n);
  return n;
}

/* ---- parse_size ------------------------------------------------------- */

static void assert_size(const char *text, apr_uint64_t expected)
{
  apr_size_t bytes = 0;
  const char *err = ta_replay_table_parse_size(text, &bytes);
  if (err)
    fail_msg("'%s' refused: %s", text, err);
  if ((apr_uint64_t)bytes != expected)
    fail_msg("'%s' gave %llu bytes, expected %llu", text, (unsigned long long)bytes,
             (unsigned long long)expected);
}

static void assert_size_refused(const char *text)
{
  apr_size_t bytes = 777;
  const char *err = ta_replay_table_parse_size(text, &bytes);
  if (!err)
    fail_msg("'%s' accepted as %llu bytes", text, (unsigned long long)bytes);
  assert_true(err[0] != '\0');
}

static void test_parse_size_accepted(void **state)
{
  (void)state;
  assert_size("4096", 4096);
  assert_size("4K", 4096);
  assert_size("4k", 4096);
  assert_size("5000", 5000);
  assert_size("1024K", (apr_uint64_t)1 << 20);
  assert_size("64M", (apr_uint64_t)64 << 20);
  assert_size("64m", (apr_uint64_t)64 << 20);
  assert_size("16M", TA_REPLAY_TABLE_DEFAULT_BYTES);
  assert_size("1G", (apr_uint64_t)1 << 30);
  assert_size("1g", (apr_uint64_t)1 << 30);
  assert_size("4G", (apr_uint64_t)4 << 30);
  assert_size("4096M", (apr_uint64_t)4 << 30);
  assert_size("4194304K", (apr_uint64_t)4 << 30);
  assert_size("4294967296", TA_REPLAY_TABLE_MAX_BYTES);
}

static void test_parse_size_refused(void **state)
{
  (void)state;
  assert_size_refused("");
  assert_size_refused("0");
  assert_size_refused("0K");
  assert_size_refused("abc");
  assert_size_refused("K");
  assert_size_refused("10");
  assert_size_refused("4095");        /* one under the minimum */
  assert_size_refused("3K");
  assert_size_refused("12X");
  assert_size_refused("4KB");
  assert_size_refused("4KK");
  assert_size_refused("4.5M");
  assert_size_refused("-1");
  assert_size_refused("+4K");
  assert_size_refused("4097G");
  assert_size_refused("5G");
  assert_size_refused("4097M");
  assert_size_refused("4194305K");    /* one KiB over the maximum */
  assert_size_refused("4294967297");  /* one byte over the maximum */
  assert_size_refused(" 4K");
  assert_size_refused("4K ");
  assert_size_refused("4 K");
  assert_size_refused("4K\n");
  /* would wrap a 64-bit accumulator to a valid size: 2^64 + 4096 */
  assert_size_refused("18446744073709555712");
  assert_size_refused("18014398509481988K");   /* (2^54 + 4) KiB = 2^64 + 4096 */
  assert_size_refused("17179869188G");         /* (2^34 + 4) GiB = 2^64 + 4 GiB */
  assert_size_refused("99999999999999999999999999999999G");
}

/* ---- creation --------------------------------------------------------- */

static void test_create_slots_follow_size(void **state)
{
  (void)state;
  ta_replay_table_t *small = new_table(4 * KIB);
  ta_replay_table_t *big = new_table(64 * KIB);
  apr_uint64_t s_small = ta_replay_table_slots(small), s_big = ta_replay_table_slots(big);

  /* a slot holds at least an id and an expiry: no more slots than fit */
  assert_true(s_small * (TA_REPLAY_TABLE_ID_LEN + sizeof(apr_time_t)) <= 4 * KIB);
  assert_true(s_big * (TA_REPLAY_TABLE_ID_LEN + sizeof(apr_time_t)) <= 64 * KIB);
  /* the header: the minimum has 84 slots, ~64 bytes per live nonce */
  assert_true(s_small >= 4 * KIB / 64);
  assert_true(s_big >= 64 * KIB / 64);
  /* 16 times the memory, about 16 times the slots (fixed overhead aside) */
  assert_true(s_big >= 15 * s_small && s_big <= 17 * s_small);
}

static void test_create_too_small_refused(void **state)
{
  (void)state;
  ta_replay_table_t *t = NULL;
  /* no room for even one bucket: must fail, not give a table of 0 slots */
  assert_int_not_equal(ta_replay_table_create(&t, 16, NULL, pool), APR_SUCCESS);
}

/* The default size: the header promises 367,000 slots (about 240,000 live nonces). */
static void test_default_size_table(void **state)
{
  (void)state;
  ta_replay_table_t *t = new_table(TA_REPLAY_TABLE_DEFAULT_BYTES);
  apr_uint64_t slots = ta_replay_table_slots(t);
  unsigned char id[TA_REPLAY_TABLE_ID_LEN];
  apr_time_t ov;
  int ev;

  assert_true(slots * (TA_REPLAY_TABLE_ID_LEN + sizeof(apr_time_t)) <= TA_REPLAY_TABLE_DEFAULT_BYTES);
  assert_true(slots >= 360000);
  for (uint32_t i = 0; i < 1000; i++) {
    make_id(id, 22, i);
    assert_int_equal(insert(t, id, FAR, T0 + i, &ov, &ev), 0);
    assert_int_equal(ev, 0);
  }
  for (uint32_t i = 0; i < 1000; i++) {
    make_id(id, 22, i);
    assert_int_equal(insert(t, id, FAR, T0 + 1000 + i, &ov, &ev), 1);
  }
}

/* Named shared memory objects APR made with shm_open (its names start
 * "ShM."); -1 where there is no /dev/shm. */
static int count_apr_named_shm(void)
{
  DIR *d = opendir("/dev/shm");
  struct dirent *e;
  int n = 0;

  if (!d)
    return -1;
  while ((e = readdir(d)) != NULL)
    n += strncmp(e->d_name, "ShM.", 4) == 0;
  closedir(d);
  return n;
}

/* Where APR has anonymous shared memory (Linux has), the fallback file is
 * not used: nothing is created at its path, nor as a named segment. */
static void test_fallback_file_unused_with_anonymous_shm(void **state)
{
  (void)state;
  char path[256];
  ta_replay_table_t *t = NULL;
  unsigned char id[TA_REPLAY_TABLE_ID_LEN];
  apr_time_t ov;
  int ev;

  int named_before = count_apr_named_shm();

  snprintf(path, sizeof path, "/tmp/test_replay_table.%ld.shm", (long)getpid());
  unlink(path);
  assert_int_equal(ta_replay_table_create(&t, 4 * KIB, path, pool), APR_SUCCESS);
  assert_int_not_equal(access(path, F_OK), 0);
  assert_int_equal(count_apr_named_shm(), named_before);
  make_id(id, 24, 1);
  assert_int_equal(insert(t, id, FAR, T0, &ov, &ev), 0);
  assert_int_equal(insert(t, id, FAR, T0 + 1, &ov, &ev), 1);
}

/* ---- insert / replay / expiry ----------------------------------------- */

static void check_basic_cycle(apr_size_t bytes)
{
  ta_replay_table_t *t = new_table(bytes);
  unsigned char a[TA_REPLAY_TABLE_ID_LEN], b[TA_REPLAY_TABLE_ID_LEN];
  apr_time_t ov;
  int ev;
  apr_time_t exp_a = T0 + apr_time_from_sec(300);

  make_id(a, 1, 1);
  make_id(b, 1, 2);
  assert_int_equal(insert(t, a, exp_a, T0, &ov, &ev), 0);
  assert_int_equal(ev, 0);
  assert_int_equal(ov, 0);
  assert_int_equal(insert(t, a, exp_a, T0 + 1, &ov, &ev), 1);
  assert_int_equal(insert(t, a, exp_a, exp_a - 1, &ov, &ev), 1);
  assert_int_equal(insert(t, b, exp_a, T0 + 2, &ov, &ev), 0);
  assert_int_equal(ev, 0);
  /* past its expiry the id is stored again, then a replay again */
  assert_int_equal(insert(t, a, exp_a + apr_time_from_sec(300), exp_a + 1, &ov, &ev), 0);
  assert_int_equal(ev, 0);
  assert_int_equal(insert(t, a, exp_a + apr_time_from_sec(300), exp_a + 2, &ov, &ev), 1);
  /* b (expiring at exp_a too) is free again as well */
  assert_int_equal(insert(t, b, FAR, exp_a + 3, &ov, &ev), 0);
  assert_int_equal(evictions_of(t), 0);
}

static void test_insert_replay_expiry_4k(void **state)
{
  (void)state;
  check_basic_cycle(4 * KIB);
}

static void test_insert_replay_expiry_64k(void **state)
{
  (void)state;
  check_basic_cycle(64 * KIB);
}

/* The .c: "expiry <= now: free again": an entry is live strictly before its
 * expiry. */
static void test_expiry_boundary(void **state)
{
  (void)state;
  ta_replay_table_t *t = new_table(4 * KIB);
  unsigned char a[TA_REPLAY_TABLE_ID_LEN];
  apr_time_t ov, exp_a = T0 + 1000;
  int ev;

  make_id(a, 2, 1);
  assert_int_equal(insert(t, a, exp_a, T0, &ov, &ev), 0);
  assert_int_equal(insert(t, a, exp_a, exp_a - 1, &ov, &ev), 1);
  assert_int_equal(insert(t, a, exp_a + 1000, exp_a, &ov, &ev), 0);
}

/* A replay leaves the stored entry alone: it neither extends nor shortens
 * the first expiry. */
static void test_replay_does_not_extend_expiry(void **state)
{
  (void)state;
  ta_replay_table_t *t = new_table(4 * KIB);
  unsigned char a[TA_REPLAY_TABLE_ID_LEN], b[TA_REPLAY_TABLE_ID_LEN];
  apr_time_t ov;
  int ev;

  make_id(a, 3, 1);
  make_id(b, 3, 2);
  assert_int_equal(insert(t, a, T0 + 100, T0, &ov, &ev), 0);
  assert_int_equal(insert(t, a, FAR, T0 + 50, &ov, &ev), 1);
  assert_int_equal(insert(t, a, FAR, T0 + 100, &ov, &ev), 0);   /* the first expiry held */

  assert_int_equal(insert(t, b, T0 + 1000, T0, &ov, &ev), 0);
  assert_int_equal(insert(t, b, T0 + 10, T0 + 5, &ov, &ev), 1);
  assert_int_equal(insert(t, b, T0 + 10, T0 + 500, &ov, &ev), 1); /* not shortened either */
}

/* An empty slot is all zeros: a zero id must not match one. */
static void test_all_zero_id_is_fresh(void **state)
{
  (void)state;
  ta_replay_table_t *t = new_table(4 * KIB);
  unsigned char zero[TA_REPLAY_TABLE_ID_LEN] = {0};
  apr_time_t ov;
  int ev;

  assert_int_equal(insert(t, zero, FAR, T0, &ov, &ev), 0);
  assert_int_equal(insert(t, zero, FAR, T0 + 1, &ov, &ev), 1);
}

/* Every byte of the id counts: ids one bit apart at any position are
 * different nonces. */
static void test_ids_differing_in_one_byte(void **state)
{
  (void)state;
  ta_replay_table_t *t = new_table(64 * KIB);
  unsigned char base[TA_REPLAY_TABLE_ID_LEN], v[TA_REPLAY_TABLE_ID_LEN];
  apr_time_t ov;
  int ev;

  make_id(base, 4, 0);
  assert_int_equal(insert(t, base, FAR, T0, &ov, &ev), 0);
  for (unsigned i = 0; i < TA_REPLAY_TABLE_ID_LEN; i++) {
    memcpy(v, base, sizeof v);
    v[i] ^= 0x01;
    if (insert(t, v, FAR, T0 + 1 + i, &ov, &ev) != 0)
      fail_msg("id differing from a stored one only in byte %u taken for a replay", i);
  }
  for (unsigned i = 0; i < TA_REPLAY_TABLE_ID_LEN; i++) {
    memcpy(v, base, sizeof v);
    v[i] ^= 0x01;
    assert_int_equal(insert(t, v, FAR, T0 + 100 + i, &ov, &ev), 1);
  }
  assert_int_equal(insert(t, base, FAR, T0 + 200, &ov, &ev), 1);
  assert_int_equal(evictions_of(t), 0);
}

/* ---- record ids ----------------------------------------------------------- */

/* SipHash-2-4, 64- and 128-bit: the reference's vectors (key 00..0f,
 * message 00..len-1) for lengths 0-2, then every length 0-300 (the length
 * byte wraps) under varied keys against OpenSSL's own SipHash (EVP_MAC
 * "SIPHASH", 8 and 16 bytes). */
static void test_siphash_known_answers(void **state)
{
  (void)state;
  static const unsigned char reference128[3][16] = {
    {0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6, 0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55, 0x02, 0x93},
    {0xda, 0x87, 0xc1, 0xd8, 0x6b, 0x99, 0xaf, 0x44, 0x34, 0x76, 0x59, 0x11, 0x9b, 0x22, 0xfc, 0x45},
    {0x81, 0x77, 0x22, 0x8d, 0xa4, 0xa4, 0x5d, 0xc7, 0xfc, 0xa3, 0x8b, 0xde, 0xf6, 0x0a, 0xff, 0xe4},
  };
  static const unsigned char reference64[3][8] = {
    {0x31, 0x0e, 0x0e, 0xdd, 0x47, 0xdb, 0x6f, 0x72},
    {0xfd, 0x67, 0xdc, 0x93, 0xc5, 0x39, 0xf8, 0x74},
    {0x5a, 0x4f, 0xa9, 0xd9, 0x09, 0x80, 0x6c, 0x0d},
  };
  unsigned char key[16], msg[300], out[16], want[16];
  for (unsigned i = 0; i < sizeof key; i++)
    key[i] = (unsigned char)i;
  for (unsigned i = 0; i < sizeof msg; i++)
    msg[i] = (unsigned char)i;
  for (unsigned len = 0; len < 3; len++) {
    ta_siphash24(key, msg, len, out, 16);
    assert_memory_equal(out, reference128[len], 16);
    ta_siphash24(key, msg, len, out, 8);
    assert_memory_equal(out, reference64[len], 8);
  }

  EVP_MAC *mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
  assert_non_null(mac);
  for (size_t size = 8; size <= 16; size += 8) {
    OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size), OSSL_PARAM_construct_end()};
    for (unsigned k = 0; k < 8; k++) {
      for (unsigned i = 0; i < sizeof key; i++)
        key[i] = (unsigned char)(i * 37 + k * 101 + 1);
      for (size_t len = 0; len <= sizeof msg; len++) {
        for (size_t i = 0; i < len; i++)
          msg[i] = (unsigned char)(i * 13 + k + len);
        EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
        size_t n = 0;
        assert_non_null(ctx);
        assert_int_equal(EVP_MAC_init(ctx, key, sizeof key, params), 1);
        assert_int_equal(EVP_MAC_update(ctx, msg, len), 1);
        assert_int_equal(EVP_MAC_final(ctx, want, &n, sizeof want), 1);
        assert_int_equal(n, size);
        EVP_MAC_CTX_free(ctx);
        ta_siphash24(key, msg, len, out, size);
        if (memcmp(out, want, size) != 0)
          fail_msg("SipHash-2-4 (%zu bytes) differs from OpenSSL's for key set %u, length %zu", size, k, len);
      }
    }
  }
  EVP_MAC_free(mac);
}

/* A table names a record the same way every time, any other record (one
 * byte more, less or different) otherwise, and another table differently:
 * its keys are its own. */
static void test_record_ids(void **state)
{
  (void)state;
  ta_replay_table_t *t = new_table(64 * KIB), *other = new_table(64 * KIB);
  const char record[] = "app1\nnonce-0123456789abcdef";
  const size_t len = sizeof record - 1;
  unsigned char id[TA_REPLAY_TABLE_ID_LEN], again[TA_REPLAY_TABLE_ID_LEN], v[TA_REPLAY_TABLE_ID_LEN];
  char changed[sizeof record];

  ta_replay_table_id(t, record, len, id);
  ta_replay_table_id(t, record, len, again);
  assert_memory_equal(id, again, sizeof id);
  ta_replay_table_id(other, record, len, v);
  assert_memory_not_equal(id, v, sizeof id);
  ta_replay_table_id(t, record, len - 1, v);
  assert_memory_not_equal(id, v, sizeof id);
  ta_replay_table_id(t, record, len + 1, v);          /* with the terminating NUL */
  assert_memory_not_equal(id, v, sizeof id);
  for (size_t i = 0; i < len; i++) {
    memcpy(changed, record, sizeof record);
    changed[i] ^= 0x20;
    ta_replay_table_id(t, changed, len, v);
    if (memcmp(id, v, sizeof id) == 0)
      fail_msg("a record differing in byte %zu has the same id", i);
  }
  /* both halves carry the record: neither is constant */
  unsigned char empty_id[TA_REPLAY_TABLE_ID_LEN];
  ta_replay_table_id(t, "", 0, empty_id);
  assert_memory_not_equal(id, empty_id, 16);
  assert_memory_not_equal(id + 16, empty_id + 16, 16);
  assert_memory_not_equal(id, id + 16, 16);
}

/* A prefetch (made before the signature verifies) records nothing: the ids
 * prefetched are fresh afterwards, the ids stored before are still known. */
static void test_prefetch_records_nothing(void **state)
{
  (void)state;
  ta_replay_table_t *t = new_table(64 * KIB);
  unsigned char id[TA_REPLAY_TABLE_ID_LEN];
  const unsigned n = (unsigned)(ta_replay_table_slots(t) / 4);
  apr_time_t ov;
  int ev;

  for (unsigned i = 0; i < n; i++) {
    make_id(id, 5, i);
    ta_replay_table_prefetch(t, id);
    assert_int_equal(insert(t, id, FAR, T0, &ov, &ev), 0);
  }
  for (unsigned i = 0; i < 4 * n; i++) {
    make_id(id, 6, i);
    ta_replay_table_prefetch(t, id);
  }
  for (unsigned i = 0; i < n; i++) {
    make_id(id, 5, i);
    ta_replay_table_prefetch(t, id);
    if (insert(t, id, FAR, T0 + 1, &ov, &ev) != 1)
      fail_msg("stored id %u forgotten after prefetches", i);
    make_id(id, 6, i);
    if (insert(t, id, FAR, T0 + 1, &ov, &ev) != 0)
      fail_msg("prefetched id %u taken for a replay", i);
  }
  assert_int_equal(evictions_of(t), 0);
}

/* ---- fill without overflow -------------------------------------------- */

/* Half the slots of a 64 KiB table (the first eviction is documented near
 * 66-72 % for 16 MiB; measured never below 60 % for this size): every id stored, every
 * id then a replay, no eviction. */
static void test_half_full_no_loss(void **state)
{
  (void)state;
  ta_replay_table_t *t = new_table(64 * KIB);
  apr_uint64_t n = ta_replay_table_slots(t) / 2;
  unsigned char id[TA_REPLAY_TABLE_ID_LEN];
  apr_time_t ov;
  int ev;

  for (apr_uint64_t i = 0; i < n; i++) {
    make_id(id, 5, (uint32_t)i);
    if (insert(t, id, FAR, T0 + (apr_time_t)i, &ov, &ev) != 0)
      fail_msg("fresh id %llu of %llu taken for a replay", (unsigned long long)i,
               (unsigned long long)n);
    if (ev)
      fail_msg("eviction at %llu of %llu slots", (unsigned long long)i,
               (unsigned long long)ta_replay_table_slots(t));
    assert_int_equal(ov, 0);
  }
  for (apr_uint64_t i = 0; i < n; i++) {
    make_id(id, 5, (uint32_t)i);
    if (insert(t, id, FAR, T0 + (apr_time_t)(n + i), &ov, &ev) != 1)
      fail_msg("stored id %llu of %llu forgotten", (unsigned long long)i, (unsigned long long)n);
  }
  /* and ids never inserted are still fresh among them */
  for (apr_uint64_t i = 0; i < 32; i++) {
    make_id(id, 6, (uint32_t)i);
    assert_int_equal(insert(t, id, FAR, T0 + (apr_time_t)(2 * n + i), &ov, &ev), 0);
  }
  assert_int_equal(evictions_of(t), 0);
}

/* ---- overflow --------------------------------------------------------- */

/* Three times the slots of a 4 KiB table, all unexpired, one microsecond
 * apart: evictions happen, each reports *overflow == its own now, every
 * reported overflow is one of those times, and afterwards any id that is
 * forgotten has an overflow no earlier than its first use. */
static void test_overflow_reports(void **state)
{
  (void)state;
  ta_replay_table_t *t = new_table(4 * KIB);
  const apr_uint64_t slots = ta_replay_table_slots(t);
  const apr_uint64_t n = 3 * slots;
  unsigned char id[TA_REPLAY_TABLE_ID_LEN];
  int *evicted = calloc(n, sizeof *evicted);
  apr_time_t ov, first_eviction = 0, last_eviction = 0, later;
  apr_uint64_t n_evicted = 0, n_forgotten = 0;
  int ev;

  assert_non_null(evicted);
  for (apr_uint64_t i = 0; i < n; i++) {
    apr_time_t now = T0 + (apr_time_t)i;
    make_id(id, 7, (uint32_t)i);
    assert_int_equal(insert(t, id, FAR, now, &ov, &ev), 0);
    evicted[i] = ev;
    if (ev) {
      assert_int_equal(ov, now);
      if (!first_eviction)
        first_eviction = now;
      last_eviction = now;
      n_evicted++;
    } else if (!first_eviction) {
      assert_int_equal(ov, 0);
    } else if (ov != 0) {
      /* an earlier eviction's time, never a made-up one */
      assert_true(ov >= first_eviction && ov < now);
      assert_int_equal(evicted[ov - T0], 1);
    }
  }
  assert_true(n_evicted > 0);
  assert_true(n_evicted >= n - slots);     /* it cannot hold more than its slots */
  assert_int_equal(evictions_of(t), n_evicted);

  /* ids first used after the last eviction are all still known (a replay
   * leaves the table unchanged, so checking them first is side-effect free) */
  later = T0 + (apr_time_t)n;
  for (apr_uint64_t i = (apr_uint64_t)(last_eviction - T0) + 1; i < n; i++) {
    make_id(id, 7, (uint32_t)i);
    if (insert(t, id, FAR, later++, &ov, &ev) != 1)
      fail_msg("id %llu inserted after the last eviction (%llu) was forgotten",
               (unsigned long long)i, (unsigned long long)(last_eviction - T0));
  }
  /* the documented guarantee for every id: known, or the overflow time says
   * its buckets evicted since its first use */
  for (apr_uint64_t i = 0; i < n; i++) {
    apr_time_t first_use = T0 + (apr_time_t)i;
    make_id(id, 7, (uint32_t)i);
    if (insert(t, id, FAR, later++, &ov, &ev) == 0) {
      n_forgotten++;
      if (ov < first_use)
        fail_msg("id %llu forgotten but overflow %lld is before its first use %lld",
                 (unsigned long long)i, (long long)(ov - T0), (long long)(first_use - T0));
    }
  }
  /* only `slots` of the n ids can have been held at the end of the fill */
  assert_true(n_forgotten >= n - slots);
  free(evicted);
}

/* The same guarantee where it is not vacuous: re-inserting a forgotten id
 * into a full table evicts and reports its own time, so here the fill gets
 * spread expiries and the check runs once half of them have passed: a
 * forgotten, still-unexpired id then often finds a free slot, and the
 * overflow it is told comes only from what its two buckets remember. Four
 * tables, since one alone has no such insert about once in 1,000. */
static void test_overflow_guarantee_with_free_slots(void **state)
{
  (void)state;
  apr_uint64_t quiet = 0;

  for (uint32_t table_no = 0; table_no < 4; table_no++) {
    ta_replay_table_t *t = new_table(4 * KIB);
    const apr_uint64_t n = 3 * ta_replay_table_slots(t);
    const apr_time_t check_at = T0 + apr_time_from_sec(1) + (apr_time_t)(n / 2) * 1000;
    unsigned char id[TA_REPLAY_TABLE_ID_LEN];
    apr_uint64_t forgotten = 0;
    apr_time_t ov;
    int ev;

    /* expiries 1 ms apart, in an order unrelated to the inserts' */
#define SPREAD_EXPIRY(i) (T0 + apr_time_from_sec(1) + (apr_time_t)(((i) * 7919) % n) * 1000)
    for (apr_uint64_t i = 0; i < n; i++) {
      apr_time_t now = T0 + (apr_time_t)i, ov_probe;
      make_id(id, 16 + table_no, (uint32_t)i);
      assert_int_equal(insert(t, id, SPREAD_EXPIRY(i), now, &ov, &ev), 0);
      /* asked again at once, the id is a replay and is told the same time:
       * after an eviction, the time it just made, whichever of its two
       * buckets gave up a nonce (with spread expiries, either does) */
      assert_int_equal(insert(t, id, SPREAD_EXPIRY(i), now, &ov_probe, &ev), 1);
      assert_int_equal(ov_probe, ov);
    }
    assert_true(evictions_of(t) > 0);
    for (apr_uint64_t i = 0; i < n; i++) {
      if (SPREAD_EXPIRY(i) <= check_at + (apr_time_t)n)
        continue;                     /* expired: forgetting it is right */
      make_id(id, 16 + table_no, (uint32_t)i);
      if (insert(t, id, SPREAD_EXPIRY(i), check_at + (apr_time_t)i, &ov, &ev) == 0) {
        forgotten++;
        quiet += ev == 0;
        if (ov < T0 + (apr_time_t)i)
          fail_msg("unexpired id %llu forgotten, yet told overflow %lld, before its first use %llu",
                   (unsigned long long)i, (long long)(ov - T0), (unsigned long long)i);
      }
    }
#undef SPREAD_EXPIRY
    assert_true(forgotten > 0);
  }
  assert_true(quiet > 0);
}

/* A clock stepped back does not move a bucket's overflow time back: after a
 * fill that made every bucket evict (ten times the slots), inserts with the
 * clock a second behind are all told an overflow time from the fill. */
static void test_overflow_time_survives_clock_step_back(void **state)
{
  (void)state;
  ta_replay_table_t *t = new_table(4 * KIB);
  const apr_uint64_t slots = ta_replay_table_slots(t);
  const apr_time_t back = T0 - apr_time_from_sec(1);
  unsigned char id[TA_REPLAY_TABLE_ID_LEN];
  apr_uint64_t evicted_back = 0;
  apr_time_t ov;
  int ev;

  for (apr_uint64_t i = 0; i < 10 * slots; i++) {
    make_id(id, 20, (uint32_t)i);
    assert_int_equal(insert(t, id, FAR, T0 + (apr_time_t)i, &ov, &ev), 0);
  }
  for (apr_uint64_t i = 0; i < 3 * slots; i++) {
    make_id(id, 21, (uint32_t)i);
    assert_int_equal(insert(t, id, FAR, back + (apr_time_t)i, &ov, &ev), 0);
    evicted_back += (apr_uint64_t)ev;
    if (ov < T0)
      fail_msg("insert %llu with the clock stepped back told overflow %lld s before the fill",
               (unsigned long long)i, (long long)((T0 - ov) / APR_USEC_PER_SEC));
  }
  assert_true(evicted_back > 0);
}

/* When a table is full, the nonce expiring soonest goes first: long-lived
 * nonces stored while the table was near empty survive a flood of shorter
 * ones (a bucket would need all 8 slots held by them to lose one). */
static void test_eviction_takes_soonest_expiry(void **state)
{
  (void)state;
  ta_replay_table_t *t = new_table(4 * KIB);
  const apr_uint64_t slots = ta_replay_table_slots(t);
  const uint32_t keepers = 12;
  unsigned char id[TA_REPLAY_TABLE_ID_LEN];
  apr_time_t ov, now = T0;
  int ev;

  for (uint32_t k = 0; k < keepers; k++) {
    make_id(id, 8, k);
    assert_int_equal(insert(t, id, FAR, now++, &ov, &ev), 0);
  }
  for (apr_uint64_t i = 0; i < 4 * slots; i++) {
    make_id(id, 9, (uint32_t)i);
    /* shorter than FAR, later ones later, all unexpired throughout */
    assert_int_equal(insert(t, id, T0 + apr_time_from_sec(600) + (apr_time_t)i, now++, &ov, &ev), 0);
  }
  assert_true(evictions_of(t) >= 3 * slots);
  for (uint32_t k = 0; k < keepers; k++) {
    make_id(id, 8, k);
    if (insert(t, id, FAR, now++, &ov, &ev) != 1)
      fail_msg("long-lived nonce %u evicted before shorter-lived ones", k);
  }
}

/* ---- expired slots are free ------------------------------------------- */

/* Fill a 4 KiB table far past capacity, let everything expire, then run the
 * same ids again: with every slot expired, the table must decide exactly as
 * an empty one did (stores, and evictions at the same inserts): in
 * particular no eviction until as many ids as the empty table took. */
static void test_expired_table_is_empty_again(void **state)
{
  (void)state;
  ta_replay_table_t *t = new_table(4 * KIB);
  const apr_uint64_t slots = ta_replay_table_slots(t);
  const apr_uint64_t n = 3 * slots;
  const apr_time_t exp1 = T0 + apr_time_from_sec(300);
  const apr_time_t t2 = exp1 + 1, exp2 = exp1 + apr_time_from_sec(300);
  unsigned char id[TA_REPLAY_TABLE_ID_LEN];
  int *pattern = calloc(n, sizeof *pattern);
  apr_uint64_t first_eviction = n, evictions1;
  apr_time_t ov;
  int ev;

  assert_non_null(pattern);
  for (apr_uint64_t i = 0; i < n; i++) {
    make_id(id, 10, (uint32_t)i);
    assert_int_equal(insert(t, id, exp1, T0 + (apr_time_t)i, &ov, &ev), 0);
    pattern[i] = ev;
    if (ev && first_eviction == n)
      first_eviction = i;
  }
  evictions1 = evictions_of(t);
  assert_true(evictions1 >= n - slots);    /* the table really was full */
  assert_true(first_eviction > 0 && first_eviction < n);

  for (apr_uint64_t i = 0; i < n; i++) {
    make_id(id, 10, (uint32_t)i);
    if (insert(t, id, exp2, t2 + (apr_time_t)i, &ov, &ev) != 0)
      fail_msg("id %llu taken for a replay after its entry expired", (unsigned long long)i);
    if (ev != pattern[i])
      fail_msg("insert %llu: evicted_now %d over expired slots, %d into the empty table "
               "(first eviction then: %llu)",
               (unsigned long long)i, ev, pattern[i], (unsigned long long)first_eviction);
  }
  assert_int_equal(evictions_of(t), 2 * evictions1);
  free(pattern);
}

/* The same with ids the table never saw: a quarter of the slots of a full,
 * expired 4 KiB table go in without evicting anything. */
static void test_expired_table_takes_new_ids(void **state)
{
  (void)state;
  ta_replay_table_t *t = new_table(4 * KIB);
  const apr_uint64_t slots = ta_replay_table_slots(t);
  const apr_time_t exp1 = T0 + apr_time_from_sec(300);
  unsigned char id[TA_REPLAY_TABLE_ID_LEN];
  apr_uint64_t evictions1;
  apr_time_t ov;
  int ev;

  for (apr_uint64_t i = 0; i < 3 * slots; i++) {
    make_id(id, 11, (uint32_t)i);
    assert_int_equal(insert(t, id, exp1, T0 + (apr_time_t)i, &ov, &ev), 0);
  }
  evictions1 = evictions_of(t);
  assert_true(evictions1 > 0);
  for (apr_uint64_t i = 0; i < slots / 4; i++) {
    make_id(id, 12, (uint32_t)i);
    assert_int_equal(insert(t, id, FAR, exp1 + 1 + (apr_time_t)i, &ov, &ev), 0);
    if (ev)
      fail_msg("new id %llu evicted from a table whose entries had all expired",
               (unsigned long long)i);
  }
  assert_int_equal(evictions_of(t), evictions1);
}

/* insert_now compares expiries with the time it is given and reads the
 * clock only to stamp an eviction: a full table, fed a time of last year,
 * stamps its overflow with today's clock and returns it. */
static void test_insert_now_stamps_evictions_with_the_clock(void **state)
{
  (void)state;
  ta_replay_table_t *t = new_table(4 * KIB);
  const apr_time_t far = apr_time_now() + apr_time_from_sec(86400);
  unsigned char id[TA_REPLAY_TABLE_ID_LEN];
  apr_time_t now, ov;
  int ev = 0;
  uint32_t i;

  for (i = 0; i < 10000 && !ev; i++) {
    make_id(id, 33, i);
    now = T0;
    assert_int_equal(ta_replay_table_insert_now(t, id, far, &now, &ov, &ev), 0);
    if (!ev)
      assert_true(now == T0);   /* no eviction: no clock read */
  }
  assert_true(ev);
  apr_time_t after = apr_time_now();
  assert_true(now > T0 && now <= after && after - now < apr_time_from_sec(60));
  assert_true(ov == now);
  /* the evicting insert is known; its replay is refused */
  now = T0;
  assert_int_equal(ta_replay_table_insert_now(t, id, far, &now, &ov, &ev), 1);
}

/* ---- warning rate limit ----------------------------------------------- */

static void test_warn_due(void **state)
{
  (void)state;
  ta_replay_table_t *t = new_table(4 * KIB);
  const apr_interval_time_t interval = apr_time_from_sec(60);
  const apr_uint64_t slots = ta_replay_table_slots(t);
  unsigned char id[TA_REPLAY_TABLE_ID_LEN];
  apr_uint64_t evictions = 99, counted = 0;
  apr_time_t ov, now = T0;
  int ev;

  assert_int_equal(ta_replay_table_warn_due(t, now, interval, &evictions), 1);
  assert_int_equal(evictions, 0);
  assert_int_equal(ta_replay_table_warn_due(t, now + 1, interval, &evictions), 0);
  assert_int_equal(ta_replay_table_warn_due(t, now + interval - 1, interval, &evictions), 0);
  now += interval + 1;
  assert_int_equal(ta_replay_table_warn_due(t, now, interval, &evictions), 1);
  assert_int_equal(ta_replay_table_warn_due(t, now + apr_time_from_sec(30), interval, &evictions), 0);

  for (apr_uint64_t i = 0; i < 2 * slots; i++) {
    make_id(id, 13, (uint32_t)i);
    assert_int_equal(insert(t, id, FAR, T0 + (apr_time_t)i, &ov, &ev), 0);
    counted += (apr_uint64_t)ev;
  }
  assert_true(counted > 0);
  /* still within the interval: no warning, but the count is current */
  assert_int_equal(ta_replay_table_warn_due(t, now + apr_time_from_sec(40), interval, &evictions), 0);
  assert_int_equal(evictions, counted);
  now += 2 * interval;
  assert_int_equal(ta_replay_table_warn_due(t, now, interval, &evictions), 1);
  assert_int_equal(evictions, counted);
  /* a clock stepped back: no warning was given in the interval before it */
  assert_int_equal(ta_replay_table_warn_due(t, now - apr_time_from_sec(3600), interval, &evictions), 1);
}

/* ---- shared across fork ----------------------------------------------- */

/* Child exit status: 0 stored, 1 replay, 2 anything unexpected. */
static int child_insert(ta_replay_table_t *t, const unsigned char *id, apr_time_t now)
{
  pid_t pid = fork();
  int status = 0;

  assert_true(pid >= 0);
  if (pid == 0) {
    apr_time_t ov;
    int ev = -1;
    int r = ta_replay_table_insert(t, id, FAR, now, &ov, &ev);
    _exit((r == 0 || r == 1) && ev == 0 ? r : 2);
  }
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  return WEXITSTATUS(status);
}

static void test_fork_shares_table(void **state)
{
  (void)state;
  ta_replay_table_t *t = new_table(64 * KIB);
  unsigned char a[TA_REPLAY_TABLE_ID_LEN], b[TA_REPLAY_TABLE_ID_LEN];
  apr_time_t ov;
  int ev;

  make_id(a, 14, 1);
  make_id(b, 14, 2);
  /* child stores, parent sees the replay */
  assert_int_equal(child_insert(t, a, T0), 0);
  assert_int_equal(insert(t, a, FAR, T0 + 1, &ov, &ev), 1);
  /* parent stores, a later child sees the replay; a second child stores b once */
  assert_int_equal(insert(t, b, FAR, T0 + 2, &ov, &ev), 0);
  assert_int_equal(child_insert(t, b, T0 + 3), 1);
  make_id(b, 14, 3);
  assert_int_equal(child_insert(t, b, T0 + 4), 0);
  assert_int_equal(child_insert(t, b, T0 + 5), 1);
  assert_int_equal(insert(t, b, FAR, T0 + 6, &ov, &ev), 1);
}

/* Resident KiB of this process's shared /dev/zero mapping of `bytes` (the
 * segment APR makes, a few bytes longer), -1 when there is none. */
static long table_rss_kib(apr_size_t bytes)
{
  FILE *f = fopen("/proc/self/smaps", "r");
  char line[512];
  int in_table = 0;
  long rss = -1;

  assert_non_null(f);
  while (fgets(line, sizeof line, f)) {
    unsigned long from, to;
    char perms[8];
    int path_at = 0;
    if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &from, &to, perms, &path_at) == 3 && path_at > 0) {
      in_table = perms[3] == 's' && strncmp(line + path_at, "/dev/zero", 9) == 0
                 && to - from >= bytes && to - from <= bytes + 8192;
    } else if (in_table && sscanf(line, "Rss: %ld kB", &rss) == 1) {
      in_table = 0;
    }
  }
  fclose(f);
  return rss;
}

/* ta_replay_table_map_all commits the table and maps all of it, in the
 * process that made it and in a forked one (fork does not copy a shared
 * mapping's page tables), without changing what it holds. */
static void test_map_all_maps_every_page_and_keeps_contents(void **state)
{
  (void)state;
  const apr_size_t bytes = 3 * 1024 * KIB + 12 * KIB;   /* a size no other mapping has */
  ta_replay_table_t *t = new_table(bytes);
  unsigned char a[TA_REPLAY_TABLE_ID_LEN];
  apr_time_t ov;
  int ev, status;

  make_id(a, 31, 1);
  assert_int_equal(insert(t, a, FAR, T0, &ov, &ev), 0);
  long before = table_rss_kib(bytes);
  assert_true(before >= 0 && before * 1024 < (long)bytes / 2);
  apr_status_t rv = ta_replay_table_map_all(t);
  if (rv == APR_ENOTIMPL || APR_TO_OS_ERROR(rv) == EINVAL)
    skip();   /* a kernel before 5.14 */
  assert_int_equal(rv, APR_SUCCESS);
  assert_true(table_rss_kib(bytes) * 1024 >= (long)bytes);
  assert_int_equal(insert(t, a, FAR, T0 + 1, &ov, &ev), 1);

  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    long child_before = table_rss_kib(bytes);
    int ok = child_before * 1024 < (long)bytes / 2 && ta_replay_table_map_all(t) == APR_SUCCESS
             && table_rss_kib(bytes) * 1024 >= (long)bytes
             && ta_replay_table_insert(t, a, FAR, T0 + 2, &ov, &ev) == 1;
    _exit(ok ? 0 : 1);
  }
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

/* A process killed while it holds a bucket lock leaves the (robust) lock
 * owner-dead: the next locker must take it over, neither wait forever nor
 * fail. The 4 KiB table has one lock, which every insert takes; children
 * insert in a tight loop (about half of each insert runs under the lock)
 * and are killed at staggered moments, so some die holding it. After each
 * kill the parent stores a fresh id and finds it again, under an alarm that
 * ends the test program if a lock is never given back. */
static void test_dead_lock_holder_is_taken_over(void **state)
{
  (void)state;
  ta_replay_table_t *t = new_table(4 * KIB);
  unsigned char id[TA_REPLAY_TABLE_ID_LEN];
  apr_time_t ov;
  int ev, status;

  for (uint32_t k = 0; k < 40; k++) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      for (uint32_t i = 0;; i++) {
        apr_time_t o;
        int e;
        make_id(id, 40 + k, i);
        ta_replay_table_insert(t, id, FAR, T0 + i, &o, &e);
      }
    }
    usleep(1000 + 150 * k);
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));

    alarm(10);
    make_id(id, 39, k);
    assert_int_equal(insert(t, id, FAR, T0 + k, &ov, &ev), 0);
    assert_int_equal(insert(t, id, FAR, T0 + k, &ov, &ev), 1);
    alarm(0);
  }
}

/* The eviction counter and the warning time live in the shared header too. */
static void test_fork_shares_counters(void **state)
{
  (void)state;
  ta_replay_table_t *t = new_table(4 * KIB);
  const apr_interval_time_t interval = apr_time_from_sec(60);
  const apr_uint64_t slots = ta_replay_table_slots(t);
  apr_uint64_t from_child = 0, evictions = 0;
  int fds[2], status = 0;
  pid_t pid;

  assert_int_equal(pipe(fds), 0);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    unsigned char id[TA_REPLAY_TABLE_ID_LEN];
    apr_uint64_t n = 0, ignored;
    apr_time_t ov;
    int ev;
    close(fds[0]);
    for (apr_uint64_t i = 0; i < 2 * slots; i++) {
      make_id(id, 15, (uint32_t)i);
      if (ta_replay_table_insert(t, id, FAR, T0 + (apr_time_t)i, &ov, &ev) != 0)
        _exit(2);
      n += (apr_uint64_t)ev;
    }
    if (ta_replay_table_warn_due(t, T0, interval, &ignored) != 1)
      _exit(3);
    _exit(write(fds[1], &n, sizeof n) == (ssize_t)sizeof n ? 0 : 4);
  }
  close(fds[1]);
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  assert_int_equal(read(fds[0], &from_child, sizeof from_child), (ssize_t)sizeof from_child);
  close(fds[0]);

  assert_true(from_child > 0);
  /* the child's warning suppresses the parent's within the interval */
  assert_int_equal(ta_replay_table_warn_due(t, T0 + 1, interval, &evictions), 0);
  assert_int_equal(evictions, from_child);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_parse_size_accepted),
    cmocka_unit_test(test_parse_size_refused),
    cmocka_unit_test(test_create_slots_follow_size),
    cmocka_unit_test(test_create_too_small_refused),
    cmocka_unit_test(test_default_size_table),
    cmocka_unit_test(test_fallback_file_unused_with_anonymous_shm),
    cmocka_unit_test(test_insert_replay_expiry_4k),
    cmocka_unit_test(test_insert_replay_expiry_64k),
    cmocka_unit_test(test_expiry_boundary),
    cmocka_unit_test(test_replay_does_not_extend_expiry),
    cmocka_unit_test(test_all_zero_id_is_fresh),
    cmocka_unit_test(test_ids_differing_in_one_byte),
    cmocka_unit_test(test_prefetch_records_nothing),
    cmocka_unit_test(test_siphash_known_answers),
    cmocka_unit_test(test_record_ids),
    cmocka_unit_test(test_half_full_no_loss),
    cmocka_unit_test(test_overflow_reports),
    cmocka_unit_test(test_overflow_guarantee_with_free_slots),
    cmocka_unit_test(test_overflow_time_survives_clock_step_back),
    cmocka_unit_test(test_eviction_takes_soonest_expiry),
    cmocka_unit_test(test_expired_table_is_empty_again),
    cmocka_unit_test(test_expired_table_takes_new_ids),
    cmocka_unit_test(test_warn_due),
    cmocka_unit_test(test_insert_now_stamps_evictions_with_the_clock),
    cmocka_unit_test(test_fork_shares_table),
    cmocka_unit_test(test_map_all_maps_every_page_and_keeps_contents),
    cmocka_unit_test(test_fork_shares_counters),
    cmocka_unit_test(test_dead_lock_holder_is_taken_over),
  };
  apr_initialize();
  int rc = cmocka_run_group_tests(tests, setup, teardown);
  apr_terminate();
  return rc;
}
