/*
 * parse.h -- values written as text: numbers, durations, booleans and
 * names from a list, as the config file and the Kubernetes annotations
 * both spell them.
 *
 * The parse_* readers that take err return 0, or -1 with a message in err
 * that says what is wrong with the value ("0 is out of range (1-65535)")
 * but not where it is: the caller knows the place (a file:line:column
 * and a key, or an object and an annotation) and puts it in front.
 */
#ifndef GSLBD_PARSE_H
#define GSLBD_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for a message about a value, the value included. */
#define PARSE_ERRLEN 600

/* Plain decimal digits only: no sign, no spaces.  Returns 0 or -1. */
int parse_u64(const char *s, uint64_t *v);

/* A duration ("500ms", "2s", "1m30s", "1h", "1d", "1w"; a bare number
 * is seconds) in milliseconds.  Returns 0 or -1. */
int parse_duration_ms(const char *s, uint64_t *ms);

/* Does s hold a control character (or a space, unless space_ok)? */
bool parse_has_ctl(const char *s, bool space_ok);

/*
 * s: the text, or NULL when the value there is of another kind (a quoted
 * or null YAML scalar where a number or boolean belongs); the message
 * then says what was expected.
 */
int parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *v,
	       char *err, size_t errlen);
int parse_ms(const char *s, uint64_t lo, uint64_t hi, uint64_t *ms,
	     char *err, size_t errlen);
int parse_bool(const char *s, bool *v, char *err, size_t errlen);

/* One of names (NULL-terminated); *i is its index.  what names the kind
 * of value in the message: "unknown <what> 'x' (a, b, c)". */
int parse_enum(const char *s, const char *const *names, const char *what,
	       int *i, char *err, size_t errlen);

#endif
