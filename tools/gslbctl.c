/*
 * gslbctl.c -- command-line client of gslbd's control API: status table,
 * drain / undrain / force-up / force-down, reload, metrics.
 *
 * A short-lived tool, so plain blocking libcurl easy calls are fine here
 * (the daemon never blocks; this does not have to care).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "lib/xalloc.h"

#define GSLBCTL_DEFAULT_URL "http://127.0.0.1:8053"
#define GSLBCTL_MAX_BODY    (64u << 20) /* metrics of a very large setup */

struct gslbctl {
	char *url;          /* base, no trailing slash */
	char *token;        /* NULL: none */
	long timeout_ms;
};

struct gslbctl_buf {
	char *data;
	size_t len, cap;
	bool too_big;
};

struct gslbctl_resp {
	long status;
	struct gslbctl_buf body;
};

static void gslbctl_usage(FILE *f)
{
	fprintf(f,
"usage: gslbctl [-s URL] [-t TOKEN | --token-file FILE] [-T SECONDS] COMMAND\n"
"commands:\n"
"  status [--json]            services, endpoints, health and admin state\n"
"  drain [--service S] [--endpoint E] [REGION]\n"
"                             stop answering with matching endpoints\n"
"  undrain    [same]          remove the admin rule for that target\n"
"  force-up   [same]          answer with them whatever the probes say\n"
"  force-down [same]          never answer with them\n"
"  reload                     reload the configuration (as SIGHUP)\n"
"  ready                      exit 0 when gslbd is ready, 1 when not\n"
"  metrics                    print the Prometheus metrics\n"
"  zone                       print the zone as served now (master file)\n"
"  ds                         print the DS records for the parent zone\n"
"options:\n"
"  -s, --server URL           control API (env GSLBD_CONTROL, default %s)\n"
"  -t, --token TOKEN          bearer token (env GSLBD_TOKEN)\n"
"      --token-file FILE      read the token from FILE\n"
"  -T, --timeout SECONDS      per request (default 10)\n"
"  -h, --help                 this text\n"
"  -V, --version              print the version\n", GSLBCTL_DEFAULT_URL);
}

