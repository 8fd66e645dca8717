/* The body check for a covered Content-Digest (RFC 9530), before the handler
 * sees a byte of the body: check_authn reads the body through the input
 * filters, hashes it as it streams and keeps it -- the first
 * TA_BODY_MEMORY_LIMIT bytes in memory, the rest in an unlinked temporary
 * file -- so memory stays bounded whatever the body size. Only when the
 * digest matches at EOS is the kept body replayed to the handler by the
 * TRUSTEDAPP_KEPT_BODY input filter; a mismatch refuses the request and the
 * handler never runs. TrustedAppMaxBodySize bounds what is spooled. */
#include "mod_trustedapp.h"

#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include "http_protocol.h"
#include "util_filter.h"

#include "ta_digest.h"

#define TA_KEPT_BODY_FILTER "TRUSTEDAPP_KEPT_BODY"
/* Bodies up to this size stay in memory; larger ones are spooled to disk. */
#define TA_BODY_MEMORY_LIMIT ((apr_off_t)64 * 1024)
/* How much one read from the connection asks for. */
#define TA_BODY_READ_SIZE ((apr_off_t)64 * 1024)

static ap_filter_rec_t *kept_body_filter_handle;

/* ---------------------------------------------------------------- replay */
typedef struct {
  apr_bucket_brigade *kept;   /* the whole body (memory or file buckets), EOS implied */
} ta_kept_body_t;

static apr_status_t kept_body_filter(ap_filter_t *f, apr_bucket_brigade *bb, ap_input_mode_t mode,
                                     apr_read_type_e block, apr_off_t readbytes)
{
  ta_kept_body_t *ctx = f->ctx;
  apr_bucket *e;
  apr_status_t rv;

  if (!ctx)
    return ap_get_brigade(f->next, bb, mode, block, readbytes);
  if (APR_BRIGADE_EMPTY(ctx->kept)) {
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(f->c->bucket_alloc));
    return APR_SUCCESS;
  }
  switch (mode) {
  case AP_MODE_EXHAUSTIVE:
    APR_BRIGADE_CONCAT(bb, ctx->kept);
    return APR_SUCCESS;
  case AP_MODE_GETLINE: {
    apr_bucket_brigade *line = apr_brigade_create(f->r->pool, f->c->bucket_alloc);
    rv = apr_brigade_split_line(line, ctx->kept, block, HUGE_STRING_LEN);
    APR_BRIGADE_CONCAT(bb, line);
    apr_brigade_destroy(line);
    return rv;
  }
  case AP_MODE_READBYTES:
  case AP_MODE_SPECULATIVE:
    /* Partitioning splits file buckets without reading them. */
    rv = apr_brigade_partition(ctx->kept, readbytes, &e);
    if (rv != APR_SUCCESS && rv != APR_INCOMPLETE)
      return rv;
    if (mode == AP_MODE_SPECULATIVE) {
      apr_bucket *b;
      for (b = APR_BRIGADE_FIRST(ctx->kept); b != e && b != APR_BRIGADE_SENTINEL(ctx->kept);
           b = APR_BUCKET_NEXT(b)) {
        apr_bucket *copy;
        rv = apr_bucket_copy(b, &copy);
        if (rv != APR_SUCCESS)
          return rv;
        APR_BRIGADE_INSERT_TAIL(bb, copy);
      }
      return APR_SUCCESS;
    }
    while (!APR_BRIGADE_EMPTY(ctx->kept) && APR_BRIGADE_FIRST(ctx->kept) != e) {
      apr_bucket *b = APR_BRIGADE_FIRST(ctx->kept);
      APR_BUCKET_REMOVE(b);
      APR_BRIGADE_INSERT_TAIL(bb, b);
    }
    return APR_SUCCESS;
  default:
    return APR_ENOTIMPL;
  }
}

/* ---------------------------------------------------------- read errors */
/* While check_authn reads the body, httpd's HTTP_IN filter may refuse it
 * (malformed chunk line, chunk size overflow, LimitRequestBody): it then
 * answers at once from inside ap_get_brigade (error bucket -> ap_die ->
 * ap_send_error_response) and the read returns AP_FILTER_ERROR with r->status
 * set to what went out. This note marks that window so the insert_error_filter
 * hook, which runs inside ap_send_error_response just before the header fields
 * are chosen, can name the module's code in that answer too. */
#define TA_NOTE_READING_BODY "trustedapp-reading-body"

