/*
 * test_kubecfg.c -- credentials from kubeconfig files (kube/kubecfg.c,
 * kube/kubecfg.h): which context is used (current-context or the one
 * given), how the user authenticates (token, tokenFile, client
 * certificate and key as files or inline data), how the server is
 * trusted (certificate-authority file or -data, insecure-skip-tls-verify,
 * refused together), and a clear error for every missing or unusable
 * piece.  Each case is one context of one kubeconfig in a temporary
 * directory; what it resolves to is compared as one line of text.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "kube/kubecfg.h"
#include "lib/log.h"
#include "tests/unit/tap.h"
#include "tests/unit/testutil.h"

static char dir[] = "/tmp/gslbd-test-kubecfg-XXXXXX";

/* Base64 of "CA-PEM", "CERT" and "KEY". */
#define CA_DATA "Q0EtUEVN"
#define CERT_DATA "Q0VSVA=="
#define KEY_DATA "S0VZ"

static const char kubeconfig[] =
	"apiVersion: v1\n"
	"kind: Config\n"
	"current-context: tok\n"
	"clusters:\n"
	"- name: cafile\n"
	"  cluster: {server: \"https://k8s.example.org:6443//\", "
	"certificate-authority: certs/ca.pem}\n"
	"- name: cadata\n"
	"  cluster: {server: \"https://10.0.0.1\", "
	"certificate-authority-data: \"" CA_DATA "\"}\n"
	"- name: cadata-and-file\n"
	"  cluster: {server: \"https://10.0.0.1\", "
	"certificate-authority-data: \"" CA_DATA "\", "
	"certificate-authority: /etc/ca.pem}\n"
	"- name: system\n"
	"  cluster: {server: \"https://10.0.0.2\"}\n"
	"- name: insecure\n"
	"  cluster: {server: \"https://10.0.0.3\", "
	"insecure-skip-tls-verify: true}\n"
	"- name: insecure-cafile\n"
	"  cluster: {server: \"https://10.0.0.3\", "
	"insecure-skip-tls-verify: true, certificate-authority: /etc/ca.pem}\n"
	"- name: insecure-cadata\n"
	"  cluster: {server: \"https://10.0.0.3\", "
	"insecure-skip-tls-verify: true, "
	"certificate-authority-data: \"" CA_DATA "\"}\n"
	"- name: secure-cafile\n"
	"  cluster: {server: \"https://10.0.0.3\", "
	"insecure-skip-tls-verify: false, certificate-authority: /etc/ca.pem}\n"
	"- name: plain-http\n"
	"  cluster: {server: \"http://127.0.0.1:8080\"}\n"
	"- name: ftp\n"
	"  cluster: {server: \"ftp://10.0.0.4\"}\n"
	"- name: noserver\n"
	"  cluster: {certificate-authority: /etc/ca.pem}\n"
	"- name: badca\n"
	"  cluster: {server: \"https://10.0.0.5\", "
	"certificate-authority-data: \"not base64!\"}\n"
	"users:\n"
	"- name: token\n"
	"  user: {token: abc}\n"
	"- name: tokenfile\n"
	"  user: {tokenFile: token}\n"
	"- name: token-and-file\n"
	"  user: {token: abc, tokenFile: token}\n"
	"- name: certfiles\n"
	"  user: {client-certificate: certs/me.crt, client-key: /abs/me.key}\n"
	"- name: certdata\n"
	"  user: {client-certificate-data: \"" CERT_DATA "\", "
	"client-key-data: \"" KEY_DATA "\"}\n"
	"- name: badkey\n"
	"  user: {client-certificate-data: \"" CERT_DATA "\", "
	"client-key-data: \"S0V\"}\n"
	"- name: notokenfile\n"
	"  user: {tokenFile: missing-token}\n"
	"- name: emptytoken\n"
	"  user: {tokenFile: empty-token}\n"
	"- name: twolines\n"
	"  user: {tokenFile: two-line-token}\n"
	"- name: exec\n"
	"  user: {exec: {command: aws}}\n"
	"- name: authprovider\n"
	"  user: {auth-provider: {name: gcp}}\n"
	"contexts:\n"
	"- {name: tok, context: {cluster: cafile, user: token}}\n"
	"- {name: tokfile, context: {cluster: cadata, user: tokenfile}}\n"
	"- {name: both-tokens, context: {cluster: system, user: token-and-file}}\n"
	"- {name: certs, context: {cluster: system, user: certfiles}}\n"
	"- {name: certdata, context: {cluster: cadata, user: certdata}}\n"
	"- {name: data-over-file, context: {cluster: cadata-and-file}}\n"
	"- {name: anonymous, context: {cluster: system}}\n"
	"- {name: insecure, context: {cluster: insecure, user: token}}\n"
	"- {name: insecure-cafile, context: {cluster: insecure-cafile}}\n"
	"- {name: insecure-cadata, context: {cluster: insecure-cadata}}\n"
	"- {name: secure-cafile, context: {cluster: secure-cafile}}\n"
	"- {name: plain-http, context: {cluster: plain-http, user: token}}\n"
	"- {name: ftp, context: {cluster: ftp}}\n"
	"- {name: noserver, context: {cluster: noserver}}\n"
	"- {name: badca, context: {cluster: badca}}\n"
	"- {name: badkey, context: {cluster: system, user: badkey}}\n"
	"- {name: nocluster, context: {cluster: gone, user: token}}\n"
	"- {name: nocluster-key, context: {user: token}}\n"
	"- {name: nouser, context: {cluster: system, user: gone}}\n"
	"- {name: notokenfile, context: {cluster: system, user: notokenfile}}\n"
	"- {name: emptytoken, context: {cluster: system, user: emptytoken}}\n"
	"- {name: twolines, context: {cluster: system, user: twolines}}\n"
	"- {name: exec, context: {cluster: system, user: exec}}\n"
	"- {name: authprovider, context: {cluster: system, user: authprovider}}\n";

