/* probes/tcp.c -- placeholder, being written. */
#include "config.h"
typedef int gslbd_placeholder_probes_tcp;