static void gslbctl_err(const char *fmt, ...)
{
	va_list ap;

	fputs("gslbctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- HTTP ---- */

static size_t gslbctl_write(char *p, size_t size, size_t n, void *arg)
{
	struct gslbctl_buf *b = arg;
	size_t len = size * n;

	if (b->len + len + 1 > GSLBCTL_MAX_BODY) {
		b->too_big = true;
		return 0;
	}
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + len + 1)
			cap *= 2;
		b->data = xrealloc(b->data, cap);
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

#define GSLBCTL_TRIES 3

/* GET (form NULL) or POST form to base + path.  Returns 0 with the
 * response, or -1 after saying why gslbd could not be reached. */
static int gslbctl_request(const struct gslbctl *ctl, const char *path,
			   const char *form, struct gslbctl_resp *r)
{
	char errbuf[CURL_ERROR_SIZE] = "", *url = NULL, *auth = NULL;
	struct curl_slist *hdrs = NULL;
	CURL *h = curl_easy_init();
	CURLcode rc;
	long oserr = 0;
	int ret = -1;

	memset(r, 0, sizeof(*r));
	if (!h)
		xalloc_die(0);
	url = xasprintf("%s%s", ctl->url, path);
	if (ctl->token) {
		auth = xasprintf("Authorization: Bearer %s", ctl->token);
		if (!(hdrs = curl_slist_append(hdrs, auth)))
			xalloc_die(strlen(auth));
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ctl->timeout_ms);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, gslbctl_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "gslbctl/" PACKAGE_VERSION);
	/* The control API is plain HTTP on a local address: a proxy from
	 * the environment would only get in the way. */
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	if (hdrs)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if (form) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
	}
	rc = curl_easy_perform(h);
	/* A reload cuts a streamed /status before its last chunk so
	 * that nobody takes half a document for whole: ask again (GET only;
	 * each try has the full timeout). */
	for (int tries = 1; rc == CURLE_PARTIAL_FILE && !form &&
	     tries < GSLBCTL_TRIES; tries++) {
		free(r->body.data);
		memset(&r->body, 0, sizeof(r->body));
		errbuf[0] = '\0';
		rc = curl_easy_perform(h);
	}
	if (rc != CURLE_OK) {
		if (r->body.too_big) {
			gslbctl_err("answer from %s is too large", ctl->url);
			goto out;
		}
		curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
		/* "Connection refused" says more than curl's wording. */
		gslbctl_err("cannot reach gslbd at %s: %s", ctl->url,
			    oserr ? strerror((int)oserr) :
			    errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	ret = 0;
out:
	if (ret < 0) {
		free(r->body.data);
		r->body.data = NULL;
	}
	curl_slist_free_all(hdrs);
	free(auth);
	free(url);
	curl_easy_cleanup(h);
	return ret;
}

/* Non-2xx: print gslbd's {"error": ...} (or its text) and fail. */
static int gslbctl_check(const struct gslbctl *ctl,
			 const struct gslbctl_resp *r)
{
	json_t *j, *e;
	const char *msg = r->body.data ? r->body.data : "";

	if (r->status >= 200 && r->status < 300)
		return 0;
	j = json_loads(msg, 0, NULL);
	e = j ? json_object_get(j, "error") : NULL;
	if (json_is_string(e))
		msg = json_string_value(e);
	gslbctl_err("gslbd at %s answered %ld: %.*s%s", ctl->url, r->status,
		    (int)strcspn(msg, "\n"), msg,
		    r->status == 401 ? " (give -t TOKEN or set GSLBD_TOKEN)" :
		    "");
	json_decref(j);
	return -1;
}

static json_t *gslbctl_json(const struct gslbctl_resp *r)
{
	json_error_t je;
	json_t *j = json_loads(r->body.data ? r->body.data : "", 0, &je);

	if (!j)
		gslbctl_err("gslbd sent bad JSON: %s (line %d)", je.text,
			    je.line);
	return j;
}

/* ---- status ---- */

#define NCOLS 10

struct gslbctl_table {
	char *(*cell)[NCOLS];
	size_t n, cap;
	int width[NCOLS];
};

static void gslbctl_row(struct gslbctl_table *t, const char *const v[NCOLS])
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 32;
		t->cell = xreallocarray(t->cell, cap, sizeof(*t->cell));
		t->cap = cap;
	}
	for (int i = 0; i < NCOLS; i++) {
		const char *s = v[i] && *v[i] ? v[i] : "-";
		t->cell[t->n][i] = xstrdup(s);
		int w = (int)strlen(s);
		if (w > t->width[i])
			t->width[i] = w;
	}
	t->n++;
}

static void gslbctl_table_print(struct gslbctl_table *t)
{
	for (size_t r = 0; r < t->n; r++) {
		for (int i = 0; i < NCOLS; i++) {
			const char *s = t->cell[r][i];
			if (i == NCOLS - 1)
				printf("%s\n", s);
			else
				printf("%-*s  ", t->width[i], s);
		}
	}
}

static void gslbctl_table_free(struct gslbctl_table *t)
{
	for (size_t r = 0; r < t->n; r++)
		for (int i = 0; i < NCOLS; i++)
			free(t->cell[r][i]);
	free(t->cell);
}

static const char *gslbctl_jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* "3m12s ago" for a unix time, "-" for never. */
static const char *gslbctl_age(json_int_t t, time_t now, char *buf,
			       size_t len)
{
	long long d = (long long)now - (long long)t;

	if (t <= 0)
		return "-";
	if (d < 0)
		d = 0;
	if (d < 120)
		snprintf(buf, len, "%llds ago", d);
	else if (d < 7200)
		snprintf(buf, len, "%lldm%02llds ago", d / 60, d % 60);
	else if (d < 172800)
		snprintf(buf, len, "%lldh%02lldm ago", d / 3600,
			 d / 60 % 60);
	else
		snprintf(buf, len, "%lldd%02lldh ago", d / 86400,
			 d / 3600 % 24);
	return buf;
}