/* ---- what credentials resolve to, as one line ---- */

/* The directory is random: show it as $D. */
static char *undir(char *buf)
{
	size_t n = strlen(dir);

	for (char *p; (p = strstr(buf, dir));) {
		p[0] = '$';
		p[1] = 'D';
		memmove(p + 2, p + n, strlen(p + n) + 1);
	}
	return buf;
}

static size_t blob_or_file(char *buf, size_t len, const char *what,
			   const char *file, const struct kube_blob *b)
{
	if (b->data)
		return (size_t)snprintf(buf, len, " %s=data:%.*s", what,
					(int)b->len, (const char *)b->data);
	if (file)
		return (size_t)snprintf(buf, len, " %s=%s", what, file);
	return 0;
}

/* "server=URL [ca=FILE|ca=data:TEXT] [cert=..] [key=..] [token=T]
 * [token-file=F] [insecure]", with the temporary directory as $D. */
static const char *creds_str(const struct kube_creds *c, char *buf,
			     size_t len)
{
	size_t o = (size_t)snprintf(buf, len, "server=%s",
				    c->server ? c->server : "-");

	o += blob_or_file(buf + o, len - o, "ca", c->ca_file, &c->ca);
	o += blob_or_file(buf + o, len - o, "cert", c->cert_file, &c->cert);
	o += blob_or_file(buf + o, len - o, "key", c->key_file, &c->key);
	if (c->token)
		o += (size_t)snprintf(buf + o, len - o, " token=%s", c->token);
	if (c->token_file)
		o += (size_t)snprintf(buf + o, len - o, " token-file=%s",
				      c->token_file);
	if (c->insecure)
		snprintf(buf + o, len - o, " insecure");
	return undir(buf);
}

static bool creds_empty(const struct kube_creds *c)
{
	static const struct kube_creds zero;

	return !memcmp(c, &zero, sizeof(zero));
}

static void write_in_dir(const char *name, const char *text)
{
	char path[sizeof(dir) + 64];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	tu_write_file(path, text);
}

/* ---- one kubeconfig, one case per context ---- */

