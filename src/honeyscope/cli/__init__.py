"""The ``honeyscope`` command: a thin layer over the Python API.

Each sub-module of this package registers its own sub-commands (``register(subparsers)``) and does
no work of its own beyond parsing arguments, calling :mod:`honeyscope.api` and printing.

Errors: :func:`main` is the one place they are caught. Each prints ONE line on stderr
(``honeyscope: error: ...``), never a traceback, and returns 2 for a usage error (a bad option or
argument: argparse's, ``ValueError``, a path given that does not exist or is of the wrong kind) and
1 for any other failure (a damaged store or part, a busy store, a read-only store, a full disk, an
engine error, or an unexpected exception). ``HONEYSCOPE_DEBUG=1`` re-raises for the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

#: Command modules, in the order their commands appear in ``--help``.
COMMAND_MODULES = ["ingest", "collect", "explore", "fleet", "ip", "events", "health", "report", "scale",
                   "verify"]
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


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="honeyscope",
        description="Netfilter LOG lines of many sensors → one table → answers.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"honeyscope.cli.{name}")
        except ModuleNotFoundError as e:  # a command module not written yet
            if e.name == f"honeyscope.cli.{name}":
                continue
            raise
        module.register(sub)
    return parser


def _os_message(e: OSError) -> str:
    where = f"{e.filename}: " if e.filename else ""
    return f"{where}{e.strerror or e}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
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

    engine_errors: tuple[type[BaseException], ...] = ()
    try:
        import duckdb

        engine_errors += (duckdb.Error,)
    except ImportError:  # pragma: no cover
        pass
    import pyarrow as pa

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
