/* config/model.c -- placeholder, being written. */
#include "config.h"
typedef int gslbd_placeholder_config_model;
