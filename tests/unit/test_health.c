/* test_health.c -- the rise/fall state machine decides fast at start-up,
 * then needs rise/fall consecutive verdicts and never flaps. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "probes/health.h"
#include "tests/unit/tap.h"

/* Feed n identical verdicts; return how many caused a transition. */
static int feed_n(struct health *h, int n, bool success, uint32_t rise,
		  uint32_t fall)
{
	int changes = 0;

	for (int i = 0; i < n; i++)
		changes += health_feed(h, success, success ? "ok" : "timeout",
				       rise, fall);
	return changes;
}

static void test_start(void)
{
	struct health h;

	health_init(&h);
	is_int(h.state, HEALTH_UNKNOWN, "starts unknown (counts as up)");
	is_str(h.reason, "", "starts with no reason");

	ok(health_feed(&h, true, "status 200", 2, 2),
	   "first success is a transition");
	is_int(h.state, HEALTH_UP, "first success decides up at once");

	health_init(&h);
	ok(health_feed(&h, false, "refused", 3, 3),
	   "first failure is a transition");
	is_int(h.state, HEALTH_DOWN, "first failure decides down at once");
	is_str(h.reason, "refused", "first failure reason kept");
}

static void test_fall(void)
{
	struct health h;

	health_init(&h);
	health_feed(&h, true, "ok", 2, 3);
	is_int(feed_n(&h, 2, false, 2, 3), 0,
	       "fall=3: two failures keep it up");
	is_int(h.state, HEALTH_UP, "still up after fall-1 failures");
	ok(health_feed(&h, false, "timeout", 2, 3),
	   "third failure transitions");
	is_int(h.state, HEALTH_DOWN, "down after fall failures");
	is_int(feed_n(&h, 5, false, 2, 3), 0, "more failures: no transition");

	/* A success in the middle restarts the count. */
	health_init(&h);
	health_feed(&h, true, "ok", 2, 2);
	health_feed(&h, false, "timeout", 2, 2);
	health_feed(&h, true, "ok", 2, 2);
	ok(!health_feed(&h, false, "timeout", 2, 2),
	   "interrupted failures do not add up");
	is_int(h.state, HEALTH_UP, "still up");
	ok(health_feed(&h, false, "timeout", 2, 2), "two in a row do");
}

static void test_rise(void)
{
	struct health h;

	health_init(&h);
	health_feed(&h, false, "refused", 3, 2);
	is_int(feed_n(&h, 2, true, 3, 2), 0,
	       "rise=3: two successes keep it down");
	is_int(h.state, HEALTH_DOWN, "still down after rise-1 successes");
	ok(health_feed(&h, true, "ok", 3, 2), "third success transitions");
	is_int(h.state, HEALTH_UP, "up after rise successes");
}

static void test_flapping(void)
{
	struct health h;
	int changes;

	for (int start = 0; start < 2; start++) {
		health_init(&h);
		health_feed(&h, start == 0, "first", 2, 2);
		uint8_t decided = h.state;
		changes = 0;
		for (int i = 0; i < 1000; i++)
			changes += health_feed(&h, i % 2 == 0, "flap", 2, 2);
		is_int(changes, 0, start == 0 ?
		       "alternating target never leaves up" :
		       "alternating target never leaves down");
		is_int(h.state, decided, "state is the first decision");
	}

	/* Pairs (2 up, 1 down) with fall=2 never go down either. */
	health_init(&h);
	health_feed(&h, true, "ok", 2, 2);
	changes = 0;
	for (int i = 0; i < 300; i++)
		changes += health_feed(&h, i % 3 != 0, "x", 2, 2);
	is_int(changes, 0, "one failure in three never reaches fall=2");
}

static void test_one(void)
{
	struct health h;

	/* rise/fall of 1 (or 0, read as 1): every change of verdict moves. */
	health_init(&h);
	health_feed(&h, true, "ok", 1, 1);
	ok(health_feed(&h, false, "timeout", 1, 1), "fall=1 goes down at once");
	ok(health_feed(&h, true, "ok", 1, 1), "rise=1 comes up at once");
	ok(health_feed(&h, false, "timeout", 0, 0), "fall=0 behaves as 1");
}

