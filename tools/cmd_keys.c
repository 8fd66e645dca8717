/* keygen: a fresh key pair for this application; the private half goes to
 * a 0600 file, the public half (and its fingerprint) to stdout for the
 * peers' registries. */
#include "ta_cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>

#include "ta_keys.h"

static int run_keygen(ta_cli_t *c)
{
  const char *alg_name = ta_cli_opt(c, "alg") ? ta_cli_opt(c, "alg") : "ed25519";
  ta_alg_t alg = (ta_alg_t)ta_cli_alg(alg_name);
  if (alg == TA_ALG_NONE)
    return ta_cli_fail(c, TA_EXIT_USAGE, "usage",
                       "use --alg ed25519, ecdsa-p256, ecdsa-p384 or rsa (rsa-pss-sha512 / rsa-v1_5-sha256)",
                       "unknown algorithm '%s'", alg_name);
  int bits = 0;
  const char *bits_s = ta_cli_opt(c, "bits");
  if (bits_s) {
    char *end;
    long b = strtol(bits_s, &end, 10);
    if (*end || (alg != TA_ALG_RSA_PSS_SHA512 && alg != TA_ALG_RSA_V1_5_SHA256))
      return ta_cli_fail(c, TA_EXIT_USAGE, "usage", "--bits applies to RSA keys only (2048..16384)",
                         "--bits '%s' is not valid for %s", bits_s, ta_alg_name(alg));
    if (b < TA_RSA_MIN_BITS || b > 16384)
      return ta_cli_fail(c, TA_EXIT_USAGE, "usage", "use 2048, 3072 or 4096",
                         "--bits %ld is outside 2048..16384", b);
    bits = (int)b;
  } else if (alg == TA_ALG_RSA_PSS_SHA512 || alg == TA_ALG_RSA_V1_5_SHA256) {
    bits = 3072;
  }
  const char *out = ta_cli_opt(c, "out");
  ta_key_t *key;
  const char *err = NULL;
  if (ta_key_generate(c->pool, alg, bits, &key, &err) != TA_OK)
    return ta_cli_fail(c, TA_EXIT_FAILED, "keygen-failed", NULL, "cannot generate a %s key: %s",
                       ta_alg_name(alg), err ? err : "unknown error");
  const char *priv = ta_key_private_pem(c->pool, key);
  const char *pub = ta_key_public_pem(c->pool, key);
  const char *fp = ta_key_fingerprint(c->pool, key);
  if (priv == NULL || pub == NULL || fp == NULL)
    return ta_cli_fail(c, TA_EXIT_FAILED, "keygen-failed", NULL, "cannot encode the new key");
  /* --force replaces the file rather than truncating it, so an old file's
   * looser mode is never kept for a private key */
  if (ta_cli_flag(c, "force") && unlink(out) != 0 && errno != ENOENT)
    return ta_cli_fail(c, TA_EXIT_FAILED, "write-failed", NULL, "cannot replace %s: %s", out,
                       strerror(errno));
  if (ta_cli_write_file(c, out, priv, strlen(priv), 0600, 1, &err) != 0)
    return ta_cli_fail(c, TA_EXIT_FAILED, "write-failed",
                       "choose another --out path, or pass --force to replace the file", "%s", err);
  const char *pub_out = ta_cli_opt(c, "public-out");
  if (pub_out && ta_cli_write_file(c, pub_out, pub, strlen(pub), 0644, 0, &err) != 0)
    return ta_cli_fail(c, TA_EXIT_FAILED, "write-failed", NULL, "%s", err);
  json_object_set_new(c->result, "alg", json_string(ta_alg_name(alg)));
  if (bits)
    json_object_set_new(c->result, "bits", json_integer(ta_key_bits(key)));
  json_object_set_new(c->result, "fingerprint", json_string(fp));
  json_object_set_new(c->result, "private_key_file", json_string(out));
  if (pub_out)
    json_object_set_new(c->result, "public_key_file", json_string(pub_out));
  json_object_set_new(c->result, "public_key", json_string(pub));
  ta_out_textf(c, "%s", pub);
  ta_out_textf(c, "alg: %s\nfingerprint: %s\nprivate key: %s (mode 0600)\n", ta_alg_name(alg), fp, out);
  return TA_EXIT_OK;
}

static const ta_opt_spec_t keygen_opts[] = {
  {"alg", "ALG", 0, "ed25519 (default), ecdsa-p256, ecdsa-p384, rsa (= rsa-pss-sha512), rsa-v1_5-sha256"},
  {"bits", "N", 0, "RSA modulus size (default 3072, at least 2048)"},
  {"out", "FILE", 0, "where to write the private key (PKCS#8 PEM, mode 0600); required"},
  {"public-out", "FILE", 0, "also write the public key (SPKI PEM) here"},
  {"force", NULL, 0, "replace an existing --out file"},
  {NULL, NULL, 0, NULL}
};

static int run_keygen_checked(ta_cli_t *c)
{
  if (ta_cli_opt(c, "out") == NULL)
    return ta_cli_fail(c, TA_EXIT_USAGE, "usage", "add --out FILE", "keygen needs --out FILE for the private key");
  return run_keygen(c);
}

const ta_cmd_t ta_cmd_keygen = {
  "keygen", "--out FILE [--alg ALG] [--bits N]",
  "Generate a key pair: private key to --out (0600), public key PEM and fingerprint to stdout.",
  keygen_opts, 0, 0, run_keygen_checked,
  "trustapp-admin keygen --alg ed25519 --out /etc/apache2/trustedapp/self.key"
};
