"""Compiled (numba) tokeniser for the netfilter part of LOG lines: one pass over each line's bytes.

Same contract and rules as :func:`honeyscope.ingest.parse_tokens.tokenise` (the pure-numpy
tokeniser, kept as the fallback and as the reference the tests compare against): tokens are runs
of non-space bytes from ``IN=`` on; a token's key is its bytes up to and including the first
``=`` among its first 10 bytes, else the first ``:`` among its first 8, else the whole token when
it is at most 10 bytes long (a bare word); a leading ``[`` opens the embedded header of an ICMP
error and a trailing ``]`` closes it; the segment of a token (0 IP header, 1 transport header,
2/3 embedded header before/after its ``PROTO=``, 4 after the brackets) follows from the
``PROTO=`` and bracket tokens before it. For each wanted (key, segment) the first value of a line
wins.

Unlike the numpy tokeniser, which materialises a dozen arrays the size of the token count, this
keeps only two small ``int32`` tables (value start and length per field and line), so memory is
a few dozen bytes per line whatever the block size, and the time is one linear scan.

Importing this module needs numba; :mod:`honeyscope.ingest.parse` falls back to the numpy
tokeniser when it is missing. Compiled code is cached on disk (``cache=True``).
"""

from __future__ import annotations

import numba as nb
import numpy as np
import pyarrow as pa

from honeyscope.ingest.parse_tokens import _CODES, _FID, _FLAGS, _SLOTS, _code

# string outputs: every FIELDS slot, then the extras below; boolean outputs: every WORDS slot,
# then _looks_nf
_FIELD_NAMES = [name for name, kind in _SLOTS if kind == "field"]
_WORD_NAMES = [name for name, kind in _SLOTS if kind == "word"]
_EXTRA = ["t_in", "_head", "t_flags", "t_ipopt", "t_tcpopt", "_last"]
_STR_NAMES = _FIELD_NAMES + _EXTRA
_BOOL_NAMES = [*_WORD_NAMES, "_looks_nf", "_unbal", "_dup", "_brk"]
#: the names of the scan's text fields and flags (public: the parser reads them)
STR_NAMES, BOOL_NAMES = _STR_NAMES, _BOOL_NAMES
_I_IN, _I_HEAD, _I_FLAGS, _I_IPOPT, _I_TCPOPT, _I_LAST = (len(_FIELD_NAMES) + i for i in range(6))
_I_LOOKS, _I_UNBAL, _I_DUP, _I_BRK = (len(_WORD_NAMES) + i for i in range(4))

# slot number (in _SLOTS) → index among strings (fields) or booleans (words); sign tells which
_SLOT_TO_OUT = np.array(
    [(_FIELD_NAMES.index(name) if kind == "field" else -1 - _WORD_NAMES.index(name))
     for name, kind in _SLOTS],
    np.int64,
)
_FIDTAB = np.ascontiguousarray(_FID.astype(np.int64))
_NF_CODES = np.array(sorted(int(_code(k)) for k in (b"OUT=", b"SRC=", b"MAC=", b"PHYSIN=")),
                     np.uint64)
