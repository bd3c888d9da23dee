/*
 * fuzz_tcp_frame.c -- libFuzzer target for DNS over TCP framing
 * (server/tcp_frame.c): the input is a stream of length-prefixed,
 * pipelined messages, fed to tcp_frame_drain in chunks whose sizes come
 * from the input itself (so any split point occurs), with an output
 * watermark that forces the blocked state.  Each message is "answered"
 * by echoing it, and one shorter than a DNS header gets no answer (ends
 * the stream), as the real answerer does for garbage.  The answers must
 * be exactly those a straightforward reading of the stream gives, in
 * order, and no byte past a bad message may be answered.
 *
 * Input: byte 0 = watermark selector, byte 1 = chunk-size seed, then the
 * stream.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "server/tcp_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t echo(void *arg, const uint8_t *msg, size_t len, uint8_t *out,
		   size_t outmax)
{
	if (len < 12 || len > outmax)
		return 0;
	memcpy(out, msg, len);
	return len;
}

/* The reference reading: the length of the prefix of the stream that is
 * answered, and where answering stops (bad: a short message). */
static size_t reference(const uint8_t *s, size_t n, int *bad)
{
	size_t off = 0;

	*bad = 0;
	while (n - off >= 2) {
		size_t len = (size_t)s[off] << 8 | s[off + 1];
		if (n - off - 2 < len)
			break;
		if (len < 12) {
			*bad = 1;
			break;
		}
		off += 2 + len;
	}
	return off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tcp_frame_buf buf;
	static const size_t highs[] = { 1, 14, 100, 4096, 256 * 1024 };

	if (size < 2)
		return 0;
	size_t high = highs[data[0] % 5];
	uint32_t seed = data[1] * 2654435761u + 1;
	const uint8_t *s = data + 2;
	size_t n = size - 2, fed = 0;
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new(),
		*got = evbuffer_new();
	enum tcp_frame_state st = TCP_FRAME_EMPTY;
	int bad_ref;
	size_t want = reference(s, n, &bad_ref);

	if (!in || !out || !got)
		abort();
	while (fed < n && st != TCP_FRAME_BAD) {
		seed = seed * 1103515245u + 12345u;
		size_t chunk = 1 + (seed >> 16) % 64;
		if (chunk > n - fed)
			chunk = n - fed;
		evbuffer_add(in, s + fed, chunk);
		fed += chunk;
		do {
			unsigned answered;
			st = tcp_frame_drain(in, out, high, &buf, echo, NULL,
					     &answered);
			/* The client reads what was answered. */
			evbuffer_add_buffer(got, out);
		} while (st == TCP_FRAME_BLOCKED);
	}
	/* Answered: exactly the reference prefix, framed as it came. */
	size_t glen = evbuffer_get_length(got);
	if (glen != want)
		abort();
	if (glen && memcmp(evbuffer_pullup(got, -1), s, glen))
		abort();
	if ((st == TCP_FRAME_BAD) != bad_ref)
		abort();
	if (st == TCP_FRAME_BAD && evbuffer_get_length(in))
		abort();
	if (st == TCP_FRAME_EMPTY && (evbuffer_get_length(in) || fed != want))
		abort();
	evbuffer_free(in);
	evbuffer_free(out);
	evbuffer_free(got);
	return 0;
}