static void gslbctl_status_rows(struct gslbctl_table *t, const json_t *svcs)
{
	time_t now = time(NULL);
	size_t i, j, k;
	json_t *s, *e, *a;

	json_array_foreach(svcs, i, s) {
		json_array_foreach(json_object_get(s, "endpoints"), j, e) {
			const char *admin = gslbctl_jstr(e, "admin");
			bool enabled = json_is_true(json_object_get(e,
							"enabled"));
			if (!enabled)
				admin = "disabled";
			else if (!strcmp(admin, "none"))
				admin = "";
			json_array_foreach(json_object_get(e, "addresses"),
					   k, a) {
				char since[32];
				const char *row[NCOLS] = {
					gslbctl_jstr(s, "name"),
					gslbctl_jstr(e, "region"),
					gslbctl_jstr(e, "name"),
					gslbctl_jstr(a, "address"),
					gslbctl_jstr(a, "health"),
					admin,
					json_is_true(json_object_get(a,
						"eligible")) ? "yes" : "no",
					gslbctl_jstr(s, "source"),
					gslbctl_age(json_integer_value(
						json_object_get(a, "since")),
						now, since, sizeof(since)),
					gslbctl_jstr(a, "reason"),
				};
				gslbctl_row(t, row);
			}
		}
	}
}

static void gslbctl_status_rules(const json_t *rules)
{
	size_t i;
	json_t *r;

	if (!json_array_size(rules))
		return;
	printf("\nadmin rules (in order; the last match wins):\n");
	json_array_foreach(rules, i, r) {
		const char *k[] = { "region", "service", "endpoint" };
		printf("  %-10s", gslbctl_jstr(r, "admin"));
		for (int x = 0; x < 3; x++) {
			const char *v = json_string_value(json_object_get(r,
							   k[x]));
			if (v)
				printf(" %s=%s", k[x], v);
		}
		printf("\n");
	}
}

static void gslbctl_status_kube(const json_t *k)
{
	if (!json_is_object(k))
		return;
	printf("\nkubernetes: %s, %s%s, %lld services, %lld relists, "
	       "%lld errors",
	       json_is_true(json_object_get(k, "connected")) ? "connected" :
	       "not connected",
	       json_is_true(json_object_get(k, "synced")) ? "synced" :
	       "not synced",
	       json_is_true(json_object_get(k, "from-cache")) ?
	       " (from cache)" : "",
	       (long long)json_integer_value(json_object_get(k, "services")),
	       (long long)json_integer_value(json_object_get(k, "relists")),
	       (long long)json_integer_value(json_object_get(k, "errors")));
	if (*gslbctl_jstr(k, "last-error"))
		printf(", last error: %s", gslbctl_jstr(k, "last-error"));
	printf("\n");
}