/* The stable code for the status httpd answered a refused body with. */
static ta_status_t code_for_answer(int http_status)
{
  if (http_status == HTTP_REQUEST_ENTITY_TOO_LARGE)
    return TA_E_BODY_TOO_LARGE;
  if (http_status >= 500)
    return TA_E_INTERNAL;
  /* 400: malformed chunked framing. */
  return TA_E_BODY_MALFORMED;
}

static void name_code_in_error_answer(request_rec *r)
{
  const ta_dir_conf_t *dc;
  ta_status_t st;

  if (!apr_table_get(r->notes, TA_NOTE_READING_BODY))
    return;
  st = code_for_answer(r->status);
  /* Only a token whose table status is the status sent: never contradict it. */
  if (ta_error_http_status(st) != r->status)
    return;
  apr_table_setn(r->err_headers_out, TA_ERROR_HEADER, ta_error_token(st));
  dc = ap_get_module_config(r->per_dir_config, &trustedapp_module);
  if (dc && ta_mod_flag(dc->error_detail, 0))
    apr_table_setn(r->err_headers_out, TA_ERROR_DETAIL_HEADER,
                   st == TA_E_BODY_TOO_LARGE
                       ? "the server refused the request body as too large while reading it"
                       : "the request body could not be read as sent (malformed framing)");
}

/* Registers the replay filter and the hook that labels httpd's own answer to
 * a body its input filter refused. */
void ta_mod_body_register_filters(void)
{
  apr_pool_t *tmp = NULL;
  const char *dir;
  /* APR finds and caches the temporary directory on first use; do that here,
   * single-threaded in the parent, not racing in worker threads. */
  if (apr_pool_create(&tmp, NULL) == APR_SUCCESS) {
    (void)apr_temp_dir_get(&dir, tmp);
    apr_pool_destroy(tmp);
  }
  kept_body_filter_handle = ap_register_input_filter(TA_KEPT_BODY_FILTER, kept_body_filter, NULL,
                                                     AP_FTYPE_RESOURCE);
  ap_hook_insert_error_filter(name_code_in_error_answer, NULL, NULL, APR_HOOK_MIDDLE);
}

/* ---------------------------------------------------------------- spool */
typedef struct {
  request_rec *r;
  apr_bucket_brigade *mem;    /* the body while it is at most TA_BODY_MEMORY_LIMIT */
  apr_off_t mem_len;
  apr_file_t *file;           /* the spool once the body outgrew memory; NULL before */
  apr_off_t total;
} ta_spool_t;

static apr_status_t remove_spool_path(void *path)
{
  unlink(path);
  return APR_SUCCESS;
}

/* An anonymous temporary file in the server's temp dir: unlinked at once so
 * nothing is left behind even if the child dies; closed by r->pool's cleanup
 * (which also retries the unlink should the first one fail). */
static apr_status_t spool_open(ta_spool_t *s, const char **detail)
{
  request_rec *r = s->r;
  const char *dir = NULL;
  char *templ;
  apr_status_t rv = apr_temp_dir_get(&dir, r->pool);
  if (rv != APR_SUCCESS) {
    *detail = "no temporary directory to spool the request body";
    return rv;
  }
  templ = apr_pstrcat(r->pool, dir, "/trustedapp-body-XXXXXX", NULL);
  rv = apr_file_mktemp(&s->file, templ,
                       APR_FOPEN_CREATE | APR_FOPEN_READ | APR_FOPEN_WRITE | APR_FOPEN_EXCL
                       | APR_FOPEN_BINARY | APR_FOPEN_BUFFERED,
                       r->pool);
  if (rv != APR_SUCCESS) {
    char err[120];
    *detail = apr_psprintf(r->pool, "cannot create a request body spool file in %s: %s", dir,
                           apr_strerror(rv, err, sizeof err));
    s->file = NULL;
    return rv;
  }
  if (apr_file_remove(templ, r->pool) != APR_SUCCESS)
    apr_pool_cleanup_register(r->pool, templ, remove_spool_path, apr_pool_cleanup_null);
  return APR_SUCCESS;
}

static apr_status_t spool_write(ta_spool_t *s, const char *data, apr_size_t len,
                                const char **detail)
{
  char err[120];
  apr_status_t rv = apr_file_write_full(s->file, data, len, NULL);
  if (rv != APR_SUCCESS)
    *detail = apr_pstrcat(s->r->pool, "writing the request body spool file failed: ",
                          apr_strerror(rv, err, sizeof err), NULL);
  return rv;
}

