"""Synthetic, seeded netfilter LOG lines: for round-trip tests, benchmarks and fleet simulations.

* :func:`honeyscope.synth.lines.format_line` writes one packet (a mapping of canonical column
  names) as the kernel would log it, in a chosen syslog framing.
* :func:`honeyscope.synth.lines.generate_lines` yields realistic, deterministic lines.
"""

from __future__ import annotations

from honeyscope.synth.lines import FRAMINGS, format_line, generate_lines, generate_packets

__all__ = ["FRAMINGS", "format_line", "generate_lines", "generate_packets"]
