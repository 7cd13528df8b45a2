"""Part 1 of "Inspecting Internet Traffic" end to end on the bundled marx data, against R.

    .venv/bin/python benchmarks/bench_part1.py [OUTDIR] [--runs N] [--no-r] [--compare]

The work: load marx.csv.gz (CSV → canonical Arrow → DuckDB), summary, ICMP types, daily packets,
daily distinct sources, the 7-day moving average, and the three faceted bar charts saved as PNG,
the summary and the ICMP table printed. It runs as one whole process (``--child``), started here
``--runs`` times (default 1); when ``Rscript`` (with ggplot2 and reshape) is installed, the same
work in R (``benchmarks/part1.R``: read.csv, summary, factor, aggregate, stats::filter, three
ggsave PNGs) is then started as many times, and the ratio R / honeyscope of the median whole-process
wall times measured in this run is printed, with the CPU seconds of each and the load average
(``--no-r`` skips R).

The honeyscope process imports what each step needs when it needs it, and draws the charts on a
second process (forked first: it imports matplotlib while the first one loads the data and
queries), each chart as soon as its numbers are known; its table of steps (wall and CPU seconds;
the charts' on the drawing process) is printed from the first run.

``--compare`` then draws the three charts again the way they were made before (plotnine's
``ggplot + geom_col + facet_wrap + theme_bw``) in this process and prints the plotnine/matplotlib
ratio measured in this one run (plotnine's import not counted).
"""

from __future__ import annotations

import time

T0 = time.perf_counter()
C0 = time.process_time()

import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402


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
    from honeyscope.render import charts

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


def _marx_bytes() -> tuple[bytes, str]:
    import gzip
    from importlib import resources

    path = resources.files("honeyscope") / "data" / "marx.csv.gz"
    return gzip.decompress(path.read_bytes()), str(path)


def _draw(conn, out: Path) -> None:
    """The drawing process: imports matplotlib's Agg canvas and PIL, then draws each chart it is
    sent (``(name, days, hosts, values, kw)``) and answers with its wall and CPU seconds."""
    try:
        t, c = time.perf_counter(), time.process_time()
        import matplotlib.backends.backend_agg
        import matplotlib.collections
        import matplotlib.figure  # noqa: F401
        import PIL.PngImagePlugin  # noqa: F401

        from honeyscope.render import charts

        conn.send(("imports (drawing process)", time.perf_counter() - t, time.process_time() - c))
        while (job := conn.recv()) is not None:
            name, days, hosts, values, kw = job
            t, c = time.perf_counter(), time.process_time()
            charts.save(charts.facet_bars(days, hosts, values, **kw), out / f"{name}.png")
            conn.send((f"chart {name}", time.perf_counter() - t, time.process_time() - c))
    except Exception as e:  # the cause reaches the first process, which says it in one line
        conn.send(("error", f"{type(e).__name__}: {e}", 0.0))
    finally:
        conn.close()


def child(out: Path) -> int:
    """Part 1 as one process: prints the summary and the ICMP types, writes the three PNGs, then
    the table of steps."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")  # before DuckDB starts its threads
    here, there = ctx.Pipe()
    drawer = ctx.Process(target=_draw, args=(there, out), daemon=True)
    drawer.start()
    there.close()
    steps: list[tuple[str, float, float]] = []

    def step(name: str, fn):
        t, c = time.perf_counter(), time.process_time()
        result = fn()
        steps.append((name, time.perf_counter() - t, time.process_time() - c))
        return result

    def load():
        from honeyscope.analyse import engine
        from honeyscope.ingest.seed_csv import read_seed_csv

        data, source = _marx_bytes()
        rows = read_seed_csv(data, source=source).rows
        con = engine.connect()
        con.con.register("packets", rows)  # zero-copy view of the Arrow table
        return con.table("packets")

    def imports():
        from honeyscope.analyse import engine, explore  # noqa: F401
        from honeyscope.render import charts, console  # noqa: F401

    step("imports (pyarrow, ibis, duckdb)", imports)
    from honeyscope.analyse import explore
    from honeyscope.render import charts, console

    t = step("load marx.csv.gz", load)
    step("summary", lambda: print(console.summary_text(explore.summary(t))))
    step("icmp types",
         lambda: print(console.count_text(explore.count(t, ["icmp_type"]), ["icmp_type"])))
    queries = {"daily": lambda: explore.daily(t), "uniq": lambda: explore.daily(t, unique=True),
               "ma": lambda: explore.daily(t, unique=True, ma=7)}
    names = {"daily": "daily packets", "uniq": "daily distinct sources", "ma": "7-day moving average"}
    for name, key, kw in CHARTS:
        df = step(names[key], queries[key])
        here.send((name, *charts.daily_arrays(df), kw))
    here.send(None)
    drawn = []
    try:
        while True:
            drawn.append(here.recv())
    except (EOFError, OSError):  # the drawing process closed its end (done, or died)
        pass
    drawer.join()
    failed = [str(msg) for name, msg, _ in drawn if name == "error"]
    if failed or drawer.exitcode != 0:
        why = failed[0] if failed else f"exit {drawer.exitcode}"
        print(f"bench_part1: the drawing process failed: {why}", file=sys.stderr)
        return 1
    import resource

    whole = time.perf_counter() - T0
    cpu = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF,
              resource.RUSAGE_CHILDREN) for f in ("ru_utime", "ru_stime"))
    print(f"\n{'step':34s} {'wall':>7s}   {'cpu':>7s}")
    for name, w, c in [*steps, *drawn]:
        print(f"{name:34s} {w:7.3f} s {c:7.3f} s")
    print(f"{'from the first import (both)':34s} {whole:7.3f} s {cpu:7.3f} s"
          f"   charts in {out}")
    return 0


def _timed(cmd: list[str], out: Path | None = None) -> tuple[float, float, str]:
    """Wall and CPU seconds (user + sys of the process and its children) and stdout of ``cmd``."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    res = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, res.stdout


