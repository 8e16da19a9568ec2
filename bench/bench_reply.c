/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bench_reply: measures the real daemon on loopback and prints its figures.
 *
 * It serves a local JSON_HTTP meter itself (a thread with a keep-alive HTTP server) whose
 * phase A value is the bench's monotonic clock in ms modulo 100000 at the moment the meter
 * was read, so every CT002 reply tells how old the reading in it is. It then starts the
 * daemon (path in argv[1], default build/release/astrameter; argv[2] --active runs it with
 * ACTIVE_CONTROL = True, so the balancer decides every answer) and measures:
 *   1. CT002 reply latency, fresh cache, one request in flight (p50/p99/max)
 *   2. Shelly (EM.GetStatus on a Pro EM50 port) reply latency, fresh cache
 *   3. CT002 throughput with 16 requests in flight
 *   4. CT002 latency and reading age when every request needs a fetch
 *   5. memory (VmRSS, RssAnon) and CPU per reply with 10 batteries polling
 * Not a test: it prints numbers and exits 0 unless something broke. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------ the meter */

static int meter_fd = -1;
static volatile long meter_requests;

static void *meter_conn(void *arg)
{
	int c = (int)(long)arg;
	char buf[4096];
	for (;;) {
		ssize_t n = recv(c, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			break;
		buf[n] = '\0';
		if (!strstr(buf, "\r\n\r\n"))
			continue; /* requests are tiny; good enough for curl's GET */
		__atomic_add_fetch(&meter_requests, 1, __ATOMIC_RELAXED);
		long stamp = (long)mono_ms() % 100000;
		char body[128], resp[256];
		int bl = snprintf(body, sizeof(body),
		                  "{\"phase_a\": %ld, \"phase_b\": 100, \"phase_c\": -50}", stamp);
		int rl = snprintf(resp, sizeof(resp),
		                  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		                  "Content-Length: %d\r\n\r\n%s",
		                  bl, body);
		if (send(c, resp, (size_t)rl, MSG_NOSIGNAL) != rl)
			break;
	}
	close(c);
	return NULL;
}

static void *meter_main(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(meter_fd, NULL, NULL);
		if (c < 0)
			continue;
		pthread_t t;
		pthread_create(&t, NULL, meter_conn, (void *)(long)c);
		pthread_detach(t);
	}
	return NULL;
}

static int meter_start(void)
{
	meter_fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	if (bind(meter_fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(meter_fd, 16) ||
	    getsockname(meter_fd, (struct sockaddr *)&sa, &sl))
		return -1;
	pthread_t t;
	pthread_create(&t, NULL, meter_main, NULL);
	pthread_detach(t);
	return ntohs(sa.sin_port);
}

/* ------------------------------------------------------------ CT002 frames */

static size_t ct_frame(char *out, size_t cap, const char *mac, int power)
{
	char body[160];
	int bl = snprintf(body, sizeof(body), "|HMG-50|%s|HME-4|112233445566|A|%d", mac, power);
	int total = 0;
	for (int w = 1; w <= 4; w++) {
		total = 2 + w + bl + 1 + 2;
		char tmp[8];
		if ((int)snprintf(tmp, sizeof(tmp), "%d", total) == w)
			break;
	}
	int n = snprintf(out, cap, "\x01\x02%d%s\x03", total, body);
	unsigned char x = 0;
	for (int i = 0; i < n; i++)
		x ^= (unsigned char)out[i];
	n += snprintf(out + n, cap - (size_t)n, "%02x", x);
	return (size_t)n;
}

/* Field 4 (A phase power) of a CT002 reply, or -1e9. */
static double ct_phase_a(const char *buf, size_t len)
{
	int field = -1;
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '|') {
			field++;
			if (field == 4)
				return atof(buf + i + 1);
		}
	}
	return -1e9;
}

static int udp_socket(void)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bind(s, (struct sockaddr *)&sa, sizeof(sa));
	return s;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, size_t n, const char *unit, double scale)
{
	if (!n) {
		printf("%-44s no samples\n", what);
		return;
	}
	qsort(v, n, sizeof(double), cmp_double);
	printf("%-44s n=%-6zu p50=%8.1f %s  p99=%8.1f %s  max=%8.1f %s\n", what, n,
	       v[n / 2] * scale, unit, v[(size_t)((double)n * 0.99)] * scale, unit,
	       v[n - 1] * scale, unit);
}