static int gslbctl_status(const struct gslbctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const head[NCOLS] = {
		"SERVICE", "REGION", "ENDPOINT", "ADDRESS", "HEALTH", "ADMIN",
		"ANSWERED", "SOURCE", "SINCE", "REASON",
	};
	struct gslbctl_table t = { 0 };
	struct gslbctl_resp r;
	bool as_json = false;
	int c, rc = 1;
	json_t *j;

	optind = 0;
	while ((c = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (c != 'j') {
			gslbctl_usage(stderr);
			return 2;
		}
		as_json = true;
	}
	if (optind != argc) {
		gslbctl_usage(stderr);
		return 2;
	}
	if (gslbctl_request(ctl, "/status", NULL, &r) < 0)
		return 1;
	if (gslbctl_check(ctl, &r) < 0)
		goto out;
	if (as_json) {
		fputs(r.body.data ? r.body.data : "", stdout);
		rc = 0;
		goto out;
	}
	if (!(j = gslbctl_json(&r)))
		goto out;
	printf("zone %s  generation %lld  %s\n\n", gslbctl_jstr(j, "zone"),
	       (long long)json_integer_value(json_object_get(j,
							      "generation")),
	       json_is_true(json_object_get(j, "ready")) ? "ready" :
	       "NOT READY (first probe round not done)");
	gslbctl_row(&t, head);
	gslbctl_status_rows(&t, json_object_get(j, "services"));
	gslbctl_table_print(&t);
	gslbctl_status_rules(json_object_get(j, "admin-rules"));
	gslbctl_status_kube(json_object_get(j, "kubernetes"));
	rc = 0;
	gslbctl_table_free(&t);
	json_decref(j);
out:
	free(r.body.data);
	return rc;
}

/* ---- admin actions ---- */

/* "k=v" appended to a form, URL-encoded. */
static void gslbctl_form_add(CURL *h, char **form, const char *k,
			     const char *v)
{
	char *e, *n;

	if (!v)
		return;
	if (!(e = curl_easy_escape(h, v, 0)))
		xalloc_die(strlen(v));
	n = xasprintf("%s%s%s=%s", *form ? *form : "", *form ? "&" : "", k, e);
	curl_free(e);
	free(*form);
	*form = n;
}

static int gslbctl_admin(const struct gslbctl *ctl, const char *cmd,
			 int argc, char **argv)
{
	static const struct option opts[] = {
		{ "service", required_argument, NULL, 's' },
		{ "endpoint", required_argument, NULL, 'e' },
		{ "region", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *service = NULL, *endpoint = NULL, *region = NULL;
	char *form = NULL, path[64];
	struct gslbctl_resp r;
	CURL *h;
	int c, rc = 1;
	json_t *j;

	optind = 0;
	while ((c = getopt_long(argc, argv, "s:e:r:", opts, NULL)) != -1) {
		switch (c) {
		case 's': service = optarg; break;
		case 'e': endpoint = optarg; break;
		case 'r': region = optarg; break;
		default: gslbctl_usage(stderr); return 2;
		}
	}
	if (optind < argc && !region)
		region = argv[optind++];
	if (optind != argc) {
		gslbctl_err("%s: one REGION at most", cmd);
		return 2;
	}
	if (!region && !service && !endpoint) {
		gslbctl_err("%s: give a REGION, --service or --endpoint", cmd);
		return 2;
	}
	if (!(h = curl_easy_init()))
		xalloc_die(0);
	gslbctl_form_add(h, &form, "region", region);
	gslbctl_form_add(h, &form, "service", service);
	gslbctl_form_add(h, &form, "endpoint", endpoint);
	curl_easy_cleanup(h);
	snprintf(path, sizeof(path), "/admin/%s", cmd);
	if (gslbctl_request(ctl, path, form, &r) < 0) {
		free(form);
		return 1;
	}
	free(form);
	if (gslbctl_check(ctl, &r) < 0 || !(j = gslbctl_json(&r)))
		goto out;
	json_int_t n = json_integer_value(json_object_get(j, "matched"));
	printf("%s: %lld endpoint%s matched%s%s%s%s%s%s\n", cmd, (long long)n,
	       n == 1 ? "" : "s",
	       region ? " region=" : "", region ? region : "",
	       service ? " service=" : "", service ? service : "",
	       endpoint ? " endpoint=" : "", endpoint ? endpoint : "");
	if (n == 0 && strcmp(cmd, "undrain"))
		fprintf(stderr, "gslbctl: note: nothing matches now; the rule "
			"applies to matching endpoints that appear later "
			"(undo with: gslbctl undrain ...)\n");
	json_decref(j);
	rc = 0;
out:
	free(r.body.data);
	return rc;
}

/* ---- the rest ---- */

static int gslbctl_simple(const struct gslbctl *ctl, const char *cmd,
			  int argc, char **argv)
{
	struct gslbctl_resp r;
	int rc = 1;

	if (argc != 1) {
		gslbctl_usage(stderr);
		return 2;
	}
	if (!strcmp(cmd, "reload")) {
		if (gslbctl_request(ctl, "/reload", "", &r) < 0)
			return 1;
		if (gslbctl_check(ctl, &r) == 0) {
			printf("reload: ok\n");
			rc = 0;
		}
	} else if (!strcmp(cmd, "metrics") || !strcmp(cmd, "zone") ||
		   !strcmp(cmd, "ds")) {
		char path[16];
		snprintf(path, sizeof(path), "/%s", cmd);
		if (gslbctl_request(ctl, path, NULL, &r) < 0)
			return 1;
		if (gslbctl_check(ctl, &r) == 0) {
			fwrite(r.body.data ? r.body.data : "", 1, r.body.len,
			       stdout);
			rc = 0;
		}
	} else { /* ready */
		if (gslbctl_request(ctl, "/readyz", NULL, &r) < 0)
			return 1;
		if (r.status == 503) {
			printf("not ready\n");
		} else if (gslbctl_check(ctl, &r) == 0) {
			printf("ready\n");
			rc = 0;
		}
	}
	free(r.body.data);
	return rc;
}

static char *gslbctl_read_token(const char *path)
{
	char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		gslbctl_err("cannot read token file %s: %s", path,
			    strerror(errno));
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (!*buf) {
		gslbctl_err("token file %s is empty", path);
		return NULL;
	}
	return xstrdup(buf);
}

/* "host:port" means http://host:port; a trailing slash goes. */
static char *gslbctl_base_url(const char *s)
{
	char *u;
	size_t len;

	u = xasprintf("%s%s", strstr(s, "://") ? "" : "http://", s);
	len = strlen(u);
	while (len && u[len - 1] == '/')
		u[--len] = '\0';
	return u;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "token", required_argument, NULL, 't' },
		{ "token-file", required_argument, NULL, 'F' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct gslbctl ctl = { .timeout_ms = 10000 };
	const char *server = getenv("GSLBD_CONTROL");
	const char *token = getenv("GSLBD_TOKEN"), *token_file = NULL;
	char *file_token = NULL, *end;
	int c, rc;

	/* '+': options after the command belong to the command. */
	while ((c = getopt_long(argc, argv, "+s:t:T:hV", opts, NULL)) != -1) {
		switch (c) {
		case 's': server = optarg; break;
		case 't': token = optarg; break;
		case 'F': token_file = optarg; break;
		case 'T':
			errno = 0;
			double sec = strtod(optarg, &end);
			if (errno || *end || !(sec > 0) || sec > 86400) {
				gslbctl_err("bad timeout '%s'", optarg);
				return 2;
			}
			ctl.timeout_ms = (long)(sec * 1000);
			if (!ctl.timeout_ms)
				ctl.timeout_ms = 1;
			break;
		case 'h': gslbctl_usage(stdout); return 0;
		case 'V': printf("gslbctl %s\n", PACKAGE_VERSION); return 0;
		default: gslbctl_usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		gslbctl_usage(stderr);
		return 2;
	}
	if (token_file && !(file_token = gslbctl_read_token(token_file)))
		return 1;
	if (file_token)
		token = file_token;
	ctl.token = token && *token ? (char *)token : NULL;
	ctl.url = gslbctl_base_url(server && *server ? server :
				   GSLBCTL_DEFAULT_URL);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		gslbctl_err("cannot initialise libcurl");
		free(ctl.url);
		free(file_token);
		return 1;
	}

	const char *cmd = argv[optind];
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	if (!strcmp(cmd, "status"))
		rc = gslbctl_status(&ctl, sub_argc, sub_argv);
	else if (!strcmp(cmd, "drain") || !strcmp(cmd, "undrain") ||
		 !strcmp(cmd, "force-up") || !strcmp(cmd, "force-down"))
		rc = gslbctl_admin(&ctl, cmd, sub_argc, sub_argv);
	else if (!strcmp(cmd, "reload") || !strcmp(cmd, "metrics") ||
		 !strcmp(cmd, "ready") || !strcmp(cmd, "zone") ||
		 !strcmp(cmd, "ds"))
		rc = gslbctl_simple(&ctl, cmd, sub_argc, sub_argv);
	else {
		gslbctl_err("unknown command '%s'", cmd);
		gslbctl_usage(stderr);
		rc = 2;
	}
	curl_global_cleanup();
	free(ctl.url);
	free(file_token);
	return rc;
}
