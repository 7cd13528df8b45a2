"""The store: a directory of Parquet files and a manifest that says which of them exist.

Layout::

    STORE/
      manifest.json                 the only source of truth: inputs committed, their files, ledgers
      packets/YYYY-MM/*.parquet     canonical rows by month, sorted by (host, time) within each file
      rejects/*.parquet             lines that were not packets: source, line, reason, text
      staging/                      files of an ingest not yet committed (removed on the next ingest)
      .lock                         held (flock) by the one ingest writing the store

Crash safety: an ingest writes its files under ``staging/``, moves them into place, and only then
replaces ``manifest.json`` atomically (write + fsync + rename). Readers list files from the manifest,
never from the directory, so a kill -9 at any moment leaves the store as it was, or with whole inputs
committed; files a killed ingest left behind are not in the manifest and are swept by the next one.
An ingest of many inputs writes the manifest about once a second (:meth:`Store.grouped`), not once
per input: a kill -9 then loses at most the last second's inputs, whole, which the next ingest adds.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from honeyscope import schema

if TYPE_CHECKING:  # loaded by the reader that needs it (an ingest does not)
    import pandas as pd

MANIFEST = "manifest.json"
FORMAT = "honeyscope-store"
VERSION = 1
ROW_GROUP = 128 * 1024
#: Columns written with Parquet's dictionary encoding: text whose values repeat (sensors, protocols,
#: prefixes, interfaces, the input's name...). The others, addresses and numbers, are written plain:
#: measured on 21k realistic rows, 18% less CPU to write and 11% smaller files than a dictionary
#: tried on every column (it is abandoned, after its cost, where values do not repeat).
DICTIONARY_COLUMNS = ["host", "proto", "action", "prefix", "in_iface", "out_iface", "physin", "physout",
                      "mac_dst", "tcp_flags", "inner_proto", "geo_cc", "geo_country", "geo_locale",
                      "source", "reason"]
#: Staged file numbers one block may use (one per month of its rows, one for its rejects): the
#: transaction of block ``seq`` (:meth:`Transaction.block`) numbers its files from ``seq`` times this,
#: so that blocks staged at once never clash.
FILES_PER_BLOCK = 10_000


class StoreBusyError(RuntimeError):
    """Another ingest holds the store's lock."""


class NotAStoreError(FileNotFoundError):
    pass


class DamagedStoreError(RuntimeError):
    """A store that cannot be read as it is: no readable manifest, or a damaged part."""


class ManifestWriteError(RuntimeError):
    """The manifest of a group of commits could not be written (a full disk...): the store is as
    its last write left it, and the inputs committed since are not in it."""


#: Within :meth:`Store.grouped` the manifest is written at most about this often (seconds), and
#: never more often than ten times the time its last write took (a store of many inputs).
GROUP_SECONDS = 1.0


@dataclass
class InputRecord:
    """One committed input of the manifest (``manifest.json``'s ``inputs``), typed.

    ``parts``/``reject_parts``: its files (relative to the store); ``rows``, ``rejected`` (lines
    by reason), ``hosts`` (rows by sensor), ``lines``: its counts. ``start_byte``/``end_byte`` and
    ``sha256``: the raw bytes read and their digest; ``content_*``: the decompressed text it
    covers (``None`` in records of older stores). Keys this class does not know (``spool``, ...)
    are kept in ``extra`` and written back as they were."""

    id: str = ""
    source: str = ""
    kind: str | None = None
    compression: str | None = None
    parts: list[str] = field(default_factory=list)
    reject_parts: list[str] = field(default_factory=list)
    rows: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    hosts: dict[str, int] = field(default_factory=dict)
    lines: int = 0
    committed: str | None = None
    start_byte: int | None = None
    end_byte: int | None = None
    sha256: str | None = None
    content_start: int | None = None
    content_bytes: int | None = None
    content_sha256: str | None = None
    #: sha256 of the text's first line (its first 64 KiB at most): an input that starts otherwise
    #: is neither this text nor this text grown (:func:`honeyscope.ingest.sources.first_line_digest`)
    first_line_sha256: str | None = None
    start_line: int | None = None
    end_line: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    #: the keys the record was read with (to_dict writes those, and every one it was given)
    _keys: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InputRecord:
        known = {f for f in cls.__dataclass_fields__ if f not in ("extra", "_keys")}
        kw = {k: v for k, v in d.items() if k in known}
        return cls(**kw, extra={k: v for k, v in d.items() if k not in known}, _keys=tuple(d))

    def to_dict(self) -> dict[str, Any]:
        """The manifest's form: the keys the record came with, in their order, then the others
        that are set."""
        out: dict[str, Any] = {}
        names = [f for f in self.__dataclass_fields__ if f not in ("extra", "_keys")]
        for k in self._keys:
            out[k] = getattr(self, k) if k in names else self.extra[k]
        for k in names:
            v = getattr(self, k)
            if k not in out and v is not None and (v != "" or k in ("id", "source")):
                out[k] = v
        for k, v in self.extra.items():
            out.setdefault(k, v)
        return out

    @property
    def files(self) -> list[str]:
        """Every file of the input: packet parts, then reject parts."""
        return self.parts + self.reject_parts

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def content_key(self) -> tuple[int, str] | None:
        """(length, sha256) of the decompressed text it covers from its start. Records of older
        stores carry only the raw file's sha256: for a plain input that is the same thing."""
        if self.content_sha256 is not None and self.content_bytes is not None:
            return self.content_bytes, self.content_sha256
        if self.compression is None and self.end_byte is not None and self.sha256 is not None:
            return self.end_byte, self.sha256
        return None


