"""``honeyscope ip ADDR SOURCE...``: one card for one source address (:mod:`honeyscope.analyse.ip`).

Text (default) or ``--format json`` (the card as one JSON object); ``--plot FILE.png|svg`` also draws
its timeline. An address that is not one is a usage error (exit 2); an address without packets in
the source is one sentence and exit 1.
"""

from __future__ import annotations

import argparse
import json
import sys

from honeyscope.cli.common import add_source_args, open_source, output_file, positive, stop_spinner


def _address(text: str) -> str:
    from honeyscope.analyse.ip import normalise

    try:
        return normalise(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ip", help="one card for a source address: seen, sensors in order, ports, scan, "
                                  "country, ASN, timeline")
    p.add_argument("addr", metavar="ADDR", type=_address, help="the source address (IPv4 or IPv6)")
    add_source_args(p)
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")
    p.add_argument("--top", type=positive, default=10, help="destination ports shown (default 10)")
    p.add_argument("--plot", metavar="FILE", type=output_file,
                   help="also draw the timeline to FILE.png or .svg")
    p.set_defaults(func=_ip)


def _ip(args: argparse.Namespace) -> int:
    from honeyscope.analyse.ip import ip_card
    from honeyscope.render import ip as render_ip
    from honeyscope.render.escape import plain_terminal

    card = ip_card(open_source(args), args.addr, top=args.top)
    stop_spinner()
    if args.format == "json":
        sys.stdout.write(json.dumps(card.to_dict(), ensure_ascii=True) + "\n")
    else:
        sys.stdout.write(plain_terminal(render_ip.card_text(card)) + "\n")
    if args.plot and not card.timeline["time"].notna().any():  # an empty chart: a note, as empty results
        print(f"honeyscope: note: no packet from {card.addr} has a wall-clock time: no timeline drawn",
              file=sys.stderr)
    elif args.plot:
        from honeyscope.render import charts

        charts.save(render_ip.timeline_chart(card), args.plot)
        print(f"wrote {plain_terminal(args.plot)}", file=sys.stderr)
    return 0
