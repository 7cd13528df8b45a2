"""The ``honeyscope`` command: a thin layer over the Python API.

Each sub-module of this package registers its own sub-commands (``register(subparsers)``) and does
no work of its own beyond parsing arguments, calling :mod:`honeyscope.api` and printing.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: Command modules, in the order their commands appear in ``--help``.
COMMAND_MODULES = ["ingest", "collect", "explore", "fleet", "health", "report", "scale"]
#: Commands that show their own progress (a bar or named steps); the others get a spinner on a
#: terminal until their output is ready.
OWN_PROGRESS = {"ingest", "report", "demo", "export", "generate", "collect"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from honeyscope.cli.common import start_spinner, stop_spinner

    if args.command not in OWN_PROGRESS:
        start_spinner(f"honeyscope {args.command}: working")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        from honeyscope.render.escape import plain_terminal

        print(f"honeyscope: error: {plain_terminal(e)}", file=sys.stderr)
        return 2
    finally:
        stop_spinner()
