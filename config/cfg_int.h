/*
 * cfg_int.h -- what the parts of the config parser share (cfg.c: the
 * sections and loading; cfg_yaml.c: the text as YAML nodes; cfg_read.c:
 * errors and reading YAML values; cfg_service.c: services, probes and
 * topology).  Not for other modules.
 */
#ifndef GSLBD_CFG_INT_H
#define GSLBD_CFG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ldns/ldns.h>
#include <yaml.h>

#include "config/cfg.h"

#define CFG_TTL_MAX  2147483647u  /* RFC 2181 8 */
#define CFG_PATH     160          /* room for "services[12].endpoints[3].probe.x" */

/* One layer of probe settings and where its values were written, so a
 * problem that only shows once layers are combined can name a line. */
struct cfg_probe_src {
	struct probe_spec ps;
	char path[CFG_PATH];
	const yaml_node_t *node;
	const yaml_node_t *where[PROBE_SPEC_NFIELDS]; /* each setting's value */
	bool reported; /* a combined-spec error was already blamed here */
};

/* Where layer src wrote the setting of bit (a PS_* bit), or NULL. */
#define CFG_WHERE(src, bit) ((src)->where[__builtin_ctz(bit)])

/* YAML nodes, numbered base + 1 ... base + n (cfg_yaml.c). */
struct cfg_nodes {
	yaml_node_t *v;
	size_t n, cap;
	int base;
};

struct cfg_anchors {
	struct cfg_anchor *v;
	size_t n, cap;
};

/*
 * The document: every node but the items of the top-level services list
 * ("the list"), which are read one at a time from the text again
 * (cfg_items_next) and freed as the next one is read.  A node's index
 * names it in either store; pointers to nodes in doc stay valid until
 * cfg_yaml_free, pointers to an item's nodes until the next item.
 */
struct cfg_yaml {
	const char *text;            /* not owned */
	size_t len;
	struct cfg_nodes doc;
	struct cfg_nodes items;      /* numbered after doc */
	struct cfg_anchors anchors;  /* after the first pass: those before
					the list, where the second starts */
	int list;                    /* the list's node, or 0 */
	size_t list_len;             /* its items */
	unsigned long list_events;   /* events up to and with its start */
	size_t list_anchors;
};

/* The items of a list, one at a time (cfg_items_open). */
struct cfg_items {
	const yaml_node_t *list;     /* a list in the document */
	size_t i, len;
	struct cfg_composer *k;      /* or the second pass over the text */
	size_t mark, anchors;        /* the stores before the current item */
};

/* An error line held back so that all of them go out in file order. */
struct cfg_msg {
	size_t line, col, seq;
	char *text;
};

struct cfg_ctx {
	const char *name;         /* file name in error lines */
	char *dir;                /* its directory, for zone-file */
	cfg_err_fn err;
	void *arg;
	unsigned nerr;
	struct cfg_msg *msgs;
	size_t nmsgs, capmsgs;
	struct cfg_yaml yaml;
	struct model *m;
	ldns_rdf *apex;           /* NULL when zone.name is missing or bad */
	struct cfg_probe_src defaults;
	yaml_mark_t *svc_names;   /* per model service: where its name is */
	const yaml_node_t *zone_file_node;
};

/* libyaml marks are 0-based; editors count from 1. */
#define cfg_error(c, n, ...) \
	cfg_error_at((c), (n) ? (n)->start_mark.line + 1 : 1, \
		     (n) ? (n)->start_mark.column + 1 : 1, __VA_ARGS__)
#define cfg_error_mark(c, mark, ...) \
	cfg_error_at((c), (mark).line + 1, (mark).column + 1, __VA_ARGS__)

enum cfg_name_kind {
	CFG_NAME_ABS,     /* always absolute: the apex, SOA mname */
	CFG_NAME_MAILBOX, /* always absolute, any label text: SOA rname */
	CFG_NAME_NS,      /* relative to the apex, or absolute anywhere */
	CFG_NAME_SVC,     /* relative to the apex, or absolute inside it */
};

/*
 * cfg_yaml.c.  cfg_yaml_load reads text (not copied: it must outlive
 * cfg_yaml_free) and returns 0, or -1 after reporting a YAML error; the
 * root is NULL for a file without a document.  cfg_items_open returns how
 * many items list n has; cfg_items_next gives them in order and NULL
 * after the last (or after reporting an error); cfg_items_close always.
 */
int cfg_yaml_load(struct cfg_ctx *c, const char *text, size_t len);
void cfg_yaml_free(struct cfg_ctx *c);
yaml_node_t *cfg_yaml_root(const struct cfg_ctx *c);
yaml_node_t *cfg_yaml_node(const struct cfg_ctx *c, int index);
size_t cfg_items_open(struct cfg_ctx *c, const yaml_node_t *n,
		      struct cfg_items *it);
