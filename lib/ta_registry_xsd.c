/* The registry schema compiled into the library, so the loader never reads
 * a schema from disk. lib/registry_xsd.inc is generated from lib/registry.xsd
 * by lib/registry.mk (byte list, NUL-terminated). */
#include "ta_registry.h"

static const unsigned char registry_xsd[] = {
#include "lib/registry_xsd.inc"
};

const char *ta_registry_schema(size_t *len)
{
  if (len)
    *len = sizeof(registry_xsd) - 1;
  return (const char *)registry_xsd;
}
