/* udp.c -- UDP answering threads (udp.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "server/onlinesign.h"
#include "server/qsbr.h"
#include "server/rrl.h"
#include "server/snap.h"
#include "server/udp.h"

#define UDP_BATCH   32
#define UDP_IN_MAX  4096  /* larger queries are not queries we answer */
#define UDP_OUT_MAX 4096  /* edns-udp-size is at most this */
#define UDP_WAKE_MS 200   /* how soon a blocked thread sees a stop */
#define UDP_RRL_BITS 16   /* rate-limit buckets per thread: 1.5 MB */

/* A wildcard-bound socket must answer from the address the query was
 * sent to, or clients on multi-address hosts drop the reply. */
union pktinfo_buf {
	char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	struct cmsghdr align;
};

struct udp_thread {
	int fd;
	bool pktinfo;
	bool started;
	atomic_bool stop;
	pthread_t th;
	struct qsbr *qsbr;
	unsigned qid;
	struct answer_ctx ctx;
	struct rrl_table *rrl;
	struct mmsghdr in[UDP_BATCH], out[UDP_BATCH];
	struct iovec in_iov[UDP_BATCH], out_iov[UDP_BATCH];
	struct sockaddr_storage from[UDP_BATCH];
	union pktinfo_buf cin[UDP_BATCH], cout[UDP_BATCH];
	uint8_t inbuf[UDP_BATCH][UDP_IN_MAX];
	uint8_t outbuf[UDP_BATCH][UDP_OUT_MAX];
};

struct udp_thread *udp_thread_new(int fd, bool pktinfo, struct qsbr *q,
				  unsigned qsbr_id, uint64_t seed)
{
	struct udp_thread *u = xcalloc(1, sizeof(*u));
	struct timeval tv = { 0, UDP_WAKE_MS * 1000 };
	int flags;

	u->fd = fd;
	u->pktinfo = pktinfo;
	u->qsbr = q;
	u->qid = qsbr_id;
	atomic_init(&u->stop, false);
	answer_ctx_init(&u->ctx, seed);
	u->ctx.onsign = onsign_worker_new();
	u->rrl = rrl_table_new(UDP_RRL_BITS, seed * 0x9e3779b97f4a7c15ull);
	for (unsigned i = 0; i < UDP_BATCH; i++) {
		u->in_iov[i].iov_base = u->inbuf[i];
		u->in_iov[i].iov_len = UDP_IN_MAX;
		u->in[i].msg_hdr.msg_iov = &u->in_iov[i];
		u->in[i].msg_hdr.msg_iovlen = 1;
		u->in[i].msg_hdr.msg_name = &u->from[i];
		u->out[i].msg_hdr.msg_iov = &u->out_iov[i];
		u->out[i].msg_hdr.msg_iovlen = 1;
	}
	/* Blocking receives with a timeout: the thread sleeps in the
	 * kernel while idle and still notices a stop. */
	if ((flags = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		rrl_table_free(u->rrl);
		onsign_worker_free(u->ctx.onsign);
		free(u);
		return NULL;
	}
	return u;
}

/* Copy the destination address of a received datagram into the reply's
 * source.  The interface index is cleared for IPv4 so routing picks the
 * way out; IPv6 keeps it, which link-local addresses need. */
static void reply_from(struct msghdr *in, struct msghdr *out,
		       union pktinfo_buf *cout)
{
	out->msg_control = NULL;
	out->msg_controllen = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(in); c; c = CMSG_NXTHDR(in, c)) {
		struct cmsghdr *o = (struct cmsghdr *)cout->buf;
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			pi.ipi_spec_dst = pi.ipi_addr;
			pi.ipi_ifindex = 0;
			o->cmsg_level = IPPROTO_IP;
			o->cmsg_type = IP_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(o), &pi, sizeof(pi));
			out->msg_controllen = CMSG_SPACE(sizeof(pi));
		} else if (c->cmsg_level == IPPROTO_IPV6 &&
			   c->cmsg_type == IPV6_PKTINFO) {
			o->cmsg_level = IPPROTO_IPV6;
			o->cmsg_type = IPV6_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
			memcpy(CMSG_DATA(o), CMSG_DATA(c),
			       sizeof(struct in6_pktinfo));
			out->msg_controllen = CMSG_SPACE(sizeof(struct in6_pktinfo));
		} else {
			continue;
		}
		out->msg_control = cout->buf;
		return;
	}
}

