/* Registry writer: the editable model, and the locked atomic update under
 * concurrency, crashes, invalid edits and permission constraints. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "ta_registry_write.h"

static apr_pool_t *pool;
static char dir[64];

static const char *reg_path(void)
{
  return apr_pstrcat(pool, dir, "/registry.xml", NULL);
}

static const char *new_pem(apr_pool_t *p, const char **fp)
{
  ta_key_t *k = NULL;
  assert_int_equal(ta_key_generate(p, TA_ALG_ED25519, 0, &k, NULL), TA_OK);
  if (fp)
    *fp = ta_key_fingerprint(p, k);
  return ta_key_public_pem(p, k);
}

static char *slurp(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  char *buf = malloc(1 << 20);
  assert_non_null(buf);
  *len = fread(buf, 1, (1 << 20) - 1, f);
  buf[*len] = '\0';
  fclose(f);
  return buf;
}

static void remove_dir_contents(void)
{
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    unlink(apr_pstrcat(pool, dir, "/", e->d_name, NULL));
  }
  closedir(d);
}

static int count_temp_files(void)
{
  int n = 0;
  DIR *d = opendir(dir);
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    n += strncmp(e->d_name, ".registry.xml.", 14) == 0;
  closedir(d);
  return n;
}

static int setup(void **state)
{
  (void)state;
  apr_initialize();
  apr_pool_create(&pool, NULL);
  snprintf(dir, sizeof(dir), "/tmp/ta-regw-XXXXXX");
  assert_non_null(mkdtemp(dir));
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  remove_dir_contents();
  rmdir(dir);
  apr_pool_destroy(pool);
  apr_terminate();
  return 0;
}

static int each_setup(void **state)
{
  (void)state;
  remove_dir_contents();
  ta_registry_set_prerename_hook(NULL);
  return 0;
}

/* Edit baton: add one application with a fresh key. */
typedef struct {
  const char *id;
  const char *pem;
  const char *ip;
} add_app_t;

static ta_status_t add_app_edit(ta_regdoc_t *doc, void *baton, const char **err)
{
  add_app_t *a = baton;
  ta_status_t st = ta_regdoc_add_app(doc, a->id, "Added", err);
  if (st == TA_OK)
    st = ta_regdoc_add_key(doc, a->id, a->pem, TA_ALG_NONE, 0, 0, err);
  if (st == TA_OK)
    st = ta_regdoc_add_list_item(doc, a->id, TA_REGDOC_IP, a->ip ? a->ip : "10.0.0.0/8", err);
  if (st == TA_OK)
    st = ta_regdoc_add_list_item(doc, a->id, TA_REGDOC_PATH, "/rest", err);
  return st;
}

static void add_app(const char *id, int flags)
{
  add_app_t a = {id, new_pem(pool, NULL), NULL};
  const char *err = NULL;
  ta_status_t st = ta_registry_update(pool, reg_path(), flags, add_app_edit, &a, NULL, &err);
  if (st != TA_OK)
    fail_msg("update failed: %s", err);
}

static void test_create_new_file(void **state)
{
  (void)state;
  const char *err = NULL;
  ta_registry_t *r = NULL;
  add_app_t a = {"first", new_pem(pool, NULL), NULL};
  /* Without the flag a missing file is an error and nothing is created. */
  assert_int_equal(ta_registry_update(pool, reg_path(), 0, add_app_edit, &a, &r, &err), TA_E_INTERNAL);
  assert_non_null(strstr(err, "cannot open"));
  struct stat st;
  assert_int_equal(stat(reg_path(), &st), -1);

  mode_t old = umask(077);
  ta_status_t s = ta_registry_update(pool, reg_path(), TA_REGISTRY_CREATE, add_app_edit, &a, &r, &err);
  umask(old);
  if (s != TA_OK)
    fail_msg("%s", err);
  assert_int_equal(ta_registry_count(r), 1);
  assert_int_equal(stat(reg_path(), &st), 0);
  assert_int_equal(st.st_mode & 07777, 0644);
  ta_registry_t *loaded = NULL;
  assert_int_equal(ta_registry_load(pool, reg_path(), &loaded, &err), TA_OK);
  const ta_app_t *app = ta_registry_find(loaded, "first");
  assert_non_null(app);
  assert_string_equal(app->name, "Added");
  assert_true(app->enabled);
  assert_int_equal(app->n_keys, 1);
  assert_int_equal(count_temp_files(), 0);
}