/* One request in flight: returns number of replies, fills lat (ms). */
static size_t ping_pong(int s, const struct sockaddr_in *to, const char *req, size_t len,
                        size_t count, double pace_ms, double *lat, double *age)
{
	char buf[2048];
	size_t got = 0;
	for (size_t i = 0; i < count; i++) {
		double t0 = mono_ms();
		sendto(s, req, len, 0, (const struct sockaddr *)to, sizeof(*to));
		struct pollfd p = {.fd = s, .events = POLLIN};
		if (poll(&p, 1, 3000) == 1) {
			ssize_t n = recv(s, buf, sizeof(buf), 0);
			double t1 = mono_ms();
			if (n > 0) {
				lat[got] = t1 - t0;
				if (age) {
					double a = (double)((long)t1 % 100000) -
					           ct_phase_a(buf, (size_t)n);
					if (a < 0)
						a += 100000;
					age[got] = a;
				}
				got++;
			}
		}
		if (pace_ms > 0) {
			double until = t0 + pace_ms;
			while (mono_ms() < until)
				usleep(1000);
		}
	}
	return got;
}

static long read_status_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	long v = -1;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			v = atol(line + strlen(key) + 1);
	if (f)
		fclose(f);
	return v;
}

/* CPU time of pid in seconds, from /proc/<pid>/schedstat (nanoseconds on CPU): the clock
 * ticks of /proc/<pid>/stat (10 ms) are far too coarse for 100 replies. */
static double cpu_seconds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	unsigned long long ns = 0;
	if (fscanf(f, "%llu", &ns) != 1)
		ns = 0;
	fclose(f);
	return (double)ns / 1e9;
}

static pid_t start_daemon(const char *bin, const char *cfg)
{
	pid_t pid = fork();
	if (pid == 0) {
		execl(bin, bin, "-c", cfg, "-t", "--loglevel", "error", (char *)NULL);
		_exit(127);
	}
	return pid;
}