@dataclass
class ContentIndex:
    """The committed inputs by the text they cover (:meth:`InputRecord.content_key`): ``lengths``,
    the digests of the texts of each length; ``by_key``, the record of each (length, digest);
    ``shortest``, the length of the shortest non-empty text; ``first_lines``, the digests of the
    non-empty texts' first lines; ``unkeyed``, the records without a key (compressed inputs of
    older stores), and ``no_first_line``, the non-empty texts without a first line's digest
    (older stores). Kept up to date as inputs are committed: an ingest of many files consults it
    at each one."""

    lengths: dict[int, set[str]] = field(default_factory=dict)
    by_key: dict[tuple[int, str], InputRecord] = field(default_factory=dict)
    shortest: int | None = None
    first_lines: set[str] = field(default_factory=set)
    unkeyed: int = 0
    no_first_line: int = 0

    def add(self, r: InputRecord) -> None:
        k = r.content_key()
        if k is None:
            self.unkeyed += 1
            return
        self.lengths.setdefault(k[0], set()).add(k[1])
        self.by_key[k] = r
        if not k[0]:
            return
        if self.shortest is None or k[0] < self.shortest:
            self.shortest = k[0]
        if r.first_line_sha256 is None:
            self.no_first_line += 1
        else:
            self.first_lines.add(r.first_line_sha256)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (a rename, a new file) durable; a no-op where that fails."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, not ours
    return True


def is_store(path: str | Path) -> bool:
    """Whether ``path`` is a store. A directory with ``packets/`` but no manifest is a damaged
    store, never data: :class:`DamagedStoreError`."""
    p = Path(path)
    if (p / MANIFEST).is_file():
        return True
    if (p / "packets").is_dir():
        raise DamagedStoreError(
            f"{p} has packets/ but no {MANIFEST}: a damaged store, not data "
            f"(restore {p / MANIFEST} from a backup, or ingest the logs into a new store)"
        )
    return False


