/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Evaluation reports (see eval.h): the per-scenario text summary, the --compare table of
 * base vs head (per scenario and for the mean across the scenarios both results hold), and
 * a self-contained HTML page: metric tables plus inline SVG plots of the grid against the
 * house consumption and of each battery's output, with no scripts or external assets so
 * it opens anywhere, CI artifacts included. Results are the JSON objects the runner
 * produces, which use the reference's keys, so a reference result file also compares. */
#include "sim/eval.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

const char *const eval_report_keys[] = {
        "settle_mean_s",
        "settle_p95_s",
        "unsettled_events",
        "overshoot_mean_w",
        "overshoot_max_w",
        "band_crossings_per_h",
        "grid_p2p_w",
        "grid_rms_w",
        "steady_rms_w",
        "mean_abs_grid_w",
        "share_imbalance_w",
        "import_wh",
        "export_wh",
        "avoidable_import_wh",
        "avoidable_export_wh",
        "grid_cost_ct",
        "oracle_cost_ct",
        "cost_regret_ct",
        "battery_travel_w_per_h",
        "share_dev_p95_w",
        "steady_rms_after_start_w",
};
const size_t eval_report_nkeys = sizeof(eval_report_keys) / sizeof(eval_report_keys[0]);

static const char *const glossary[] = {
        "seconds after a labelled load/PV step until |grid| < 25 W for 10 s (mean)",
        "95th percentile of the settle times",
        "steps that never settled within their window (10 min, or up to the next step)",
        "mean excursion past zero to the opposite sign after a step, W",
        "worst such overshoot, W",
        "crossings of the +-20 W hysteresis band per hour (hunting)",
        "grid p95 - p5 over the whole run, W (sustained swing)",
        "time-weighted RMS grid over the whole run, W",
        "RMS grid excluding the 120 s after each step, W",
        "time-weighted mean |grid|, W",
        "W misallocated between batteries on the same phase (time-weighted)",
        "energy imported, Wh",
        "energy exported, Wh",
        "import while a battery had charge and discharge headroom, Wh",
        "export while an AC-chargeable battery had room and charge headroom, Wh",
        "bill at 30 ct/kWh import, 8 ct/kWh feed-in, eurocents",
        "bill of a perfect-foresight lossless fleet battery, eurocents",
        "grid cost - oracle cost (the headline number), eurocents",
        "sum of |change of battery output| per hour, W/h",
        "p95 of the worst same-phase battery's distance from its weighted share under "
        "steady load (ours, issue 5's 25 W goal), W",
        "steady RMS without the first 30 s (before any battery can respond)",
};

static double num(const cJSON *o, const char *k, bool *ok)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (ok)
		*ok = cJSON_IsNumber(v);
	return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : "";
}

void eval_print_text(FILE *f, const void *result_json)
{
	const cJSON *r = result_json;
	fprintf(f, "== %s (%s mode, seed %.0f, %.0f s, %.0f events)\n", str(r, "scenario"),
	        str(r, "mode"), num(r, "seed", NULL), num(r, "duration_s", NULL),
	        num(r, "events_measured", NULL));
	for (size_t i = 0; i < eval_report_nkeys; i++)
		fprintf(f, "  %-24s %g\n", eval_report_keys[i], num(r, eval_report_keys[i], NULL));
}

static const cJSON *find_scenario(const cJSON *arr, const char *name)
{
	const cJSON *r;
	cJSON_ArrayForEach(r, arr)
	{
		if (!strcmp(str(r, "scenario"), name))
			return r;
	}
	return NULL;
}

static void fmt_delta(char *buf, size_t len, double b, double h)
{
	if (b == h)
		snprintf(buf, len, "=");
	else if (b == 0)
		snprintf(buf, len, "%+g", h - b);
	else
		snprintf(buf, len, "%+.0f%%", (h - b) / fabs(b) * 100.0);
}

static void compare_rows(FILE *f, const cJSON *b, const cJSON *h)
{
	fprintf(f, "  %-24s %12s %12s %8s\n", "metric", "base", "head", "delta");
	for (size_t i = 0; i < eval_report_nkeys; i++) {
		bool okb, okh;
		double bv = num(b, eval_report_keys[i], &okb);
		double hv = num(h, eval_report_keys[i], &okh);
		char d[32] = "-", bs[32] = "-", hs[32] = "-";
		if (okb)
			snprintf(bs, sizeof(bs), "%g", bv);
		if (okh)
			snprintf(hs, sizeof(hs), "%g", hv);
		if (okb && okh)
			fmt_delta(d, sizeof(d), bv, hv);
		fprintf(f, "  %-24s %12s %12s %8s\n", eval_report_keys[i], bs, hs, d);
	}
}