static void test_empty_file(void **state)
{
  (void)state;
  int fd = open(reg_path(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  assert_true(fd >= 0);
  close(fd);
  add_app_t a = {"e1", new_pem(pool, NULL), NULL};
  const char *err = NULL;
  /* Without the flag an empty file is a broken registry. */
  assert_int_equal(ta_registry_update(pool, reg_path(), 0, add_app_edit, &a, NULL, &err), TA_E_CONFIG);
  assert_non_null(strstr(err, "empty"));
  assert_int_equal(ta_registry_update(pool, reg_path(), TA_REGISTRY_CREATE, add_app_edit, &a, NULL, &err), TA_OK);
  struct stat st;
  assert_int_equal(stat(reg_path(), &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600); /* the existing file's mode is kept */
  ta_registry_t *r = NULL;
  assert_int_equal(ta_registry_load(pool, reg_path(), &r, &err), TA_OK);
  assert_int_equal(ta_registry_count(r), 1);
}

static void test_concurrent_writers(void **state)
{
  (void)state;
  enum { WRITERS = 20 };
  add_app("seed", TA_REGISTRY_CREATE);
  pid_t pids[WRITERS];
  for (int i = 0; i < WRITERS; i++) {
    pids[i] = fork();
    assert_true(pids[i] >= 0);
    if (pids[i] == 0) {
      apr_pool_t *cp;
      apr_pool_create(&cp, NULL);
      add_app_t a = {apr_psprintf(cp, "writer-%d", i), new_pem(cp, NULL),
                     apr_psprintf(cp, "192.168.%d.0/24", i)};
      const char *err = NULL;
      ta_status_t st = ta_registry_update(cp, reg_path(), 0, add_app_edit, &a, NULL, &err);
      if (st != TA_OK)
        fprintf(stderr, "writer %d: %s\n", i, err ? err : "?");
      _exit(st == TA_OK ? 0 : 1);
    }
  }
  for (int i = 0; i < WRITERS; i++) {
    int status = 0;
    assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
  }
  ta_registry_t *r = NULL;
  const char *err = NULL;
  assert_int_equal(ta_registry_load(pool, reg_path(), &r, &err), TA_OK);
  assert_int_equal(ta_registry_count(r), WRITERS + 1);
  for (int i = 0; i < WRITERS; i++) {
    const ta_app_t *a = ta_registry_find(r, apr_psprintf(pool, "writer-%d", i));
    assert_non_null(a);
    assert_true(ta_ip_set_match(a->ips, apr_psprintf(pool, "192.168.%d.77", i)));
  }
  assert_int_equal(count_temp_files(), 0);
}

static void kill_self(const char *tmp_path)
{
  (void)tmp_path;
  raise(SIGKILL);
}

static void test_crash_before_rename(void **state)
{
  (void)state;
  add_app("stable", TA_REGISTRY_CREATE);
  size_t before_len;
  char *before = slurp(reg_path(), &before_len);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    ta_registry_set_prerename_hook(kill_self);
    apr_pool_t *cp;
    apr_pool_create(&cp, NULL);
    add_app_t a = {"lost", new_pem(cp, NULL), NULL};
    ta_registry_update(cp, reg_path(), 0, add_app_edit, &a, NULL, NULL);
    _exit(0); /* not reached: the hook kills the process */
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status));
  assert_int_equal(WTERMSIG(status), SIGKILL);
  /* The complete temp file was left behind; the registry is untouched. */
  assert_int_equal(count_temp_files(), 1);
  size_t after_len;
  char *after = slurp(reg_path(), &after_len);
  assert_int_equal(before_len, after_len);
  assert_memory_equal(before, after, before_len);
  free(before);
  free(after);
  ta_registry_t *r = NULL;
  const char *err = NULL;
  assert_int_equal(ta_registry_load(pool, reg_path(), &r, &err), TA_OK);
  assert_null(ta_registry_find(r, "lost"));
  /* The dead writer's lock went with it: the next update proceeds. */
  add_app("after-crash", 0);
  assert_int_equal(ta_registry_load(pool, reg_path(), &r, &err), TA_OK);
  assert_int_equal(ta_registry_count(r), 2);
}

static void test_permissions_kept(void **state)
{
  (void)state;
  add_app("p1", TA_REGISTRY_CREATE);
  assert_int_equal(chmod(reg_path(), 0640), 0);
  struct stat st0, st1;
  assert_int_equal(stat(reg_path(), &st0), 0);
  add_app("p2", 0);
  assert_int_equal(stat(reg_path(), &st1), 0);
  assert_int_equal(st1.st_mode & 07777, 0640);
  assert_int_equal(st1.st_uid, st0.st_uid);
  assert_int_equal(st1.st_gid, st0.st_gid);
  /* A new inode: the file was replaced, not rewritten in place. */
  assert_int_not_equal(st1.st_ino, st0.st_ino);
}

/* Root edits a file owned by the server's user: owner and group survive. */
static void test_owner_kept(void **state)
{
  (void)state;
  if (geteuid() != 0)
    skip();
  add_app("o1", TA_REGISTRY_CREATE);
  assert_int_equal(chown(reg_path(), 65534, 65534), 0);
  add_app("o2", 0);
  struct stat st;
  assert_int_equal(stat(reg_path(), &st), 0);
  assert_int_equal(st.st_uid, 65534);
  assert_int_equal(st.st_gid, 65534);
  assert_int_equal(st.st_mode & 07777, 0644);
}

static ta_status_t bad_ip_edit(ta_regdoc_t *doc, void *baton, const char **err)
{
  (void)baton;
  return ta_regdoc_add_list_item(doc, "v1", TA_REGDOC_IP, "10.*.1.1", err);
}

static ta_status_t refusing_edit(ta_regdoc_t *doc, void *baton, const char **err)
{
  (void)baton;
  ta_regdoc_remove_app(doc, "v1", NULL);
  *err = "changed my mind";
  return TA_E_CONFIG;
}

static ta_status_t remove_last_key_edit(ta_regdoc_t *doc, void *baton, const char **err)
{
  return ta_regdoc_remove_key(doc, "v1", baton, err);
}

static void test_invalid_edit_leaves_file(void **state)
{
  (void)state;
  add_app("v1", TA_REGISTRY_CREATE);
  size_t before_len, after_len;
  char *before = slurp(reg_path(), &before_len);
  struct stat st0, st1;
  assert_int_equal(stat(reg_path(), &st0), 0);
  const char *err = NULL;

  assert_int_equal(ta_registry_update(pool, reg_path(), 0, bad_ip_edit, NULL, NULL, &err), TA_E_CONFIG);
  assert_non_null(strstr(err, "nothing was written"));
  assert_non_null(strstr(err, "bad IP pattern '10.*.1.1'"));

  err = NULL;
  assert_int_equal(ta_registry_update(pool, reg_path(), 0, refusing_edit, NULL, NULL, &err), TA_E_CONFIG);
  assert_string_equal(err, "changed my mind");

  ta_registry_t *r = NULL;
  assert_int_equal(ta_registry_load(pool, reg_path(), &r, &err), TA_OK);
  const char *fp = ta_registry_find(r, "v1")->keys[0].fingerprint;
  assert_int_equal(ta_registry_update(pool, reg_path(), 0, remove_last_key_edit, (void *)fp, NULL, &err),
                   TA_E_CONFIG);
  assert_non_null(strstr(err, "last key"));

  char *after = slurp(reg_path(), &after_len);
  assert_int_equal(before_len, after_len);
  assert_memory_equal(before, after, before_len);
  assert_int_equal(stat(reg_path(), &st1), 0);
  assert_int_equal(st1.st_ino, st0.st_ino);
  assert_int_equal(count_temp_files(), 0);
  free(before);
  free(after);
}

static ta_status_t no_change_edit(ta_regdoc_t *doc, void *baton, const char **err)
{
  (void)baton;
  return ta_regdoc_set_enabled(doc, "n1", 1, err);
}

static void test_unchanged_result_not_rewritten(void **state)
{
  (void)state;
  add_app("n1", TA_REGISTRY_CREATE);
  struct stat st0, st1;
  assert_int_equal(stat(reg_path(), &st0), 0);
  const char *err = NULL;
  assert_int_equal(ta_registry_update(pool, reg_path(), 0, no_change_edit, NULL, NULL, &err), TA_OK);
  assert_int_equal(stat(reg_path(), &st1), 0);
  assert_int_equal(st1.st_ino, st0.st_ino);
}

static void test_symlinked_registry(void **state)
{
  (void)state;
  const char *target = apr_pstrcat(pool, dir, "/real.xml", NULL);
  assert_int_equal(symlink("real.xml", reg_path()), 0);
  add_app_t a = {"s1", new_pem(pool, NULL), NULL};
  const char *err = NULL;
  assert_int_equal(ta_registry_update(pool, reg_path(), TA_REGISTRY_CREATE, add_app_edit, &a, NULL, &err), TA_OK);
  struct stat st;
  assert_int_equal(lstat(reg_path(), &st), 0);
  assert_true(S_ISLNK(st.st_mode));
  ta_registry_t *r = NULL;
  assert_int_equal(ta_registry_load(pool, target, &r, &err), TA_OK);
  assert_non_null(ta_registry_find(r, "s1"));
}

static void test_model_edits(void **state)
{
  (void)state;
  ta_regdoc_t *d = NULL;
  const char *err = NULL;
  const char *fp1, *fp2;
  const char *pem1 = new_pem(pool, &fp1), *pem2 = new_pem(pool, &fp2);
  assert_int_equal(ta_regdoc_new(pool, &d), TA_OK);
  assert_int_equal(ta_regdoc_add_app(d, "app", NULL, &err), TA_OK);
  assert_true(ta_regdoc_has_app(d, "app"));
  assert_false(ta_regdoc_has_app(d, "other"));
  assert_int_equal(ta_regdoc_add_app(d, "app", NULL, &err), TA_E_CONFIG);
  assert_non_null(strstr(err, "already exists"));
  assert_int_equal(ta_regdoc_set_name(d, "nope", "x", &err), TA_E_CONFIG);
  assert_non_null(strstr(err, "no application with id 'nope'"));

  /* Edits in an order unlike the schema's: the model keeps schema order. */
  assert_int_equal(ta_regdoc_set_client_cert(d, "app", "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789", NULL, NULL, &err), TA_OK);
  const char *paths[] = {"/b", "/a"};
  assert_int_equal(ta_regdoc_set_list(d, "app", TA_REGDOC_PATH, paths, 2, &err), TA_OK);
  assert_int_equal(ta_regdoc_add_list_item(d, "app", TA_REGDOC_USER_DENY, "mallory", &err), TA_OK);
  assert_int_equal(ta_regdoc_add_list_item(d, "app", TA_REGDOC_IP, "10.1.2.3", &err), TA_OK);
  assert_int_equal(ta_regdoc_add_list_item(d, "app", TA_REGDOC_IP, "10.1.2.3", &err), TA_OK); /* no duplicate */
  assert_int_equal(ta_regdoc_add_list_item(d, "app", TA_REGDOC_IP, "::1", &err), TA_OK);
  assert_int_equal(ta_regdoc_remove_list_item(d, "app", TA_REGDOC_IP, "10.1.2.3", &err), TA_OK);
  assert_int_equal(ta_regdoc_remove_list_item(d, "app", TA_REGDOC_IP, "10.1.2.3", &err), TA_E_CONFIG);
  assert_int_equal(ta_regdoc_add_list_item(d, "app", TA_REGDOC_USER_ALLOW, "bob\n", &err), TA_E_CONFIG);
  assert_int_equal(ta_regdoc_set_timeout_ms(d, "app", 1500, &err), TA_OK);
  assert_int_equal(ta_regdoc_set_timeout_ms(d, "app", 2500, &err), TA_OK);
  apr_time_t nb = apr_time_from_sec(1767225600); /* 2026-01-01T00:00:00Z */
  apr_time_t na = apr_time_from_sec(4102444800); /* 2100-01-01T00:00:00Z */
  assert_int_equal(ta_regdoc_add_key(d, "app", pem1, TA_ALG_ED25519, 0, na, &err), TA_OK);
  assert_int_equal(ta_regdoc_add_key(d, "app", pem1, TA_ALG_NONE, 0, 0, &err), TA_E_CONFIG);
  assert_non_null(strstr(err, "already has key"));
  assert_int_equal(ta_regdoc_add_key(d, "app", pem2, TA_ALG_NONE, nb, 0, &err), TA_OK);
  assert_int_equal(ta_regdoc_add_key(d, "app", pem2, TA_ALG_ECDSA_P256_SHA256, 0, 0, &err), TA_E_CONFIG);
  assert_int_equal(ta_regdoc_add_key(d, "app", "garbage", TA_ALG_NONE, 0, 0, &err), TA_E_CONFIG);
  assert_int_equal(ta_regdoc_set_protocols(d, "app", "seraph  rfc9421", &err), TA_OK);
  assert_int_equal(ta_regdoc_set_protocols(d, "app", "smtp", &err), TA_E_CONFIG);
  assert_int_equal(ta_regdoc_set_enabled(d, "app", 0, &err), TA_OK);
  assert_int_equal(ta_regdoc_set_name(d, "app", "Tom & Jerry <x>", &err), TA_OK);
  assert_int_equal(ta_regdoc_set_self(d, "me", "Me", "/etc/me.key", &err), TA_OK);
  assert_int_equal(ta_regdoc_set_self(d, "me2", NULL, NULL, &err), TA_OK);

  ta_registry_t *r = NULL;
  ta_status_t st = ta_regdoc_validate(d, pool, &r, &err);
  if (st != TA_OK)
    fail_msg("%s", err);
  const ta_app_t *a = ta_registry_find(r, "app");
  assert_string_equal(a->name, "Tom & Jerry <x>");
  assert_false(a->enabled);
  assert_int_equal(a->protocols, TA_APP_PROTO_RFC9421 | TA_APP_PROTO_SERAPH);
  assert_int_equal(a->timeout, 2500 * 1000);
  assert_int_equal(a->n_keys, 2);
  assert_string_equal(a->keys[0].fingerprint, fp1);
  assert_int_equal(a->keys[0].not_after, na);
  assert_int_equal(a->keys[1].not_before, nb);
  assert_int_equal(a->n_ip, 1);
  assert_string_equal(a->ip_patterns[0], "::1");
  assert_int_equal(a->n_path, 2);
  assert_string_equal(a->path_prefixes[0], "/b");
  assert_string_equal(a->users_deny[0], "mallory");
  assert_string_equal(a->client_cert_sha256, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
  assert_string_equal(ta_registry_self(r)->id, "me2");
  assert_null(ta_registry_self(r)->key_file);

  /* Rotation: drop the old key by fingerprint; subject binding replaces sha256. */
  assert_int_equal(ta_regdoc_remove_key(d, "app", fp1, &err), TA_OK);
  assert_int_equal(ta_regdoc_remove_key(d, "app", fp1, &err), TA_E_CONFIG);
  assert_int_equal(ta_regdoc_set_client_cert(d, "app", NULL, "CN=app,O=Example", "CN=Example CA", &err), TA_OK);
  assert_int_equal(ta_regdoc_set_client_cert(d, "app", "00", "CN=x", NULL, &err), TA_E_CONFIG);
  assert_int_equal(ta_regdoc_set_protocols(d, "app", NULL, &err), TA_OK);
  assert_int_equal(ta_regdoc_set_timeout_ms(d, "app", -1, &err), TA_OK);
  assert_int_equal(ta_regdoc_set_list(d, "app", TA_REGDOC_PATH, NULL, 0, &err), TA_OK);
  assert_int_equal(ta_regdoc_set_self(d, NULL, NULL, NULL, &err), TA_OK);
  assert_int_equal(ta_regdoc_validate(d, pool, &r, &err), TA_OK);
  a = ta_registry_find(r, "app");
  assert_int_equal(a->n_keys, 1);
  assert_string_equal(a->keys[0].fingerprint, fp2);
  assert_null(a->client_cert_sha256);
  assert_string_equal(a->client_cert_subject, "CN=app,O=Example");
  assert_string_equal(a->client_cert_issuer, "CN=Example CA");
  assert_int_equal(a->protocols, TA_APP_PROTO_ALL);
  assert_int_equal(a->timeout, (apr_interval_time_t)TA_REGISTRY_DEFAULT_TIMEOUT_MS * 1000);
  assert_int_equal(a->n_path, 0);
  assert_null(ta_registry_self(r));

  assert_int_equal(ta_regdoc_remove_app(d, "app", &err), TA_OK);
  assert_int_equal(ta_regdoc_remove_app(d, "app", &err), TA_E_CONFIG);
  assert_int_equal(ta_regdoc_validate(d, pool, &r, &err), TA_OK);
  assert_int_equal(ta_registry_count(r), 0);
}

static void test_comments_and_layout_survive(void **state)
{
  (void)state;
  char *example;
  size_t len;
  example = slurp(TA_SRCDIR "/conf-examples/registry.xml", &len);
  ta_regdoc_t *d = NULL;
  const char *err = NULL;
  assert_int_equal(ta_regdoc_parse(pool, example, len, "example", &d, &err), TA_OK);
  free(example);
  assert_int_equal(ta_regdoc_add_list_item(d, "billing", TA_REGDOC_PATH, "/api/invoices", &err), TA_OK);
  char *out1, *out2;
  size_t len1, len2;
  assert_int_equal(ta_regdoc_serialize(d, pool, &out1, &len1), TA_OK);
  assert_non_null(strstr(out1, "<!-- Registered but switched off"));
  assert_non_null(strstr(out1, "<path>/api/invoices</path>"));
  /* Serialising what we wrote gives the same text: edits do not drift. */
  ta_regdoc_t *d2 = NULL;
  assert_int_equal(ta_regdoc_parse(pool, out1, len1, "again", &d2, &err), TA_OK);
  assert_int_equal(ta_regdoc_serialize(d2, pool, &out2, &len2), TA_OK);
  assert_int_equal(len1, len2);
  assert_memory_equal(out1, out2, len1);
  ta_registry_t *r = NULL;
  assert_int_equal(ta_regdoc_validate(d2, pool, &r, &err), TA_OK);
  assert_int_equal(ta_registry_find(r, "billing")->n_path, 2);
  /* The model refuses what the loader refuses: DOCTYPE. */
  const char *dt = "<!DOCTYPE registry [<!ENTITY x \"y\">]><registry xmlns=\"urn:mod-trustedapp:registry:1\" version=\"1\"/>";
  assert_int_equal(ta_regdoc_parse(pool, dt, strlen(dt), "dt", &d, &err), TA_E_CONFIG);
  assert_non_null(strstr(err, "DOCTYPE"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup(test_create_new_file, each_setup),
    cmocka_unit_test_setup(test_empty_file, each_setup),
    cmocka_unit_test_setup(test_concurrent_writers, each_setup),
    cmocka_unit_test_setup(test_crash_before_rename, each_setup),
    cmocka_unit_test_setup(test_permissions_kept, each_setup),
    cmocka_unit_test_setup(test_owner_kept, each_setup),
    cmocka_unit_test_setup(test_invalid_edit_leaves_file, each_setup),
    cmocka_unit_test_setup(test_unchanged_result_not_rewritten, each_setup),
    cmocka_unit_test_setup(test_symlinked_registry, each_setup),
    cmocka_unit_test(test_model_edits),
    cmocka_unit_test(test_comments_and_layout_survive),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
