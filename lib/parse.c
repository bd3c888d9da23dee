/* parse.c -- see parse.h. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "lib/parse.h"

/* Plain decimal digits only: strtoull would take signs and spaces. */
int parse_u64(const char *s, uint64_t *v)
{
	uint64_t x = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (__builtin_mul_overflow(x, 10, &x) ||
		    __builtin_add_overflow(x, (uint64_t)(*s - '0'), &x))
			return -1;
	}
	*v = x;
	return 0;
}

int parse_duration_ms(const char *s, uint64_t *ms)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
		{ "d", 86400000 }, { "w", 604800000 },
	};
	uint64_t total = 0;

	if (!s || !*s)
		return -1;
	if (parse_u64(s, &total) == 0)
		return __builtin_mul_overflow(total, 1000, ms) ? -1 : 0;
	/* One or more <number><unit> groups: "1m30s" reads as one expects. */
	while (*s) {
		uint64_t x = 0, part;
		size_t i, ulen = 0;

		if (*s < '0' || *s > '9')
			return -1;
		for (; *s >= '0' && *s <= '9'; s++)
			if (__builtin_mul_overflow(x, 10, &x) ||
			    __builtin_add_overflow(x, (uint64_t)(*s - '0'), &x))
				return -1;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			ulen = strlen(units[i].unit);
			if (!strncmp(s, units[i].unit, ulen) &&
			    (s[ulen] == '\0' || (s[ulen] >= '0' && s[ulen] <= '9')))
				break;
		}
		if (i == sizeof(units) / sizeof(units[0]))
			return -1;
		if (__builtin_mul_overflow(x, units[i].ms, &part) ||
		    __builtin_add_overflow(total, part, &total))
			return -1;
		s += ulen;
	}
	*ms = total;
	return 0;
}

bool parse_has_ctl(const char *s, bool space_ok)
{
	for (; *s; s++)
		if (iscntrl((unsigned char)*s) || (!space_ok && *s == ' '))
			return true;
	return false;
}

int parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *v,
	       char *err, size_t errlen)
{
	uint64_t x;
	/* "-1" is a number, just not one in range: say so. */
	bool neg = s && s[0] == '-' && parse_u64(s + 1, &x) == 0;

	if (!s || (!neg && parse_u64(s, &x))) {
		snprintf(err, errlen, "expected a number");
		return -1;
	}
	if (neg || x < lo || x > hi) {
		snprintf(err, errlen, "%s is out of range (%llu-%llu)", s,
			 (unsigned long long)lo, (unsigned long long)hi);
		return -1;
	}
	*v = x;
	return 0;
}

int parse_ms(const char *s, uint64_t lo, uint64_t hi, uint64_t *ms,
	     char *err, size_t errlen)
{
	uint64_t x;

	if (!s) {
		snprintf(err, errlen, "expected a string");
		return -1;
	}
	if (parse_duration_ms(s, &x) < 0) {
		snprintf(err, errlen, "bad duration '%s' (a number with a unit: "
			 "500ms, 2s, 1m, 1h, 1d, 1w; bare numbers are seconds)",
			 s);
		return -1;
	}
	if (x < lo || x > hi) {
		snprintf(err, errlen, "%s is out of range (%llums-%llums)", s,
			 (unsigned long long)lo, (unsigned long long)hi);
		return -1;
	}
	*ms = x;
	return 0;
}

int parse_bool(const char *s, bool *v, char *err, size_t errlen)
{
	static const char *const t[] = { "true", "True", "TRUE", "yes", "Yes",
					 "YES", "on", "On", "ON", NULL };
	static const char *const f[] = { "false", "False", "FALSE", "no", "No",
					 "NO", "off", "Off", "OFF", NULL };

	for (size_t i = 0; s && t[i]; i++) {
		if (!strcmp(s, t[i]) || !strcmp(s, f[i])) {
			*v = !strcmp(s, t[i]);
			return 0;
		}
	}
	snprintf(err, errlen, "expected a boolean (true or false)");
	return -1;
}

int parse_enum(const char *s, const char *const *names, const char *what,
	       int *i, char *err, size_t errlen)
{
	char list[128] = "";

	if (!s) {
		snprintf(err, errlen, "expected a string");
		return -1;
	}
	for (int k = 0; names[k]; k++) {
		if (!strcmp(s, names[k])) {
			*i = k;
			return 0;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s%s", k ? ", " : "", names[k]);
	}
	snprintf(err, errlen, "unknown %s '%s' (%s)", what, s, list);
	return -1;
}
