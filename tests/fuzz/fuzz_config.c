/*
 * fuzz_config.c -- libFuzzer target for the config parser: any bytes as
 * a gslbd.yaml.  A config is either loaded whole or rejected with errors
 * at a line and column; a crash, a sanitizer report, a leak, or a
 * rejection with no error line is a failure.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "config/cfg.h"
#include "lib/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count(void *arg, const char *line)
{
	(*(unsigned *)arg)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xmalloc(size + 1);
	unsigned errs = 0;

	memcpy(text, data, size);
	text[size] = '\0';
	/* A relative zone-file path resolves under a directory that does
	 * not exist, so the fuzzer never reads the machine's files. */
	struct model *m = cfg_load_string("/nonexistent/fuzz.yaml", text,
					  count, &errs);
	if (!m && !errs)
		abort();
	model_free(m);
	free(text);
	return 0;
}
