/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Flow control for one peer connection, pure (no I/O, time is a parameter): how much we
 * may read in one wakeup, and what to do about what we have queued for the peer.
 *
 * Two rules keep a hostile or broken peer from starving the loop or filling memory:
 * - a read budget: each wakeup may take at most read_bytes bytes and read_msgs messages
 *   from the peer, then yields to the loop (the socket stays readable, so a
 *   level-triggered epoll comes straight back after the other fds had their turn);
 * - backpressure on the send queue: above the soft cap we stop reading (every message
 *   read may queue an answer, a pong or an acknowledgement, that the peer does not take),
 *   and past the hard cap, or after stall_ms above the soft cap, the connection is failed
 *   so the owner's reconnect and back-off take over.
 *
 * The caller says what is queued (messages and bytes; a transport that cannot count sets
 * soft_msgs = 0 and reports 1 message while anything waits to go out). */
#ifndef ASTRAMETER_FLOW_H
#define ASTRAMETER_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include "astrameter/ev.h"

struct flow_limits {
	size_t read_bytes, read_msgs; /* per wakeup */
	size_t soft_bytes, soft_msgs; /* queue above either: stop reading */
	size_t hard_bytes, hard_msgs; /* queue above either: fail */
	ev_ms stall_ms;               /* above the soft cap this long: fail */
};

struct flow {
	size_t bytes_left, msgs_left; /* read budget of this wakeup */
	bool paused;                  /* queue above the soft cap: not reading */
	ev_ms paused_since;
};

enum flow_verdict {
	FLOW_OK,      /* read on */
	FLOW_PAUSE,   /* stop reading until the queue drains below the soft cap */
	FLOW_OVERRUN, /* queue past the hard cap: fail the connection */
	FLOW_STALLED, /* paused for stall_ms: the peer is not reading, fail */
};

/* Starts a connection's flow state (not paused, empty budget until flow_wakeup). */
void flow_init(struct flow *f);
/* A new wakeup: refills the read budget. */
void flow_wakeup(struct flow *f, const struct flow_limits *l);
/* Counts bytes and messages read against the budget (saturating at 0). */
void flow_took(struct flow *f, size_t bytes, size_t msgs);
/* Whether this wakeup's budget allows another read. */
bool flow_budget_left(const struct flow *f);
/* Whether the queue is above the soft cap (reading should stop). */
bool flow_over_soft(const struct flow_limits *l, size_t q_bytes, size_t q_msgs);
/* Looks at the queue after a round of I/O at time now: enters or leaves the paused
 * state and says what to do. A pause that already lasts stall_ms is FLOW_STALLED. */
enum flow_verdict flow_update(struct flow *f, const struct flow_limits *l, size_t q_bytes,
                              size_t q_msgs, ev_ms now);
/* Milliseconds from now until a pause becomes a stall (0 if due), or EV_STOP when not
 * paused or stall_ms is 0 (no time bound). */
ev_ms flow_stall_in(const struct flow *f, const struct flow_limits *l, ev_ms now);

#endif
