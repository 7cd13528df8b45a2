"""The ``honeyscope`` command: a thin layer over the Python API.

Each sub-module of this package registers its own sub-commands (``register(subparsers)``) and does
no work of its own beyond parsing arguments, calling :mod:`honeyscope.api` and printing. Which
modules there are, and which analysis command each registers, is written in
:mod:`honeyscope.analyse.registry`; a module that does not import is an error, not a missing command.

Streams: results on stdout, everything else (progress, notes, errors) on stderr; a spinner only
on a terminal; no library warning and no engine progress bar reaches either.

Errors: :func:`main` is the one place they are caught. Each prints ONE line on stderr
(``honeyscope: error: ...``), never a traceback, and returns 2 for a usage error (a bad option or
argument: argparse's, ``ValueError``, a path given that does not exist or is of the wrong kind, a
store-only option given with a store, ``--from`` after ``--to``) and 1 for any other failure (a
selection naming an unknown sensor or leaving no packet, ``source IP`` without a packet, a damaged
store or part, a busy store, a read-only store, a full disk, an engine error, or an unexpected
exception). ``anomalies --fail-on-flags`` returns 3 when something is flagged.
``HONEYSCOPE_DEBUG=1`` re-raises for the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from honeyscope import __version__

# numpy's OpenBLAS starts a thread per core when numpy is loaded, and each spins for a while waiting
# for work an ingest never gives it (ingest uses no BLAS; the analyses run theirs on one thread, see
# honeyscope.analyse.blas): 4-5% of an ingest's CPU, during the imports the whole run waits for.
# The command line's process uses one, unless the user chose (the Python API leaves it alone).
if "numpy" not in sys.modules and not any(
        k in os.environ for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")):
    os.environ["OPENBLAS_NUM_THREADS"] = "1"

#: Commands that show their own progress (a bar or named steps); the others get a spinner on a
#: terminal until their output is ready.
OWN_PROGRESS = {"ingest", "report", "demo", "export", "generate", "collect"}


class Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error (``PROG: error: ...``, exit 2) instead of the usage
    block; sub-command parsers inherit it."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


def one_line(e: object, limit: int = 1000) -> str:
    """An error message on one line: control characters visible, line breaks joined."""
    from honeyscope.render.escape import plain_terminal, shorten

    text = " ".join(line.strip() for line in str(e).strip().splitlines() if line.strip())
    return shorten(plain_terminal(text), limit)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with ``command``, only the commands of the module that registers
    it (the registry's ``cli_module`` for an analysis, else the module of that name: ``ingest``
    loads no analysis module), else the whole command line."""
    from honeyscope.analyse.registry import ANALYSES, cli_modules

    names = cli_modules()
    # an analysis command is registered by its own module (``count``: cli/explore.py)
    module = next((a.cli_module for a in ANALYSES if a.cli == command and a.cli_module), command)
    if module is not None and module in names:
        parser, sub = _parser()
        importlib.import_module(f"honeyscope.cli.{module}").register(sub)
        if command in sub.choices:
            _describe(sub)
            return parser
    parser, sub = _parser()
    for name in names:  # a module that is missing raises: never a silently dropped command
        importlib.import_module(f"honeyscope.cli.{name}").register(sub)
    _describe(sub)
    return parser


def _parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    parser = Parser(
        prog="honeyscope",
        description="Netfilter LOG lines of many sensors → one table → answers.",
    )
    parser.add_argument("--version", action="version", version=f"honeyscope {__version__}")
    return parser, parser.add_subparsers(dest="command", metavar="COMMAND", required=True)


def _describe(sub: argparse._SubParsersAction) -> None:
    """Each analysis command's ``--help``: what it answers and the columns of its result, from the
    registry (whichever module registered it)."""
    from honeyscope.analyse.registry import ANALYSES

    for a in ANALYSES:
        if a.cli not in sub.choices:
            continue
        p = sub.choices[a.cli]
        p.description = p.description or a.summary[:1].upper() + a.summary[1:] + "."
        columns = "; ".join(f"{c}: {m}" for c, m in a.returns)
        p.epilog = f"Result columns ({a.function}). {columns}."


