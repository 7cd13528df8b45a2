"""``honeyscope verify``: check a store's parts against its manifest; ``--repair`` moves damaged
inputs aside (see :mod:`honeyscope.store.verify`)."""

from __future__ import annotations

import argparse
import json
import sys

from honeyscope.cli.common import store_dir
from honeyscope.render.escape import plain_terminal


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="check every part of a store against its manifest (--repair)")
    p.add_argument("--store", required=True, type=store_dir, help="the store directory")
    p.add_argument("--repair", action="store_true",
                   help="move each damaged input's files into STORE/damaged/ and drop it from the "
                   "manifest, so its logs can be ingested again")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_verify)


def _verify(args: argparse.Namespace) -> int:
    from honeyscope import api

    res = api.verify_store(args.store, repair=args.repair)
    if args.json:
        json.dump(res.to_dict(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(f"{plain_terminal(res.store)}: {res.inputs:,} inputs, {res.parts:,} parts, "
              f"{res.rows:,} rows, {res.rejects:,} rejects read; "
              f"{'ok' if res.ok else f'{len(res.problems)} damaged'}")
        for p in res.problems:
            print(f"  {plain_terminal(p.part)} (input {plain_terminal(p.source)}): "
                  f"{plain_terminal(p.problem)}")
        for r in res.repaired:
            print(f"  moved {len(r['moved'])} file(s) of {plain_terminal(r['source'])} "
                  f"({r['rows']:,} rows) to {plain_terminal(r['to'])}: ingest it again to restore them")
    if res.ok or res.repaired:
        return 0
    print(f"honeyscope: error: {plain_terminal(res.store)} has {len(res.problems)} damaged part(s); "
          "--repair moves them aside", file=sys.stderr)
    return 1
