"""Calibration of the trend statistics: false flags on null fleets, planted events found.

    PYTHONPATH=src python benchmarks/bench_calibration.py --fleets 5

For each seed, two fleets from ``honeyscope.synth.fleet.calibration_fleet`` (9 sensors, 120
days; negative binomial daily counts with overdispersion, weekday effects and AR(1) day-to-day
autocorrelation): a **null** fleet (no event) and the same fleet with three **planted** events (a
one-day burst of one port at one sensor, a lasting level shift of one port at one sensor, a new
port on all sensors). ``trends.anomalies`` runs on each, once per metric (distinct sources,
packets), each run its own Bonferroni family at alpha 0.01. Prints, per run, the family size, the
flags not explained by a planted event (false flags) and whether each planted event was found on
the right day; then the totals. A flag is explained by an event when it is on the event's sensor
and day (burst: that day; shift: within 3 days, a changepoint; new port: an emerging-port flag on
its first day, or any flag on that port from that day on).
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

import pandas as pd

from honeyscope.analyse import engine, trends
from honeyscope.synth.fleet import CalibrationSpec, calibration_fleet

BURST = (2, 445, 60, 8.0)  # sensor index, port, day, factor
SHIFT = (5, 1433, 75, 3.0)
NEW_PORT = (5555, 90, 6.0)  # port, first day, sources per sensor-day


def planted_spec(seed: int) -> CalibrationSpec:
    return CalibrationSpec(seed=seed, burst=BURST, shift=SHIFT, new_port=NEW_PORT)


def classify(flags: pd.DataFrame, spec: CalibrationSpec) -> tuple[pd.DataFrame, dict[str, bool]]:
    """(false flags, {event: found and dated right}) for one run's flags."""
    day0 = spec.start

    def day(i: int):
        return day0 + timedelta(days=i)

    def host(i: int) -> str:
        return f"cal-{i:02d}"

    d = pd.to_datetime(flags["day"]).dt.date if len(flags) else pd.Series([], dtype=object)
    port = flags["port"].astype(str) if len(flags) else pd.Series([], dtype=str)
    explained = pd.Series(False, index=flags.index)
    found: dict[str, bool] = {}
    if spec.burst:
        s_i, p, di, _ = spec.burst
        m = (flags["host"] == host(s_i)) & (d == day(di)) & flags["kind"].eq("spike")
        explained |= m
        found["burst"] = bool((m & (port == f"TCP/{p}")).any())
    if spec.shift:
        s_i, p, di, _ = spec.shift
        near = d.map(lambda x: abs((x - day(di)).days) <= 3)
        m = (flags["host"] == host(s_i)) & near & flags["kind"].eq("changepoint")
        m |= (flags["host"] == host(s_i)) & (port.isin([f"TCP/{p}", ""])) & (d >= day(di))
        explained |= m
        found["shift"] = bool((m & (port == f"TCP/{p}") & flags["kind"].eq("changepoint")
                               & near).any())
    if spec.new_port:
        p, di, _ = spec.new_port
        m = (port == f"TCP/{p}") & (d >= day(di))
        m |= (flags["kind"] != "emerging") & (port == "") & (d >= day(di))  # sensor totals step
        explained |= m
        found["new port"] = bool(((port == f"TCP/{p}") & flags["kind"].eq("emerging")
                                  & (d == day(di))).any())
    return flags[~explained], found


def run(spec: CalibrationSpec, metric: str, con) -> tuple[pd.DataFrame, int]:
    t = engine.packets_from_arrow(con, calibration_fleet(spec))
    a = trends.anomalies(t, metric=metric)
    return a, int(a.attrs["family"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fleets", type=int, default=5, help="seeds (null + planted fleet each)")
    args = ap.parse_args()
    con = engine.connect()
    t0 = time.time()
    false_null = false_planted = tests_null = 0
    hits: dict[str, int] = {}
    n_planted = 0
    for seed in range(args.fleets):
        for metric in ("sources", "packets"):
            null = CalibrationSpec(seed=seed)
            a, fam = run(null, metric, con)
            false_null += len(a)
            tests_null += fam
            print(f"seed {seed} {metric:7s} null:    {fam:6,} tests, {len(a)} flags")
            for w in a["why"]:
                print("    FALSE", w)
            sp = planted_spec(seed)
            a, fam = run(sp, metric, con)
            false, found = classify(a, sp)
            false_planted += len(false)
            n_planted += 1
            for k, v in found.items():
                hits[k] = hits.get(k, 0) + v
            print(f"seed {seed} {metric:7s} planted: {fam:6,} tests, {len(a)} flags, "
                  f"{len(false)} unexplained; found: "
                  + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in found.items()))
            for w in false["why"]:
                print("    FALSE", w)
    runs = 2 * args.fleets
    print(f"\nnull fleets: {false_null} false flags in {runs} runs ({tests_null:,} tests; "
          f"family-wise alpha 0.01 per run, so at most {0.01 * runs:.2f} expected)")
    print(f"planted fleets: {false_planted} unexplained flags in {runs} runs")
    for k, v in hits.items():
        print(f"planted {k}: found and dated right in {v} of {n_planted} runs")
    print(f"wall {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
