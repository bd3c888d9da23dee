/*
 * cfg_yaml.c -- the YAML text as nodes, built from libyaml's events.
 *
 * The nodes are libyaml's own (yaml_node_t), composed the way
 * yaml_parser_load composes them: same marks, same alias resolution
 * (an alias is its anchor's node), same errors for an undefined alias or
 * a duplicate anchor.  What differs is the items of the top-level
 * services list: a config of 100,000 services is 14 MB of text, and its
 * nodes took 345 MB, three times the services read from them.  So the
 * first pass only checks those items, and the service reader gets them
 * one at a time from a second pass over the text (cfg_items_next), each
 * item's nodes freed before the next is built.  An item that defines an anchor is kept, as a later node may
 * be its alias.  See cfg_int.h.
 */
#include "config.h"

#include <assert.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config/cfg_int.h"
#include "lib/xalloc.h"

struct cfg_anchor {
	char *name;
	int index;
	yaml_mark_t mark;
};

/* Events in, nodes out. */
struct cfg_composer {
	yaml_parser_t p;
	struct cfg_nodes *out;       /* new nodes go here */
	struct cfg_anchors *anchors; /* anchors seen so far */
	int *open;                   /* the collections being filled */
	size_t nopen, capopen;
	unsigned long events;        /* events read */
};

/* ---- nodes ---- */

static yaml_node_t *cfg_nodes_get(const struct cfg_nodes *s, int index)
{
	if (index <= s->base || (size_t)(index - s->base) > s->n)
		return NULL;
	return &s->v[index - s->base - 1];
}

static void cfg_node_free(yaml_node_t *n)
{
	free(n->tag);
	if (n->type == YAML_SCALAR_NODE)
		free(n->data.scalar.value);
	else if (n->type == YAML_SEQUENCE_NODE)
		free(n->data.sequence.items.start);
	else if (n->type == YAML_MAPPING_NODE)
		free(n->data.mapping.pairs.start);
}

/* Frees the nodes after the first n. */
static void cfg_nodes_cut(struct cfg_nodes *s, size_t n)
{
	while (s->n > n)
		cfg_node_free(&s->v[--s->n]);
}

static void cfg_nodes_free(struct cfg_nodes *s)
{
	cfg_nodes_cut(s, 0);
	free(s->v);
	s->v = NULL;
	s->cap = 0;
}

static void cfg_anchors_cut(struct cfg_anchors *a, size_t n)
{
	while (a->n > n)
		free(a->v[--a->n].name);
}

static void cfg_anchors_free(struct cfg_anchors *a)
{
	cfg_anchors_cut(a, 0);
	free(a->v);
	a->v = NULL;
	a->cap = 0;
}

/* Array a of *cap items of size bytes with room for one more than n:
 * a itself, or a larger copy. */
static void *cfg_grow(void *a, size_t *cap, size_t n, size_t size)
{
	size_t nc;

	if (n < *cap)
		return a;
	nc = *cap ? *cap * 2 : 16;
	a = xreallocarray(a, nc, size);
	*cap = nc;
	return a;
}

/* ---- composing ---- */

static int cfg_too_big(struct cfg_composer *k)
{
	k->p.error = YAML_MEMORY_ERROR;
	k->p.problem = "too many nodes";
	return -1;
}

/* The errors yaml_parser_load gives, with its words. */
static int cfg_composer_error(struct cfg_composer *k, const char *context,
			      yaml_mark_t context_mark, const char *problem,
			      yaml_mark_t problem_mark)
{
	k->p.error = YAML_COMPOSER_ERROR;
	k->p.context = context;
	k->p.context_mark = context_mark;
	k->p.problem = problem;
	k->p.problem_mark = problem_mark;
	return -1;
}

static int cfg_next(struct cfg_composer *k, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&k->p, ev))
		return -1;
	k->events++;
	return 0;
}

