"""Every analysis of honeyscope, written out once: what the CLI, the API, the report and the Spark
parity test are built from.

Each :class:`Analysis` names its function (a dotted path: importing this module imports no
analysis), its parameters (typed, with their defaults: the API function's keywords and the CLI
command's options carry the same names, ``by_sensor`` ↔ ``--by-sensor``), the table it returns
(columns and their meaning), its CLI command and the module registering it, its report section
(or why it has none) and whether its result is checked to be the same on Spark.

Every analysis also takes the one selection of :mod:`honeyscope.analyse.select` (``--from``,
``--to``, ``--sensors``, ``--src``, ``--proto``, ``--port``; the same keywords in the API).
A module named here that does not import is an error, never a silently missing command or section.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Options every analysis command takes (declared once in :mod:`honeyscope.cli.common`), and the
#: API keywords of the same meaning.
SELECTION_OPTIONS = {"--from": "start", "--to": "end", "--sensors": "sensors", "--src": "src",
                     "--proto": "proto", "--port": "port"}


@dataclass(frozen=True)
class Param:
    """One parameter of an analysis: the API keyword ``name``, the CLI option ``--name``
    (underscores as dashes) unless ``positional``."""

    name: str
    type: str  # the annotation as written in the API function
    default: Any = None
    help: str = ""
    positional: bool = False  # a CLI argument before SOURCE (``source IP``), not an option
    required: bool = False  # no default: the API's second positional argument (``count(src, by)``)

    @property
    def option(self) -> str:
        return self.name.upper() if self.positional else "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class Analysis:
    name: str  # the API function: honeyscope.NAME
    function: str  # the analysis core called, dotted path
    summary: str  # one line: what it answers
    returns: tuple[tuple[str, str], ...]  # (column, meaning) of the table returned (default shape)
    params: tuple[Param, ...] = ()
    cli: str | None = None  # the command: honeyscope CLI SOURCE...
    cli_module: str | None = None  # honeyscope.cli.<cli_module> registers it
    section: str | None = None  # honeyscope.render.sections.<section> shows it in the report
    no_section: str = ""  # why the report has no section of its own for it
    spark: bool = False  # its result is compared with DuckDB's on Spark (tests/test_spark.py)
    no_spark: str = ""  # why not
    extra_cli: tuple[str, ...] = field(default=())  # CLI-only options (text layout, exit codes)

    def resolve(self) -> Callable[..., Any]:
        """The analysis function itself (an ImportError / AttributeError when it is missing)."""
        module, _, name = self.function.rpartition(".")
        return getattr(importlib.import_module(module), name)


def _p(name: str, type_: str, default: Any = None, help: str = "", positional: bool = False,
       required: bool = False) -> Param:
    return Param(name, type_, default, help, positional, required or positional)


_TOP = "how many rows (0: all)"

ANALYSES: tuple[Analysis, ...] = (
    Analysis(
        "summary", "honeyscope.analyse.explore.summary",
        "R's summary() of the packet table, domain-aware",
        (("column", "packet column"), ("kind", "time, category, numeric or address"),
         ("stat", "First/Last/Days, a level, Min./1st Qu./Median/Mean/3rd Qu./Max., Distinct, NA's"),
         ("value", "the statistic")),
        cli="summary", cli_module="explore", section="explore", spark=True, extra_cli=("--width",),
    ),
    Analysis(
        "count", "honeyscope.analyse.explore.count",
        "packets per value of one or more columns, NA included",
        (("<by columns>", "one column per --by column, NA a value of its own"), ("count", "packets")),
        params=(_p("by", "str | Sequence[str]", None, "columns to count by", required=True),),
        cli="count", cli_module="explore", section="explore", spark=True,
    ),
    Analysis(
        "daily", "honeyscope.analyse.explore.daily",
        "packets (or distinct sources) per sensor per UTC day, zero-filled within each sensor's span",
        (("host", "sensor (absent with by='none')"), ("day", "UTC day"),
         ("value", "packets or distinct sources (a moving average with ma)")),
        params=(_p("unique", "bool", False, "count distinct sources, not packets"),
                _p("ma", "int | None", None, "centred N-day moving average"),
                _p("by", "Literal['host', 'none']", "host", "one series per sensor, or one for all")),
        cli="daily", cli_module="explore", section="explore", spark=True,
        extra_cli=("--plot", "--scales"),
    ),
    Analysis(
        "ports", "honeyscope.analyse.explore.ports",
        "top destination ports per protocol",
        (("host", "sensor (by='host' only)"), ("proto", "protocol (proto='all' only)"),
         ("port", "destination port"), ("count", "packets")),
        params=(_p("proto", "str", "tcp", "tcp, udp, all, or a protocol name"),
                _p("top", "int", 10, "how many ports"),
                _p("by", "Literal['host', 'none']", "none", "top ports of each sensor, or overall")),
        cli="ports", cli_module="explore", section="explore", spark=True, extra_cli=("--plot",),
    ),
    Analysis(
        "port_sources", "honeyscope.analyse.explore.port_sources",
        "part 2: distinct sources per sensor per day on the top ports",
        (("port", "destination port"), ("day", "UTC day"),
         ("value", "distinct sources per sensor that day, averaged over the sensors")),
        params=(_p("proto", "Literal['tcp', 'udp']", "tcp", "tcp or udp"),
                _p("top", "int", 10, "how many ports")),
        cli="port-sources", cli_module="explore", section="explore", spark=True,
        extra_cli=("--plot", "--chart"),
    ),
    Analysis(
        "enrich", "honeyscope.analyse.enrich.sources",
        "country and ASN of every source (offline database)",
        (("addr", "source address (by='source')"), ("cc", "country code"), ("country", "country"),
         ("asn", "autonomous system"), ("as_name", "its name"), ("sources", "sources (by country/asn)"),
         ("packets", "packets"), ("first_seen", "by='source'"), ("last_seen", "by='source'")),
        params=(_p("top", "int", 0, _TOP),
                _p("by", "Literal['source', 'country', 'asn']", "source",
                   "one row per source, country or ASN")),
        cli="enrich", cli_module="fleet", section="fleet", spark=True,
    ),
    Analysis(
        "sources", "honeyscope.analyse.fleet.source_profiles",
        "each source across the fleet: sensors reached, order, reach",
        (("src", "source address"), ("sensors", "sensors reached"), ("packets", "packets"),
         ("ports", "distinct ports"), ("first_seen", "first packet"), ("...", "order, lag, reach score")),
        params=(_p("top", "int", 30, _TOP),
                _p("sort", "Literal['sensors', 'packets', 'ports', 'first_seen']", "sensors", "order"),
                _p("summary", "bool", False, "sources per reach level instead")),
        cli="sources", cli_module="fleet", section="fleet", spark=True,
    ),
    Analysis(
        "source", "honeyscope.analyse.fleet.source_timeline",
        "the packets of one or more sources across all sensors, in time order",
        (("time", "when"), ("host", "sensor"), ("src", "source"), ("proto", "protocol"),
         ("dpt", "destination port"), ("...", "the packet's other fields")),
        params=(_p("ip", "str | Sequence[str]", None, "source address(es), comma-separated", positional=True),
                _p("limit", "int", 1000, "at most this many packets")),
        cli="source", cli_module="fleet", no_section="the report shows sources across the fleet "
        "(`sources`); one source's card is `ip`", spark=True,
    ),
    Analysis(
        "scans", "honeyscope.analyse.scans.scans",
        "vertical/horizontal/block/protocol scans and backscatter, typed as psad does",
        (("src", "source"), ("scan_type", "SYN, FIN, NULL, XMAS, ACK, UDP..."), ("pattern", "vertical, "
         "horizontal, block, protocol, backscatter"), ("packets", "packets"), ("targets", "targets"),
         ("ports", "ports"), ("first_seen", "first packet"), ("last_seen", "last packet")),
        params=(_p("min_ports", "int", 10, "vertical: ports on one target"),
                _p("min_targets", "int", 5, "horizontal: targets on one port"),
                _p("min_protocols", "int", 5, "protocol scan: IP protocols"),
                _p("no_ack", "bool", False, "leave ACK scans out"),
                _p("window_hours", "float", 24.0, "window of the counts, hours"),
                _p("pattern", "str | None", None, "only this pattern"),
                _p("top", "int", 50, _TOP),
                _p("summary", "bool", False, "counts per pattern and type")),
        cli="scans", cli_module="fleet", section="fleet", spark=True,
    ),
    Analysis(
        "compare", "honeyscope.analyse.fleet.compare_sensors",
        "fair comparison: per sensor, or per day/hour/week normalised by sensors reporting",
        (("host", "sensor (by='sensor', 'sensor-day')"), ("period", "day, hour or week (by=...)"),
         ("packets", "packets"), ("packets_per_day", "by='sensor'"), ("sources_per_day", "by='sensor'"),
         ("sensors", "sensors reporting (by=day/hour/week)"),
         ("...", "per sensor reporting: sources, /24 /64 prefixes, ASNs"),
         ("untimed", "by='sensor': packets without a wall-clock time (dmesg), in no per-day rate")),
        params=(_p("by", "Literal['sensor', 'day', 'hour', 'week', 'sensor-day']", "sensor", "rows per"),),
        cli="compare", cli_module="fleet", section="fleet", spark=True,
    ),
    Analysis(
        "events", "honeyscope.analyse.events.events",
        "floods, sweeps, campaigns, backscatter and rate-capped sensors, with who",
        (("event", "id"), ("kind", "flood, sweep, campaign, backscatter, capped"), ("src", "source"),
         ("cc", "country"), ("asn", "AS"), ("ports", "ports"), ("sensors", "sensors"), ("start", "first"),
         ("end", "last"), ("packets", "packets"), ("share", "share of the sensor's day")),
        params=(_p("kind", "Sequence[str] | None", None, "only these kinds"),
                _p("top", "int", 50, _TOP)),
        cli="events", cli_module="events", section="events",
        no_spark="not compared with DuckDB on Spark yet (pandas steps after the Ibis ones)",
        extra_cli=("--sentences",),
    ),
    Analysis(
        "health", "honeyscope.analyse.health.completeness",
        "sensor health: completeness and rate-limit capping per sensor, or rows per sensor-day/hour",
        (("host", "sensor"), ("...", "completeness, capped frequencies (by='sensor'); period, rows, "
         "lower-bound marks (by='day'/'hour')")),
        params=(_p("by", "Literal['sensor', 'day', 'hour']", "sensor", "rows per"),),
        cli="health", cli_module="health", section="health", spark=True,
    ),
    Analysis(
        "gaps", "honeyscope.analyse.health.gaps",
        "silences beyond a sensor's own normal quiet periods",
        (("host", "sensor"), ("start", "last packet before"), ("end", "first packet after"),
         ("hours", "length"), ("why", "the reason, in words")),
        params=(_p("min_gap", "float", 1.0, "hours: never call a shorter silence a gap"),
                _p("alpha", "float", 0.01, "flag when fewer than alpha such silences are expected"),
                _p("quiet", "bool", False, "also each sensor's longest normal silence")),
        cli="gaps", cli_module="health", section="health", spark=True,
    ),
    Analysis(
        "trends", "honeyscope.analyse.trends.changepoints",
        "level shifts per sensor and port, or a before/after test of one port",
        (("host", "sensor"), ("proto", "protocol (sensor-port series)"), ("dpt", "port"),
         ("day", "first day after the shift"), ("before", "level before"), ("after", "level after"),
         ("p_adj", "p-value, Bonferroni over the run"), ("why", "the shift, in words")),
        params=(_p("metric", "Literal['sources', 'packets']", "sources", "daily metric"),
                _p("top", "int", 30, "sensor-port series to test"),
                _p("rise", "str | None", None, "PROTO/PORT: test whether its metric rose after split"),
                _p("split", "str | date | None", None, "first day of the 'after' period")),
        cli="trends", cli_module="health", section="health",
        no_spark="statistics in numpy after one Ibis query per series; not compared on Spark yet",
    ),
    Analysis(
        "anomalies", "honeyscope.analyse.trends.anomalies",
        "spikes, dips, changepoints and emerging ports, with why",
        (("scope", "sensor or sensor-port"), ("host", "sensor"), ("port", "port"),
         ("kind", "spike, dip, changepoint, emerging"), ("day", "when"),
         ("significance", "adjusted p-value"), ("why", "the flag, in words")),
        params=(_p("metric", "Literal['sources', 'packets', 'both']", "sources", "daily metric"),
                _p("top", "int", 30, "sensor-port series to test")),
        cli="anomalies", cli_module="health", section="health",
        no_spark="statistics in numpy after one Ibis query per series; not compared on Spark yet",
        extra_cli=("--fail-on-flags",),
    ),
    Analysis(
        "survival", "honeyscope.analyse.survival.first_probe",
        "time to first probe per port; time between never-seen-before sources",
        (("proto", "protocol"), ("dpt", "port"), ("sensors", "sensors"), ("probed", "sensors probed"),
         ("median_hours", "median hours to the first probe (Kaplan-Meier)"),
         ("...", "by_sensor: one row per sensor; new_sources: host, sources, median_s, p90_s...")),
        params=(_p("top", "int", 20, "ports (most sensors reached)"),
                _p("by_sensor", "bool", False, "one row per sensor and port"),
                _p("new_sources", "bool", False, "time between never-seen-before sources, per sensor")),
        cli="survival", cli_module="health", section="health", spark=True,
    ),
    Analysis(
        "ip", "honeyscope.analyse.ip.ip_card",
        "one card for a source: first/last seen, packets, sensors in order, ports, scan type, origin",
        (("card", "an IpCard (its .to_dict()): first/last seen, packets, sensors in order, ports, "
         "protocols, scan type, country, ASN, timeline"),),
        params=(_p("addr", "str", None, "the source address", positional=True),
                _p("top", "int", 10, "destination ports shown")),
        cli="ip", cli_module="ip", no_section="one source at a time: the report shows the fleet",
        extra_cli=("--plot",),
        no_spark="written by the `outputs` developer; not compared on Spark yet",
    ),
)

#: The commands that are no analysis of a SOURCE (pipeline and tooling), by their CLI module.
TOOLS: dict[str, tuple[str, ...]] = {
    "ingest": ("ingest", "export", "rejects"),
    "collect": ("collect",),
    "report": ("report", "demo"),
    "scale": ("generate",),
    "verify": ("verify",),
}

#: Report sections in report order; each is built by honeyscope.render.sections.<name>.
#: ``data`` describes the data, ``findings`` gathers one sentence from each other section.
SECTIONS: tuple[str, ...] = ("data", "explore", "events", "fleet", "health", "findings")

BY_NAME: dict[str, Analysis] = {a.name: a for a in ANALYSES}
BY_COMMAND: dict[str, Analysis] = {a.cli: a for a in ANALYSES if a.cli}


def cli_modules() -> list[str]:
    """The CLI modules to import, in ``--help`` order: pipeline first, then the analyses'."""
    order = ["ingest", "collect"]
    order += [a.cli_module for a in ANALYSES if a.cli_module]
    order += ["report", "scale", "verify"]
    return list(dict.fromkeys(order))


def get(name: str) -> Analysis:
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"no analysis {name!r}: there are {', '.join(BY_NAME)}") from None


def markdown_table() -> str:
    """The README's table of analyses (between its ``<!-- analyses -->`` markers), from this
    registry: ``tests/test_api_registry.py`` checks that the README carries exactly this."""
    rows = ["| command | Python | what it answers | own options | report section | Spark |",
            "|---|---|---|---|---|---|"]
    for a in ANALYSES:
        args = "".join(f" {p.option}" for p in a.params if p.positional)
        opts = ", ".join(f"`{p.option}`" for p in a.params if not p.positional)
        opts = ", ".join(x for x in (opts, ", ".join(f"`{o}`" for o in a.extra_cli)) if x)
        pyargs = "".join(f", {p.name}" for p in a.params if p.required)
        rows.append(
            f"| `{a.cli}{args} SOURCE` | `honeyscope.{a.name}(source{pyargs})` | {a.summary} | {opts or '–'} "
            f"| {a.section or '–'} | {'yes' if a.spark else 'not yet'} |")
    return "\n".join(rows)
