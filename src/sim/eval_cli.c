/* SPDX-License-Identifier: GPL-3.0-or-later */
/* `astra-sim eval`: the command line of the closed-loop evaluation (see eval.h). Runs the
 * selected scenarios (in parallel child processes with --jobs, each with its own daemon and
 * ports, or with --engine virtual in-process under a virtual clock), prints a text summary per
 * scenario, and writes the results as JSON, an HTML report and/or a comparison against an earlier
 * result file (ours or the reference's, which share the keys). --input re-reports a saved result
 * file without running. */
#include "sim/eval.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_SELECT 64

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: astra-sim eval [--scenario NAME]... [--mode relay|active]\n"
	        "                      [--engine daemon|virtual] [--duration S]\n"
	        "                      [--time-scale X] [--seed N] [--jobs N] [--set "
	        "KEY=VALUE]...\n"
	        "                      [--json PATH|-] [--html PATH] [--compare BASE.json]\n"
	        "                      [--input RESULTS.json] [--daemon PATH] [--trace-dir DIR]\n"
	        "                      [--keep] [--list] [-q] [-v]\n"
	        "  --scenario    run only this scenario (repeatable; default: all)\n"
	        "  --mode        relay (ACTIVE_CONTROL = False, default) or active\n"
	        "  --engine      daemon (the real daemon over loopback in real time, default)\n"
	        "                or virtual (our CT002 core and balancer in-process under a\n"
	        "                virtual clock: a scenario in milliseconds, deterministic)\n"
	        "  --timing      virtual engine: latency=S,interval=S,jitter=S,ramp=W,stale=P\n"
	        "                (meter latency and refresh, poll jitter, battery ramp rate,\n"
	        "                chance a meter refresh is missed)\n"
	        "  --duration    simulated seconds per scenario (default: the scenario's own;\n"
	        "                step schedules are compressed to fit, traces are windowed)\n"
	        "  --time-scale  simulated seconds per wall second (daemon engine, relay mode\n"
	        "                only; default 1)\n"
	        "  --set         extra [CT002] key for the daemon, e.g. --set PACE_BASE_STEP=40\n");
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	while (buf) {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	(void)fclose(f);
	if (buf)
		buf[len] = '\0';
	return buf;
}