static int cfg_anchor_add(struct cfg_composer *k, yaml_char_t *name,
			  int index, yaml_mark_t mark)
{
	struct cfg_anchors *a = k->anchors;
	struct cfg_anchor *v;

	if (!name)
		return 0;
	for (size_t i = 0; i < a->n; i++) {
		if (!strcmp(a->v[i].name, (char *)name)) {
			free(name);
			return cfg_composer_error(k, "found duplicate anchor; "
						  "first occurrence", a->v[i].mark,
						  "second occurrence", mark);
		}
	}
	v = cfg_grow(a->v, &a->cap, a->n, sizeof(*v));
	a->v = v;
	a->v[a->n++] = (struct cfg_anchor){ (char *)name, index, mark };
	return 0;
}

static int cfg_anchor_find(const struct cfg_anchors *a, const char *name)
{
	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->v[i].name, name))
			return a->v[i].index;
	return 0;
}

/*
 * A node for event ev (a scalar or the start of a collection), its
 * anchor registered; the event's value and anchor are taken over.
 * Returns the node's index, or 0 after setting an error.
 */
static int cfg_node_new(struct cfg_composer *k, yaml_event_t *ev)
{
	struct cfg_nodes *s = k->out;
	yaml_node_t n = { .start_mark = ev->start_mark,
			  .end_mark = ev->end_mark };
	yaml_node_t *v = NULL;
	yaml_char_t *anchor;
	int index;

	if (s->base + s->n < INT_MAX - 1)
		v = cfg_grow(s->v, &s->cap, s->n, sizeof(*v));
	if (!v) {
		cfg_too_big(k);
		return 0;
	}
	s->v = v;
	/* Tags are not read: a config has no use for them. */
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		n.type = YAML_SCALAR_NODE;
		n.data.scalar.value = ev->data.scalar.value;
		n.data.scalar.length = ev->data.scalar.length;
		n.data.scalar.style = ev->data.scalar.style;
		ev->data.scalar.value = NULL;
		anchor = ev->data.scalar.anchor;
		ev->data.scalar.anchor = NULL;
		break;
	case YAML_SEQUENCE_START_EVENT:
		n.type = YAML_SEQUENCE_NODE;
		n.data.sequence.style = ev->data.sequence_start.style;
		anchor = ev->data.sequence_start.anchor;
		ev->data.sequence_start.anchor = NULL;
		break;
	default:
		assert(ev->type == YAML_MAPPING_START_EVENT);
		n.type = YAML_MAPPING_NODE;
		n.data.mapping.style = ev->data.mapping_start.style;
		anchor = ev->data.mapping_start.anchor;
		ev->data.mapping_start.anchor = NULL;
		break;
	}
	s->v[s->n++] = n;
	index = s->base + (int)s->n;
	if (cfg_anchor_add(k, anchor, index, n.start_mark) < 0)
		return 0;
	return index;
}

/*
 * Appends x to st, one of libyaml's arrays of items or of pairs (start,
 * top, end).
 */
#define cfg_push(st, x) __extension__ ({				\
	size_t n_ = (size_t)((st).top - (st).start);			\
	size_t cap_ = (size_t)((st).end - (st).start);			\
	__typeof__((st).start) v_ = cfg_grow((st).start, &cap_, n_,	\
					     sizeof(*v_));		\
	(st).start = v_;						\
	(st).end = v_ + cap_;						\
	(st).top = v_ + n_ + 1;						\
	v_[n_] = (x);							\
})

/* Adds node child to the collection parent (a key, then its value). */
static void cfg_node_add(struct cfg_composer *k, int parent, int child)
{
	yaml_node_t *p = cfg_nodes_get(k->out, parent);

	if (p->type == YAML_SEQUENCE_NODE)
		cfg_push(p->data.sequence.items, child);
	else if (p->data.mapping.pairs.top > p->data.mapping.pairs.start &&
		 !p->data.mapping.pairs.top[-1].value)
		p->data.mapping.pairs.top[-1].value = child;
	else
		cfg_push(p->data.mapping.pairs, ((yaml_node_pair_t){ child, 0 }));
}

/* The node alias event ev names, or 0 after setting an error. */
static int cfg_alias(struct cfg_composer *k, const yaml_event_t *ev)
{
	int index = cfg_anchor_find(k->anchors, (char *)ev->data.alias.anchor);

	if (!index)
		cfg_composer_error(k, NULL, ev->start_mark,
				   "found undefined alias", ev->start_mark);
	return index;
}