static void test_reason(void)
{
	struct health h;
	char longr[250];

	health_init(&h);
	health_feed(&h, true, "status 200", 2, 2);
	ok(!health_feed(&h, false, "status 503", 2, 2),
	   "one failure: no change");
	is_str(h.reason, "status 503", "reason updated on a non-transition");
	health_feed(&h, true, "status 200", 2, 2);
	is_str(h.reason, "status 200", "reason follows the last verdict");
	health_feed(&h, false, NULL, 2, 2);
	is_str(h.reason, "", "NULL reason stored as empty");

	/* A long reason (curl's TLS messages) is kept whole... */
	memset(longr, 'x', 150);
	longr[150] = '\0';
	health_feed(&h, false, longr, 2, 2);
	is_str(h.reason, longr, "a 150-character reason is kept whole");
	/* ...and only one past the bound is cut, at 199 characters. */
	memset(longr, 'y', sizeof(longr) - 1);
	longr[sizeof(longr) - 1] = '\0';
	health_feed(&h, false, longr, 2, 2);
	is_int(strlen(h.reason), 199, "a 249-character reason is cut to 199");
	ok(strncmp(h.reason, longr, 199) == 0, "...keeping its start");

	is_str(health_name(HEALTH_UP), "up", "name up");
	is_str(health_name(HEALTH_DOWN), "down", "name down");
	is_str(health_name(HEALTH_UNKNOWN), "unknown", "name unknown");
}

/* Damping: an outage and its recovery pass at once; after that a run of
 * transitions is paced at one per hold, and a held one is taken by the
 * first disagreeing verdict after the hold. */
static void test_damping(void)
{
	struct health h;

	health_init(&h);
	health_feed_at(&h, true, "ok", 2, 2, 0, 2000);
	ok(!health_feed_at(&h, false, "refused", 2, 2, 1000, 2000) &&
	   health_feed_at(&h, false, "refused", 2, 2, 1200, 2000) &&
	   h.state == HEALTH_DOWN, "damped: an outage goes down at once");
	ok(!health_feed_at(&h, true, "ok", 2, 2, 2200, 2000) &&
	   health_feed_at(&h, true, "ok", 2, 2, 2400, 2000) &&
	   h.state == HEALTH_UP, "damped: ...and its recovery comes back at once");
	ok(!health_feed_at(&h, false, "refused", 2, 2, 2600, 2000) &&
	   !health_feed_at(&h, false, "refused", 2, 2, 2800, 2000) &&
	   h.state == HEALTH_UP, "damped: a third change within the hold waits");
	ok(!health_feed_at(&h, false, "refused", 2, 2, 3199, 2000) &&
	   h.state == HEALTH_UP, "...still held just before a token is back");
	ok(health_feed_at(&h, false, "refused", 2, 2, 3200, 2000) &&
	   h.state == HEALTH_DOWN,
	   "...and taken by the first failure once it is (2 s after the "
	   "first change)");
	health_init(&h);
	health_feed_at(&h, true, "ok", 2, 2, 0, 2000);
	health_feed_at(&h, false, "x", 2, 2, 100, 2000);
	ok(!health_feed_at(&h, true, "ok", 2, 2, 200, 2000) && !h.streak,
	   "damped: agreement still resets a held run");
}

/* The worst flapper: every probe run gives the verdict that moves the
 * state (two failures, two successes, ...), probed as the manager does
 * (fast-interval 200 ms while unsettled, else interval 1 s plus 0..100
 * ms): transitions over 20 s with and without damping. */
static int flap_run(uint32_t hold)
{
	struct health h;
	int64_t t = 0;
	uint64_t rng = 42;
	int n = 0;

	health_init(&h);
	for (unsigned k = 0; t < 20000; k++) {
		bool up = k == 0 || (k - 1) / 2 % 2 == 1;
		n += health_feed_at(&h, up, up ? "ok" : "refused", 2, 2, t, hold);
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		t += health_unsettled(&h) ? 200 : 1000 + (int64_t)(rng % 101);
	}
	return n - 1; /* the first decision is not a change */
}