int main(int argc, char **argv)
{
	const char *bin = argc > 1 ? argv[1] : "build/release/astrameter";
	/* --active: the same figures with the balancer deciding every answer. */
	bool active = argc > 2 && strcmp(argv[2], "--active") == 0;
	signal(SIGPIPE, SIG_IGN);
	int mport = meter_start();
	if (mport < 0) {
		perror("meter");
		return 1;
	}
	int ctport = 23000 + (int)(getpid() % 2000);
	char cfgpath[] = "/tmp/bench-astrameter-XXXXXX";
	int cfd = mkstemp(cfgpath);
	FILE *cf = fdopen(cfd, "w");
	/* THROTTLE_INTERVAL 0.25 keeps the cache fresh for back-to-back requests while a
	 * paced client (every 300 ms) forces a fetch per request. */
	fprintf(cf,
	        "[GENERAL]\nDEVICE_TYPE = ct002, shellyproem50\n\n[CT002]\nUDP_PORT = %d\n"
	        "ACTIVE_CONTROL = %s\n\n[JSON_HTTP]\nURL = http://127.0.0.1:%d/power\n"
	        "JSON_PATHS = $.phase_a,$.phase_b,$.phase_c\nTHROTTLE_INTERVAL = 0.25\n",
	        ctport, active ? "True" : "False", mport);
	printf("mode: %s\n", active ? "active control (balancer on every answer)" : "relay");
	fclose(cf);
	pid_t pid = start_daemon(bin, cfgpath);
	struct sockaddr_in ct = {.sin_family = AF_INET,
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	                         .sin_port = htons((uint16_t)ctport)};
	struct sockaddr_in sh = ct;
	sh.sin_port = htons(2223);
	int s = udp_socket();
	char req[256];
	size_t rl = ct_frame(req, sizeof(req), "aabbccddeeff", 0);
	/* Wait until it answers. */
	double lat1[1];
	for (int i = 0; i < 100 && !ping_pong(s, &ct, req, rl, 1, 0, lat1, NULL); i++)
		usleep(50000);

	printf("astrameter benchmark (loopback, daemon %s, pid %d)\n", bin, (int)pid);
	enum { N = 20000 };
	double *lat = calloc(N, sizeof(double)), *age = calloc(N, sizeof(double));

	size_t got = ping_pong(s, &ct, req, rl, N, 0, lat, age);
	report("CT002 reply, fresh cache, 1 in flight", lat, got, "us", 1000);
	if (!active) /* active replies carry the balancer's values, not the meter's clock */
		report("  age of the reading in those replies", age, got, "ms", 1);

	const char *sreq =
	        "{\"id\":1,\"src\":\"bench\",\"method\":\"EM.GetStatus\",\"params\":{\"id\":0}}";
	got = ping_pong(s, &sh, sreq, strlen(sreq), N, 0, lat, NULL);
	report("Shelly EM.GetStatus, fresh cache, 1 in flight", lat, got, "us", 1000);

	/* 16 in flight for 3 s. */
	{
		int socks[16];
		char reqs[16][256];
		size_t lens[16];
		for (int i = 0; i < 16; i++) {
			socks[i] = udp_socket();
			char mac[13];
			snprintf(mac, sizeof(mac), "a0b0c0d0e0%02x", i);
			lens[i] = ct_frame(reqs[i], sizeof(reqs[i]), mac, 0);
			sendto(socks[i], reqs[i], lens[i], 0, (struct sockaddr *)&ct, sizeof(ct));
		}
		long replies = 0;
		double t0 = mono_ms();
		double cpu0 = cpu_seconds(pid);
		struct pollfd p[16];
		for (int i = 0; i < 16; i++)
			p[i] = (struct pollfd){.fd = socks[i], .events = POLLIN};
		while (mono_ms() - t0 < 3000) {
			if (poll(p, 16, 1000) <= 0)
				break;
			for (int i = 0; i < 16; i++) {
				if (!(p[i].revents & POLLIN))
					continue;
				char buf[2048];
				if (recv(socks[i], buf, sizeof(buf), 0) > 0)
					replies++;
				sendto(socks[i], reqs[i], lens[i], 0, (struct sockaddr *)&ct,
				       sizeof(ct));
			}
		}
		double secs = (mono_ms() - t0) / 1000.0;
		double cpu = cpu_seconds(pid) - cpu0;
		printf("%-44s %.0f replies/s (%ld in %.1f s), CPU %.1f us/reply\n",
		       "CT002 throughput, 16 in flight", (double)replies / secs, replies, secs,
		       replies ? cpu * 1e6 / (double)replies : 0.0);
		for (int i = 0; i < 16; i++)
			close(socks[i]);
	}

	/* A fetch per request: pace requests slower than the freshness bound. */
	long m0 = meter_requests;
	got = ping_pong(s, &ct, req, rl, 40, 300, lat, age);
	report("CT002 reply with a meter fetch per request", lat, got, "ms", 1);
	if (!active) /* active replies carry the balancer's values, not the meter's clock */
		report("  age of the reading in those replies", age, got, "ms", 1);
	printf("%-44s %ld fetches for %zu replies\n", "  meter fetches", meter_requests - m0, got);

	/* 10 batteries polling once per second each for 10 s. */
	{
		int socks[10];
		char reqs[10][256];
		size_t lens[10];
		for (int i = 0; i < 10; i++) {
			socks[i] = udp_socket();
			char mac[13];
			snprintf(mac, sizeof(mac), "b0b0c0d0e0%02x", i);
			lens[i] = ct_frame(reqs[i], sizeof(reqs[i]), mac, 10 * i);
		}
		double cpu0 = cpu_seconds(pid);
		long replies = 0;
		for (int round = 0; round < 10; round++) {
			double t0 = mono_ms();
			for (int i = 0; i < 10; i++)
				sendto(socks[i], reqs[i], lens[i], 0, (struct sockaddr *)&ct,
				       sizeof(ct));
			for (int i = 0; i < 10; i++) {
				struct pollfd p = {.fd = socks[i], .events = POLLIN};
				char buf[2048];
				if (poll(&p, 1, 2500) == 1 &&
				    recv(socks[i], buf, sizeof(buf), 0) > 0)
					replies++;
			}
			while (mono_ms() - t0 < 1000)
				usleep(5000);
		}
		double cpu = cpu_seconds(pid) - cpu0;
		printf("%-44s %ld replies, CPU %.1f us/reply (incl. fetches)\n",
		       "10 batteries polling at 1 Hz for 10 s", replies,
		       replies ? cpu * 1e6 / (double)replies : 0.0);
		printf("%-44s VmRSS %ld kB, RssAnon %ld kB, VmHWM %ld kB\n", "  daemon memory",
		       read_status_kb(pid, "VmRSS:"), read_status_kb(pid, "RssAnon:"),
		       read_status_kb(pid, "VmHWM:"));
		for (int i = 0; i < 10; i++)
			close(socks[i]);
	}
	kill(pid, SIGTERM);
	int status = 0;
	waitpid(pid, &status, 0);
	printf("%-44s %s\n", "daemon exit after SIGTERM",
	       WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "clean (0)" : "NOT CLEAN");
	unlink(cfgpath);
	free(lat);
	free(age);
	return 0;
}