yaml_node_t *cfg_items_next(struct cfg_ctx *c, struct cfg_items *it);
void cfg_items_close(struct cfg_ctx *c, struct cfg_items *it);
/* cfg_read.c */
void cfg_emit(struct cfg_ctx *c, size_t line, size_t col,
	      const char *text);
void cfg_flush(struct cfg_ctx *c);
void cfg_error_at(struct cfg_ctx *c, size_t line, size_t col,
		  const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void cfg_path(char *buf, const char *path, const char *key);
void cfg_path_idx(char *buf, const char *path, size_t i);
bool cfg_is_null(const yaml_node_t *n);
size_t cfg_seq_len(const yaml_node_t *n);
yaml_node_t *cfg_seq_item(struct cfg_ctx *c, const yaml_node_t *n,
			  size_t i);
bool cfg_want_seq(struct cfg_ctx *c, const yaml_node_t *n,
		  const char *path);
void *cfg_seq_array(struct cfg_ctx *c, const yaml_node_t *n,
		    const char *path, size_t size, const char *empty,
		    size_t *len);
const char *cfg_want_str(struct cfg_ctx *c, const yaml_node_t *n,
			 const char *path);
bool cfg_map_check(struct cfg_ctx *c, const yaml_node_t *n,
		   const char *path, const char *const *known);
yaml_node_t *cfg_get(struct cfg_ctx *c, const yaml_node_t *n,
		     const char *key);
yaml_node_t *cfg_require(struct cfg_ctx *c, const yaml_node_t *n,
			 const char *path, const char *key);
const char *cfg_plain(const yaml_node_t *n);
int cfg_opt_u32(struct cfg_ctx *c, const yaml_node_t *map,
		const char *path, const char *key, uint32_t lo,
		uint32_t hi, uint32_t *out);
int cfg_opt_bool(struct cfg_ctx *c, const yaml_node_t *map,
		 const char *path, const char *key, bool *out);
int cfg_opt_ms(struct cfg_ctx *c, const yaml_node_t *map, const char *path,
	       const char *key, uint64_t lo, uint64_t hi, uint64_t *ms,
	       const yaml_node_t **where);
int cfg_opt_ms32(struct cfg_ctx *c, const yaml_node_t *map,
		 const char *path, const char *key, uint32_t lo,
		 uint32_t *out, const yaml_node_t **where);
int cfg_opt_ttl(struct cfg_ctx *c, const yaml_node_t *map,
		const char *path, const char *key, uint32_t *out);
int cfg_opt_str(struct cfg_ctx *c, const yaml_node_t *map,
		const char *path, const char *key, char **out);
int cfg_opt_enum(struct cfg_ctx *c, const yaml_node_t *map,
		 const char *path, const char *key,
		 const char *const *names, const char *what, int *out,
		 const yaml_node_t **where);
int cfg_addrs(struct cfg_ctx *c, const yaml_node_t *n,
	      const char *path, struct model_addr **out, size_t *nout);
bool cfg_in_zone(struct cfg_ctx *c, const ldns_rdf *d);
char *cfg_name(struct cfg_ctx *c, const yaml_node_t *n,
	       const char *path, enum cfg_name_kind kind);
/* cfg_resolver.c */
void cfg_resolver_defaults(struct model_resolver *r);
void cfg_resolver(struct cfg_ctx *c, const yaml_node_t *n);
void cfg_hostnames(struct cfg_ctx *c, const yaml_node_t *v, const char *path,
		   struct model_endpoint *ep);
/* cfg_service.c */
void cfg_probe(struct cfg_ctx *c, const yaml_node_t *n,
	       const char *path, struct cfg_probe_src *src);
void cfg_probe_check(struct cfg_ctx *c, const struct probe_spec *ps,
		     struct cfg_probe_src **layers, size_t n,
		     bool need_port);
void cfg_topology(struct cfg_ctx *c, const yaml_node_t *n);
void cfg_services(struct cfg_ctx *c, const yaml_node_t *n);
void cfg_service_conflicts(struct cfg_ctx *c);
void cfg_service_dname_conflicts(struct cfg_ctx *c);
void cfg_zone_file_load(struct cfg_ctx *c);
void cfg_fill_defaults(struct cfg_ctx *c);
/* cfg_dnssec.c: after the zone, services and zone file (TTLs checked) */
void cfg_dnssec(struct cfg_ctx *c, const yaml_node_t *n);
/* cfg_rrl.c: rate limiting and DNS cookies */
void cfg_rrl_defaults(struct model *m);
void cfg_rate_limit(struct cfg_ctx *c, const yaml_node_t *n);
void cfg_cookies(struct cfg_ctx *c, const yaml_node_t *server);

#endif
