/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SCRIPT powermeter: each poll runs COMMAND through /bin/sh -c and reads one number per
 * non-blank stdout line. The child is started with posix_spawn in its own process group
 * (so a timeout can kill the whole pipeline), its stdout/stderr pipes are non-blocking
 * fds in the loop, and it is reaped from the loop through a pidfd (or, on kernels without
 * pidfd_open, a short polling timer with waitpid WNOHANG). Nothing here blocks.
 *
 * TIMEOUT (seconds, default 5) is ours: upstream waits forever, which would leave the
 * battery without answers if a script hangs. Messages never contain the command (it may
 * carry credentials); stderr's first line is quoted, as upstream does. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "astrameter/jsonpath.h"
#include "astrameter/pm_parsers.h"
#include "astrameter/pm_script.h"
#include "astrameter/powermeter.h"
#include "astrameter/pynum.h"

extern char **environ;

#define SCRIPT_ERR_CAP      160
#define SCRIPT_REAP_POLL_MS 20

struct script {
	const char *command; /* owned by the config */
	ev_ms timeout_ms;
	struct pm_meter *m;
	struct ev_loop *loop;

	/* current child; pid 0 = none */
	pid_t pid;
	int pidfd;          /* -1 if none (then reap_timer polls) */
	int out_fd, err_fd; /* -1 once at EOF/closed */
	uint64_t timeout_timer, reap_timer;
	bool reported; /* this run's result was handed to the core */
	bool exited;
	int status;
	char out[SCRIPT_OUTPUT_CAP];
	size_t out_len;
	bool out_over;
	char err[SCRIPT_ERR_CAP];
	size_t err_len;
};

int pm_script_parse_output(const char *buf, size_t len, struct pm_reading *out, struct err *e)
{
	struct pm_reading r;
	memset(&r, 0, sizeof(r));
	size_t i = 0;
	unsigned line = 0;
	while (i < len) {
		size_t start = i;
		while (i < len && buf[i] != '\n' && buf[i] != '\r')
			i++;
		size_t end = i;
		if (i < len && buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n')
			i++;
		if (i < len)
			i++;
		line++;
		const char *s = buf + start;
		size_t n = end - start;
		while (n && isspace((unsigned char)*s)) {
			s++;
			n--;
		}
		if (n == 0)
			continue;
		double v;
		if (memchr(s, '\0', n) || pynum_float_finite(s, n, &v) != 0)
			return err_set(e, "line %u is not a number: '%.*s'", line,
			               (int)(n > 40 ? 40 : n), s);
		if (fabs(v) > PM_PARSE_MAX_W)
			return err_set(e, "line %u: value out of range", line);
		if (r.n == PM_MAX_VALUES)
			return err_set(e, "more than %d values", PM_MAX_VALUES);
		r.w[r.n++] = v;
	}
	if (r.n == 0)
		return err_set(e, "no output");
	*out = r;
	return 0;
}

/* --- child management -------------------------------------------------------------------- */

static void close_fd(struct script *s, int *fd)
{
	if (*fd >= 0) {
		ev_io_del(s->loop, *fd);
		close(*fd);
		*fd = -1;
	}
}

/* Collects the exit status if the child is gone. true once reaped. */
static bool try_reap(struct script *s)
{
	if (!s->pid)
		return true;
	if (s->exited)
		return true;
	int st;
	pid_t p = waitpid(s->pid, &st, WNOHANG);
	if (p == s->pid || (p < 0 && errno == ECHILD)) {
		s->exited = true;
		s->status = p == s->pid ? st : 0;
		close_fd(s, &s->pidfd);
		if (s->reap_timer) {
			ev_timer_del(s->loop, s->reap_timer);
			s->reap_timer = 0;
		}
		return true;
	}
	return false;
}

/* Forgets the child once reaped and its pipes are closed. */
static void maybe_clear(struct script *s)
{
	if (s->exited && s->out_fd < 0 && s->err_fd < 0) {
		s->pid = 0;
		s->exited = false;
	}
}

static void report(struct script *s, bool ok_so_far, const char *why)
{
	if (s->reported)
		return;
	s->reported = true;
	if (s->timeout_timer) {
		ev_timer_del(s->loop, s->timeout_timer);
		s->timeout_timer = 0;
	}
	if (!ok_so_far) {
		pm_meter_fail(s->m, "%s", why);
		return;
	}
	if (WIFSIGNALED(s->status)) {
		pm_meter_fail(s->m, "command killed by signal %d", WTERMSIG(s->status));
		return;
	}
	if (WIFEXITED(s->status) && WEXITSTATUS(s->status) != 0) {
		/* First line of stderr, as a hint. */
		size_t n = strcspn(s->err, "\r\n");
		pm_meter_fail(s->m, "command exited with code %d%s%.*s", WEXITSTATUS(s->status),
		              n ? ": " : "", (int)n, s->err);
		return;
	}
	struct pm_reading r;
	struct err e;
	if (pm_script_parse_output(s->out, s->out_len, &r, &e) != 0) {
		pm_meter_fail(s->m, "command output: %s", e.msg);
		return;
	}
	pm_meter_publish(s->m, &r);
}

static void check_done(struct script *s)
{
	if (s->exited && s->out_fd < 0 && s->err_fd < 0) {
		report(s, true, NULL);
		maybe_clear(s);
	}
}

/* Kills the whole process group; the pipes are closed so a surviving grandchild holding
 * them cannot keep us waiting. Reaping continues from the loop. */
static void kill_child(struct script *s)
{
	if (s->pid && !s->exited)
		(void)kill(-s->pid, SIGKILL);
	close_fd(s, &s->out_fd);
	close_fd(s, &s->err_fd);
}

static void on_out(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	(void)loop;
	(void)events;
	struct script *s = arg;
	char tmp[4096];
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n > 0) {
			size_t room = sizeof(s->out) - s->out_len;
			if ((size_t)n > room) {
				s->out_over = true;
				kill_child(s);
				report(s, false, "command output too long (over 65536 bytes)");
				try_reap(s);
				maybe_clear(s);
				return;
			}
			memcpy(s->out + s->out_len, tmp, (size_t)n);
			s->out_len += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		close_fd(s, &s->out_fd); /* EOF or error */
		check_done(s);
		return;
	}
}

