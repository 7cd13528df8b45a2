"""Byte-level, numpy-vectorised tokeniser for the netfilter part of LOG lines.

The kernel writes ``KEY=value`` tokens and bare words separated by single spaces, in a fixed
order. Working on the Arrow buffer of a whole block at once, this module finds every token,
identifies its key by the bytes up to ``=`` (or ``:``, for ``FRAG:``/``ID:``), tells
which *segment* of the line it sits in by counting, per line, the ``PROTO=`` tokens and the
bracket tokens before it:

* 0 - the IP header (``IN=`` .. before ``PROTO=``),
* 1 - the transport header (``PROTO=`` .. before the first ``[``),
* 2 - inside the bracketed header of an ICMP error, before its own ``PROTO=``,
* 3 - inside the brackets, from its ``PROTO=`` on,
* 4 - after the closing bracket (``MTU=``, ``UID=``, ``MARK=`` of an ICMP error).

and returns, for each wanted (key, segment), the text of the first such value of every line as
an Arrow string array (null where absent). No Python loop runs over lines or tokens.

For the parser's completeness and consistency checks it also returns, per line, the last token
of the body (``_last``), whether its brackets are unbalanced (``_unbal``: a line cut inside the
embedded header of an ICMP error) and whether a field's key comes twice in its segment with
different values (``_dup``: the kernel prints each key once, so such a line is damaged).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_W = 10  # bytes of a token looked at to find its key separator


#: (name, key bytes including the separator, segment) of every text field wanted.
FIELDS: tuple[tuple[str, bytes, tuple[int, ...]], ...] = (
    ("t_out", b"OUT=", (0,)),
    ("t_physin", b"PHYSIN=", (0,)),
    ("t_physout", b"PHYSOUT=", (0,)),
    ("t_mac", b"MAC=", (0,)),
    ("t_src", b"SRC=", (0,)),
    ("t_dst", b"DST=", (0,)),
    ("t_len", b"LEN=", (0,)),
    ("t_tos", b"TOS=", (0,)),
    ("t_prec", b"PREC=", (0,)),
    ("t_ttl", b"TTL=", (0,)),
    ("t_id", b"ID=", (0,)),
    ("t_id6", b"ID:", (0,)),
    ("t_tc", b"TC=", (0,)),
    ("t_hop", b"HOPLIMIT=", (0,)),
    ("t_flow", b"FLOWLBL=", (0,)),
    ("t_frag", b"FRAG:", (0,)),
    ("t_frag2", b"FRAG=", (0,)),
    ("t_proto", b"PROTO=", (1,)),
    ("t_spt", b"SPT=", (1,)),
    ("t_dpt", b"DPT=", (1,)),
    ("t_l4len", b"LEN=", (1,)),
    ("t_window", b"WINDOW=", (1,)),
    ("t_res", b"RES=", (1,)),
    ("t_urgp", b"URGP=", (1,)),
    ("t_seq", b"SEQ=", (1,)),
    ("t_ack", b"ACK=", (1,)),
    ("t_type", b"TYPE=", (1,)),
    ("t_code", b"CODE=", (1,)),
    ("t_icmpid", b"ID=", (1,)),
    ("t_mtu", b"MTU=", (1, 4)),
    ("t_spi", b"SPI=", (1,)),
    ("t_uid", b"UID=", (1, 4)),
    ("t_gid", b"GID=", (1, 4)),
    ("t_mark", b"MARK=", (1, 4)),
    ("t_param", b"PARAMETER=", (1,)),
    ("t_pointer", b"POINTER=", (1,)),
    ("t_gateway", b"GATEWAY=", (1,)),
    ("t_isrc", b"SRC=", (2,)),
    ("t_idst", b"DST=", (2,)),
    ("t_ilen", b"LEN=", (2,)),
    ("t_ittl", b"TTL=", (2,)),
    ("t_ihop", b"HOPLIMIT=", (2,)),
    ("t_iid", b"ID=", (2,)),
    ("t_iproto", b"PROTO=", (3,)),
    ("t_ispt", b"SPT=", (3,)),
    ("t_idpt", b"DPT=", (3,)),
    ("t_itype", b"TYPE=", (3,)),
    ("t_icode", b"CODE=", (3,)),
)
#: Bare words: (name, word, segments); the result is a boolean "present in the line".
WORDS: tuple[tuple[str, bytes, tuple[int, ...]], ...] = (
    ("ce", b"CE", (0,)),
    ("df", b"DF", (0,)),
    ("mf", b"MF", (0,)),
    ("_mf6", b"INCOMPLETE", (0,)),
    ("_incomplete", b"INCOMPLETE", (1,)),
)
_FLAGS = (b"CWR", b"ECE", b"URG", b"ACK", b"PSH", b"RST", b"SYN", b"FIN")



def _code(key: bytes) -> np.uint64:
    """The token code of a key (bytes up to and including its separator) or a bare word."""
    b8 = (key[:8] + bytes(8))[:8]
    return np.uint64(int.from_bytes(b8, "little") ^ (len(key) << 56))


def _tables() -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]:
    slots: list[tuple[str, str]] = []
    pairs: dict[tuple[int, int], int] = {}
    keys: set[int] = set()
    for name, key, segs in FIELDS:
        slot = len(slots)
        slots.append((name, "field"))
        for sg in segs:
            pairs[(int(_code(key)), sg)] = slot
        keys.add(int(_code(key)))
    for name, word, segs in WORDS:
        slot = len(slots)
        slots.append((name, "word"))
        for sg in segs:
            pairs[(int(_code(word)), sg)] = slot
        keys.add(int(_code(word)))
    codes = np.array(sorted(keys), np.uint64)
    fid = np.full((len(codes), 5), -1, np.int64)
    for (k, sg), slot in pairs.items():
        fid[int(np.searchsorted(codes, np.uint64(k))), sg] = slot
    return codes, fid, slots


_CODES, _FID, _SLOTS = _tables()


_ONES = np.uint64(0x0101010101010101)
_HIGHS = np.uint64(0x8080808080808080)


def _first_byte(w: np.ndarray, value: int) -> np.ndarray:
    """Index (0-7) of the first byte equal to ``value`` in each little-endian word, else -1."""
    x = w ^ (_ONES * np.uint64(value))
    with np.errstate(over="ignore"):
        t = (x - _ONES) & ~x & _HIGHS
        low = t & (~t + np.uint64(1))  # lowest set bit (exact for the first zero byte)
    pos = np.where(t != 0, np.log2(np.maximum(low, np.uint64(1)).astype(np.float64)), -8.0)
    return (pos // 8).astype(np.int64)


def _strings(
    data: np.ndarray, n: int, rows: np.ndarray, vs: np.ndarray, vl: np.ndarray
) -> pa.Array:
    """A large_string array of ``n`` rows: row ``rows[k]`` = data[vs[k]:vs[k]+vl[k]], else null."""
    starts = np.zeros(n, np.int64)
    lens = np.zeros(n, np.int64)
    valid = np.zeros(n, np.bool_)
    starts[rows] = vs
    lens[rows] = np.maximum(vl, 0)
    valid[rows] = True
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(lens, out=offsets[1:])
    total = int(offsets[-1])
    if total:
        idx = np.repeat(starts - offsets[:-1], lens) + np.arange(total, dtype=np.int64)
        buf = data[idx]
    else:
        buf = np.zeros(0, np.uint8)
    nulls = int(n - valid.sum())
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None
    return pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(buf), bitmap, nulls
    )


def _values(data: np.ndarray, vs: np.ndarray, vl: np.ndarray) -> pa.Array:
    """A large_string array of the values data[vs[k]:vs[k]+vl[k]] (every one present)."""
    k = len(vs)
    return _strings(data, k, np.arange(k), vs, vl)


def _first_per_row(mask: np.ndarray, rowid: np.ndarray) -> np.ndarray:
    """Indices of the first True token of each line (tokens are in line order)."""
    idx = np.flatnonzero(mask)
    if len(idx) < 2:
        return idx
    r = rowid[idx]
    keep = np.empty(len(idx), np.bool_)
    keep[0] = True
    np.not_equal(r[1:], r[:-1], out=keep[1:])
    return idx[keep]


def _last_per_row(mask: np.ndarray, rowid: np.ndarray) -> np.ndarray:
    idx = np.flatnonzero(mask)
    if len(idx) < 2:
        return idx
    r = rowid[idx]
    keep = np.empty(len(idx), np.bool_)
    keep[-1] = True
    np.not_equal(r[1:], r[:-1], out=keep[:-1])
    return idx[keep]


def tokenise(text: pa.Array, body_at: np.ndarray) -> dict[str, pa.Array | np.ndarray]:
    """Text of every field of :data:`FIELDS` (and flags of :data:`WORDS`) for each line.

    ``text``: the lines (string or large_string); ``body_at``: byte offset of ``IN=`` within
    each line, or -1 where there is none. Also returns ``t_flags`` (the TCP flag words as
    logged, '' when RES= and URGP= are there without flags), ``t_ipopt``, ``t_tcpopt``,
    ``t_in``, ``_head`` (text before ``IN=``) and ``_looks_nf``.
    """
    if not pa.types.is_large_string(text.type):
        text = text.cast(pa.large_string())
    n = len(text)
    bufs = text.buffers()
    offs = np.frombuffer(bufs[1], np.int64)[text.offset: text.offset + n + 1]
    data = np.frombuffer(bufs[2], np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    if text.null_count:
        valid_rows = np.asarray(text.is_valid())
        body_at = np.where(valid_rows, body_at, -1)
    has_body = body_at >= 0
    lo, hi = int(offs[0]), int(offs[-1])
    row_start = offs[:-1]
    row_end = offs[1:]
    bstart = np.where(has_body, row_start + np.maximum(body_at, 0), row_end)

    out: dict[str, pa.Array | np.ndarray] = {}
    out["_head"] = _strings(
        data, n, np.flatnonzero(has_body), row_start[has_body], (bstart - row_start)[has_body]
    )

    seg_data = data[lo:hi]
    m = hi - lo
    sp = seg_data == 32
    prev_sp = np.empty(m, np.bool_)
    next_sp = np.empty(m, np.bool_)
    if m:
        prev_sp[0] = True
        prev_sp[1:] = sp[:-1]
        next_sp[-1] = True
        next_sp[:-1] = sp[1:]
        rs = row_start - lo
        re_ = row_end - lo
        nonempty = re_ > rs
        prev_sp[rs[nonempty]] = True
        next_sp[re_[nonempty] - 1] = True
        bs = (bstart - lo)[has_body & (bstart < row_end)]
        prev_sp[bs] = True
        if len(bs):
            before = bs[bs > 0] - 1
            next_sp[before] = True
    not_sp = ~sp
    st = np.flatnonzero(not_sp & prev_sp)
    en = np.flatnonzero(not_sp & next_sp) + 1
    del sp, prev_sp, next_sp, not_sp
    st += lo
    en += lo
    rowid = np.searchsorted(offs, st, side="right") - 1
    keep = has_body[rowid] & (st >= bstart[rowid])
    st, en, rowid = st[keep], en[keep], rowid[keep]
    ntok = len(st)

    # key of each token: its first bytes up to and including the first '=' (else ':'),
    # packed into a uint64 (first 8 bytes) with the key length; bare words likewise.
    open_br = data[st] == 91 if ntok else np.zeros(0, np.bool_)  # '['
    kst = st + open_br
    tlen = en - kst
    # 8-byte little-endian words at any byte offset (a strided view over a padded copy)
    pad = np.zeros(len(data) + 24, np.uint8)
    pad[: len(data)] = data
    words = np.ndarray(shape=(len(pad) - 8,), dtype="<u8", buffer=pad, strides=(1,))
    w0 = words[kst]
    w1 = words[kst + 8]
    short = tlen < 8
    keep0 = np.where(short, (np.uint64(1) << (np.minimum(tlen, 7) * 8).astype(np.uint64))
                     - np.uint64(1), np.uint64(0xFFFFFFFFFFFFFFFF))
    w0 &= keep0
    sep = _first_byte(w0, 61)  # '='
    sep1 = _first_byte(w1, 61) + 8
    # ('=' at 8 or 9 counts only inside the token: w1 may run into the next one)
    sep = np.where(sep >= 0, sep, np.where((sep1 >= 8) & (sep1 < np.minimum(tlen, _W)), sep1, -1))
    colon = _first_byte(w0, 58)  # ':'
    sep = np.where(sep >= 0, sep, colon)
    sep = np.where(sep < tlen, sep, -1)
    bare = (sep < 0) & (tlen <= _W)
    klen = np.where(sep >= 0, sep + 1, np.where(bare, tlen, 0))
    keepk = np.where(klen < 8, (np.uint64(1) << (np.minimum(klen, 7) * 8).astype(np.uint64))
                     - np.uint64(1), np.uint64(0xFFFFFFFFFFFFFFFF))
    code = (w0 & keepk) ^ (klen.astype(np.uint64) << np.uint64(56))
    del w0, w1, keep0, keepk, pad, words

    # segments
    is_proto = code == _code(b"PROTO=")
    close_br = data[en - 1] == 93 if ntok else np.zeros(0, np.bool_)  # ']'
    first_tok = np.ones(ntok, np.bool_)
    if ntok > 1:
        first_tok[1:] = rowid[1:] != rowid[:-1]
    tok_row_first = np.flatnonzero(first_tok)
    counts = np.diff(np.append(tok_row_first, ntok))

    def per_row_cumsum(x: np.ndarray) -> np.ndarray:
        cs = np.cumsum(x, dtype=np.int32)
        base = (cs - x)[tok_row_first]
        return cs - np.repeat(base, counts)

    c_proto = per_row_cumsum(is_proto)
    c_open = per_row_cumsum(open_br)
    c_close = per_row_cumsum(close_br) - close_br
    seg = np.where(
        c_open == 0,
        np.where(c_proto == 0, 0, 1),
        np.where(c_close == 0, np.where(c_proto <= 1, 2, 3), 4),
    ).astype(np.int8)
    del c_proto, c_open, c_close

    vst = kst + klen
    vlen = en - vst
    # a value that closes the brackets ("LEN=48]"): drop the bracket
    vlen = vlen - (close_br & (vlen > 0))

    # field id of each token from (key code, segment), via a small sorted table
    kid = np.searchsorted(_CODES, code)
    kid = np.minimum(kid, len(_CODES) - 1)
    known = _CODES[kid] == code
    fid = np.where(known, _FID[kid, seg], -1)
    del kid, known
    nf = len(_SLOTS)
    sel = np.flatnonzero(fid >= 0)
    first_idx = np.full((nf, n), -1, np.int64)
    rsel = sel[::-1]
    first_idx[fid[rsel], rowid[rsel]] = rsel  # reversed: the first token of a line wins
    for f, (name, kind) in enumerate(_SLOTS):
        col = first_idx[f]
        rows = np.flatnonzero(col >= 0)
        idx = col[rows]
        if kind == "word":
            flag = np.zeros(n, np.bool_)
            flag[rows] = True
            out[name] = flag
        elif name not in out:
            out[name] = _strings(data, n, rows, vst[idx], vlen[idx])
    # a key repeated in its segment with another value ("DPT=23 DPT=80"): compare every later
    # token of a (field, line) with the first one
    dup = np.zeros(n, np.bool_)
    if len(sel):
        firsts = first_idx[fid[sel], rowid[sel]]
        later = sel[firsts != sel]
        if len(later):
            fst = first_idx[fid[later], rowid[later]]
            a = _values(data, vst[later], vlen[later])
            b = _values(data, vst[fst], vlen[fst])
            differ = ~np.asarray(pc.equal(a, b))
            dup[rowid[later[differ]]] = True
    out["_dup"] = dup
    del first_idx

    # the last token of the body; brackets opened and closed
    last = _last_per_row(np.ones(ntok, np.bool_), rowid)
    out["_last"] = _strings(data, n, rowid[last], st[last], en[last] - st[last])
    n_open = np.bincount(rowid[open_br], minlength=n)
    out["_unbal"] = n_open != np.bincount(rowid[close_br], minlength=n)
    out["_brk"] = n_open > 0

    # IN= is the first body token
    idx = tok_row_first
    out["t_in"] = _strings(data, n, rowid[idx], vst[idx], vlen[idx])
    # looks like netfilter: the body has OUT=, MAC= or SRC= in the IP part
    nf_keys = [_code(b"OUT="), _code(b"SRC="), _code(b"MAC="), _code(b"PHYSIN=")]
    looks = np.zeros(n, np.bool_)
    looks[rowid[np.isin(code, np.array(nf_keys, np.uint64)) & (seg == 0)]] = True
    out["_looks_nf"] = looks

    # TCP flags: the contiguous run of flag words in the transport part
    fl = (seg == 1) & np.isin(code, np.array([_code(f) for f in _FLAGS], np.uint64))
    first = _first_per_row(fl, rowid)
    last = _last_per_row(fl, rowid)
    flags = _strings(data, n, rowid[first], st[first], en[last] - st[first])
    res_and_urgp = np.zeros(n, np.bool_)
    res_rows = rowid[(code == _code(b"URGP=")) & (seg == 1)]
    res_and_urgp[res_rows] = True
    has_flag = np.zeros(n, np.bool_)
    has_flag[rowid[first]] = True
    out["t_flags"] = pc.if_else(
        pa.array(res_and_urgp & ~has_flag), pa.scalar("", pa.large_string()), flags
    )

    # OPT (...) runs: the first per segment; "OPT (HEX)" or "OPT ( HEX )"
    opt = code == _code(b"OPT")
    for name, s in (("t_ipopt", 0), ("t_tcpopt", 1)):
        idx = _first_per_row(opt & (seg == s), rowid)
        idx = idx[(idx + 1 < ntok)]
        idx = idx[rowid[idx + 1] == rowid[idx]]
        nxt = idx + 1
        a = st[nxt]
        b = en[nxt]
        paren = data[a] == 40  # '(' (never skip another byte: it may start a UTF-8 sequence)
        solo = ((b - a) == 1) & paren  # "(" alone: the content (if any) is the next token
        a = a + paren
        # with "(" alone, take the following token unless it is ")"
        nxt2 = np.minimum(nxt + 1, max(ntok - 1, 0))
        same = solo & (nxt + 1 < ntok) & (rowid[nxt2] == rowid[idx])
        a = np.where(same, st[nxt2], a)
        b = np.where(same, en[nxt2], b)
        b = b - (data[np.maximum(b - 1, 0)] == 41)  # drop ')'
        ln = np.maximum(b - a, 0)
        out[name] = _strings(data, n, rowid[idx], a, ln)
    return out