static const struct {
	const char *context; /* NULL: current-context */
	const char *want;    /* creds_str(), or "error: PART OF IT" */
	const char *what;
} cases[] = {
	{ NULL, "server=https://k8s.example.org:6443 ca=$D/certs/ca.pem "
	  "token=abc", "no context given: current-context (tok) is used" },
	{ "tok", "server=https://k8s.example.org:6443 ca=$D/certs/ca.pem "
	  "token=abc", "a context given by name: the same as current" },
	{ "tokfile", "server=https://10.0.0.1 ca=data:CA-PEM token=t0k3n "
	  "token-file=$D/token",
	  "a context given by name wins over current-context; tokenFile "
	  "read (relative to the kubeconfig, trailing newline dropped); CA "
	  "data decoded" },
	{ "both-tokens", "server=https://10.0.0.2 token=t0k3n "
	  "token-file=$D/token",
	  "token and tokenFile both given: the file wins, as in client-go" },
	{ "certs", "server=https://10.0.0.2 cert=$D/certs/me.crt "
	  "key=/abs/me.key",
	  "client certificate and key files, relative and absolute" },
	{ "certdata", "server=https://10.0.0.1 ca=data:CA-PEM "
	  "cert=data:CERT key=data:KEY",
	  "client certificate and key as base64 data" },
	{ "data-over-file", "server=https://10.0.0.1 ca=data:CA-PEM",
	  "certificate-authority-data wins over certificate-authority" },
	{ "anonymous", "server=https://10.0.0.2",
	  "a context without a user: no credentials, the system CA store" },
	{ "insecure", "server=https://10.0.0.3 token=abc insecure",
	  "insecure-skip-tls-verify alone is honoured" },
	{ "insecure-cafile", "error: insecure-skip-tls-verify and a "
	  "certificate-authority both given",
	  "insecure-skip-tls-verify with a CA file: refused" },
	{ "insecure-cadata", "error: both given",
	  "insecure-skip-tls-verify with CA data: refused" },
	{ "secure-cafile", "server=https://10.0.0.3 ca=/etc/ca.pem",
	  "insecure-skip-tls-verify: false with a CA: verified" },
	{ "plain-http", "server=http://127.0.0.1:8080 token=abc",
	  "a plain http server is accepted (with a warning)" },
	{ "ftp", "error: server 'ftp://10.0.0.4' is not an http(s) URL",
	  "a server that is not http(s): refused" },
	{ "noserver", "error: the cluster has no server",
	  "a cluster without a server: a clear error" },
	{ "badca", "error: certificate-authority-data: not valid base64",
	  "CA data that is not base64: a clear error" },
	{ "badkey", "error: client-key-data: not valid base64",
	  "key data of a bad length: a clear error naming the field" },
	{ "nocluster", "error: context 'nocluster': no cluster named 'gone'",
	  "a context naming a missing cluster" },
	{ "nocluster-key", "error: context 'nocluster-key': no cluster named ''",
	  "a context naming no cluster at all" },
	{ "nouser", "error: context 'nouser': no user named 'gone'",
	  "a context naming a missing user" },
	{ "notokenfile", "error: cannot read token file $D/missing-token",
	  "a tokenFile that does not exist: a clear error" },
	{ "emptytoken", "error: token file $D/empty-token is empty",
	  "an empty tokenFile: refused" },
	{ "twolines", "error: is empty or not one line",
	  "a tokenFile of two lines: refused" },
	{ "exec", "error: exec and auth-provider credential plugins are not "
	  "supported", "an exec plugin: refused, saying what to use" },
	{ "authprovider", "error: auth-provider credential plugins",
	  "an auth-provider plugin: refused" },
	{ "nope", "error: config: no context named 'nope'",
	  "an unknown context: an error naming it and the file" },
};

static void test_contexts(const char *path)
{
	char got[1024], err[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kube_creds c;
		const char *want = cases[i].want;
		int rc;

		err[0] = '\0';
		rc = kube_creds_kubeconfig(&c, path, cases[i].context, err,
					   sizeof(err));
		if (!strncmp(want, "error: ", 7)) {
			snprintf(got, sizeof(got), "%s", err);
			if (!ok(rc < 0 && strstr(undir(got), want + 7) &&
				creds_empty(&c), cases[i].what))
				printf("#   rc %d: %s\n", rc, got);
		} else {
			if (!ok(rc == 0, cases[i].what))
				printf("#   %s\n", err);
			else
				is_str(creds_str(&c, got, sizeof(got)), want,
				       cases[i].what);
			kube_creds_clear(&c);
		}
	}
}