static cJSON *load_json(const char *path)
{
	char *text = read_all(path);
	if (!text) {
		fprintf(stderr, "astra-sim eval: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	cJSON *j = cJSON_Parse(text);
	free(text);
	if (!j || !cJSON_IsArray(j)) {
		fprintf(stderr, "astra-sim eval: %s: not a JSON array of results\n", path);
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

/* A two-valued option: 0 for `first`, 1 for `second`, or -1 after saying what is allowed. */
static int one_of(const char *opt, const char *arg, const char *first, const char *second)
{
	if (!strcmp(arg, first))
		return 0;
	if (!strcmp(arg, second))
		return 1;
	fprintf(stderr, "astra-sim eval: --%s %s|%s\n", opt, first, second);
	return -1;
}

static bool is_file(const char *p, mode_t type)
{
	struct stat st;
	return stat(p, &st) == 0 && (st.st_mode & S_IFMT) == type;
}

/* Directory of this executable (for the daemon next to it and the source tree's traces). */
static void exe_dir(char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0) {
		snprintf(buf, len, ".");
		return;
	}
	self[n] = '\0';
	snprintf(buf, len, "%s", dirname(self));
}

static const char *find_trace_dir(char *buf, size_t len)
{
	const char *env = getenv("ASTRA_SIM_TRACES");
	if (env && *env)
		return env;
	char dir[PATH_MAX];
	exe_dir(dir, sizeof(dir));
	static const char *const rel[] = {"/../../tests/fixtures/sim/traces",
	                                  "/../tests/fixtures/sim/traces",
	                                  "/../share/astrameter/traces"};
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(buf, len, "%s%s", dir, rel[i]);
		if (is_file(buf, S_IFDIR))
			return buf;
	}
	return "tests/fixtures/sim/traces";
}

static const char *find_daemon(char *buf, size_t len)
{
	const char *env = getenv("AM_BIN");
	if (env && *env)
		return env;
	char dir[PATH_MAX];
	exe_dir(dir, sizeof(dir));
	/* A directory too long for buf cannot hold our binary: fall back to $PATH. */
	if (snprintf(buf, len, "%s/astrameter", dir) >= (int)len)
		return "astrameter";
	return is_file(buf, S_IFREG) ? buf : "astrameter";
}

/* Runs one scenario in a child process that writes its result to path. */
static pid_t run_child(const struct eval_scenario *sc, const struct eval_opts *o, const char *path)
{
	(void)fflush(stdout);
	(void)fflush(stderr);
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	struct err e = {{0}};
	cJSON *res = eval_run_scenario(sc, o, &e);
	if (!res) {
		fprintf(stderr, "astra-sim eval: %s: %s\n", sc->name, e.msg);
		_exit(1);
	}
	char *s = cJSON_PrintUnformatted(res);
	FILE *f = fopen(path, "w");
	int rc = (s && f && fputs(s, f) >= 0) ? 0 : 1;
	if (f && fclose(f) != 0)
		rc = 1;
	if (rc)
		fprintf(stderr, "astra-sim eval: %s: cannot write the result to %s\n", sc->name,
		        path);
	free(s);
	cJSON_Delete(res);
	_exit(rc);
}

static int run_all(const struct eval_scenario **sel, size_t nsel, const struct eval_opts *o,
                   int jobs, bool quiet, cJSON *results)
{
	char dir[] = "/tmp/astra-evalres-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("astra-sim eval: mkdtemp");
		return -1;
	}
	pid_t *pids = calloc(nsel, sizeof(pid_t));
	if (!pids)
		return -1;
	size_t next = 0, running = 0;
	int failed = 0;
	while (next < nsel || running > 0) {
		while (next < nsel && running < (size_t)jobs) {
			char path[64];
			snprintf(path, sizeof(path), "%s/%zu.json", dir, next);
			pids[next] = run_child(sel[next], o, path);
			if (pids[next] < 0) {
				perror("astra-sim eval: fork");
				failed++;
			} else {
				running++;
			}
			next++;
		}
		int st;
		pid_t done = wait(&st);
		if (done < 0)
			break;
		for (size_t i = 0; i < next; i++)
			if (pids[i] == done) {
				running--;
				if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
					pids[i] = -1;
					failed++;
				}
			}
	}
	for (size_t i = 0; i < nsel; i++) {
		char path[64];
		snprintf(path, sizeof(path), "%s/%zu.json", dir, i);
		char *text = pids[i] > 0 ? read_all(path) : NULL;
		cJSON *r = text ? cJSON_Parse(text) : NULL;
		free(text);
		(void)unlink(path);
		if (!r)
			continue;
		if (!quiet)
			eval_print_text(stderr, r);
		cJSON_AddItemToArray(results, r);
	}
	(void)rmdir(dir);
	free(pids);
	return failed ? -1 : 0;
}

enum {
	O_SCEN = 256,
	O_MODE,
	O_DUR,
	O_TS,
	O_SEED,
	O_JOBS,
	O_SET,
	O_JSON,
	O_HTML,
	O_CMP,
	O_INPUT,
	O_DAEMON,
	O_TRACES,
	O_KEEP,
	O_LIST,
	O_ENGINE,
	O_TIMING,
};

static const struct option opts[] = {
        {"scenario", required_argument, NULL, O_SCEN},
        {"mode", required_argument, NULL, O_MODE},
        {"engine", required_argument, NULL, O_ENGINE},
        {"timing", required_argument, NULL, O_TIMING},
        {"duration", required_argument, NULL, O_DUR},
        {"time-scale", required_argument, NULL, O_TS},
        {"seed", required_argument, NULL, O_SEED},
        {"jobs", required_argument, NULL, O_JOBS},
        {"set", required_argument, NULL, O_SET},
        {"json", required_argument, NULL, O_JSON},
        {"html", required_argument, NULL, O_HTML},
        {"compare", required_argument, NULL, O_CMP},
        {"input", required_argument, NULL, O_INPUT},
        {"daemon", required_argument, NULL, O_DAEMON},
        {"trace-dir", required_argument, NULL, O_TRACES},
        {"keep", no_argument, NULL, O_KEEP},
        {"list", no_argument, NULL, O_LIST},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
};