class Store:
    """A honeyscope store directory (see module doc). Cheap to open; reads the manifest."""

    def __init__(self, path: str | Path, *, create: bool = False) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise NotADirectoryError(f"store {self.path} is a file, not a directory")
        if not is_store(self.path):
            if not create:
                raise NotAStoreError(f"{self.path} is not a honeyscope store (no {MANIFEST})")
            if self.path.exists() and any(not f.name.startswith(".") for f in self.path.iterdir()):
                raise ValueError(f"{self.path} exists, is not empty and is not a honeyscope store")
            self.path.mkdir(parents=True, exist_ok=True)
            self._write_manifest(
                {"format": FORMAT, "version": VERSION, "created": _now(), "inputs": [], "meta": {}}
            )
        self.manifest = self._read_manifest()
        self._typed: list[tuple[dict[str, Any], InputRecord]] = []  # (record as stored, typed)
        self._index = ContentIndex()  # of the records in _typed
        self._group: dict[str, Any] | None = None  # the pending group of commits (grouped())

    # -- manifest ---------------------------------------------------------------------------
    def _read_manifest(self) -> dict[str, Any]:
        try:
            with open(self.path / MANIFEST, encoding="utf-8") as f:
                m = json.load(f)
        except (ValueError, UnicodeDecodeError) as e:
            raise DamagedStoreError(
                f"{self.path / MANIFEST} is damaged ({e.__class__.__name__}: {e}); the store cannot "
                "be read: restore the manifest from a backup, or ingest the logs into a new store"
            ) from None
        if not isinstance(m, dict) or m.get("format") != FORMAT or not isinstance(m.get("inputs"), list):
            raise DamagedStoreError(f"{self.path / MANIFEST} is not a honeyscope manifest")
        if m.get("version", 0) > VERSION:
            raise ValueError(f"store version {m['version']} is newer than this honeyscope")
        return m

    def _write_manifest(self, manifest: dict[str, Any]) -> None:
        tmp = self.path / f".{MANIFEST}.{os.getpid()}.tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(_manifest_text(manifest))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path / MANIFEST)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()  # a full disk must not leave half a manifest behind
            raise
        fsync_dir(self.path)

    def _sweep_manifest_tmp(self) -> None:
        """Remove ``.manifest.json.<pid>.tmp`` files a failed or killed write left (under the lock;
        a file of a process still running, e.g. a store being created, is left alone)."""
        for f in self.path.glob(f".{MANIFEST}.*.tmp"):
            pid = f.name[len(MANIFEST) + 2: -4]
            if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
                continue
            f.unlink(missing_ok=True)

    def missing_parts(self) -> list[Path]:
        """Committed files that are not on disk (cheap: one stat each)."""
        return [f for f in self.packet_files() + self.reject_files() if not f.is_file()]

    def refresh(self) -> None:
        self.manifest = self._read_manifest()

    @property
    def inputs(self) -> list[dict[str, Any]]:
        """The manifest's input records as stored (JSON objects); :attr:`records` types them."""
        return self.manifest["inputs"]

    @property
    def records(self) -> list[InputRecord]:
        """The committed inputs, typed (each record typed once: an ingest of many files asks for
        them at every file)."""
        self._type_records()
        return [r for _, r in self._typed]

    def content_index(self) -> ContentIndex:
        """The committed texts by content key (kept up to date as the records are typed)."""
        self._type_records()
        return self._index

    def _type_records(self) -> None:
        """Type and index the records committed since the last call."""
        inputs, typed = self.inputs, self._typed
        k = len(typed)
        # (a commit appends to the records, verify --repair drops some: the records typed before
        # are still the first ones when the first and the last of them are)
        if k and (k > len(inputs) or typed[0][0] is not inputs[0] or typed[-1][0] is not inputs[k - 1]):
            typed, self._index, k = [], ContentIndex(), 0  # typed again, indexed again
        for d in inputs[k:]:
            r = InputRecord.from_dict(d)
            self._index.add(r)
            typed.append((d, r))
        self._typed = typed

    @contextlib.contextmanager
    def grouped(self) -> Iterator[None]:
        """Commits made inside write the manifest about once every :data:`GROUP_SECONDS`, and once
        at the end, instead of at each commit: an ingest of thousands of small files rewrote the
        whole manifest, and synced its directory, for every one of them. The files of each input
        are in place, and synced, before a manifest that names them is written. Whatever ends
        the block, what was committed in it is written (not after a failed write:
        :class:`ManifestWriteError`)."""
        if self._group is not None:  # (nested: the outer group writes)
            yield
            return
        self._group = {"due": time.monotonic() + GROUP_SECONDS, "dirs": set(), "pending": 0,
                       "written": self.manifest}
        failed = False
        try:
            yield
        except ManifestWriteError:
            failed = True
            raise
        finally:
            group, self._group = self._group, None
            if group["pending"] and not failed:
                self._write_group(group)

    def _save(self, dirs: set[Path]) -> None:
        """Write the manifest after a commit (after syncing ``dirs``, where the files it names
        were moved), or, within :meth:`grouped`, note the commit and write when the group is due."""
        g = self._group
        if g is None:
            for d in dirs:
                fsync_dir(d)
            self._write_manifest(self.manifest)
            return
        g["dirs"] |= dirs
        g["pending"] += 1
        if time.monotonic() >= g["due"]:
            self._write_group(g)

    def _write_group(self, g: dict[str, Any]) -> None:
        """Write the manifest of the group ``g`` (its directories synced first)."""
        t = time.monotonic()
        try:
            for d in g["dirs"]:
                fsync_dir(d)
            self._write_manifest(self.manifest)
        except OSError as e:
            self.manifest = g["written"]  # (what the disk holds)
            raise ManifestWriteError(
                f"the manifest of {self.path} could not be written ({e.strerror or e}): the "
                f"{g['pending']} input(s) committed since its last write are not in the store"
            ) from e
        g.update(dirs=set(), pending=0, written=self.manifest,
                 due=time.monotonic() + max(GROUP_SECONDS, 10 * (time.monotonic() - t)))

    @property
    def meta(self) -> dict[str, Any]:
        return self.manifest.setdefault("meta", {})

    # -- reading ----------------------------------------------------------------------------
    def packet_files(self) -> list[Path]:
        return [self.path / p for r in self.records for p in r.parts]

    def reject_files(self) -> list[Path]:
        return [self.path / p for r in self.records for p in r.reject_parts]

    def table(self, columns: list[str] | None = None) -> pa.Table:
        """The whole packet table in memory (small stores; use :func:`packets` for big ones)."""
        files = self.packet_files()
        if not files:
            return schema.empty() if columns is None else schema.empty().select(columns)
        return pq.ParquetDataset([str(f) for f in files], schema=schema.SCHEMA).read(columns=columns)

    def rejects(self) -> pa.Table:
        files = self.reject_files()
        if not files:
            return schema.REJECT_SCHEMA.empty_table()
        return pq.ParquetDataset([str(f) for f in files], schema=schema.REJECT_SCHEMA).read()

    def rejects_by_host_day(self) -> pd.DataFrame:
        """Rejected lines per sensor and UTC day (``host, day, rejects``), for those whose header
        named a sensor and a readable time; read without loading the rejects' text."""
        import pandas as pd

        files = self.reject_files()
        if not files:
            return pd.DataFrame(columns=["host", "day", "rejects"])
        t = pq.ParquetDataset([str(f) for f in files], schema=schema.REJECT_SCHEMA).read(
            columns=["host", "time"])
        df = t.to_pandas().dropna()
        if df.empty:
            return pd.DataFrame(columns=["host", "day", "rejects"])
        df["day"] = df["time"].dt.tz_convert("UTC").dt.date
        return df.groupby(["host", "day"]).size().rename("rejects").reset_index()

    def ledger(self) -> dict[str, Any]:
        """Totals over every committed input (lines read, rows, rejects by reason, rows per sensor),
        and ``inputs``: one short record per input."""
        total: dict[str, Any] = {"inputs": [], "lines": 0, "rows": 0, "rejected": {}, "hosts": {}}
        for r in self.records:
            total["inputs"].append({
                "source": r.source, "kind": r.kind, "compression": r.compression,
                "lines": r.lines, "rows": r.rows, "committed": r.committed,
                "rejected": r.rejected_total,
            })
            total["lines"] += r.lines
            total["rows"] += r.rows
            for k, v in r.rejected.items():
                total["rejected"][k] = total["rejected"].get(k, 0) + v
            for k, v in r.hosts.items():
                total["hosts"][k] = total["hosts"].get(k, 0) + v
        total["rejected_total"] = sum(total["rejected"].values())
        return total

    # -- writing ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, wait: float | None = 0) -> Iterator[None]:
        """Hold the store's write lock. ``wait`` seconds to wait (None: forever); busy → error."""
        fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = None if wait is None else time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as e:
                    if e.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if deadline is not None and time.monotonic() >= deadline:
                        holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
                        raise StoreBusyError(
                            f"another ingest is writing {self.path} (pid {holder or '?'}); "
                            "wait for it to finish, or pass --wait"
                        ) from None
                    time.sleep(0.2)
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            self.refresh()  # another ingest may have committed while we waited
            self._sweep_staging()
            self._sweep_manifest_tmp()
            missing = self.missing_parts()
            if missing:
                from honeyscope.text import plain_terminal

                print(f"honeyscope: warning: {len(missing)} committed part(s) of {plain_terminal(self.path)} "
                      f"are missing (e.g. {plain_terminal(missing[0])}): run honeyscope verify --store "
                      f"{plain_terminal(self.path)} --repair", file=sys.stderr)
            yield
        finally:
            os.close(fd)  # releases the flock

    def _sweep_staging(self) -> None:
        """Remove what a killed ingest left: staging files and unreferenced data files."""
        shutil.rmtree(self.path / "staging", ignore_errors=True)
        known = {str(self.path / p) for r in self.records for p in r.files}
        for sub in ("packets", "rejects"):
            base = self.path / sub
            if base.is_dir():
                for f in base.rglob("*.parquet"):
                    if str(f) not in known:
                        f.unlink(missing_ok=True)

    def begin(self) -> Transaction:
        """Start writing one input (call under :meth:`lock`)."""
        return Transaction(self)

    def set_meta(self, key: str, value: Any) -> None:
        with self.lock(wait=30):
            self.meta[key] = value
            self._write_manifest(self.manifest)