static void send_all(int fd, struct mmsghdr *m, unsigned n)
{
	unsigned done = 0;
	while (done < n) {
		int r = sendmmsg(fd, m + done, n - done, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* A full socket buffer or an unreachable client: drop
			 * that answer, as a busy DNS server does; the client
			 * retries. */
			done++;
			continue;
		}
		done += (unsigned)r;
	}
}

/* Rate limiting: the answer just written to out[0..len) goes out as it
 * is, cut down (slip) or not at all (0). */
static size_t udp_rrl(struct udp_thread *u, const struct snap *s,
		      const struct sockaddr *from, uint8_t *out, size_t len,
		      uint32_t now)
{
	uint64_t *g = u->ctx.st.guard;

	switch (rrl_check(u->rrl, &s->rrl, from, &u->ctx.last, now)) {
	case RRL_PASS:
		return len;
	case RRL_SLIP:
		g[ANSWER_G_RRL_LIMITED]++;
		g[ANSWER_G_RRL_SLIPPED]++;
		return rrl_slip(out, len, &u->ctx.last);
	default:
		g[ANSWER_G_RRL_LIMITED]++;
		g[ANSWER_G_RRL_DROPPED]++;
		return 0;
	}
}

/* Answer one batch from the current snapshot. */
static void answer_batch(struct udp_thread *u, unsigned n)
{
	const struct snap *s = snap_current();
	uint32_t now = s->rrl.rps ? (uint32_t)time(NULL) : 0;
	unsigned m = 0;

	for (unsigned i = 0; i < n; i++) {
		/* Cut to UDP_IN_MAX by the kernel: what is left is not the
		 * query that was sent, so answering it would be a guess. */
		if (u->in[i].msg_hdr.msg_flags & MSG_TRUNC) {
			u->ctx.st.udp_oversize++;
			continue;
		}
		size_t len = answer_query(&u->ctx, s, u->inbuf[i],
			u->in[i].msg_len, (const struct sockaddr *)&u->from[i],
			false, u->outbuf[m], UDP_OUT_MAX);
		if (len && s->rrl.rps)
			len = udp_rrl(u, s, (const struct sockaddr *)&u->from[i],
				      u->outbuf[m], len, now);
		if (!len)
			continue;
		u->out_iov[m].iov_base = u->outbuf[m];
		u->out_iov[m].iov_len = len;
		u->out[m].msg_hdr.msg_name = &u->from[i];
		u->out[m].msg_hdr.msg_namelen = u->in[i].msg_hdr.msg_namelen;
		if (u->pktinfo)
			reply_from(&u->in[i].msg_hdr, &u->out[m].msg_hdr,
				   &u->cout[m]);
		m++;
	}
	send_all(u->fd, u->out, m);
}

static void *udp_main(void *arg)
{
	struct udp_thread *u = arg;

	while (!atomic_load_explicit(&u->stop, memory_order_relaxed)) {
		for (unsigned i = 0; i < UDP_BATCH; i++) {
			u->in[i].msg_hdr.msg_namelen = sizeof(u->from[i]);
			u->in[i].msg_hdr.msg_control = u->pktinfo ?
				u->cin[i].buf : NULL;
			u->in[i].msg_hdr.msg_controllen = u->pktinfo ?
				sizeof(u->cin[i]) : 0;
		}
		/* Holding no snapshot while blocked: reclamation need not
		 * wait for this thread to wake up. */
		qsbr_offline(u->qsbr, u->qid);
		int n = recvmmsg(u->fd, u->in, UDP_BATCH, MSG_WAITFORONE, NULL);
		qsbr_quiescent(u->qsbr, u->qid);
		if (n > 0)
			answer_batch(u, (unsigned)n);
		else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
			 errno != EINTR && errno != ECONNREFUSED)
			log_warn("udp receive failed error=\"%s\"", strerror(errno));
	}
	qsbr_offline(u->qsbr, u->qid);
	return NULL;
}

int udp_thread_start(struct udp_thread *u)
{
	if (pthread_create(&u->th, NULL, udp_main, u))
		return -1;
	u->started = true;
	return 0;
}

void udp_thread_free(struct udp_thread *u)
{
	if (!u)
		return;
	if (u->started) {
		atomic_store(&u->stop, true);
		pthread_join(u->th, NULL);
	}
	rrl_table_free(u->rrl);
	onsign_worker_free(u->ctx.onsign);
	free(u);
}

const struct answer_stats *udp_thread_stats(const struct udp_thread *u)
{
	return &u->ctx.st;
}
