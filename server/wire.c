/* server/wire.c -- placeholder, being written. */
#include "config.h"
typedef int gslbd_placeholder_server_wire;