def _runs(label: str, cmd: list[str], n: int) -> list[tuple[float, float]]:
    times = []
    for _ in range(n):
        wall, cpu, text = _timed(cmd)
        times.append((wall, cpu))
        if label == "honeyscope" and len(times) == 1:
            print(text[text.index("\nstep"):].strip("\n"))
    print(f"{label}: " + ", ".join(f"{w:.2f} s ({c:.2f} s CPU)" for w, c in times)
          + f"   load average {os.getloadavg()[0]:.2f}")
    return times


def main(argv: list[str]) -> int:
    runs = 1
    if "--runs" in argv:
        runs = int(argv[argv.index("--runs") + 1])
        argv = [a for i, a in enumerate(argv) if a != "--runs" and argv[i - 1] != "--runs"]
    args = [a for a in argv if not a.startswith("--")]
    if args:
        out = Path(args[0])
    else:
        import tempfile

        out = Path(tempfile.mkdtemp(prefix="bench_part1_"))
    out.mkdir(parents=True, exist_ok=True)
    if "--child" in argv:
        return child(out)

    import shutil

    print(f"Part 1 on marx.csv.gz, whole processes; load average {os.getloadavg()[0]:.2f}")
    try:
        hs = _runs("honeyscope", [sys.executable, str(Path(__file__).resolve()), str(out / "hs"),
                                  "--child"], runs)
    except subprocess.CalledProcessError as e:
        print(f"honeyscope: the Part 1 process failed (exit {e.returncode}); no ratio printed")
        return 1
    if "--no-r" in argv:
        pass
    elif shutil.which("Rscript") is None:
        print("R: Rscript not installed (apt-get install r-base-core r-cran-ggplot2 r-cran-reshape);"
              " no ratio printed")
    else:
        csv = out / "marx.csv"
        csv.write_bytes(_marx_bytes()[0])
        try:
            r = _runs("R", ["Rscript", str(Path(__file__).with_name("part1.R")), str(csv),
                            str(out / "r")], runs)
        except subprocess.CalledProcessError as e:
            print(f"R: part1.R failed (exit {e.returncode}; are r-cran-ggplot2 and r-cran-reshape "
                  "installed?); no ratio printed")
            return 1
        rw, hw = statistics.median(w for w, _ in r), statistics.median(w for w, _ in hs)
        rc, hc = statistics.median(c for _, c in r), statistics.median(c for _, c in hs)
        print(f"whole process, median of {runs}: R {rw:.2f} s ({rc:.2f} s CPU), honeyscope {hw:.2f} s"
              f" ({hc:.2f} s CPU): R / honeyscope = {rw / hw:.1f}x wall, {rc / hc:.1f}x CPU")
    if "--compare" in argv:
        compare(out)
    return 0


def compare(out: Path) -> None:
    """The three charts drawn by plotnine (as before) and by :mod:`honeyscope.render.charts`, in
    this process, on the same data."""
    from honeyscope.analyse import engine, explore
    from honeyscope.ingest.seed_csv import read_seed_csv
    from honeyscope.render import charts

    data, source = _marx_bytes()
    con = engine.connect()
    con.con.register("packets", read_seed_csv(data, source=source).rows)
    t = con.table("packets")
    frames = {"daily": explore.daily(t), "uniq": explore.daily(t, unique=True),
              "ma": explore.daily(t, unique=True, ma=7)}
    base_dir = out / "plotnine"
    base_dir.mkdir(exist_ok=True)
    import plotnine  # noqa: F401  (its import is not part of the comparison)

    new, old = [], []
    for name, key, kw in CHARTS:
        t0, c0 = time.perf_counter(), time.process_time()
        charts.save(charts.daily_chart(frames[key], **kw), out / f"{name}.png")
        new.append((time.perf_counter() - t0, time.process_time() - c0))
        t0, c0 = time.perf_counter(), time.process_time()
        charts.save(_baseline_daily_chart(frames[key], **kw), base_dir / f"{name}.png")
        old.append((time.perf_counter() - t0, time.process_time() - c0))
    ow, oc = sum(x[0] for x in old), sum(x[1] for x in old)
    nw, nc = sum(x[0] for x in new), sum(x[1] for x in new)
    print(f"charts with plotnine: {ow:.3f} s wall {oc:.3f} s cpu; now: {nw:.3f} s wall {nc:.3f} s cpu;"
          f" plotnine/now {ow / nw:.2f}x wall {oc / nc:.2f}x cpu (PNGs of both in {out})")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