/* Mean of each metric over the scenarios present in both sets (the reference's
 * aggregate roll-up); returns a new object, or NULL. */
static cJSON *aggregate(const cJSON *set, const cJSON *other, int *nshared)
{
	cJSON *agg = cJSON_CreateObject();
	if (!agg)
		return NULL;
	*nshared = 0;
	double sum[32] = {0};
	int have[32] = {0};
	const cJSON *r;
	cJSON_ArrayForEach(r, set)
	{
		if (!find_scenario(other, str(r, "scenario")))
			continue;
		(*nshared)++;
		for (size_t i = 0; i < eval_report_nkeys && i < 32; i++) {
			bool ok;
			sum[i] += num(r, eval_report_keys[i], &ok);
			have[i] += ok;
		}
	}
	/* A key some results lack (the reference's files have no share_dev_p95_w) has no
	 * mean: it is left out and shows as "-", not as a mean that counts it as 0. */
	for (size_t i = 0; i < eval_report_nkeys && i < 32 && *nshared; i++)
		if (have[i] == *nshared)
			cJSON_AddNumberToObject(agg, eval_report_keys[i],
			                        round(sum[i] / *nshared * 100.0) / 100.0);
	return agg;
}

void eval_print_compare(FILE *f, const void *base_json, const void *head_json)
{
	const cJSON *base = base_json, *head = head_json;
	int n = 0, m = 0;
	cJSON *ab = aggregate(base, head, &n);
	cJSON *ah = aggregate(head, base, &m);
	fprintf(f, "Steering evaluation, base vs head (lower is better)\n\n");
	if (n > 0 && ab && ah) {
		fprintf(f, "== AGGREGATE (mean across %d scenarios in both)\n", n);
		compare_rows(f, ab, ah);
		fputc('\n', f);
	}
	cJSON_Delete(ab);
	cJSON_Delete(ah);
	const cJSON *h;
	cJSON_ArrayForEach(h, head)
	{
		const cJSON *b = find_scenario(base, str(h, "scenario"));
		fprintf(f, "== %s%s\n", str(h, "scenario"), b ? "" : " (not in base)");
		compare_rows(f, b, h);
		fputc('\n', f);
	}
	const cJSON *b;
	cJSON_ArrayForEach(b, base)
	{
		if (!find_scenario(head, str(b, "scenario")))
			fprintf(f, "(only in base: %s)\n", str(b, "scenario"));
	}
}

/* ---- HTML ------------------------------------------------------------------------------ */

