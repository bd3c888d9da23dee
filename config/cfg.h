/*
 * cfg.h -- the YAML configuration file (libyaml) into a struct model.
 *
 * Every error names its place as "file:line:column: message" (1-based, as
 * editors count).  A config is either loaded whole or not at all: on any
 * error nothing is returned, so the caller keeps serving the old one.
 */
#ifndef GSLBD_CFG_H
#define GSLBD_CFG_H

#include <stdio.h>

#include "config/model.h"

/* Where error lines go: called once per error, with the full line
 * ("file:line:col: message", no newline). */
typedef void (*cfg_err_fn)(void *arg, const char *line);

/* Parse and validate the file at path.  On success returns a new model
 * (caller frees with model_free) and reports nothing.  On failure returns
 * NULL after reporting every error found (at least one) through err. */
struct model *cfg_load(const char *path, cfg_err_fn err, void *arg);

/* Same, from a string (for tests); name is used in error lines. */
struct model *cfg_load_string(const char *name, const char *text,
			      cfg_err_fn err, void *arg);

/* The directory part of a path ("." when there is none), as a new
 * string; relative paths in a config or kubeconfig are taken from it. */
char *cfg_dirname(const char *path);
/* rel as is when absolute (or dir is NULL), else dir/rel; a new string. */
char *cfg_path_join(const char *dir, const char *rel);

#endif