static void on_err(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	(void)loop;
	(void)events;
	struct script *s = arg;
	char tmp[4096];
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n > 0) {
			size_t room = sizeof(s->err) - 1 - s->err_len;
			size_t k = (size_t)n < room ? (size_t)n : room;
			memcpy(s->err + s->err_len, tmp, k);
			s->err_len += k;
			s->err[s->err_len] = '\0';
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		close_fd(s, &s->err_fd);
		check_done(s);
		return;
	}
}

static void on_pidfd(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	(void)loop;
	(void)fd;
	(void)events;
	struct script *s = arg;
	if (try_reap(s)) {
		check_done(s);
		maybe_clear(s);
	}
}

static ev_ms on_reap_poll(struct ev_loop *loop, void *arg)
{
	(void)loop;
	struct script *s = arg;
	if (!try_reap(s))
		return SCRIPT_REAP_POLL_MS;
	s->reap_timer = 0; /* try_reap deleted it; EV_STOP below is harmless */
	check_done(s);
	maybe_clear(s);
	return EV_STOP;
}

static ev_ms on_timeout(struct ev_loop *loop, void *arg)
{
	(void)loop;
	struct script *s = arg;
	s->timeout_timer = 0;
	kill_child(s);
	char why[64];
	snprintf(why, sizeof(why), "command timed out after %lld ms", (long long)s->timeout_ms);
	report(s, false, why);
	if (try_reap(s))
		maybe_clear(s);
	return EV_STOP;
}

