"""Check a store's files against its manifest, and move damaged inputs aside.

:func:`verify` reads every committed part (packets and rejects) whole, row group by row group (so
memory stays bounded by one row group), and reports each part that is missing, unreadable, has a
schema other than the canonical one, or whose input's parts do not add up to the rows the manifest
recorded. :func:`repair` moves every file of each damaged input into ``STORE/damaged/<input id>/``
(with its manifest record as ``record.json``) and drops the input from the manifest, atomically,
through the store's own write path, under its lock: the input's logs can then be ingested again and
add exactly their rows. :func:`engine_error_message` turns an engine's error on a damaged part into
one line naming the part.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from honeyscope import schema
from honeyscope.store.store import MANIFEST, Store

DAMAGED = "damaged"


@dataclass
class Problem:
    """One damaged part (or input whose parts do not add up): where, whose, what."""

    part: str
    input_id: str
    source: str
    problem: str


@dataclass
class VerifyResult:
    store: str
    inputs: int = 0
    parts: int = 0
    rows: int = 0
    rejects: int = 0
    problems: list[Problem] = field(default_factory=list)
    repaired: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"ok": self.ok}


def _same_schema(got: pa.Schema, want: pa.Schema) -> str | None:
    """Why ``got`` is not ``want`` (names and types, metadata ignored), or None."""
    if got.names != want.names:
        missing = [n for n in want.names if n not in got.names]
        extra = [n for n in got.names if n not in want.names]
        what = (f"missing columns {missing[:5]}" if missing else "") + (
            f"{', ' if missing else ''}extra columns {extra[:5]}" if extra else "")
        return f"schema differs: {what or 'columns in another order'}"
    for f in want:
        if not got.field(f.name).type.equals(f.type):
            return f"schema differs: column {f.name} is {got.field(f.name).type}, not {f.type}"
    return None


def _check_part(path: Path, want: pa.Schema) -> tuple[int, str | None]:
    """(rows read, problem or None) of one Parquet part, read whole."""
    if not path.is_file():
        return 0, "missing"
    try:
        pf = pq.ParquetFile(path)
        why = _same_schema(pf.schema_arrow, want)
        if why:
            return 0, why
        rows = 0
        for i in range(pf.metadata.num_row_groups):
            rows += pf.read_row_group(i).num_rows
        if rows != pf.metadata.num_rows:
            return rows, f"{rows} rows read, its footer says {pf.metadata.num_rows}"
        return rows, None
    except (OSError, pa.ArrowException, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else e.__class__.__name__
        return 0, f"unreadable ({first})"


def verify(store: Store | str | Path) -> VerifyResult:
    """Check every committed part of ``store``: present, readable, canonical schema, and the rows
    of each input's parts equal to the manifest's counts."""
    st = store if isinstance(store, Store) else Store(store)
    res = VerifyResult(store=str(st.path), inputs=len(st.inputs))
    for rec in st.records:
        source, iid = rec.source or "?", rec.id or "?"
        for key, want, expected in (
            ("parts", schema.SCHEMA, rec.rows),
            ("reject_parts", schema.REJECT_SCHEMA, rec.rejected_total),
        ):
            total, bad = 0, False
            files: list[str] = getattr(rec, key)
            for rel in files:
                res.parts += 1
                n, why = _check_part(st.path / rel, want)
                total += n
                if why:
                    bad = True
                    res.problems.append(Problem(rel, iid, source, why))
            if key == "parts":
                res.rows += total
            else:
                res.rejects += total
            if not bad and total != expected:
                what = "rows" if key == "parts" else "rejected lines"
                where = files[0] if files else f"(no {key})"
                res.problems.append(Problem(
                    where, iid, source,
                    f"its input's {key.replace('_', ' ')} hold {total} {what}, the manifest says {expected}"))
    return res


def repair(store: Store | str | Path, *, wait: float | None = 30) -> VerifyResult:
    """Verify under the store's lock, then move every file of each damaged input (good parts too,
    so that ingesting the input again does not count its rows twice) into
    ``STORE/damaged/<input id>/`` with ``record.json`` (its manifest record), and drop those inputs
    from the manifest in one atomic write. Safe to run again after a crash at any point."""
    st = store if isinstance(store, Store) else Store(store)
    with st.lock(wait=wait):
        res = verify(st)
        bad_ids = {p.input_id for p in res.problems}
        if not bad_ids:
            return res
        keep = []
        for stored, rec in zip(st.inputs, st.records, strict=True):
            if (rec.id or "?") not in bad_ids:
                keep.append(stored)
                continue
            dest = st.path / DAMAGED / rec.id
            dest.mkdir(parents=True, exist_ok=True)
            with open(dest / "record.json", "w", encoding="utf-8") as f:
                json.dump(stored, f, indent=1, sort_keys=True)  # the record as the manifest had it
            moved = []
            for rel in rec.files:
                src = st.path / rel
                if src.is_file():
                    (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                    os.replace(src, dest / rel)
                    moved.append(rel)
            res.repaired.append({"id": rec.id, "source": stored.get("source"), "moved": moved,
                                 "to": str(dest), "rows": rec.rows})
        manifest = dict(st.manifest)
        manifest["inputs"] = keep
        st._write_manifest(manifest)
        st.manifest = manifest
    return res


_PART = re.compile(r"""['"]([^'"]+?\.parquet)['"]""")


def engine_error_message(exc: BaseException) -> str | None:
    """One line naming the damaged part an engine (DuckDB, Arrow) failed on, with what to do; None
    when the error names no part of a store."""
    text = str(exc)
    m = _PART.search(text)
    if not m:
        return None
    part = Path(m.group(1))
    store = next((p for p in part.parents if (p / MANIFEST).is_file()), None)
    if store is None:
        return None
    first = _PART.sub("", text.strip().splitlines()[0]).strip()
    why = "missing" if not part.exists() else first.split(": ", 1)[-1] if ": " in first else first
    return (f"damaged store part {part} ({why}); `honeyscope verify --store {store}` lists every "
            f"damaged part, `--repair` moves them aside so their inputs can be ingested again")