static void test_flap_rate(void)
{
	int free_run = flap_run(0), damped = flap_run(2000);

	printf("# flapping for 20 s: %d changes undamped, %d damped\n",
	       free_run, damped);
	ok(damped <= 2 + 20000 / 2000,
	   "a flapping target changes at most once per interval x fall "
	   "(after one outage and recovery)");
	ok(free_run > damped, "...which it would not without damping");
}

/* ---- suspect re-checks ---- */

static void feed_rtt(struct health_rtt *r, int n, uint64_t us)
{
	for (int i = 0; i < n; i++)
		health_rtt_feed(r, us);
}

/* The delay before a suspect re-check follows the target's own latency
 * (RFC 6298's srtt + 4 rttvar), never below fast-interval / 4, and is
 * off for targets whose latency is not well below fast-interval. */
static void test_suspect(void)
{
	struct health_rtt r = { 0 };

	feed_rtt(&r, 2, 1000);
	is_int(health_suspect_ms(&r, 200, 800), 0,
	       "suspect: off before three samples");
	feed_rtt(&r, 1, 1000);
	is_int(health_suspect_ms(&r, 200, 800), 50,
	       "suspect: a 1 ms target re-checks at fast-interval / 4");
	is_int(r.srtt_us, 1000, "suspect: srtt of equal samples");

	memset(&r, 0, sizeof(r));
	feed_rtt(&r, 40, 80000);
	is_int(health_suspect_ms(&r, 200, 800), 80,
	       "suspect: a steady 80 ms target re-checks after its own 80 ms");

	memset(&r, 0, sizeof(r));
	feed_rtt(&r, 40, 150000);
	is_int(health_suspect_ms(&r, 200, 800), 0,
	       "suspect: off for a 150 ms (cross-region) target");

	/* Steady at 40 ms but jittery (10/70 ms): the deviation counts. */
	memset(&r, 0, sizeof(r));
	for (int i = 0; i < 40; i++)
		health_rtt_feed(&r, i % 2 ? 70000 : 10000);
	ok(r.srtt_us > 30000 && r.srtt_us < 50000, "suspect: jittery srtt");
	is_int(health_suspect_ms(&r, 200, 800), 0,
	       "suspect: off for a target whose latency varies that much");

	/* One slow success raises the bar at once; it decays after. */
	memset(&r, 0, sizeof(r));
	feed_rtt(&r, 10, 2000);
	health_rtt_feed(&r, 60000);
	ok(health_suspect_ms(&r, 200, 800) >= 60,
	   "suspect: one 60 ms success raises the bar past 60 ms at once");
	health_rtt_feed(&r, 90000);
	is_int(health_suspect_ms(&r, 200, 800), 0,
	       "suspect: off after two slow successes");
	feed_rtt(&r, 30, 2000);
	is_int(health_suspect_ms(&r, 200, 800), 50,
	       "suspect: back once the target is quick again");

	memset(&r, 0, sizeof(r));
	feed_rtt(&r, 5, 1000);
	is_int(health_suspect_ms(&r, 0, 800), 0,
	       "suspect: off without fast-interval");
	is_int(health_suspect_ms(&r, 200, 50), 0,
	       "suspect: off when it could not start before the timeout");
	is_int(health_suspect_ms(&r, 1000, 800), 250,
	       "suspect: floor follows fast-interval");
	health_rtt_feed(&r, (uint64_t)1 << 40);
	is_int(health_suspect_ms(&r, 200, 800), 0,
	       "suspect: an absurd sample saturates, no overflow");
}

int main(void)
{
	test_start();
	test_fall();
	test_rise();
	test_flapping();
	test_one();
	test_reason();
	test_damping();
	test_flap_rate();
	test_suspect();
	return tap_done();
}
