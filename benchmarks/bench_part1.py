"""Part 1 of "Inspecting Internet Traffic" end to end on the bundled marx data, timed per step.

    .venv/bin/python benchmarks/bench_part1.py [OUTDIR] [--compare] [--repeat N]

Steps: load (CSV → canonical Arrow → DuckDB), summary, ICMP types, daily packets, daily distinct
sources, 7-day moving average, and the three charts saved as PNG.
When ``Rscript`` (with ggplot2 and reshape) is installed, the same work is then run in R
(``benchmarks/part1.R``: read.csv, summary, factor, aggregate, stats::filter, three ggsave PNGs) and
in honeyscope, each as one whole process started here, and the ratio of the two wall times measured
in this run is printed (``--no-r`` skips it).
Imports are timed separately (a long-running process pays them once); they include the module
that ibis only imports on first use (the DuckDB backend) and matplotlib's Agg canvas.
Each step prints wall time and CPU time (all threads); the machine is shared, so compare CPU.

``--compare`` then draws the three charts again the way they were made before (plotnine's
``ggplot + geom_col + facet_wrap + theme_bw``) and prints the plotnine/matplotlib ratio measured
in this one run (plotnine's import not counted). ``--repeat N`` runs the pipeline N times and
reports the fastest of each step.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

T0 = time.perf_counter()
C0 = time.process_time()
import gzip  # noqa: E402
from importlib import resources  # noqa: E402

import ibis.backends.duckdb  # noqa: E402, F401  (ibis.duckdb imports it on first connect)
import matplotlib.backends.backend_agg  # noqa: E402, F401  (the charts import it on first draw)

from honeyscope.analyse import engine, explore  # noqa: E402
from honeyscope.ingest.seed_csv import read_seed_csv  # noqa: E402
from honeyscope.render import charts, console  # noqa: E402

IMPORTS = (time.perf_counter() - T0, time.process_time() - C0)


def _baseline_daily_chart(df, scales="free", title="", ylab="packets"):
    """The daily chart as plotnine drew it before (theme_bw, no legend, free or fixed facets)."""
    import pandas as pd
    from plotnine import (
        aes,
        element_blank,
        element_text,
        facet_wrap,
        geom_col,
        ggplot,
        labs,
        scale_x_date,
        theme,
        theme_bw,
    )

    d = df.copy()
    d["day"] = pd.to_datetime(d["day"])
    d = charts._facet_labels(d, "host")
    p = ggplot(d, aes("day", "value", fill="host"))
    p += [
        geom_col(width=1.0, size=0, position="identity"),
        facet_wrap("~host", scales=scales),
        scale_x_date(date_breaks="1 month", date_labels="%b", expand=(0.01, 0), minor_breaks=None),
        labs(title=title, x="day (UTC)", y=ylab),
        theme_bw() + theme(legend_position="none", plot_title=element_text(size=13, weight="bold"),
                           strip_text=element_text(size=9), axis_text=element_text(size=8),
                           panel_grid_minor=element_blank()),
    ]
    return p


CHARTS = [
    ("all-packets", "daily", dict(title="Packets per sensor per day")),
    ("unique-hosts", "uniq", dict(title="Distinct sources per sensor per day",
                                  ylab="distinct sources")),
    ("unique-seven-day", "ma", dict(scales="fixed",
                                    title="Distinct sources per sensor per day, 7-day moving average",
                                    ylab="distinct sources (7-day mean)")),
]


def pipeline(out: Path) -> tuple[list[tuple[str, float, float]], dict]:
    steps: list[tuple[str, float, float]] = []

    def step(name: str, fn):
        t, c = time.perf_counter(), time.process_time()
        result = fn()
        steps.append((name, time.perf_counter() - t, time.process_time() - c))
        return result

    def load():
        path = resources.files("honeyscope") / "data" / "marx.csv.gz"
        rows = read_seed_csv(gzip.decompress(path.read_bytes()), source=str(path)).rows
        con = engine.connect()
        con.con.register("packets", rows)  # zero-copy view of the Arrow table
        return con.table("packets")

    t = step("load marx.csv.gz", load)
    step("summary", lambda: console.summary_text(explore.summary(t)))
    step("icmp types", lambda: console.count_text(explore.count(t, ["icmp_type"]), ["icmp_type"]))
    data = {
        "daily": step("daily packets", lambda: explore.daily(t)),
        "uniq": step("daily distinct sources", lambda: explore.daily(t, unique=True)),
        "ma": step("7-day moving average", lambda: explore.daily(t, unique=True, ma=7)),
    }
    for name, key, kw in CHARTS:
        step(f"chart {name}",
             lambda key=key, kw=kw, name=name: charts.save(charts.daily_chart(data[key], **kw),
                                                           out / f"{name}.png"))
    return steps, data


def _whole(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def versus_r(out: Path) -> None:
    """Part 1 in R and in honeyscope, each one whole process, timed in this run."""
    if shutil.which("Rscript") is None:
        print("R: Rscript not installed (apt-get install r-base-core r-cran-ggplot2 r-cran-reshape);"
              " no ratio printed")
        return
    csv = out / "marx.csv"
    csv.write_bytes(gzip.decompress((resources.files("honeyscope") / "data" / "marx.csv.gz").read_bytes()))
    r = _whole(["Rscript", str(Path(__file__).with_name("part1.R")), str(csv), str(out / "r")])
    hs = _whole([sys.executable, str(Path(__file__).resolve()), str(out / "hs"), "--child"])
    print(f"whole process: R {r:.2f} s, honeyscope {hs:.2f} s: honeyscope / R = {r / hs:.1f}x")


def main(argv: list[str]) -> int:
    compare = "--compare" in argv
    repeat = 1
    if "--repeat" in argv:
        repeat = int(argv[argv.index("--repeat") + 1])
        argv = [a for i, a in enumerate(argv) if a != "--repeat" and argv[i - 1] != "--repeat"]
    args = [a for a in argv if not a.startswith("--")]
    out = Path(args[0]) if args else Path(tempfile.mkdtemp(prefix="bench_part1_"))
    out.mkdir(parents=True, exist_ok=True)

    runs = [pipeline(out) for _ in range(repeat)]
    steps = [(name, min(r[0][i][1] for r in runs), min(r[0][i][2] for r in runs))
             for i, (name, _, _) in enumerate(runs[0][0])]
    data = runs[-1][1]
    print(f"{'step':28s} {'wall':>7s}   {'cpu':>7s}")
    print(f"{'imports':28s} {IMPORTS[0]:7.3f} s {IMPORTS[1]:7.3f} s (not in total)")
    for name, w, c in steps:
        print(f"{name:28s} {w:7.3f} s {c:7.3f} s")
    total_w, total_c = sum(s[1] for s in steps), sum(s[2] for s in steps)
    print(f"{'total':28s} {total_w:7.3f} s {total_c:7.3f} s   charts in {out}")
    if "--child" not in argv and "--no-r" not in argv:
        versus_r(out)

    if compare:
        base_dir = out / "plotnine"
        base_dir.mkdir(exist_ok=True)
        import plotnine  # noqa: F401  (its import is not part of the comparison)

        new = [(w, c) for name, w, c in steps if name.startswith("chart ")]
        old = []
        for name, key, kw in CHARTS:
            t, c = time.perf_counter(), time.process_time()
            charts.save(_baseline_daily_chart(data[key], **kw), base_dir / f"{name}.png")
            old.append((time.perf_counter() - t, time.process_time() - c))
        ow, oc = sum(x[0] for x in old), sum(x[1] for x in old)
        nw, nc = sum(x[0] for x in new), sum(x[1] for x in new)
        print(f"charts with plotnine: {ow:.3f} s wall {oc:.3f} s cpu; now: {nw:.3f} s wall {nc:.3f} s cpu;"
              f" plotnine/now {ow / nw:.2f}x wall {oc / nc:.2f}x cpu (PNGs of both in {out})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
