"""The ingest command end to end: stdin, raw lines + CSV together, JSON ledger, rejects kept."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import honeyscope
from honeyscope.cli import main as cli

LINES = (
    "Mar  3 21:53:59 sensor-a kernel: [UFW BLOCK] IN=eth0 OUT= MAC=0a:0d:14:95:e5:27:0a:b3:35:19:7e:54:08:00 "
    "SRC=114.33.197.193 DST=172.30.0.64 LEN=40 TOS=0x00 PREC=0x00 TTL=41 ID=6624 PROTO=TCP SPT=43861 "
    "DPT=23 WINDOW=24253 RES=0x00 SYN URGP=0\n"
    "Mar  3 21:54:00 sensor-a sshd[12]: Accepted publickey for root\n"
    "Mar  3 21:54:01 sensor-b kernel: DROP IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=40 TTL=41 ID=1 "
    "PROTO=TCP SPT=1 DPT=99999 WINDOW=1 RES=0x00 SYN URGP=0\n"
)


@pytest.mark.slow  # more than 3 s on 2 cores (CI runs it)
def test_stdin_json_ledger_and_rejects(tmp_path):
    store = tmp_path / "s"
    proc = subprocess.run(
        [sys.executable, "-m", "honeyscope", "ingest", "-", "--store", str(store), "--json",
         "--year", "2013"],
        input=LINES.encode(), capture_output=True, check=True,
    )
    led = json.loads(proc.stdout)
    assert led["lines"] == 3 and led["rows"] == 1
    assert led["rejected_total"] == 2
    assert led["hosts"] == {"sensor-a": 1}
    rows = honeyscope.open_store(store).polars()
    assert rows["src"].to_list() == ["114.33.197.193"]
    assert rows["time"][0].isoformat() == "2013-03-03T21:53:59+00:00"
    assert rows["source"].to_list() == ["-"] and rows["line"].to_list() == [1]
    rej = honeyscope.open_store(store).rejects().to_pylist()
    assert [r["line"] for r in rej] == [2, 3]
    assert all(r["reason"] and r["text"] for r in rej)
    # the same bytes again on stdin add nothing
    again = subprocess.run(
        [sys.executable, "-m", "honeyscope", "ingest", "-", "--store", str(store), "--json",
         "--year", "2013"],
        input=LINES.encode(), capture_output=True, check=True,
    )
    assert json.loads(again.stdout)["rows"] == 0


def test_text_ledger_escapes_hostile_sensor(tmp_path, capsys):
    f = tmp_path / "k.log"
    f.write_text(LINES.replace("sensor-a", "\x1b]0;pwned\x07evil"))
    assert cli(["ingest", str(f), "--store", str(tmp_path / "s"), "--year", "2013"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "evil" in out


def test_missing_input_is_a_clear_error(tmp_path, capsys):
    assert cli(["ingest", str(tmp_path / "nope.log"), "--store", str(tmp_path / "s")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_analysis_api_on_data_files_and_tables(tmp_path, marx):
    f = tmp_path / "k.log"
    f.write_text(LINES)
    df = honeyscope.ports([str(f)], top=5)
    assert df.to_dict("records") == [{"port": 23, "count": 1}]
    assert honeyscope.ports(marx, top=1)["count"].tolist() == [109_425]


def test_blocks_are_read_lazily(tmp_path, monkeypatch):
    """Memory stays bounded: a block is parsed before the input is read much further."""
    from honeyscope.ingest import sources
    from honeyscope.store.store import Transaction

    f = tmp_path / "big.log"
    f.write_text(LINES * 300)  # ~140 KB, ~17 blocks of 8 KiB (each block is one store part)
    read = {"blocks": 0, "at_first_add": None}
    original_blocks, original_add = sources.Reader.blocks, Transaction.add

    def counting_blocks(self, size=sources.BLOCK, **kw):
        for b in original_blocks(self, size, **kw):
            read["blocks"] += 1
            yield b

    def recording_add(self, rows, rejects, **kw):
        if read["at_first_add"] is None:
            read["at_first_add"] = read["blocks"]
        return original_add(self, rows, rejects, **kw)

    monkeypatch.setattr(sources.Reader, "blocks", counting_blocks)
    monkeypatch.setattr(Transaction, "add", recording_add)
    led = honeyscope.ingest([str(f)], tmp_path / "s", workers=1, block_size=8192, year=2013)
    assert led.lines == 900 and read["blocks"] > 10
    assert read["at_first_add"] <= 2


@pytest.mark.slow  # more than 2 s on 2 cores (CI runs it)
def test_parallel_ingest_from_a_plain_script(tmp_path):
    """Ingest runs no worker process that would re-run the caller's script, so a script without an
    ``if __name__ == "__main__"`` guard works."""
    f = tmp_path / "k.log"
    f.write_text(LINES * 2000)
    script = tmp_path / "plain.py"
    script.write_text(
        "import honeyscope\n"
        f"led = honeyscope.ingest([{str(f)!r}], {str(tmp_path / 's')!r}, workers=2, "
        "block_size=64 * 1024)\n"
        "print(led.lines, led.rows)\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["6000", "2000"]


def test_split_size_uses_every_worker_on_mid_sized_inputs():
    from honeyscope.ingest.run import MIN_SPLIT, split_size

    block = 8 << 20
    assert split_size(100 << 20, 2, block) == block  # big: the usual blocks
    assert split_size(5 << 20, 2, block) == (5 << 20) // 2  # a 5 MB log: one block per worker
    assert split_size(MIN_SPLIT, 2, block) == block  # small: one block, no pool
    assert split_size(5 << 20, 1, block) == block
    assert split_size(None, 2, block) == block  # stdin: size unknown


#: What the ingest command must not load (written by hand): the analysis engines and their
#: statistics and chart libraries, the API module that imports them, the distributed engine.
ANALYSIS_STACK = ("ibis", "duckdb", "scipy", "statsmodels", "plotnine", "matplotlib", "pyspark",
                  "sqlglot", "honeyscope.api", "honeyscope.analyse.select", "honeyscope.render.charts")


@pytest.mark.slow  # a fresh interpreter: about 2 s on 2 cores (CI runs it)
def test_ingest_command_loads_no_analysis_stack(tmp_path):
    """``honeyscope ingest`` (a good run, and one ending in an error) imports none of the analysis
    stack: what a small ingest costs is the ingest's own work."""
    f = tmp_path / "k.log"
    f.write_text(LINES * 20)
    script = (
        "import sys\n"
        "from honeyscope.cli import main\n"
        f"ok = main(['ingest', {str(f)!r}, '--store', {str(tmp_path / 's')!r}, '--workers', '2'])\n"
        f"bad = main(['ingest', {str(tmp_path / 'missing.log')!r}, '--store', {str(tmp_path / 's')!r}])\n"
        f"print(ok, bad, *[m for m in {ANALYSIS_STACK!r} if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    # both ran (2: a missing input), and nothing of the list was loaded
    assert out.stdout.splitlines()[-1].split() == ["0", "2"]


@pytest.mark.slow  # two ingests of ten blocks: more than 2 s on 2 cores (CI runs it)
def test_parallel_blocks_are_staged_and_committed_in_order(tmp_path):
    """Blocks parsed on two worker threads give the store one serial parse gives: the same rows in
    the same parts, in the same order (blocks are numbered and added in input order)."""
    f = tmp_path / "k.log"
    f.write_text(LINES * 100)  # 300 lines of ~120 bytes, ~10 blocks of 4 KiB
    stores = {}
    for workers in (1, 2):
        led = honeyscope.ingest([str(f)], tmp_path / f"s{workers}", workers=workers, block_size=4096)
        # the sshd line is no packet, the port 99999 line a damaged one: one row per 3 lines
        assert (led.lines, led.rows, sum(led.rejected().values())) == (300, 100, 200)
        stores[workers] = honeyscope.open_store(tmp_path / f"s{workers}")
    (one,), (two,) = stores[1].records, stores[2].records
    assert len(one.parts) >= 8
    for attr in ("parts", "reject_parts"):  # the same files (but for the transaction's id)
        assert [p.replace(two.id, "") for p in getattr(two, attr)] == [
            p.replace(one.id, "") for p in getattr(one, attr)]
    assert stores[2].table().equals(stores[1].table())
    assert stores[2].rejects().equals(stores[1].rejects())
    # every packet line, in input order
    assert stores[2].table(["line"]).column("line").to_pylist() == list(range(1, 301, 3))