/*
 * One event inside a node being composed: returns the index of the node
 * it makes, opens, closes or names, or 0 after setting an error.  A new
 * node goes into the collection being filled, as libyaml's loader puts
 * it there: on its first event.
 */
static int cfg_compose_event(struct cfg_composer *k, yaml_event_t *ev)
{
	int index, *open;

	switch (ev->type) {
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		index = k->open[--k->nopen];
		cfg_nodes_get(k->out, index)->end_mark = ev->end_mark;
		return index;
	case YAML_ALIAS_EVENT:
		index = cfg_alias(k, ev);
		break;
	case YAML_SCALAR_EVENT:
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		index = cfg_node_new(k, ev);
		break;
	default:
		assert(!"an event outside a node");
		return 0;
	}
	if (!index)
		return 0;
	if (k->nopen)
		cfg_node_add(k, k->open[k->nopen - 1], index);
	if (ev->type == YAML_SEQUENCE_START_EVENT ||
	    ev->type == YAML_MAPPING_START_EVENT) {
		open = cfg_grow(k->open, &k->capopen, k->nopen, sizeof(*open));
		k->open = open;
		k->open[k->nopen++] = index;
	}
	return index;
}

/*
 * Composes the node that begins with event ev and everything inside it;
 * its index goes to *out (an alias gives its anchor's node).  Takes over
 * ev.  Returns -1 on a YAML error, which k->p describes.
 */
static int cfg_compose(struct cfg_composer *k, yaml_event_t *ev, int *out)
{
	int index;

	assert(!k->nopen);
	for (;;) {
		index = cfg_compose_event(k, ev);
		yaml_event_delete(ev);
		if (index && !k->nopen) {
			*out = index;
			return 0;
		}
		if (!index || cfg_next(k, ev) < 0) {
			k->nopen = 0;
			return -1;
		}
	}
}

/* ---- the first pass ---- */

static bool cfg_is_anchored(const yaml_event_t *ev)
{
	return (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.anchor) ||
	       (ev->type == YAML_SEQUENCE_START_EVENT &&
		ev->data.sequence_start.anchor) ||
	       (ev->type == YAML_MAPPING_START_EVENT &&
		ev->data.mapping_start.anchor);
}

/*
 * The services list whose start is ev: a node without items, and its
 * items checked as yaml_parser_load would (aliases defined, anchors not
 * repeated) without building them, but for the nodes that carry an
 * anchor: a later alias may need them.
 */
static int cfg_list_skip(struct cfg_composer *k, yaml_event_t *ev,
			 struct cfg_yaml *y)
{
	size_t depth = 0;
	int index;

	y->list = cfg_node_new(k, ev);
	yaml_event_delete(ev);
	if (!y->list)
		return -1;
	y->list_events = k->events;
	y->list_anchors = k->anchors->n;
	for (;;) {
		if (cfg_next(k, ev) < 0)
			return -1;
		if (!depth && ev->type == YAML_SEQUENCE_END_EVENT)
			break;
		if (!depth)
			y->list_len++;
		if (cfg_is_anchored(ev)) {
			if (cfg_compose(k, ev, &index) < 0)
				return -1;
			continue;
		}
		if (ev->type == YAML_ALIAS_EVENT && !cfg_alias(k, ev)) {
			yaml_event_delete(ev);
			return -1;
		}
		if (ev->type == YAML_SEQUENCE_START_EVENT ||
		    ev->type == YAML_MAPPING_START_EVENT)
			depth++;
		else if (ev->type == YAML_SEQUENCE_END_EVENT ||
			 ev->type == YAML_MAPPING_END_EVENT)
			depth--;
		yaml_event_delete(ev);
	}
	cfg_nodes_get(k->out, y->list)->end_mark = ev->end_mark;
	yaml_event_delete(ev);
	return 0;
}

static bool cfg_is_key(const struct cfg_nodes *s, int index, const char *key)
{
	const yaml_node_t *n = cfg_nodes_get(s, index);

	return n && n->type == YAML_SCALAR_NODE &&
	       !strcmp((const char *)n->data.scalar.value, key);
}

