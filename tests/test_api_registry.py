"""The registry (analyse/registry.py) and what is built from it agree: every analysis has its
function, its API function (typed, documented), its CLI command with its options and the selection,
its report section (or says why not), its Spark parity case (or says why not), and the README
carries the registry's table."""

from __future__ import annotations

import argparse
import importlib
import inspect
from pathlib import Path

import pytest

import honeyscope
from honeyscope import api
from honeyscope.analyse import registry
from honeyscope.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
#: keywords every API analysis takes besides its own parameters
COMMON = {"source", "engine", "to", *registry.SELECTION_OPTIONS.values()}


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


@pytest.mark.parametrize("a", registry.ANALYSES, ids=lambda a: a.name)
def test_every_entry_imports(a):
    """The function, the CLI module and the report section of each entry exist."""
    assert callable(a.resolve())
    assert a.cli and a.cli_module
    assert callable(importlib.import_module(f"honeyscope.cli.{a.cli_module}").register)
    if a.section:
        assert a.section in registry.SECTIONS
    else:
        assert a.no_section, f"{a.name}: no report section and no reason why"
    assert a.spark or a.no_spark, f"{a.name}: not checked on Spark and no reason why"
    for m in registry.SECTIONS:
        assert callable(importlib.import_module(f"honeyscope.render.sections.{m}").build)


@pytest.mark.parametrize("a", registry.ANALYSES, ids=lambda a: a.name)
def test_api_function_matches_registry(a):
    fn = getattr(api, a.name)
    assert inspect.isfunction(fn) and fn.__name__ == a.name  # a real function, not a generated one
    assert getattr(honeyscope, a.name) is fn
    assert a.name in dir(honeyscope) and a.name in api.__all__
    doc = inspect.getdoc(fn)
    assert doc and ">>> honeyscope." in doc, f"{a.name}: the docstring shows no call and result"
    sig = inspect.signature(fn)
    names = {p.name for p in a.params}
    own = {n: p for n, p in sig.parameters.items()
           if (n in names or n not in COMMON) and p.kind is not inspect.Parameter.VAR_KEYWORD}
    assert list(own) == [p.name for p in a.params]
    for p in a.params:
        got = own[p.name]
        assert got.annotation == p.type, f"{a.name}({p.name}): {got.annotation} vs {p.type}"
        if p.required:
            assert got.default is inspect.Parameter.empty
        else:
            assert got.default == p.default, f"{a.name}({p.name}) default {got.default!r} vs {p.default!r}"
    # the selection: the keywords of the CLI options, unless the analysis uses one as its own
    for kw in registry.SELECTION_OPTIONS.values():
        assert kw in sig.parameters, f"{a.name} lacks the selection keyword {kw}"
    assert "to" in sig.parameters  # pandas by default: test_api_sources checks the results


def test_api_has_no_analysis_outside_the_registry():
    pipeline = {"chart", "export", "ingest", "open_packets", "open_store", "packets_of", "resolve_store",
                "verify_store"}
    assert set(api.__all__) - pipeline == set(registry.BY_NAME)
    assert set(honeyscope._API) == set(api.__all__)


def test_cli_matches_registry():
    commands = _subcommands(build_parser())
    tools = {c for cs in registry.TOOLS.values() for c in cs}
    assert set(commands) == set(registry.BY_COMMAND) | tools
    for a in registry.ANALYSES:
        p = commands[a.cli]
        options = {o for act in p._actions for o in act.option_strings}
        dests = {act.dest for act in p._actions}
        own = {q.name for q in a.params}
        for q in a.params:
            if q.positional:
                assert q.name in dests, f"{a.cli}: no argument {q.option}"
            else:
                assert q.option in options, f"{a.cli}: no option {q.option}"
        for opt, kw in registry.SELECTION_OPTIONS.items():
            if kw not in own:
                assert opt in options, f"{a.cli}: no selection option {opt}"
        for extra in a.extra_cli:
            assert extra in options, f"{a.cli}: no option {extra}"
        assert p.description and a.summary[1:] in p.description
        assert p.epilog and all(f"{c}: {m}" in p.epilog for c, m in a.returns)  # what it returns


def test_export_and_report_take_the_selection():
    commands = _subcommands(build_parser())
    for name in ("export", "report"):
        options = {o for act in commands[name]._actions for o in act.option_strings}
        assert set(registry.SELECTION_OPTIONS) <= options, name


def test_a_missing_module_is_an_error(monkeypatch, capsys):
    """Never a silently dropped command or section (the old code skipped ModuleNotFoundError)."""
    from honeyscope import cli
    from honeyscope.render.report import build_sections

    monkeypatch.setattr(registry, "cli_modules", lambda: ["explore", "no_such_module"])
    with pytest.raises(ModuleNotFoundError):
        build_parser()
    # the whole command line (--help, an unknown command) needs every module: exit 1, one line
    for argv in (["--help"], ["no-such-command", "x"]):
        assert cli.main(argv) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "no_such_module" in err[0]
    with pytest.raises(ModuleNotFoundError):
        build_sections(None, ["no_such_section"])


def test_report_sections_are_the_registry_s(monkeypatch):
    """A report built without naming its sections builds the registry's, in its order."""
    import types

    from honeyscope.render import report
    from honeyscope.render.sections import SECTION_MODULES, ReportContext

    built: list[str] = []
    real = importlib.import_module

    def fake(name):
        if not name.startswith("honeyscope.render.sections."):
            return real(name)
        return types.SimpleNamespace(build=lambda ctx: built.append(name.rsplit(".", 1)[1]) or [])

    monkeypatch.setattr(report.importlib, "import_module", fake)
    report.build_sections(ReportContext(packets=None, con=None))
    assert built == list(registry.SECTIONS)
    assert list(SECTION_MODULES) == list(registry.SECTIONS)


def test_readme_carries_the_registry_table():
    text = (ROOT / "README.md").read_text()
    start = text.index("<!-- analyses:")
    body = text[text.index("\n", start) + 1: text.index("<!-- /analyses -->")].strip()
    assert body == registry.markdown_table()


def test_spark_parity_covers_the_registry():
    import test_spark  # tests/ is on sys.path (pytest's rootdir conftest)

    assert set(test_spark.CASES) == {a.name for a in registry.ANALYSES if a.spark}
