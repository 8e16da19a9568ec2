# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 5's closed-loop targets in CI (ctest label "closedloop"): our CT002 core and balancer
against the reference's own evaluation, every scenario, default settings.

`astra-sim eval --engine virtual --mode active` runs every scenario at its own length for
seeds 1..5 (in parallel, about 5 s each on a release build); the five results of a scenario
are merged by their mean, as the reference merges its seeds. The reference's figures
(v2.2.3 evaluation.py, native lengths, seeds 1-5) are tests/fixtures/sim/reference_eval.json.
The checks, per scenario:

- settle_mean_s and settle_p95_s at most 0.5x the reference's, steady_rms_w at most 0.7x;
- overshoot_max_w, band_crossings_per_h, grid_p2p_w and avoidable_import_wh at most 1.05x;
- cost_regret_ct lower than the reference's (met when both are 0). For every ratio target a
  reference value of 0 is met only by 0;
- share_dev_p95_w at most 25 W in every scenario with two or more batteries that is not in
  efficiency mode and had steady load at all (share_samples > 0) (same-phase batteries within 25 W of their weighted share after 60 s of
  steady load). In efficiency mode (the result's "efficiency_mode": MIN_EFFICIENT_POWER > 0)
  the balancer parks batteries on purpose, so a fair share is not the intent; the metric is
  still computed and printed there, not checked;
- settle_mean_s and settle_p95_s at most 60 s in issue561_three_venus_e and
  issue624_b2500_join (check ids settle_mean_s_60s, settle_p95_s_60s).

A pair that misses today is listed in tests/fixtures/sim/closedloop_expect.json (scenario,
metric, ours, ref, why); for those the test asserts no regression instead: ours <= the
recorded value x 1.10 + a small absolute slack per metric. A known miss that is now met is
printed as "now met: update the expectations", which is not a failure. Every other pair must
meet its target. Regenerate the expectations with scripts/closedloop-expect.py after a
controller change (it runs this file's code).

Environment: AM_BUILD (build dir with astra-sim), AM_SRC (source tree), SIM_BIN (overrides
the astra-sim path), and AM_EVAL_SET: extra `--set` lines for the balancer, separated by
spaces or commas ("PACE_MAX_STEP=30 BALANCE_GAIN=0.2"). It exists to show that the test
catches a worse controller: `AM_EVAL_SET=PACE_MAX_STEP=30 ctest -R closedloop_targets`
must fail. Standard library only."""

import json
import math
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from amtest import Runner, check  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
AM_BUILD = os.environ.get("AM_BUILD", os.path.join(HERE, "../../build/release"))
AM_SRC = os.environ.get("AM_SRC", os.path.join(HERE, "../.."))
SIM_BIN = os.environ.get("SIM_BIN", os.path.join(AM_BUILD, "astra-sim"))
TRACES = os.path.join(AM_SRC, "tests/fixtures/sim/traces")
REFERENCE = os.path.join(AM_SRC, "tests/fixtures/sim/reference_eval.json")
EXPECT = os.path.join(AM_SRC, "tests/fixtures/sim/closedloop_expect.json")
SEEDS = (1, 2, 3, 4, 5)

# (metric, kind, factor): "ratio" = ours <= factor x ref; "lower" = ours < ref (or both 0).
RATIO_TARGETS = (
    ("settle_mean_s", "ratio", 0.5),
    ("settle_p95_s", "ratio", 0.5),
    ("steady_rms_w", "ratio", 0.7),
    ("overshoot_max_w", "ratio", 1.05),
    ("band_crossings_per_h", "ratio", 1.05),
    ("grid_p2p_w", "ratio", 1.05),
    ("avoidable_import_wh", "ratio", 1.05),
    ("cost_regret_ct", "lower", None),
)
SHARE_LIMIT_W = 25.0
SETTLE_LIMIT_S = 60.0
SETTLE_SCENARIOS = ("issue561_three_venus_e", "issue624_b2500_join")

# Known misses may not get worse than recorded x REGRESS_FACTOR + this slack (per metric,
# in the metric's unit), which absorbs rounding and small seed-mean shifts.
REGRESS_FACTOR = 1.10
SLACK = {
    "settle_mean_s": 1.0, "settle_p95_s": 1.0, "settle_mean_s_60s": 1.0,
    "settle_p95_s_60s": 1.0, "steady_rms_w": 1.0, "overshoot_max_w": 5.0,
    "band_crossings_per_h": 5.0, "grid_p2p_w": 5.0, "avoidable_import_wh": 0.5,
    "cost_regret_ct": 0.02, "share_dev_p95_w": 2.0,
}


def eval_set_args():
    """--set arguments from AM_EVAL_SET (for demonstrating a regression by hand)."""
    raw = os.environ.get("AM_EVAL_SET", "").replace(",", " ").split()
    out = []
    for kv in raw:
        out += ["--set", kv]
    return out


def run_seeds(sim_bin=None, seeds=SEEDS, extra=None):
    """Runs every scenario once per seed (in parallel) and returns {scenario: [results]}."""
    sim_bin = sim_bin or SIM_BIN
    extra = eval_set_args() if extra is None else extra
    d = tempfile.mkdtemp(prefix="closedloop-targets-")
    procs = []
    for s in seeds:
        out = os.path.join(d, "seed%d.json" % s)
        args = [sim_bin, "eval", "--engine", "virtual", "--mode", "active", "--seed", str(s),
                "--trace-dir", TRACES, "-q", "--json", out] + extra
        procs.append((s, out, subprocess.Popen(args, stdout=subprocess.PIPE,
                                               stderr=subprocess.PIPE)))
    runs = {}
    for s, out, p in procs:
        _, err = p.communicate(timeout=240)
        if p.returncode != 0:
            raise RuntimeError("astra-sim eval --seed %d failed (%d):\n%s"
                               % (s, p.returncode, err.decode(errors="replace")))
        with open(out) as f:
            for r in json.load(f):
                runs.setdefault(r["scenario"], []).append(r)
        os.unlink(out)
    os.rmdir(d)
    return runs


def merge(runs):
    """Per scenario, the mean of every numeric key over the seeds, plus the battery count and
    whether the balancer ran in efficiency mode."""
    merged = {}
    for name, rs in runs.items():
        m = {"n_seeds": len(rs), "n_batteries": len(rs[0].get("battery_labels", [])),
             "efficiency_mode": any(r.get("efficiency_mode", False) for r in rs)}
        for k, v in rs[0].items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                m[k] = sum(r[k] for r in rs) / len(rs)
        merged[name] = m
    return merged


def load_reference(path=REFERENCE):
    with open(path) as f:
        return json.load(f)["scenarios"]


def load_expect(path=EXPECT):
    try:
        with open(path) as f:
            doc = json.load(f)
    except FileNotFoundError:
        return {}
    return {(e["scenario"], e["metric"]): e for e in doc["known_misses"]}


def share_checked(o):
    """Whether the sharing goal applies to a merged scenario: a pool exists, the balancer
    is not in efficiency mode (which parks batteries below MIN_EFFICIENT_POWER on purpose;
    their distance from a fair share is the intent there, not a fault), and the run had
    steady load to share at all (share_samples > 0: a +-150 W noisy house never does, and
    its 0 W would be "not measured", not "perfect")."""
    return (o["n_batteries"] >= 2 and not o.get("efficiency_mode", False)
            and o.get("share_samples", 1) > 0)


def pairs(ours, ref):
    """Every checked pair: (scenario, metric id, ours, ref/limit, met, target text)."""
    out = []
    for name in sorted(ref):
        if name not in ours:
            continue
        o, r = ours[name], ref[name]
        for k, kind, f in RATIO_TARGETS:
            ov, rv = o[k], r[k]
            if kind == "lower":
                met = ov < rv or (ov == 0 and rv == 0)
                text = "< ref"
            else:
                met = ov <= f * rv + 1e-9
                text = "<= %gx ref" % f
            out.append((name, k, ov, rv, met, text))
    for name in sorted(ours):
        o = ours[name]
        if share_checked(o):
            v = o["share_dev_p95_w"]
            out.append((name, "share_dev_p95_w", v, SHARE_LIMIT_W, v <= SHARE_LIMIT_W,
                        "<= %g W" % SHARE_LIMIT_W))
        if name in SETTLE_SCENARIOS:
            for k in ("settle_mean_s", "settle_p95_s"):
                v = o[k]
                out.append((name, k + "_60s", v, SETTLE_LIMIT_S, v <= SETTLE_LIMIT_S,
                            "<= %g s" % SETTLE_LIMIT_S))
    return out


def fmt(v):
    return "%.2f" % v if abs(v) < 10 else "%.1f" % v


def test_targets():
    check(os.path.exists(SIM_BIN), "no astra-sim at %s (set AM_BUILD or SIM_BIN)" % SIM_BIN)
    t0 = time.monotonic()
    runs = run_seeds()
    wall = time.monotonic() - t0
    ref = load_reference()
    expect = load_expect()
    # Every scenario of the reference ran, for every seed, with finite metrics.
    check(sorted(set(ref) - set(runs)) == [], ("scenarios missing", sorted(set(ref) - set(runs))))
    for name, rs in runs.items():
        check(len(rs) == len(SEEDS), (name, len(rs)))
        for r in rs:  # a poll without an answer means a broken frame, not a tuning issue
            check(sum(r["battery_timeouts"]) == 0, (name, r["battery_timeouts"]))
    ours = merge(runs)
    for name, o in ours.items():
        for k, _, _ in RATIO_TARGETS:
            check(math.isfinite(o[k]), (name, k, o[k]))
        check("share_dev_p95_w" in o and math.isfinite(o["share_dev_p95_w"]), name)
    # The flag that exempts a scenario from the sharing goal must be there and match the
    # scenarios that set MIN_EFFICIENT_POWER (the /eff variants), or a broken flag could
    # silently drop the check everywhere. AM_EVAL_SET may set MIN_EFFICIENT_POWER itself.
    for name, rs in runs.items():
        for r in rs:
            check(isinstance(r.get("efficiency_mode"), bool), (name, "efficiency_mode"))
        if not eval_set_args():
            check(ours[name]["efficiency_mode"] == name.endswith("/eff"),
                  (name, "efficiency_mode", ours[name]["efficiency_mode"]))

    failures, now_met, known = [], [], 0
    met_n = 0
    allp = pairs(ours, ref)
    seen = set()
    for name, k, ov, rv, met, text in allp:
        key = (name, k)
        seen.add(key)
        e = expect.get(key)
        if met:
            met_n += 1
            if e is not None:
                now_met.append("now met: update the expectations: %s %s %s (ref %s, was %s)"
                               % (name, k, fmt(ov), fmt(rv), fmt(e["ours"])))
            continue
        if e is None:
            failures.append("MISS %s %s: ours %s, target %s (ref %s)"
                            % (name, k, fmt(ov), text, fmt(rv)))
            continue
        known += 1
        bound = e["ours"] * REGRESS_FACTOR + SLACK.get(k, 0.0)
        if ov > bound:
            failures.append("REGRESSION %s %s: ours %s > %s (known miss recorded at %s; ref %s)"
                            % (name, k, fmt(ov), fmt(bound), fmt(e["ours"]), fmt(rv)))
    eff = sorted(n for n, o in ours.items() if o["n_batteries"] >= 2 and not share_checked(o))
    if eff:
        print("share_dev_p95_w not checked (efficiency mode, or no steady load): "
              + ", ".join("%s %s (%d samples)" % (n, fmt(ours[n]["share_dev_p95_w"]),
                                                 ours[n].get("share_samples", 0))
                          for n in eff))
    for line in now_met:
        print(line)
    for key in sorted(set(expect) - seen):
        print("stale expectation (no such pair): %s %s" % key)
    for line in failures:
        print(line)
    print("wall %.1f s for %d seeds x %d scenarios%s"
          % (wall, len(SEEDS), len(runs),
             (" with AM_EVAL_SET=" + os.environ["AM_EVAL_SET"])
             if os.environ.get("AM_EVAL_SET") else ""))
    print("targets met: %d/%d pairs, known misses: %d" % (met_n, len(allp), known))
    check(not failures, "%d target(s) missed or regressed (see above)" % len(failures))


if __name__ == "__main__":
    Runner().run([test_targets])