/*
 * The root node, which begins with ev.  When it is a mapping, the value
 * of its first "services" key (the one cfg_get finds) is left to
 * cfg_list_skip if it is a list nothing else can refer to.
 */
static int cfg_compose_root(struct cfg_composer *k, yaml_event_t *ev,
			    struct cfg_yaml *y)
{
	bool seen = false;
	int root, key, value;

	if (ev->type != YAML_MAPPING_START_EVENT)
		return cfg_compose(k, ev, &root);
	root = cfg_node_new(k, ev);
	yaml_event_delete(ev);
	if (!root)
		return -1;
	for (;;) {
		if (cfg_next(k, ev) < 0)
			return -1;
		if (ev->type == YAML_MAPPING_END_EVENT)
			break;
		if (cfg_compose(k, ev, &key) < 0)
			return -1;
		cfg_node_add(k, root, key);
		if (cfg_next(k, ev) < 0)
			return -1;
		if (!seen && cfg_is_key(k->out, key, "services")) {
			seen = true;
			if (ev->type == YAML_SEQUENCE_START_EVENT &&
			    !cfg_is_anchored(ev)) {
				if (cfg_list_skip(k, ev, y) < 0)
					return -1;
				cfg_node_add(k, root, y->list);
				continue;
			}
		}
		if (cfg_compose(k, ev, &value) < 0)
			return -1;
		cfg_node_add(k, root, value);
	}
	cfg_nodes_get(k->out, root)->end_mark = ev->end_mark;
	yaml_event_delete(ev);
	return 0;
}

static void cfg_composer_init(struct cfg_composer *k, struct cfg_yaml *y,
			     struct cfg_nodes *out, struct cfg_anchors *anchors)
{
	memset(k, 0, sizeof(*k));
	if (!yaml_parser_initialize(&k->p))
		xalloc_die(sizeof(k->p));
	yaml_parser_set_input_string(&k->p, (const unsigned char *)y->text,
				     y->len);
	k->out = out;
	k->anchors = anchors;
}

static void cfg_composer_done(struct cfg_composer *k)
{
	yaml_parser_delete(&k->p);
	free(k->open);
}

static void cfg_yaml_error(struct cfg_ctx *c, const yaml_parser_t *p)
{
	const char *problem = p->problem ? p->problem : "YAML error";

	if (p->context)
		cfg_error_at(c, p->problem_mark.line + 1,
			     p->problem_mark.column + 1, "%s %s (line %zu)",
			     problem, p->context, p->context_mark.line + 1);
	else
		cfg_error_at(c, p->problem_mark.line + 1,
			     p->problem_mark.column + 1, "%s", problem);
}

/*
 * After the document, the next event: the end of the stream, or a second
 * document, which would be silently ignored; say so instead (or report
 * what is wrong with it, as yaml_parser_load would).
 */
static int cfg_one_document(struct cfg_ctx *c, struct cfg_composer *k)
{
	struct cfg_nodes extra = { 0 };
	struct cfg_anchors anchors = { 0 };
	yaml_event_t ev;
	int root, rc = -1;

	if (cfg_next(k, &ev) < 0)
		return -1;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		return 0;
	}
	yaml_event_delete(&ev);         /* the second document's start */
	k->out = &extra;
	k->anchors = &anchors;
	if (cfg_next(k, &ev) == 0 && cfg_compose(k, &ev, &root) == 0 &&
	    cfg_next(k, &ev) == 0) {
		yaml_event_delete(&ev); /* the document's end */
		cfg_error(c, cfg_nodes_get(&extra, root),
			  "only one YAML document is allowed");
		rc = 0;
	}
	cfg_nodes_free(&extra);
	cfg_anchors_free(&anchors);
	return rc;
}