int eval_timing_parse(const char *spec, struct eval_timing *t, struct err *e)
{
	static const struct {
		const char *key;
		size_t off;
		double max;
	} keys[] = {
	        {"latency", offsetof(struct eval_timing, latency), 60.0},
	        {"interval", offsetof(struct eval_timing, interval), 60.0},
	        {"jitter", offsetof(struct eval_timing, jitter), 10.0},
	        {"ramp", offsetof(struct eval_timing, ramp), 100000.0},
	        {"stale", offsetof(struct eval_timing, stale), 1.0},
	};
	const char *p = spec;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t k = 0, nk = sizeof(keys) / sizeof(keys[0]);
		for (; eq && k < nk; k++)
			if (strlen(keys[k].key) == (size_t)(eq - p) &&
			    !strncmp(p, keys[k].key, (size_t)(eq - p)))
				break;
		if (!eq || k == nk)
			return err_set(
			        e, "expected latency|interval|jitter|ramp|stale=NUMBER, got '%.*s'",
			        (int)len, p);
		char num[32];
		size_t nl = len - (size_t)(eq + 1 - p);
		if (nl == 0 || nl >= sizeof(num))
			return err_set(e, "bad number for %s", keys[k].key);
		memcpy(num, eq + 1, nl);
		num[nl] = '\0';
		char *ne;
		double v = strtod(num, &ne);
		if (*ne || !(v >= 0.0) || v > keys[k].max)
			return err_set(e, "%s must be a number in [0, %g], got '%s'", keys[k].key,
			               keys[k].max, num);
		*(double *)(void *)((char *)t + keys[k].off) = v;
		p = end ? end + 1 : p + len;
	}
	return 0;
}

static int parse_positive(const char *s, double *out)
{
	char *end;
	*out = strtod(s, &end);
	return (end != s && *end == '\0' && *out > 0) ? 0 : -1;
}

static int write_outputs(cJSON *results, const char *json_path, const char *html_path,
                         const char *cmp_path)
{
	int rc = 0;
	if (json_path) {
		char *s = cJSON_Print(results);
		FILE *f = strcmp(json_path, "-") ? fopen(json_path, "w") : stdout;
		if (!s || !f || fputs(s, f) < 0 || fputc('\n', f) == EOF) {
			fprintf(stderr, "astra-sim eval: cannot write %s\n", json_path);
			rc = 1;
		}
		if (f && f != stdout && fclose(f) != 0)
			rc = 1;
		free(s);
	}
	cJSON *base = NULL;
	if (cmp_path) {
		base = load_json(cmp_path);
		if (!base)
			return 1;
		eval_print_compare(stdout, base, results);
	}
	if (html_path) {
		FILE *f = fopen(html_path, "w");
		if (!f || eval_write_html(f, results, base) < 0) {
			fprintf(stderr, "astra-sim eval: cannot write %s\n", html_path);
			rc = 1;
		}
		if (f && fclose(f) != 0)
			rc = 1;
	}
	cJSON_Delete(base);
	return rc;
}

