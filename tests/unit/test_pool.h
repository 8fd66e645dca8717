/* The per-group pool most unit tests share: created by setup, destroyed by
 * teardown (cmocka group fixtures). Include once, in the test's .c file. */
#ifndef TA_TEST_POOL_H
#define TA_TEST_POOL_H

#include <apr_pools.h>

static apr_pool_t *pool;

static int setup(void **state)
{
  (void)state;
  return apr_pool_create(&pool, NULL) == APR_SUCCESS ? 0 : -1;
}

static int teardown(void **state)
{
  (void)state;
  apr_pool_destroy(pool);
  return 0;
}

#endif
