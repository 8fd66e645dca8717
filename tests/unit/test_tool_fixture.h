/* Shared by the trustapp-admin unit tests: APR and a pool, a scratch
 * directory removed at the end, and command contexts (ta_cli_t) built the
 * way the tool's main builds them. Include once, in the test's .c file,
 * after ta_cli.h; each test's group setup and teardown call
 * tool_fixture_open and tool_fixture_close around their own work. */
#ifndef TA_TEST_TOOL_FIXTURE_H
#define TA_TEST_TOOL_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <jansson.h>

static apr_pool_t *pool;
static char scratch_dir[64];

/* APR, the pool, and (name not NULL) a fresh /tmp/test_<name>.XXXXXX. */
static inline int tool_fixture_open(const char *name)
{
  if (apr_initialize() != APR_SUCCESS || apr_pool_create(&pool, NULL) != APR_SUCCESS)
    return -1;
  if (name == NULL)
    return 0;
  snprintf(scratch_dir, sizeof scratch_dir, "/tmp/test_%s.XXXXXX", name);
  return mkdtemp(scratch_dir) ? 0 : -1;
}

/* Removes the scratch directory (if any), the pool and APR. */
static inline int tool_fixture_close(void)
{
  int rc = 0;
  if (scratch_dir[0]) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch_dir);
    rc = system(cmd);
  }
  apr_pool_destroy(pool);
  apr_terminate();
  return rc == 0 ? 0 : -1;
}

static inline const char *scratch(const char *name)
{
  return apr_pstrcat(pool, scratch_dir, "/", name, NULL);
}

static inline ta_cli_t *new_cli_context(void)
{
  ta_cli_t *c = apr_pcalloc(pool, sizeof *c);
  c->pool = pool;
  c->opts = apr_array_make(pool, 8, sizeof(ta_opt_value_t));
  c->args = apr_array_make(pool, 4, sizeof(const char *));
  c->result = json_object();
  return c;
}

static inline void free_cli(ta_cli_t *c)
{
  json_decref(c->result);
  json_decref(c->error);
}

/* One more --name value (the last one given wins, as on the command line). */
static inline void opt(ta_cli_t *c, const char *name, const char *value)
{
  ta_opt_value_t *ov = apr_array_push(c->opts);
  ov->name = name;
  ov->value = value;
}

#endif