def write_part(table: pa.Table, where: Any) -> None:
    """Write ``table`` as one of the store's Parquet files (a path or a writable file object):
    zstd, statistics, dictionaries for the columns of few values, row groups of :data:`ROW_GROUP`."""
    pq.write_table(table, where, row_group_size=ROW_GROUP, compression="zstd", write_statistics=True,
                   use_dictionary=[c for c in DICTIONARY_COLUMNS if c in table.column_names])


@dataclass
class Transaction:
    """The files of one input being ingested; nothing is visible until :meth:`commit`."""

    store: Store
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    parts: list[str] = field(default_factory=list)
    reject_parts: list[str] = field(default_factory=list)
    rows: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    hosts: dict[str, int] = field(default_factory=dict)
    _n: int = 0

    @property
    def staging(self) -> Path:
        return self.store.path / "staging" / self.id

    def _staged(self, rel: str) -> Path:
        """Where the file bound for ``rel`` is staged: flat in :attr:`staging` (no folders to make
        and remove for each small input)."""
        return self.staging / rel.replace("/", "~")

    def _stage(self, final_rel: str, table: pa.Table) -> None:
        self._n += 1
        self.staging.mkdir(parents=True, exist_ok=True)
        write_part(table, self._staged(final_rel))

    def add(self, rows: pa.Table, rejects: pa.Table, layout: Any = None) -> None:
        """Stage a block's rows (canonical schema) and rejects (REJECT_SCHEMA): one file per month
        of the rows' times (``unknown`` for rows without one, last), each sorted by (host, time).
        ``layout``: (months, hosts, ...) of rows already in that order, as
        :func:`_by_month_host_time` would give them (the compiled parser's,
        :data:`honeyscope.ingest.parse_fast.Layout`): not sorted again."""
        if rows.num_rows:
            rows = schema.conform(rows)
            self.rows += rows.num_rows
            if layout is not None:
                months, hosts = layout[0], layout[1]
            else:
                rows, months, hosts = _by_month_host_time(rows)
            for h, c in hosts.items():
                self.hosts[h] = self.hosts.get(h, 0) + c
            for m, a, b in months:
                rel = f"packets/{m}/{self.id}-{self._n:05d}.parquet"  # not hive-style: no column added
                self._stage(rel, rows.slice(a, b - a))
                self.parts.append(rel)
        if rejects.num_rows:
            if not rejects.schema.equals(schema.REJECT_SCHEMA):
                rejects = rejects.cast(schema.REJECT_SCHEMA)
            # (counted in Python, not by Table.group_by, which loads pyarrow's dataset module and
            # pandas, 0.15 s of an ingest, nor by pyarrow.compute, 0.02-0.03 s to load: a block's
            # rejects are few)
            for r in rejects.column("reason").to_pylist():
                self.rejected[r] = self.rejected.get(r, 0) + 1
            rel = f"rejects/{self.id}-{self._n:05d}.parquet"
            self._stage(rel, rejects)
            self.reject_parts.append(rel)

    def block(self, seq: int) -> Transaction:
        """A transaction staging the files of block ``seq`` of this one (in a worker thread: it
        touches nothing of this one; its files are numbered from ``seq`` × :data:`FILES_PER_BLOCK`);
        :meth:`merge` adds it back, in block order."""
        return Transaction(self.store, id=self.id, _n=seq * FILES_PER_BLOCK)

    def merge(self, other: Transaction) -> None:
        """Add what the block transaction ``other`` staged (its files and counts) to this one."""
        self.parts += other.parts
        self.reject_parts += other.reject_parts
        self.rows += other.rows
        for total, counts in ((self.rejected, other.rejected), (self.hosts, other.hosts)):
            for k, v in counts.items():
                total[k] = total.get(k, 0) + v

    def commit(self, record: dict[str, Any]) -> dict[str, Any]:
        """Move the staged files into place and add ``record`` (plus counts and files) to the
        manifest, atomically. Returns the full record."""
        store = self.store
        for rel in self.parts + self.reject_parts:
            dest = store.path / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._staged(rel), dest)
        full = dict(record)
        full.update(
            id=self.id,
            parts=self.parts,
            reject_parts=self.reject_parts,
            rows=self.rows,
            rejected=self.rejected,
            hosts=self.hosts,
            committed=_now(),
        )
        manifest = dict(store.manifest)
        manifest["inputs"] = [*store.inputs, full]
        before, store.manifest = store.manifest, manifest
        try:
            store._save({(store.path / rel).parent for rel in self.parts + self.reject_parts})
        except OSError:
            store.manifest = before  # (not written: the store is as it was)
            raise
        shutil.rmtree(self.staging, ignore_errors=True)
        return full

    def abort(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


def _manifest_text(manifest: dict[str, Any]) -> str:
    """The manifest as JSON, keys sorted, one input's record per line (encoded by the json
    module's C encoder: an indented dump goes through its Python one, 10x slower on a manifest of
    thousands of inputs)."""
    text = json.dumps({**manifest, "inputs": []}, indent=1, sort_keys=True)
    records = ",\n  ".join(json.dumps(r, sort_keys=True) for r in manifest["inputs"])
    at = '\n "inputs": []'  # (the top level's key: nested keys are indented further)
    return text.replace(at, '\n "inputs": [\n  ' + records + "\n ]", 1) if records else text


def month_name(m: int) -> str:
    """``YYYY-MM`` of a month counted from 1970-01: the folder of a month's packet parts."""
    return f"{1970 + m // 12:04d}-{m % 12 + 1:02d}"


def _by_month_host_time(rows: pa.Table) -> tuple[pa.Table, list[tuple[str, int, int]], dict[str, int]]:
    """``rows`` sorted by (month of ``time``, host, time), nulls last (a stable sort: rows equal in
    all three keep their order); the months as (``YYYY-MM`` or ``unknown``, first row, end row) of
    the sorted table; rows per host (``(none)`` for null). One sort and one copy of the table: the
    months are slices of it."""
    import numpy as np
    import pyarrow.compute as pc

    n = rows.num_rows
    t = pc.cast(rows.column("time"), pa.int64()).combine_chunks()
    known = t.is_valid().to_numpy(zero_copy_only=False)
    us = pc.fill_null(t, 0).to_numpy()
    month = us.astype("datetime64[us]").astype("datetime64[M]").astype(np.int64)
    month[~known] = np.iinfo(np.int64).max  # no time: the "unknown" part, last
    host = rows.column("host").combine_chunks().dictionary_encode()
    names = host.dictionary
    # a host's rank in byte order (Arrow's, as a sort of the strings); null last
    rank = np.empty(len(names) + 1, np.int64)
    rank[pc.sort_indices(names).to_numpy()] = np.arange(len(names))
    rank[len(names)] = len(names)
    codes = pc.fill_null(host.indices, len(names)).to_numpy(zero_copy_only=False).astype(np.int64)
    counts = np.bincount(codes, minlength=len(names) + 1)
    hosts = {("(none)" if i == len(names) else names[i].as_py()): int(c)
             for i, c in enumerate(counts) if c}
    time_key = np.where(known, us, np.iinfo(np.int64).max)  # a null time after the others
    order = np.lexsort((time_key, rank[codes], month))
    if not (np.diff(order) == 1).all():
        rows = rows.take(pa.array(order))
    month = month[order]
    cuts = [0, *(np.flatnonzero(month[1:] != month[:-1]) + 1).tolist(), n]
    parts = []
    for a, b in itertools.pairwise(cuts):
        m = int(month[a])
        name = "unknown" if m == np.iinfo(np.int64).max else month_name(m)
        parts.append((name, a, b))
    return rows, parts, hosts