def _os_message(e: OSError) -> str:
    where = f"{e.filename}: " if e.filename else ""
    return f"{where}{e.strerror or e}"


def main(argv: list[str] | None = None) -> int:
    # the numeric libraries' warnings (statsmodels' convergence notes, numpy's, pandas') are no
    # message of ours: the analyses say what matters in their results. matplotlib's stay visible (a
    # missing glyph is a label that escaped escaping). HONEYSCOPE_DEBUG=1 shows them all.
    with warnings.catch_warnings():
        if not os.environ.get("HONEYSCOPE_DEBUG"):
            warnings.filterwarnings("ignore", module=QUIET_LIBRARIES)
        return _main(argv)


#: modules whose warnings the command line does not show
QUIET_LIBRARIES = r"(statsmodels|scipy|numpy|pandas|ibis|pyarrow|duckdb|sqlglot|pyspark)(\.|$)"


def _main(argv: list[str] | None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    try:
        parser = build_parser(args_list[0] if args_list and not args_list[0].startswith("-") else None)
    except ImportError as e:  # a command module of the registry missing: a broken install
        if os.environ.get("HONEYSCOPE_DEBUG"):
            raise
        print(f"honeyscope: error: {one_line(e)} (a command module is missing: reinstall honeyscope)",
              file=sys.stderr)
        return 1
    try:
        args = parser.parse_args(args_list)
    except SystemExit as e:  # --help (0) or a usage error already printed (2)
        return e.code if isinstance(e.code, int) else 2
    from honeyscope.cli.common import start_spinner, stop_spinner

    if args.command not in OWN_PROGRESS:
        start_spinner(f"honeyscope {args.command}: working")
    code, message = 0, None
    try:
        code = int(args.func(args) or 0)
    except KeyboardInterrupt:
        code, message = 130, "interrupted"
    except BrokenPipeError:
        code = 0
    except Exception as e:  # the one place errors become one line and an exit code
        if os.environ.get("HONEYSCOPE_DEBUG"):
            raise
        code, message = _classify(e)
    finally:
        stop_spinner()
    if message is not None:
        print(f"honeyscope: error: {one_line(message)}" if code != 130 else message, file=sys.stderr)
    return code


def _classify(e: Exception) -> tuple[int, str]:
    """(exit code, message) of an exception: 2 for usage errors, 1 for everything else."""
    from honeyscope.store.store import DamagedStoreError, NotAStoreError
    from honeyscope.store.verify import engine_error_message

    # an engine's error can only come from an engine that was loaded: none is imported for this
    engine_errors: tuple[type[BaseException], ...] = ()
    if (duckdb := sys.modules.get("duckdb")) is not None:
        engine_errors += (duckdb.Error,)
    if (pa := sys.modules.get("pyarrow")) is not None:
        engine_errors += (pa.ArrowException,)
    if isinstance(e, engine_errors):
        return 1, engine_error_message(e) or f"{e.__class__.__name__}: {str(e).strip()}"
    if isinstance(e, DamagedStoreError):
        return 1, str(e)
    if isinstance(e, NotAStoreError | argparse.ArgumentTypeError):
        return 2, str(e)
    if isinstance(e, FileNotFoundError | NotADirectoryError | IsADirectoryError):
        return 2, str(e) if not e.filename else _os_message(e)
    if isinstance(e, OSError):  # read-only store, full disk, permission denied, ...
        return 1, _os_message(e)
    if isinstance(e, ValueError):
        return 2, str(e)
    if isinstance(e, RuntimeError):
        return 1, str(e)
    return 1, f"unexpected {e.__class__.__name__}: {e} (HONEYSCOPE_DEBUG=1 shows where)"
