"""An ingest of ordinary kernel LOG lines loads only what it uses: the compiled fast path claims
every line, so the general path's polars (and numba's kernel) are never imported; nor pandas, which
pyarrow loads on a conversion of Python objects or numpy arrays (``pa.array``, ``pa.scalar``, a
timestamp's ``as_py``) or a ``Table.group_by`` (through pyarrow's dataset module): 0.12-0.17 s of
every ingest; nor pyarrow.compute (0.02-0.03 s): the compiled pass gives the rows in the store's
order, their prefixes as codes, and the hosts' counts."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from honeyscope.ingest import parse_fast

# the kernel's nf_log format (TCP, UDP, ICMP), RFC 3164 stamps, prefixes no process saw before
LINES = (
    "Mar  3 21:53:59 sensor-a kernel: [4711.000001] [UFW BLOCK] IN=eth0 OUT= "
    "MAC=0a:0d:14:95:e5:27:0a:b3:35:19:7e:54:08:00 SRC=114.33.197.193 DST=172.30.0.64 LEN=40 TOS=0x00 "
    "PREC=0x00 TTL=41 ID=6624 PROTO=TCP SPT=43861 DPT=23 WINDOW=24253 RES=0x00 SYN URGP=0 \n"
    "Mar  3 21:54:00 sensor-a kernel: [4712.000002] IN=eth0 OUT= "
    "MAC=0a:0d:14:95:e5:27:0a:b3:35:19:7e:54:08:00 SRC=77.140.138.122 DST=172.30.0.64 LEN=101 TOS=0x00 "
    "PREC=0x00 TTL=109 ID=9658 PROTO=UDP SPT=37788 DPT=27015 LEN=81 \n"
    "Mar  3 21:54:01 sensor-b kernel: [99.5] my-accept-rule IN=eth1 OUT= "
    "MAC=3d:aa:d8:61:9b:91:ff:c9:11:f5:7c:ce:08:00 SRC=178.99.45.36 DST=10.1.2.3 LEN=84 TOS=0x00 "
    "PREC=0x00 TTL=119 ID=58388 PROTO=ICMP TYPE=8 CODE=0 ID=21996 SEQ=3043 \n"
)

# runs the command line's main in a fresh interpreter, then names the heavy modules it loaded
PROBE = """
import sys
from honeyscope.cli import main
code = main(sys.argv[1:])
HEAVY = ("polars", "numba", "pandas", "pyarrow.dataset", "pyarrow.compute")
print("LOADED", sorted(m for m in HEAVY if m in sys.modules))
sys.exit(code)
"""


@pytest.mark.skipif(not parse_fast.available(), reason="the compiled parser is not built (or turned off)")
def test_ordinary_lines_do_not_import_polars(tmp_path):
    src = tmp_path / "ordinary.log"
    src.write_text(LINES, encoding="utf-8")
    store = tmp_path / "store"
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, "ingest", str(src), "--store", str(store), "--json"],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert out[-1] == "LOADED []"
    ledger = json.loads("\n".join(out[:-1]))
    assert (ledger["lines"], ledger["rows"], ledger["rejected_total"]) == (3, 3, 0)


def test_an_analysis_command_loads_only_its_own_command_module():
    """``honeyscope count`` is registered by cli/explore.py: parsing its command line builds that
    module's commands only, not the events and health commands (whose modules import pandas, scipy
    and the statistics at import time), and still knows the command's options."""
    probe = (
        "import sys\nfrom honeyscope.cli import build_parser\n"
        "p = build_parser('count')\n"
        "a = p.parse_args(['count', 'x.log', '--by', 'src,dpt'])\n"
        "print(a.command, a.by, sorted(m for m in ('honeyscope.cli.events', 'honeyscope.cli.health',"
        " 'scipy') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["count", "src,dpt", "[]"]