_FLAG_CODES = np.array(sorted(int(_code(f)) for f in _FLAGS), np.uint64)
_C_PROTO = _code(b"PROTO=")
_C_URGP = _code(b"URGP=")
_C_OPT = _code(b"OPT")


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _in(codes: np.ndarray, code: np.uint64) -> bool:
    k = np.searchsorted(codes, code)
    return k < len(codes) and codes[k] == code


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _scan(data, offs, body_at, codes, fidtab, slot_to_out, nf_codes, flag_codes,
          c_proto_code, c_urgp_code, c_opt_code, n_str, n_bool):  # pragma: no cover - compiled
    n = len(offs) - 1
    vstart = np.zeros((n_str, n), np.int32)  # value start, relative to the line's start
    vlen = np.full((n_str, n), -1, np.int32)  # value length; -1: absent
    flags = np.zeros((n_bool, n), np.bool_)
    ncodes = len(codes)
    for r in range(n):
        ba = body_at[r]
        if ba < 0:
            continue
        rs = offs[r]
        re_ = offs[r + 1]
        i = rs + ba
        vstart[_I_HEAD, r] = 0
        vlen[_I_HEAD, r] = ba
        n_proto = 0
        n_open = 0
        n_close = 0
        first = True
        fl_st = -1
        fl_en = -1
        has_urgp = False
        opt_done0 = False
        opt_done1 = False
        pend = -1  # output index of an OPT whose value comes with the next token(s)
        pend_step = 0
        last_st = -1
        last_en = -1
        while i < re_:
            while i < re_ and data[i] == 32:
                i += 1
            if i >= re_:
                break
            st = i
            while i < re_ and data[i] != 32:
                i += 1
            en = i
            last_st = st
            last_en = en
            # the value of a pending "OPT (...)"
            if pend >= 0:
                if pend_step == 1:
                    if en - st == 1 and data[st] == 40:  # "(" alone: the value is the next token
                        vstart[pend, r] = en - rs
                        vlen[pend, r] = 0
                        pend_step = 2
                    else:
                        a = st + 1 if data[st] == 40 else st
                        b = en
                        if data[b - 1] == 41:
                            b -= 1
                        vstart[pend, r] = a - rs
                        vlen[pend, r] = max(b - a, 0)
                        pend = -1
                else:
                    a = st
                    b = en
                    if data[b - 1] == 41:
                        b -= 1
                    vstart[pend, r] = a - rs
                    vlen[pend, r] = max(b - a, 0)
                    pend = -1
            opened = data[st] == 91
            kst = st + 1 if opened else st
            tlen = en - kst
            sep = -1
            for j in range(min(tlen, 10)):
                if data[kst + j] == 61:
                    sep = j
                    break
            if sep < 0:
                for j in range(min(tlen, 8)):
                    if data[kst + j] == 58:
                        sep = j
                        break
            if sep >= 0:
                klen = sep + 1
            elif tlen <= 10:
                klen = tlen
            else:
                klen = 0
            code = np.uint64(0)
            for j in range(min(klen, 8)):
                code |= np.uint64(data[kst + j]) << np.uint64(8 * j)
            code ^= np.uint64(klen) << np.uint64(56)
            if opened:
                n_open += 1
            if code == c_proto_code:
                n_proto += 1
            closed = data[en - 1] == 93
            if n_open == 0:
                seg = 0 if n_proto == 0 else 1
            elif n_close == 0:
                seg = 2 if n_proto <= 1 else 3
            else:
                seg = 4
            if closed:
                n_close += 1
            vs = kst + klen
            vl = en - vs
            if closed and vl > 0:
                vl -= 1
            if first:
                vstart[_I_IN, r] = vs - rs
                vlen[_I_IN, r] = vl
                first = False
            k = np.searchsorted(codes, code)
            if k < ncodes and codes[k] == code:
                slot = fidtab[k, seg]
                if slot >= 0:
                    o = slot_to_out[slot]
                    if o >= 0:
                        if vlen[o, r] < 0:
                            vstart[o, r] = vs - rs
                            vlen[o, r] = vl
                        elif not flags[_I_DUP, r]:  # the key again: a conflict if the value differs
                            if vlen[o, r] != max(vl, 0):
                                flags[_I_DUP, r] = True
                            else:
                                p0 = rs + vstart[o, r]
                                for j in range(vlen[o, r]):
                                    if data[p0 + j] != data[vs + j]:
                                        flags[_I_DUP, r] = True
                                        break
                    else:
                        flags[-1 - o, r] = True
            if seg == 0:
                if _in(nf_codes, code):
                    flags[_I_LOOKS, r] = True
                if code == c_opt_code and not opt_done0:
                    opt_done0 = True
                    pend = _I_IPOPT
                    pend_step = 1
            elif seg == 1:
                if _in(flag_codes, code):
                    if fl_st < 0:
                        fl_st = st
                    fl_en = en
                elif code == c_urgp_code:
                    has_urgp = True
                elif code == c_opt_code and not opt_done1:
                    opt_done1 = True
                    pend = _I_TCPOPT
                    pend_step = 1
        if last_st >= 0:
            vstart[_I_LAST, r] = last_st - rs
            vlen[_I_LAST, r] = last_en - last_st
        if n_open != n_close:
            flags[_I_UNBAL, r] = True
        if n_open > 0:
            flags[_I_BRK, r] = True
        if fl_st >= 0:
            vstart[_I_FLAGS, r] = fl_st - rs
            vlen[_I_FLAGS, r] = fl_en - fl_st
        elif has_urgp:
            vstart[_I_FLAGS, r] = 0
            vlen[_I_FLAGS, r] = 0
    return vstart, vlen, flags


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _gather(data, offs, vstart, vlen):  # pragma: no cover - compiled
    """Arrow large_string buffers (offsets, bytes, validity) of one output."""
    n = len(vlen)
    out_offs = np.empty(n + 1, np.int64)
    valid = np.empty(n, np.bool_)
    total = 0
    out_offs[0] = 0
    for r in range(n):
        ln = vlen[r]
        valid[r] = ln >= 0
        if ln > 0:
            total += ln
        out_offs[r + 1] = total
    buf = np.empty(total, np.uint8)
    p = 0
    for r in range(n):
        ln = vlen[r]
        if ln > 0:
            s = offs[r] + vstart[r]
            for j in range(ln):
                buf[p + j] = data[s + j]
            p += ln
    return out_offs, buf, valid