int cfg_yaml_load(struct cfg_ctx *c, const char *text, size_t len)
{
	struct cfg_yaml *y = &c->yaml;
	struct cfg_composer k;
	yaml_event_t ev;
	int rc = -1;

	y->text = text;
	y->len = len;
	cfg_composer_init(&k, y, &y->doc, &y->anchors);
	if (cfg_next(&k, &ev) < 0)      /* the stream's start */
		goto yaml_error;
	yaml_event_delete(&ev);
	if (cfg_next(&k, &ev) < 0)
		goto yaml_error;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		rc = 0;                 /* no document: no root */
		goto out;
	}
	yaml_event_delete(&ev);         /* the document's start */
	if (cfg_next(&k, &ev) < 0 || cfg_compose_root(&k, &ev, y) < 0 ||
	    cfg_next(&k, &ev) < 0)
		goto yaml_error;
	yaml_event_delete(&ev);         /* the document's end */
	/* The second pass starts from the anchors defined before the list. */
	cfg_anchors_cut(&y->anchors, y->list ? y->list_anchors : 0);
	if (cfg_one_document(c, &k) < 0)
		goto yaml_error;
	rc = c->nerr ? -1 : 0;
	goto out;
yaml_error:
	cfg_yaml_error(c, &k.p);
out:
	cfg_composer_done(&k);
	return rc;
}

void cfg_yaml_free(struct cfg_ctx *c)
{
	cfg_nodes_free(&c->yaml.doc);
	cfg_nodes_free(&c->yaml.items);
	cfg_anchors_free(&c->yaml.anchors);
}

yaml_node_t *cfg_yaml_node(const struct cfg_ctx *c, int index)
{
	const struct cfg_yaml *y = &c->yaml;

	if (index > (int)y->doc.n)
		return cfg_nodes_get(&y->items, index);
	return cfg_nodes_get(&y->doc, index);
}

size_t cfg_seq_len(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top -
			n->data.sequence.items.start);
}

yaml_node_t *cfg_seq_item(struct cfg_ctx *c, const yaml_node_t *n,
			  size_t i)
{
	return cfg_yaml_node(c, n->data.sequence.items.start[i]);
}

yaml_node_t *cfg_yaml_root(const struct cfg_ctx *c)
{
	return cfg_nodes_get(&c->yaml.doc, 1);
}

/* ---- the second pass ---- */

size_t cfg_items_open(struct cfg_ctx *c, const yaml_node_t *n,
		      struct cfg_items *it)
{
	struct cfg_yaml *y = &c->yaml;
	yaml_event_t ev;

	memset(it, 0, sizeof(*it));
	if (!y->list || n != cfg_yaml_node(c, y->list)) {
		it->list = n;
		return it->len = cfg_seq_len(n);
	}
	if (!y->list_len)
		return 0;
	y->items.base = (int)y->doc.n;
	it->k = xmalloc(sizeof(*it->k));
	cfg_composer_init(it->k, y, &y->items, &y->anchors);
	while (it->k->events < y->list_events) {
		if (cfg_next(it->k, &ev) < 0) {
			cfg_yaml_error(c, &it->k->p);
			cfg_items_close(c, it);
			return 0;
		}
		yaml_event_delete(&ev);
	}
	return it->len = y->list_len;
}

yaml_node_t *cfg_items_next(struct cfg_ctx *c, struct cfg_items *it)
{
	struct cfg_yaml *y = &c->yaml;
	yaml_event_t ev;
	int index;

	if (it->i >= it->len)
		return NULL;
	if (!it->k)
		return cfg_seq_item(c, it->list, it->i++);
	/* The item before is done with, unless it defined an anchor. */
	if (it->i && y->anchors.n == it->anchors)
		cfg_nodes_cut(&y->items, it->mark);
	it->mark = y->items.n;
	it->anchors = y->anchors.n;
	if (cfg_next(it->k, &ev) < 0 || cfg_compose(it->k, &ev, &index) < 0) {
		cfg_yaml_error(c, &it->k->p);
		it->len = 0;
		return NULL;
	}
	it->i++;
	return cfg_yaml_node(c, index);
}

void cfg_items_close(struct cfg_ctx *c, struct cfg_items *it)
{
	if (!it->k)
		return;
	if (c->yaml.anchors.n == it->anchors)
		cfg_nodes_cut(&c->yaml.items, it->mark);
	cfg_composer_done(it->k);
	free(it->k);
	it->k = NULL;
}
