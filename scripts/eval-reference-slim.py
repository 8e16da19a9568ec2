#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Slims a full result file of the reference's closed-loop evaluation (AstraMeter v2.2.3,
`python -m astrameter.simulator.evaluation --json`, possibly over several seeds) to the
per-scenario scalar metrics that tests/integration/test_closedloop_targets.py compares
against: traces, labels and the seed list are dropped, scenarios are sorted by name, and a
top-level note records where the numbers come from.

    scripts/eval-reference-slim.py FULL.json [-o tests/fixtures/sim/reference_eval.json]
        [--note TEXT]

Standard library only."""

import argparse
import json
import math
import sys

DEFAULT_NOTE = ("Reference AstraMeter v2.2.3 simulator/evaluation.py, active control, default "
                "settings, every scenario at its native length, --seeds 5 (seeds 1-5 merged by "
                "the reference's own mean); issue561_three_venus_e and issue624_b2500_join "
                "registered in the reference with the same definitions as ours. Slimmed by "
                "scripts/eval-reference-slim.py (scalar metrics only).")


def slim(results):
    out = {}
    for r in results:
        name = r.get("scenario")
        if not isinstance(name, str):
            raise ValueError("result without a scenario name")
        keep = {}
        for k, v in r.items():
            if k in ("scenario", "n_seeds") or isinstance(v, bool):
                continue
            if isinstance(v, (int, float)) and math.isfinite(v):
                keep[k] = v
        if name in out:
            raise ValueError("scenario %s twice" % name)
        out[name] = dict(sorted(keep.items()))
    return dict(sorted(out.items()))


def dump(doc):
    """One line per scenario: small, and diffs show which scenario changed."""
    lines = ["{",
             ' "note": %s,' % json.dumps(doc["note"]),
             ' "seeds": %s,' % json.dumps(doc["seeds"]),
             ' "scenarios": {']
    items = list(doc["scenarios"].items())
    for i, (name, m) in enumerate(items):
        lines.append("  %s: %s%s" % (json.dumps(name), json.dumps(m),
                                     "," if i + 1 < len(items) else ""))
    lines += [" }", "}"]
    return "\n".join(lines) + "\n"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("full", help="the reference's full --json output (a list of results)")
    ap.add_argument("-o", "--output", default="-", help="where to write (default stdout)")
    ap.add_argument("--note", default=DEFAULT_NOTE, help="provenance note")
    a = ap.parse_args(argv)
    with open(a.full) as f:
        results = json.load(f)
    if not isinstance(results, list):
        raise SystemExit("expected a JSON array of per-scenario results")
    seeds = sorted({tuple(r.get("seeds", [])) for r in results})
    doc = {"note": a.note, "seeds": list(seeds[0]) if len(seeds) == 1 else None,
           "scenarios": slim(results)}
    text = dump(doc)
    if a.output == "-":
        sys.stdout.write(text)
    else:
        with open(a.output, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