def _array(data: np.ndarray, offs: np.ndarray, vstart: np.ndarray, vlen: np.ndarray) -> pa.Array:
    o, buf, valid = _gather(data, offs, vstart, vlen)
    n = len(valid)
    nulls = int(n - np.count_nonzero(valid))
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(o), pa.py_buffer(buf), bitmap, nulls)


class Scan:
    """The result of one compiled pass over a block: where each field's value lies in each line.

    Values are read from it on demand: :meth:`text` gathers a field's bytes into an Arrow string
    array, :meth:`integer` decodes a numeric field straight from the line bytes (no string is
    built), :meth:`present` tells where a field was logged, :meth:`flag` reads a bare word or a
    line flag."""

    def __init__(self, data: np.ndarray, offs: np.ndarray, vstart: np.ndarray, vlen: np.ndarray,
                 flags: np.ndarray) -> None:
        self.data, self.offs, self.vstart, self.vlen, self.flags = data, offs, vstart, vlen, flags
        self.n = len(offs) - 1
        self._present = (vlen >= 0).any(axis=1)

    def _i(self, name: str) -> int:
        return _STR_NAMES.index(name)

    def text(self, name: str) -> pa.Array:
        i = self._i(name)
        if not self._present[i]:
            return pa.nulls(self.n, pa.large_string())
        return _array(self.data, self.offs, self.vstart[i], self.vlen[i])

    def present(self, name: str) -> np.ndarray:
        return self.vlen[self._i(name)] >= 0

    def any(self, name: str) -> bool:
        return bool(self._present[self._i(name)])

    def integer(self, name: str, hexa: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(value, ok) of a field, by the rules of :func:`integers` (absent: not ok)."""
        i = self._i(name)
        return _ints_at(self.data, self.offs, self.vstart[i], self.vlen[i], hexa)

    def integers_of(self, fields: list[tuple[str, bool]]) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`integer` of several (name, hexa) fields at once, in one pass over the lines
        (each line's bytes read while they are in cache): (values, ok), one row per field."""
        idx = np.array([self._i(name) for name, _ in fields], np.int64)
        hexa = np.array([h for _, h in fields], np.bool_)
        return _ints_rows(self.data, self.offs, self.vstart, self.vlen, idx, hexa)

    def flag(self, name: str) -> np.ndarray:
        return self.flags[_BOOL_NAMES.index(name)]


def scan(text: pa.Array, body_at: np.ndarray) -> Scan:
    """One compiled pass over ``text`` (lines) whose bodies start at ``body_at`` (-1: none)."""
    if not pa.types.is_large_string(text.type):
        text = text.cast(pa.large_string())
    n = len(text)
    bufs = text.buffers()
    offs = np.ascontiguousarray(
        np.frombuffer(bufs[1], np.int64)[text.offset: text.offset + n + 1])
    data = np.frombuffer(bufs[2], np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    body_at = np.asarray(body_at, np.int64)
    # rows that are null, or too long for int32 offsets within a line, have no body
    ok = np.diff(offs) < 2**31 - 1
    if text.null_count:
        ok &= np.asarray(text.is_valid())
    body_at = np.ascontiguousarray(np.where(ok, body_at, -1))
    # one compiled specialisation: numba types read-only and writable arrays apart
    for a in (data, offs, body_at):
        a.flags.writeable = False
    vstart, vlen, flags = _scan(
        data, offs, body_at, _CODES, _FIDTAB, _SLOT_TO_OUT, _NF_CODES, _FLAG_CODES,
        _C_PROTO, _C_URGP, _C_OPT, len(_STR_NAMES), len(_BOOL_NAMES),
    )
    return Scan(data, offs, vstart, vlen, flags)


def tokenise(text: pa.Array, body_at: np.ndarray) -> dict[str, pa.Array | np.ndarray]:
    """Drop-in for :func:`honeyscope.ingest.parse_tokens.tokenise` (same keys and values)."""
    sc = scan(text, body_at)
    out: dict[str, pa.Array | np.ndarray] = {name: sc.text(name) for name in _STR_NAMES}
    for name in _BOOL_NAMES:
        out[name] = sc.flag(name)
    return out


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _int_of(data, i, e, hexa):  # pragma: no cover - compiled
    """(value, ok) of the bytes data[i:e] (see :func:`integers`)."""
    base = 16 if hexa else 10
    if hexa:
        if e - i >= 2 and data[i] == 48 and (data[i + 1] == 120 or data[i + 1] == 88):  # 0x
            i += 2
    elif e - i >= 2 and data[i] == 48:  # a leading zero: the kernel never prints one
        return 0, False
    if i >= e:
        return 0, False
    v = 0
    while i < e:
        c = data[i]
        if 48 <= c <= 57:
            d = c - 48
        elif hexa and 97 <= c <= 102:
            d = c - 87
        elif hexa and 65 <= c <= 70:
            d = c - 55
        else:
            return 0, False
        if v < 1099511627776:  # saturate at 2**40: beyond every field's range anyway
            v = v * base + d
        i += 1
    return v, True


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _ints_at(data, offs, vstart, vlen, hexa):  # pragma: no cover - compiled
    """:func:`_ints` of the values the scan located (vlen < 0: absent)."""
    n = len(vlen)
    out = np.zeros(n, np.int64)
    ok = np.zeros(n, np.bool_)
    for r in range(n):
        if vlen[r] < 0:
            continue
        s = offs[r] + vstart[r]
        v, good = _int_of(data, s, s + vlen[r], hexa)
        if good:
            out[r] = v
            ok[r] = True
    return out, ok


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _ints_rows(data, offs, vstart, vlen, idx, hexa):  # pragma: no cover - compiled
    """:func:`_ints_at` of the fields ``idx`` (hexadecimal where ``hexa``), line by line."""
    k = len(idx)
    n = vstart.shape[1]
    out = np.zeros((k, n), np.int64)
    ok = np.zeros((k, n), np.bool_)
    for r in range(n):
        base = offs[r]
        for j in range(k):
            f = idx[j]
            ln = vlen[f, r]
            if ln < 0:
                continue
            s = base + vstart[f, r]
            v, good = _int_of(data, s, s + ln, hexa[j])
            if good:
                out[j, r] = v
                ok[j, r] = True
    return out, ok


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _ints(data, offs, valid, hexa):  # pragma: no cover - compiled
    n = len(offs) - 1
    out = np.zeros(n, np.int64)
    ok = np.zeros(n, np.bool_)
    for r in range(n):
        if not valid[r]:
            continue
        v, good = _int_of(data, offs[r], offs[r + 1], hexa)
        if good:
            out[r] = v
            ok[r] = True
    return out, ok


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _ipv4(data, offs, valid):  # pragma: no cover - compiled
    n = len(offs) - 1
    out = np.zeros(n, np.int64)
    ok = np.zeros(n, np.bool_)
    for r in range(n):
        if not valid[r]:
            continue
        i = offs[r]
        e = offs[r + 1]
        v = 0
        good = True
        for g in range(4):
            if g > 0:
                if i >= e or data[i] != 46:
                    good = False
                    break
                i += 1
            s = i
            x = 0
            while i < e and i - s < 4 and 48 <= data[i] <= 57:
                x = x * 10 + data[i] - 48
                i += 1
            ln = i - s
            if ln == 0 or ln > 3 or x > 255 or (ln > 1 and data[s] == 48):
                good = False
                break
            v = v * 256 + x
        if good and i == e:
            out[r] = v
            ok[r] = True
    return out, ok


def _buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.large_string())
    n = len(arr)
    bufs = arr.buffers()
    offs = np.ascontiguousarray(np.frombuffer(bufs[1], np.int64)[arr.offset: arr.offset + n + 1])
    data = np.frombuffer(bufs[2], np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    valid = (np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), np.bool_)
             if arr.null_count else np.ones(n, np.bool_))
    for a in (data, offs, valid):
        a.flags.writeable = False
    return data, offs, valid


def integers(arr: pa.Array, hexa: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(value, ok) of text that is a number as the kernel prints it: decimal digits without sign
    or leading zero (``0`` itself is fine), or, when ``hexa``, hex digits after an optional
    ``0x``/``0X`` (no sign); anything else is not ok. Values at or beyond 2**40 come out as some
    number at least that large (out of range for every field)."""
    data, offs, valid = _buffers(arr)
    return _ints(data, offs, valid, hexa)


def ipv4(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(value, ok) of text that is an IPv4 address in canonical dotted-quad form (no leading
    zeros); anything else (IPv6, odd forms, garbage) is not ok and left to the general path."""
    data, offs, valid = _buffers(arr)
    return _ipv4(data, offs, valid)
