/* server/listen.c -- placeholder, being written. */
#include "config.h"
typedef int gslbd_placeholder_server_listen;