static int spawn(struct script *s, struct err *e)
{
	int outp[2], errp[2];
	/* Only our read ends are nonblocking: O_NONBLOCK belongs to the open file, so setting
	 * it with pipe2() would make the child's stdout nonblocking too, and a command that
	 * writes faster than we read would fail with EAGAIN. */
	if (pipe2(outp, O_CLOEXEC) != 0)
		return err_set(e, "pipe: %s", strerror(errno));
	if (pipe2(errp, O_CLOEXEC) != 0) {
		close(outp[0]);
		close(outp[1]);
		return err_set(e, "pipe: %s", strerror(errno));
	}
	if (fcntl(outp[0], F_SETFL, O_NONBLOCK) != 0 || fcntl(errp[0], F_SETFL, O_NONBLOCK) != 0) {
		int saved = errno;
		close(outp[0]);
		close(outp[1]);
		close(errp[0]);
		close(errp[1]);
		return err_set(e, "fcntl: %s", strerror(saved));
	}
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
	posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
	/* The daemon may block signals (signalfd) or ignore SIGPIPE: the child starts
	 * clean, in its own process group. */
	sigset_t none, def;
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGHUP);
	sigaddset(&def, SIGCHLD);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
	                                      POSIX_SPAWN_SETPGROUP);
	char *argv[] = {"sh", "-c", (char *)s->command, NULL};
	pid_t pid;
	int rc = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(outp[1]);
	close(errp[1]);
	if (rc != 0) {
		close(outp[0]);
		close(errp[0]);
		return err_set(e, "cannot run /bin/sh: %s", strerror(rc));
	}
	s->pid = pid;
	s->exited = false;
	s->status = 0;
	s->out_fd = outp[0];
	s->err_fd = errp[0];
	s->out_len = 0;
	s->out_over = false;
	s->err_len = 0;
	s->err[0] = '\0';
	s->reported = false;
	s->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (ev_io_add(s->loop, s->out_fd, EV_READ, on_out, s) != 0 ||
	    ev_io_add(s->loop, s->err_fd, EV_READ, on_err, s) != 0) {
		s->reported = true; /* the caller reports */
		kill_child(s);
		if (s->pidfd >= 0) {
			close(s->pidfd);
			s->pidfd = -1;
		}
		(void)waitpid(pid, NULL, 0); /* SIGKILLed: returns at once */
		s->pid = 0;
		return err_set(e, "cannot watch the command's output");
	}
	if (s->pidfd >= 0 && ev_io_add(s->loop, s->pidfd, EV_READ, on_pidfd, s) != 0) {
		close(s->pidfd);
		s->pidfd = -1;
	}
	if (s->pidfd < 0)
		s->reap_timer = ev_timer_add(s->loop, SCRIPT_REAP_POLL_MS, on_reap_poll, s);
	s->timeout_timer = ev_timer_add(s->loop, s->timeout_ms, on_timeout, s);
	return 0;
}

/* --- driver ------------------------------------------------------------------------------ */

static int sc_configure(struct pm_meter *m, struct cfg_section *sec, struct err *e)
{
	struct script *s = m->priv;
	double timeout;
	if (cfg_get_str(sec, "command", NULL, &s->command, e) != 0 ||
	    cfg_get_double(sec, "timeout", 5.0, 0.1, 3600.0, &timeout, e) != 0)
		return -1;
	if (!s->command || !*s->command)
		return err_set(e, "[%s] COMMAND: required", sec->name);
	s->timeout_ms = (ev_ms)llround(timeout * 1000.0);
	/* The core must not give up on a command before its own timeout kills it. */
	if (m->stuck_ms < s->timeout_ms + 1000)
		m->stuck_ms = s->timeout_ms + 1000;
	s->pidfd = s->out_fd = s->err_fd = -1;
	s->m = m;
	return 0;
}

static int sc_start(struct pm_meter *m, struct err *e)
{
	struct script *s = m->priv;
	if (!m->ctx || !m->ctx->loop)
		return err_set(e, "[%s] no event loop", m->name);
	s->loop = m->ctx->loop;
	s->m = m;
	return 0;
}

static void sc_stop(struct pm_meter *m)
{
	struct script *s = m->priv;
	if (!s || !s->loop || !s->pid)
		return;
	s->reported = true; /* no callbacks into a meter being torn down */
	kill_child(s);
	if (s->timeout_timer)
		ev_timer_del(s->loop, s->timeout_timer);
	if (s->reap_timer)
		ev_timer_del(s->loop, s->reap_timer);
	s->timeout_timer = s->reap_timer = 0;
	close_fd(s, &s->pidfd);
	/* Shutdown only: the group was SIGKILLed, so this wait is immediate. */
	if (!s->exited)
		(void)waitpid(s->pid, NULL, 0);
	s->pid = 0;
	s->exited = false;
}

static int sc_poll(struct pm_meter *m, ev_ms now)
{
	(void)now;
	struct script *s = m->priv;
	if (!s->loop)
		return -1;
	if (s->pid) {
		/* A previous run the core gave up on, or one still being reaped. */
		if (!s->reported) {
			s->reported = true;
			if (s->timeout_timer) {
				ev_timer_del(s->loop, s->timeout_timer);
				s->timeout_timer = 0;
			}
		}
		kill_child(s);
		if (!try_reap(s))
			return -1; /* not gone yet; the next poll will find it reaped */
		maybe_clear(s);
	}
	struct err e;
	if (spawn(s, &e) != 0) {
		pm_meter_fail(m, "%s", e.msg);
		return 0;
	}
	return 0;
}

const struct pm_driver pm_script_driver = {
        .name = "SCRIPT",
        .priv_size = sizeof(struct script),
        .push = false,
        .configure = sc_configure,
        .start = sc_start,
        .stop = sc_stop,
        .poll = sc_poll,
        .keys = "COMMAND TIMEOUT+",
};