/* Keeps one chunk of body: memory first, the file once over the limit. */
static apr_status_t spool_add(ta_spool_t *s, apr_bucket *b, const char *data, apr_size_t len,
                              const char **detail)
{
  request_rec *r = s->r;
  apr_status_t rv;

  if (!s->file && s->mem_len + (apr_off_t)len <= TA_BODY_MEMORY_LIMIT) {
    APR_BUCKET_REMOVE(b);
    if (apr_bucket_setaside(b, r->pool) != APR_SUCCESS) {
      apr_bucket *copy = apr_bucket_heap_create(data, len, NULL, r->connection->bucket_alloc);
      apr_bucket_destroy(b);
      b = copy;
    }
    APR_BRIGADE_INSERT_TAIL(s->mem, b);
    s->mem_len += (apr_off_t)len;
    return APR_SUCCESS;
  }
  if (!s->file) {
    /* Move what memory holds into the file, then continue there. */
    if ((rv = spool_open(s, detail)) != APR_SUCCESS)
      return rv;
    while (!APR_BRIGADE_EMPTY(s->mem)) {
      apr_bucket *m = APR_BRIGADE_FIRST(s->mem);
      const char *md;
      apr_size_t ml;
      if ((rv = apr_bucket_read(m, &md, &ml, APR_BLOCK_READ)) != APR_SUCCESS
          || (rv = spool_write(s, md, ml, detail)) != APR_SUCCESS)
        return rv;
      apr_bucket_delete(m);
    }
    s->mem_len = 0;
  }
  rv = spool_write(s, data, len, detail);
  apr_bucket_delete(b);
  return rv;
}

/* The kept body as a brigade for the replay filter. */
static apr_status_t spool_brigade(ta_spool_t *s, apr_bucket_brigade **out, const char **detail)
{
  apr_status_t rv;
  apr_off_t zero = 0;
  apr_bucket *e;

  if (!s->file) {
    *out = s->mem;
    return APR_SUCCESS;
  }
  if ((rv = apr_file_flush(s->file)) != APR_SUCCESS
      || (rv = apr_file_seek(s->file, APR_SET, &zero)) != APR_SUCCESS) {
    *detail = "rewinding the request body spool file failed";
    return rv;
  }
  *out = apr_brigade_create(s->r->pool, s->r->connection->bucket_alloc);
  e = apr_brigade_insert_file(*out, s->file, 0, s->total, s->r->pool);
  /* Read, never mmap: mapped pages of a large body would count as memory. */
  for (; e != APR_BRIGADE_SENTINEL(*out); e = APR_BUCKET_PREV(e)) {
    if (APR_BUCKET_IS_FILE(e))
      apr_bucket_file_enable_mmap(e, 0);
  }
  return APR_SUCCESS;
}

/* ---------------------------------------------------------------- check */
/* Refuses early when Content-Length already says the body is too large. */
static int declared_too_large(request_rec *r, apr_off_t max)
{
  const char *cl = apr_table_get(r->headers_in, "Content-Length");
  apr_off_t len = 0;
  if (!cl || apr_table_get(r->headers_in, "Transfer-Encoding"))
    return 0;
  return apr_strtoff(&len, cl, NULL, 10) == APR_SUCCESS && len > max;
}

/* The outcome of a failed ap_get_brigade, as the client gets it. */
static ta_status_t read_failure(request_rec *r, apr_status_t rv, const char **detail)
{
  char err[120];
  ta_status_t st;

  if (rv == AP_FILTER_ERROR) {
    /* httpd has answered already with r->status (see TA_NOTE_READING_BODY). */
    st = code_for_answer(r->status);
    *detail = apr_psprintf(r->pool, "reading the request body failed: httpd's input filter refused "
                           "it (%s) and answered %d",
                           st == TA_E_BODY_TOO_LARGE   ? "too large: chunk size overflow or "
                                                         "LimitRequestBody"
                           : st == TA_E_BODY_MALFORMED ? "malformed framing"
                                                        : "internal error",
                           r->status);
    return st;
  }
  /* Not answered yet: the module answers. Only ENOSPC means "too large"
   * (ap_map_http_request_error); a body cut short (APR_EOF, APR_INCOMPLETE),
   * a timeout or a reset is simply not the body that was signed. */
  if (ap_map_http_request_error(rv, HTTP_BAD_REQUEST) == HTTP_REQUEST_ENTITY_TOO_LARGE) {
    *detail = "reading the request body failed: too large";
    return TA_E_BODY_TOO_LARGE;
  }
  *detail = apr_pstrcat(r->pool, "reading the request body failed (truncated or timed out): ",
                        apr_strerror(rv, err, sizeof err), NULL);
  return TA_E_DIGEST_MISMATCH;
}