static void html_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '&':
			fputs("&amp;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

struct series {
	const cJSON *arr;
	const char *label;
	const char *color;
	bool dashed;
};

#define SVG_W 900.0
#define SVG_H 220.0
#define PAD_L 56.0
#define PAD_R 10.0
#define PAD_T 10.0
#define PAD_B 24.0

/* One line chart: shared y range over all series (with 0 in it), a zero line, y ticks in
 * W, x ticks in minutes of the run, and a legend. */
static void svg_chart(FILE *f, const char *title, const struct series *s, size_t ns,
                      double duration)
{
	double lo = 0, hi = 0;
	size_t npts = 0;
	for (size_t k = 0; k < ns; k++) {
		const cJSON *v;
		size_t c = 0;
		cJSON_ArrayForEach(v, s[k].arr)
		{
			if (cJSON_IsNumber(v)) {
				lo = fmin(lo, v->valuedouble);
				hi = fmax(hi, v->valuedouble);
			}
			c++;
		}
		npts = c > npts ? c : npts;
	}
	if (hi - lo < 50) {
		hi += 25;
		lo -= 25;
	}
	double pw = SVG_W - PAD_L - PAD_R, ph = SVG_H - PAD_T - PAD_B;
	fprintf(f, "<figure><figcaption>");
	html_text(f, title);
	fprintf(f,
	        "</figcaption>\n<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f "
	        "%.0f\" width=\"100%%\" role=\"img\">\n",
	        SVG_W, SVG_H);
	fprintf(f,
	        "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"#fff\" "
	        "stroke=\"#ccc\"/>\n",
	        PAD_L, PAD_T, pw, ph);
	/* y ticks: 5 evenly spaced values */
	for (int i = 0; i <= 4; i++) {
		double v = lo + (hi - lo) * i / 4.0;
		double y = PAD_T + ph * (1.0 - (v - lo) / (hi - lo));
		fprintf(f,
		        "<text x=\"%.0f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%.0f"
		        "</text><line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" "
		        "stroke=\"#eee\"/>\n",
		        PAD_L - 4, y + 3, v, PAD_L, PAD_L + pw, y, y);
	}
	double y0 = PAD_T + ph * (1.0 - (0 - lo) / (hi - lo));
	fprintf(f, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#888\"/>\n",
	        PAD_L, PAD_L + pw, y0, y0);
	for (int i = 0; i <= 6; i++) {
		double x = PAD_L + pw * i / 6.0;
		fprintf(f,
		        "<text x=\"%.1f\" y=\"%.0f\" font-size=\"10\" text-anchor=\"middle\">"
		        "%.1f min</text>\n",
		        x, SVG_H - 8, duration * i / 6.0 / 60.0);
	}
	for (size_t k = 0; k < ns; k++) {
		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.2\"%s points=\"",
		        s[k].color, s[k].dashed ? " stroke-dasharray=\"4 3\"" : "");
		const cJSON *v;
		size_t i = 0;
		cJSON_ArrayForEach(v, s[k].arr)
		{
			double x = PAD_L + (npts > 1 ? pw * (double)i / (double)(npts - 1) : 0);
			double y = PAD_T + ph * (1.0 - (v->valuedouble - lo) / (hi - lo));
			fprintf(f, "%.1f,%.1f ", x, y);
			i++;
		}
		fprintf(f, "\"/>\n");
		fprintf(f,
		        "<rect x=\"%.0f\" y=\"%.0f\" width=\"10\" height=\"3\" fill=\"%s\"/>"
		        "<text x=\"%.0f\" y=\"%.0f\" font-size=\"10\">",
		        PAD_L + 8 + 150.0 * (double)k, PAD_T + 6, s[k].color,
		        PAD_L + 22 + 150.0 * (double)k, PAD_T + 10);
		html_text(f, s[k].label);
		fprintf(f, "</text>\n");
	}
	fprintf(f, "</svg></figure>\n");
}

/* One table cell: the value, or "-" when the object lacks the key. */
static void html_num(FILE *f, const cJSON *o, const char *k)
{
	bool ok;
	double v = num(o, k, &ok);
	if (ok)
		fprintf(f, "<td>%g</td>", v);
	else
		fprintf(f, "<td>-</td>");
}

static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"};

