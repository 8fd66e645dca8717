/* Placeholder until the module component lands. */
#include "httpd.h"
#include "http_config.h"

AP_DECLARE_MODULE(trustedapp) = {
  STANDARD20_MODULE_STUFF, NULL, NULL, NULL, NULL, NULL, NULL, AP_MODULE_FLAG_NONE
};