/* Reads the whole body through the input filters, hashing and keeping it. */
static ta_status_t read_and_keep(request_rec *r, ta_digest_t *d, apr_off_t max, ta_spool_t *out,
                                 const char **detail)
{
  apr_bucket_brigade *in;
  ta_spool_t spool;
  int seen_eos = 0;

  memset(&spool, 0, sizeof spool);
  spool.r = r;
  spool.mem = apr_brigade_create(r->pool, r->connection->bucket_alloc);
  in = apr_brigade_create(r->pool, r->connection->bucket_alloc);
  while (!seen_eos) {
    apr_status_t rv = ap_get_brigade(r->input_filters, in, AP_MODE_READBYTES, APR_BLOCK_READ,
                                     TA_BODY_READ_SIZE);
    if (rv != APR_SUCCESS) {
      apr_brigade_cleanup(in);
      return read_failure(r, rv, detail);
    }
    while (!APR_BRIGADE_EMPTY(in)) {
      apr_bucket *b = APR_BRIGADE_FIRST(in);
      const char *data;
      apr_size_t len;
      if (APR_BUCKET_IS_EOS(b))
        seen_eos = 1;
      if (APR_BUCKET_IS_METADATA(b)) {
        apr_bucket_delete(b);
        continue;
      }
      if (apr_bucket_read(b, &data, &len, APR_BLOCK_READ) != APR_SUCCESS) {
        apr_brigade_cleanup(in);
        *detail = "reading the request body failed";
        return TA_E_DIGEST_MISMATCH;
      }
      spool.total += (apr_off_t)len;
      if (spool.total > max) {
        apr_brigade_cleanup(in);
        *detail = apr_psprintf(r->pool, "body exceeds TrustedAppMaxBodySize (%" APR_OFF_T_FMT
                               " bytes)", max);
        return TA_E_BODY_TOO_LARGE;
      }
      if (ta_digest_update(d, data, len) != TA_OK) {
        apr_brigade_cleanup(in);
        *detail = "hashing the body failed";
        return TA_E_INTERNAL;
      }
      if (spool_add(&spool, b, data, len, detail) != APR_SUCCESS) {
        apr_brigade_cleanup(in);
        return TA_E_INTERNAL;
      }
    }
  }
  *out = spool;
  return TA_OK;
}

ta_status_t ta_mod_check_body(request_rec *r, const char *content_digest, apr_off_t max,
                              const char **detail)
{
  ta_digest_expect_t expect;
  ta_digest_t *d = NULL;
  apr_bucket_brigade *kept = NULL;
  ta_spool_t spool;
  ta_status_t st;
  ta_kept_body_t *ctx;

  st = ta_digest_parse(r->pool, content_digest, strlen(content_digest), &expect);
  if (st != TA_OK) {
    *detail = "Content-Digest is malformed or names no supported algorithm";
    return st;
  }
  if (ta_digest_create(r->pool, expect.alg, &d) != TA_OK) {
    *detail = "cannot create the body hasher";
    return TA_E_INTERNAL;
  }
  if (declared_too_large(r, max)) {
    *detail = apr_psprintf(r->pool, "Content-Length exceeds TrustedAppMaxBodySize (%" APR_OFF_T_FMT
                           " bytes)", max);
    return TA_E_BODY_TOO_LARGE;
  }
  apr_table_setn(r->notes, TA_NOTE_READING_BODY, "1");
  st = read_and_keep(r, d, max, &spool, detail);
  apr_table_unset(r->notes, TA_NOTE_READING_BODY);
  if (st != TA_OK)
    return st;
  st = ta_digest_check(&expect, d);
  if (st != TA_OK) {
    *detail = "the body does not match Content-Digest";
    return st;
  }
  if (spool_brigade(&spool, &kept, detail) != APR_SUCCESS)
    return TA_E_INTERNAL;
  ctx = apr_pcalloc(r->pool, sizeof(*ctx));
  ctx->kept = kept;
  ap_add_input_filter_handle(kept_body_filter_handle, ctx, r, r->connection);
  return TA_OK;
}