/* ---- whole files that are not usable ---- */

static const struct {
	const char *text; /* NULL: no such file */
	const char *err;
	const char *what;
} file_cases[] = {
	{ NULL, "cannot open", "a missing kubeconfig: cannot open it" },
	{ "clusters: [\n", "bad:", "bad YAML: an error with its place" },
	{ "- a\n- b\n", "not a kubeconfig (expected a mapping)",
	  "a list, not a mapping: refused" },
	{ "", "not a kubeconfig", "an empty file: refused" },
	{ "clusters: []\ncontexts: []\n", "no current-context (set "
	  "kubernetes.context)",
	  "no current-context and none given: says which key to set" },
	{ "current-context: x\ncontexts: {x: 1}\n", "no context named 'x'",
	  "contexts that are not a list: the context is not found" },
};

static void test_files(void)
{
	char path[sizeof(dir) + 16], err[512];

	snprintf(path, sizeof(path), "%s/bad", dir);
	for (size_t i = 0; i < sizeof(file_cases) / sizeof(file_cases[0]);
	     i++) {
		struct kube_creds c;
		int rc;

		unlink(path);
		if (file_cases[i].text)
			write_in_dir("bad", file_cases[i].text);
		err[0] = '\0';
		rc = kube_creds_kubeconfig(&c, path, NULL, err, sizeof(err));
		if (!ok(rc < 0 && strstr(err, file_cases[i].err) &&
			strstr(err, path) && creds_empty(&c),
			file_cases[i].what))
			printf("#   rc %d: %s\n", rc, err);
	}
	unlink(path);
	/* A FIFO without a writer: opening it for reading would block the
	 * control thread for good; it is refused before any read. */
	if (ok(mkfifo(path, 0600) == 0, "a FIFO made as a kubeconfig")) {
		struct kube_creds c;
		int rc = kube_creds_kubeconfig(&c, path, NULL, err,
					       sizeof(err));

		if (!ok(rc < 0 && strstr(err, "not a regular file") &&
			strstr(err, path), "a FIFO as kubeconfig: refused "
			"at once, not read"))
			printf("#   rc %d: %s\n", rc, err);
		unlink(path);
	}
}

/* ---- the credentials on a request ---- */

static void test_apply(const char *path)
{
	struct kube_creds c;
	struct curl_slist *h = NULL;
	CURL *e = curl_easy_init();
	char err[512];

	if (!ok(e && kube_creds_kubeconfig(&c, path, "tok", err,
					   sizeof(err)) == 0,
		"apply: credentials to apply"))
		goto out;
	ok(kube_creds_apply(&c, e, &h) == 0 && h && !h->next &&
	   !strcmp(h->data, "Authorization: Bearer abc"),
	   "apply: a token becomes one Authorization: Bearer header");
	kube_creds_clear(&c);
	curl_slist_free_all(h);
	h = NULL;
	if (kube_creds_kubeconfig(&c, path, "anonymous", err, sizeof(err)) == 0)
		ok(kube_creds_apply(&c, e, &h) == 0 && !h,
		   "apply: no token, no Authorization header");
	kube_creds_clear(&c);
	is_str(c.source, NULL, "kube_creds_clear leaves nothing behind");
	if (kube_creds_kubeconfig(&c, path, "tok", err, sizeof(err)) == 0) {
		char want[256];
		snprintf(want, sizeof(want), "kubeconfig %s context tok", path);
		is_str(c.source, want, "the source names the file and context");
	}
	kube_creds_clear(&c);
out:
	curl_slist_free_all(h);
	if (e)
		curl_easy_cleanup(e);
}

int main(void)
{
	char path[sizeof(dir) + 16];

	log_init(LOG_LVL_ERR, false);
	if (!ok(mkdtemp(dir), "a temporary directory"))
		return tap_done();
	write_in_dir("config", kubeconfig);
	write_in_dir("token", "t0k3n\n");
	write_in_dir("empty-token", "\n");
	write_in_dir("two-line-token", "one\ntwo\n");
	snprintf(path, sizeof(path), "%s/config", dir);

	test_contexts(path);
	test_files();
	test_apply(path);

	tu_rmtree(dir);
	return tap_done();
}