int eval_main(int argc, char **argv)
{
	struct eval_opts o = {.mode = EVAL_MODE_RELAY,
	                      .time_scale = 1.0,
	                      .seed = 1,
	                      .timing = {.latency = -1.0, .interval = -1.0}};
	const char *names[MAX_SELECT];
	size_t nnames = 0;
	const char *json_path = NULL, *html_path = NULL, *cmp_path = NULL, *input = NULL;
	char set[1024] = "", dbuf[PATH_MAX], tbuf[PATH_MAX];
	int jobs = 1, c, v;
	bool list = false, quiet = false;
	optind = 1;
	while ((c = getopt_long(argc, argv, "qvh", opts, NULL)) != -1) {
		switch (c) {
		case O_SCEN:
			if (nnames == MAX_SELECT) {
				fprintf(stderr, "astra-sim eval: too many --scenario\n");
				return 2;
			}
			names[nnames++] = optarg;
			break;
		case O_MODE:
			if ((v = one_of("mode", optarg, "relay", "active")) < 0)
				return 2;
			o.mode = v ? EVAL_MODE_ACTIVE : EVAL_MODE_RELAY;
			break;
		case O_ENGINE:
			if ((v = one_of("engine", optarg, "daemon", "virtual")) < 0)
				return 2;
			o.engine = v ? EVAL_ENGINE_VIRTUAL : EVAL_ENGINE_DAEMON;
			break;
		case O_TIMING: {
			struct err te = {0};
			if (eval_timing_parse(optarg, &o.timing, &te) < 0) {
				fprintf(stderr, "astra-sim eval: --timing: %s\n", te.msg);
				return 2;
			}
			break;
		}
		case O_DUR:
			if (parse_positive(optarg, &o.duration) < 0) {
				fprintf(stderr, "astra-sim eval: bad --duration\n");
				return 2;
			}
			break;
		case O_TS:
			if (parse_positive(optarg, &o.time_scale) < 0 || o.time_scale > 50) {
				fprintf(stderr,
				        "astra-sim eval: --time-scale must be in (0, 50]\n");
				return 2;
			}
			break;
		case O_SEED:
			o.seed = strtoull(optarg, NULL, 10);
			break;
		case O_JOBS:
			jobs = atoi(optarg);
			if (jobs < 1 || jobs > 64) {
				fprintf(stderr, "astra-sim eval: --jobs must be 1..64\n");
				return 2;
			}
			break;
		case O_SET: {
			const char *eq = strchr(optarg, '=');
			size_t l = strlen(set);
			if (!eq || eq == optarg || strchr(optarg, '\n') || strchr(optarg, '[')) {
				fprintf(stderr, "astra-sim eval: --set expects KEY=VALUE\n");
				return 2;
			}
			int n = snprintf(set + l, sizeof(set) - l, "%.*s = %s\n",
			                 (int)(eq - optarg), optarg, eq + 1);
			if (n < 0 || (size_t)n >= sizeof(set) - l) {
				fprintf(stderr, "astra-sim eval: too many --set\n");
				return 2;
			}
			break;
		}
		case O_JSON:
			json_path = optarg;
			break;
		case O_HTML:
			html_path = optarg;
			break;
		case O_CMP:
			cmp_path = optarg;
			break;
		case O_INPUT:
			input = optarg;
			break;
		case O_DAEMON:
			o.daemon_bin = optarg;
			break;
		case O_TRACES:
			o.trace_dir = optarg;
			break;
		case O_KEEP:
			o.keep_dir = true;
			break;
		case O_LIST:
			list = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'v':
			o.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (list) {
		for (size_t i = 0; i < eval_scenario_count(); i++) {
			const struct eval_scenario *sc = eval_scenario_at(i);
			printf("%-26s %6.0f s  %s\n", sc->name, sc->duration, sc->description);
		}
		return 0;
	}
	if (o.engine != EVAL_ENGINE_VIRTUAL &&
	    (o.timing.latency >= 0 || o.timing.interval >= 0 || o.timing.jitter > 0 ||
	     o.timing.ramp > 0 || o.timing.stale > 0)) {
		fprintf(stderr, "astra-sim eval: --timing needs --engine virtual\n");
		return 2;
	}
	/* The virtual engine has no wall clock to scale: --time-scale does not apply. */
	if (o.engine == EVAL_ENGINE_VIRTUAL)
		o.time_scale = 1.0;
	if (o.mode == EVAL_MODE_ACTIVE && o.time_scale > 1.0) {
		fprintf(stderr, "astra-sim eval: --time-scale > 1 is only safe in relay mode (the "
		                "balancer's timers run on the daemon's real clock)\n");
		return 2;
	}
	o.ct_set = set[0] ? set : NULL;
	if (!o.daemon_bin)
		o.daemon_bin = find_daemon(dbuf, sizeof(dbuf));
	if (!o.trace_dir)
		o.trace_dir = find_trace_dir(tbuf, sizeof(tbuf));

	cJSON *results = NULL;
	int rc = 0;
	if (input) {
		results = load_json(input);
		if (!results)
			return 1;
	} else {
		const struct eval_scenario *sel[MAX_SELECT];
		size_t nsel = 0;
		for (size_t i = 0; i < nnames; i++) {
			sel[nsel] = eval_scenario_find(names[i]);
			if (!sel[nsel]) {
				fprintf(stderr,
				        "astra-sim eval: unknown scenario '%s' (see --list)\n",
				        names[i]);
				return 2;
			}
			nsel++;
		}
		for (size_t i = 0; nnames == 0 && i < eval_scenario_count() && nsel < MAX_SELECT;
		     i++)
			sel[nsel++] = eval_scenario_at(i);
		results = cJSON_CreateArray();
		if (!results)
			return 1;
		if (run_all(sel, nsel, &o, jobs, quiet, results) < 0)
			rc = 1;
	}
	if (write_outputs(results, json_path, html_path, cmp_path) != 0)
		rc = 1;
	cJSON_Delete(results);
	return rc;
}
