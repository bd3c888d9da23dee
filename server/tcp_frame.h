/*
 * tcp_frame.h -- DNS over TCP framing (RFC 1035 4.2.2, RFC 7766 6.2.1):
 * two-byte length prefixes, pipelined messages, answered in order.  Kept
 * apart from the sockets (server/tcp.c) so that a fuzzer drives the very
 * code that splits a stream into messages (tests/fuzz/fuzz_tcp_frame.c).
 */
#ifndef GSLBD_TCP_FRAME_H
#define GSLBD_TCP_FRAME_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

#define TCP_FRAME_MSG_MAX 65535

/* Answer msg[0..len) into out (outmax bytes); 0: no answer possible,
 * which ends the stream (it cannot be resynchronised). */
typedef size_t (*tcp_frame_answer_fn)(void *arg, const uint8_t *msg,
				      size_t len, uint8_t *out, size_t outmax);

enum tcp_frame_state {
	TCP_FRAME_EMPTY,    /* every byte consumed: the connection is idle */
	TCP_FRAME_PARTIAL,  /* part of a message waits for the rest */
	TCP_FRAME_BLOCKED,  /* out reached `high`: stop reading the client */
	TCP_FRAME_BAD,      /* a message got no answer; what came before
			       it is answered in out, the rest dropped */
};

/* Scratch space: one message in, one answer (with its prefix) out.  */
struct tcp_frame_buf {
	uint8_t in[TCP_FRAME_MSG_MAX];
	uint8_t out[2 + TCP_FRAME_MSG_MAX];
};

/* Take every whole message from in, answer each with fn, append the
 * answers (length-prefixed) to out, until in holds no whole message or
 * out holds `high` bytes or more.  *answered counts the answers added. */
enum tcp_frame_state tcp_frame_drain(struct evbuffer *in, struct evbuffer *out,
				     size_t high, struct tcp_frame_buf *b,
				     tcp_frame_answer_fn fn, void *arg,
				     unsigned *answered);

#endif