static void html_scenario(FILE *f, const cJSON *h, const cJSON *b)
{
	const char *name = str(h, "scenario");
	fprintf(f, "<section id=\"");
	html_text(f, name);
	fprintf(f, "\"><h2>");
	html_text(f, name);
	fprintf(f, "</h2>\n<p>");
	html_text(f, str(h, "description"));
	fprintf(f,
	        "<br>%s mode, seed %.0f, %.0f s simulated (time scale %g), %.0f steps "
	        "measured</p>\n",
	        str(h, "mode"), num(h, "seed", NULL), num(h, "duration_s", NULL),
	        num(h, "time_scale", NULL), num(h, "events_measured", NULL));
	fprintf(f, "<table><tr><th>metric</th>%s<th>value</th>%s</tr>\n", b ? "<th>base</th>" : "",
	        b ? "<th>delta</th>" : "");
	for (size_t i = 0; i < eval_report_nkeys; i++) {
		bool okb = false, okh;
		double hv = num(h, eval_report_keys[i], &okh);
		double bv = b ? num(b, eval_report_keys[i], &okb) : 0;
		fprintf(f, "<tr><td title=\"");
		html_text(f, glossary[i]);
		fprintf(f, "\">%s</td>", eval_report_keys[i]);
		if (b) {
			if (okb)
				fprintf(f, "<td>%g</td>", bv);
			else
				fprintf(f, "<td>-</td>");
		}
		fprintf(f, "<td>%g</td>", hv);
		if (b) {
			char d[32] = "-";
			if (okb && okh)
				fmt_delta(d, sizeof(d), bv, hv);
			fprintf(f, "<td class=\"%s\">%s</td>",
			        (okb && okh && hv > bv)   ? "worse"
			        : (okb && okh && hv < bv) ? "better"
			                                  : "",
			        d);
		}
		fprintf(f, "</tr>\n");
	}
	fprintf(f, "</table>\n");
	double dur = num(h, "duration_s", NULL);
	struct series gs[3];
	size_t ng = 0;
	gs[ng++] = (struct series){cJSON_GetObjectItemCaseSensitive(h, "consumption_trace"),
	                           "house load (consumption)", "#999", true};
	if (b && cJSON_GetObjectItemCaseSensitive(b, "grid_trace"))
		gs[ng++] = (struct series){cJSON_GetObjectItemCaseSensitive(b, "grid_trace"),
		                           "grid (base)", "#ff7f0e", false};
	gs[ng++] = (struct series){cJSON_GetObjectItemCaseSensitive(h, "grid_trace"), "grid",
	                           "#1f77b4", false};
	svg_chart(f, "Grid power and house load, W (+ import)", gs, ng, dur);
	struct series bs[EVAL_MAX_BAT];
	size_t nb = 0;
	const cJSON *traces = cJSON_GetObjectItemCaseSensitive(h, "battery_traces");
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(h, "battery_labels");
	const cJSON *t;
	cJSON_ArrayForEach(t, traces)
	{
		if (nb == EVAL_MAX_BAT)
			break;
		const cJSON *l = cJSON_GetArrayItem(labels, (int)nb);
		bs[nb] = (struct series){t, cJSON_IsString(l) ? l->valuestring : "battery",
		                         colors[nb % 5], false};
		nb++;
	}
	if (nb)
		svg_chart(f, "Battery output, W (+ discharge)", bs, nb, dur);
	fprintf(f, "</section>\n");
}

int eval_write_html(FILE *f, const void *head_json, const void *base_json)
{
	const cJSON *head = head_json, *base = base_json;
	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	           "<title>astrameter steering evaluation</title>\n<style>\n"
	           "body{font-family:sans-serif;max-width:960px;margin:1em auto;color:#222}\n"
	           "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;"
	           "padding:2px 8px;text-align:right}td:first-child{text-align:left}\n"
	           ".better{color:#080}.worse{color:#b00}figure{margin:1em 0}"
	           "figcaption{font-size:13px;font-weight:bold}\n</style></head><body>\n"
	           "<h1>Steering evaluation</h1>\n<p>Closed loop: astra-sim batteries and meter "
	           "against the real astrameter daemon over loopback. Lower is better for every "
	           "metric; hover a metric name for its definition.</p>\n");
	int n = 0;
	cJSON *ah = aggregate(head, base ? base : head, &n);
	cJSON *ab = base ? aggregate(base, head, &n) : NULL;
	if (ah && n > 1) {
		fprintf(f,
		        "<h2>Aggregate (mean across %d scenarios)</h2>\n<table><tr><th>metric"
		        "</th>%s<th>value</th></tr>\n",
		        n, ab ? "<th>base</th>" : "");
		for (size_t i = 0; i < eval_report_nkeys; i++) {
			fprintf(f, "<tr><td>%s</td>", eval_report_keys[i]);
			if (ab)
				html_num(f, ab, eval_report_keys[i]);
			html_num(f, ah, eval_report_keys[i]);
			fprintf(f, "</tr>\n");
		}
		fprintf(f, "</table>\n");
	}
	cJSON_Delete(ah);
	cJSON_Delete(ab);
	fprintf(f, "<ul>\n");
	const cJSON *h;
	cJSON_ArrayForEach(h, head)
	{
		fprintf(f, "<li><a href=\"#");
		html_text(f, str(h, "scenario"));
		fprintf(f, "\">");
		html_text(f, str(h, "scenario"));
		fprintf(f, "</a></li>\n");
	}
	fprintf(f, "</ul>\n");
	cJSON_ArrayForEach(h, head)
	{
		html_scenario(f, h, base ? find_scenario(base, str(h, "scenario")) : NULL);
	}
	fprintf(f, "</body></html>\n");
	return ferror(f) ? -1 : 0;
}
