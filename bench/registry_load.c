/* Registry load cost, measured on the library the module uses: wall and
 * CPU time of ta_registry_load (schema validation, key parsing, IP and path
 * sets) and the resident memory it adds, per application.
 *   registry APPS LOAD_MS CPU_MS RSS_KB BYTES_PER_APP
 * Usage: registry_load REGISTRY.xml */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "ta_registry.h"

static double clock_seconds(clockid_t id)
{
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Current resident set in KiB (not the peak: the parse's temporary DOM is
 * freed again, what stays is what a server keeps per generation). */
static long rss_kb(void)
{
  long pages_total, pages_resident;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f == NULL)
    return -1;
  int n = fscanf(f, "%ld %ld", &pages_total, &pages_resident);
  fclose(f);
  return n == 2 ? pages_resident * (sysconf(_SC_PAGESIZE) / 1024) : -1;
}

int main(int argc, char **argv)
{
  apr_pool_t *p;
  ta_registry_t *reg;
  const char *err = NULL;
  if (argc != 2) {
    fprintf(stderr, "usage: registry_load REGISTRY.xml\n");
    return 2;
  }
  if (apr_initialize() != APR_SUCCESS || apr_pool_create(&p, NULL) != APR_SUCCESS)
    return 2;
  long rss_before = rss_kb();
  double wall = clock_seconds(CLOCK_MONOTONIC), cpu = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
  ta_status_t st = ta_registry_load(p, argv[1], &reg, &err);
  wall = clock_seconds(CLOCK_MONOTONIC) - wall;
  cpu = clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu;
  if (st != TA_OK) {
    fprintf(stderr, "registry_load: %s: %s\n", argv[1], err ? err : "load failed");
    return 1;
  }
  long grown = rss_kb() - rss_before;
  size_t apps = ta_registry_count(reg);
  printf("registry %zu %.1f %.1f %ld %.0f\n", apps, wall * 1e3, cpu * 1e3, grown,
         apps ? (double)grown * 1024.0 / (double)apps : 0.0);
  apr_pool_destroy(p);
  apr_terminate();
  return 0;
}
