/* tcp_frame.c -- see tcp_frame.h. */
#include "config.h"

#include <event2/buffer.h>

#include "server/tcp_frame.h"
#include "server/wire.h"

enum tcp_frame_state tcp_frame_drain(struct evbuffer *in, struct evbuffer *out,
				     size_t high, struct tcp_frame_buf *b,
				     tcp_frame_answer_fn fn, void *arg,
				     unsigned *answered)
{
	*answered = 0;
	for (;;) {
		uint8_t lp[2];
		size_t have = evbuffer_get_length(in);

		if (!have)
			return TCP_FRAME_EMPTY;
		if (have < 2 || evbuffer_copyout(in, lp, 2) < 2)
			return TCP_FRAME_PARTIAL;
		size_t mlen = wire_get16(lp);
		if (have < 2 + mlen)
			return TCP_FRAME_PARTIAL;
		if (evbuffer_get_length(out) >= high)
			return TCP_FRAME_BLOCKED;
		evbuffer_drain(in, 2);
		evbuffer_remove(in, b->in, mlen);
		size_t rlen = fn(arg, b->in, mlen, b->out + 2,
				 TCP_FRAME_MSG_MAX);
		if (!rlen || rlen > TCP_FRAME_MSG_MAX) {
			/* Garbage on a stream cannot be resynchronised: the
			 * answers before it stand, nothing after it. */
			evbuffer_drain(in, evbuffer_get_length(in));
			return TCP_FRAME_BAD;
		}
		wire_put16(b->out, (uint16_t)rlen);
		evbuffer_add(out, b->out, rlen + 2);
		(*answered)++;
	}
}
