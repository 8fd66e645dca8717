/* Signature bases shaped like the benchmark's requests (RFC 9421 section
 * 2.5), each with its own nonce: verification programs cycle through them,
 * as real traffic brings distinct signatures. Shared by verify_floor.c and
 * mod_bench_verify.c. */
#ifndef BENCH_BASES_H
#define BENCH_BASES_H

#include <stdio.h>

#define BENCH_BASES 1024
#define BENCH_BASE_MAX 320

static void bench_make_bases(char bases[][BENCH_BASE_MAX], size_t *len)
{
  for (int i = 0; i < BENCH_BASES; i++)
    len[i] = (size_t)snprintf(bases[i], BENCH_BASE_MAX,
      "\"@method\": GET\n"
      "\"@target-uri\": http://127.0.0.1:8080/protected\n"
      "\"trustedapp-user\": bench-user\n"
      "\"@signature-params\": (\"@method\" \"@target-uri\" \"trustedapp-user\");created=1764140000;"
      "expires=1764143600;nonce=\"%08d9abcdefghijklmnopqrstuvwx\";keyid=\"bench-ed25519\"", i * 7919);
}

#endif
