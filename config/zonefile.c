/* config/zonefile.c -- placeholder, being written. */
#include "config.h"
typedef int gslbd_placeholder_config_zonefile;
