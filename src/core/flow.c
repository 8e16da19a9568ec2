/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Read budget and send-queue backpressure for one peer connection (see flow.h). Pure
 * bookkeeping: the WebSocket client and the MQTT glue do the I/O and ask here whether to
 * read on, pause, or give the connection up. */
#include "astrameter/flow.h"

void flow_init(struct flow *f)
{
	f->bytes_left = f->msgs_left = 0;
	f->paused = false;
	f->paused_since = 0;
}

void flow_wakeup(struct flow *f, const struct flow_limits *l)
{
	f->bytes_left = l->read_bytes;
	f->msgs_left = l->read_msgs;
}

void flow_took(struct flow *f, size_t bytes, size_t msgs)
{
	f->bytes_left = bytes < f->bytes_left ? f->bytes_left - bytes : 0;
	f->msgs_left = msgs < f->msgs_left ? f->msgs_left - msgs : 0;
}

bool flow_budget_left(const struct flow *f)
{
	return f->bytes_left > 0 && f->msgs_left > 0;
}

bool flow_over_soft(const struct flow_limits *l, size_t q_bytes, size_t q_msgs)
{
	return q_bytes > l->soft_bytes || q_msgs > l->soft_msgs;
}

enum flow_verdict flow_update(struct flow *f, const struct flow_limits *l, size_t q_bytes,
                              size_t q_msgs, ev_ms now)
{
	if (q_bytes > l->hard_bytes || q_msgs > l->hard_msgs)
		return FLOW_OVERRUN;
	if (!flow_over_soft(l, q_bytes, q_msgs)) {
		f->paused = false;
		return FLOW_OK;
	}
	if (!f->paused) {
		f->paused = true;
		f->paused_since = now;
	}
	if (l->stall_ms > 0 && now - f->paused_since >= l->stall_ms)
		return FLOW_STALLED;
	return FLOW_PAUSE;
}

ev_ms flow_stall_in(const struct flow *f, const struct flow_limits *l, ev_ms now)
{
	if (!f->paused || l->stall_ms <= 0)
		return EV_STOP;
	ev_ms left = f->paused_since + l->stall_ms - now;
	return left > 0 ? left : 0;
}
