"""``honeyscope collect``: a syslog receiver that writes to the store as lines arrive.

Three parts, standard library only:

* the receiver (asyncio, this thread): TCP with both RFC 6587 framings, detected per connection
  (octet counting when the first message starts with digits and a space, else newline framing), UDP
  one message per datagram. Each message becomes one ``SENDER<TAB>MESSAGE`` line: the sender's address
  names the sensor of lines without a host. ``--allow CIDR`` limits senders.
* the spool writer (a thread): appends what arrived to the spool and fsyncs it; only then do the lines
  count as received.
* the committer (a thread): parses what the spool holds beyond the last commit and commits it through
  the store's transaction, with the spool offsets in the same manifest record, every
  ``commit_every`` seconds or ``commit_lines`` lines.

Memory is bounded: when the lines waiting for the spool or the spool's backlog waiting for a commit
pass their limit, TCP sockets stop being read (the senders' kernels push back) and UDP datagrams
beyond a hard limit are counted as dropped; the kernel's own UDP receive-buffer drops are read from
``/proc/net/udp``. SIGTERM and SIGINT commit the rest and end the run normally.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numba as nb
import numpy as np

from honeyscope.ingest import live, sources
from honeyscope.ingest.spool import Spool
from honeyscope.parallel import process_pool
from honeyscope.store.store import Store

#: Lines waiting for the spool (bytes) above which TCP sockets stop being read; resumed below 1/4.
PENDING_HIGH = 8 * 1024 * 1024
#: Above this UDP datagrams are dropped (and counted): UDP has no back-pressure.
PENDING_HARD = 64 * 1024 * 1024
#: Spooled bytes not yet committed above which TCP sockets stop being read; resumed below 1/2.
BACKLOG_HIGH = 256 * 1024 * 1024
#: The committer hands the workers blocks of this many spooled bytes (several make one commit); a
#: smaller block only when a commit is due. Parsing a block has a fixed cost (~0.1 CPU s), so blocks are
#: made as large as memory allows rather than of whatever has just arrived.
COMMIT_BLOCK = 8 * 1024 * 1024
#: The spool writer writes and fsyncs at least this many bytes at once, unless nothing more arrives
#: within :data:`SPOOL_LINGER` seconds (or collect is stopping).
SPOOL_WRITE = 1024 * 1024
SPOOL_LINGER = 0.005
#: A newline-framed message longer than this without a newline is cut (the parser rejects it).
MAX_MESSAGE = 64 * 1024
#: An octet-counted length above this is taken as damaged framing (the rest is read as lines).
MAX_OCTETS = 1024 * 1024


@dataclass(frozen=True)
class Listen:
    proto: str  # "tcp" or "udp"
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.proto}://{host}:{self.port}"


def parse_listen(spec: str) -> Listen:
    """``tcp://HOST:PORT`` or ``udp://HOST:PORT`` (HOST empty: loopback; IPv6 in brackets)."""
    proto, sep, rest = spec.partition("://")
    if not sep or proto not in ("tcp", "udp"):
        raise ValueError(f"--listen {spec!r}: expected tcp://HOST:PORT or udp://HOST:PORT")
    if rest.startswith("["):
        host, _, port = rest[1:].partition("]")
        port = port[1:] if port.startswith(":") else ""
    else:
        host, _, port = rest.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--listen {spec!r}: the port must be a number from 0 to 65535")
    return Listen(proto, host or "127.0.0.1", int(port))


def parse_allow(specs: list[str] | None) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network] | None:
    if not specs:
        return None
    out = []
    for s in specs:
        try:
            out.append(ipaddress.ip_network(s, strict=False))
        except ValueError:
            raise ValueError(f"--allow {s!r}: not an address or CIDR block") from None
    return out


def _sender(addr: Any) -> str:
    host = str(addr[0]) if isinstance(addr, tuple) else str(addr)
    with contextlib.suppress(ValueError):
        ip = ipaddress.ip_address(host.split("%")[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ip)
    return host


@dataclass
class CollectStats(live.LiveTotals):
    store: str
    listening: list[str] = field(default_factory=list)
    connections: int = 0  # open now
    connections_total: int = 0
    refused: int = 0  # connections / datagrams from senders outside --allow
    received: int = 0  # lines in the spool (fsync'd)
    lines: int = 0  # lines committed
    rows: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    hosts: dict[str, int] = field(default_factory=dict)
    commits: int = 0
    last_commit: str | None = None
    udp_kernel_drops: int = 0  # receive-buffer overflows (/proc/net/udp)
    udp_queue_drops: int = 0  # datagrams dropped because the queue was full
    paused: int = 0  # times TCP reading was paused (back-pressure)
    seconds: float = 0.0
    fsyncs: int = 0  # spool appends (each one write + fsync)
    blocks: int = 0  # blocks parsed
    #: CPU seconds by part, start-up left out: "receive" (event loop: sockets, framing, status),
    #: "spool" (the writer thread: write + fsync), "parse" and "stage" (the workers: reading a block and
    #: parsing it; its Parquet files), "handoff" (the committer cutting, hashing and handing out blocks),
    #: "commit" (moves and the manifest); "fsync_wait" is the writer's wall time in write + fsync.
    cpu: dict[str, float] = field(default_factory=lambda: dict.fromkeys(
        ("receive", "spool", "parse", "stage", "handoff", "commit", "fsync_wait"), 0.0))


class Collector:
    """One collect run. :meth:`run` blocks until :meth:`stop` (or SIGTERM/SIGINT in the main thread)."""

    def __init__(
        self,
        store: str | Path,
        listens: list[str],
        *,
        allow: list[str] | None = None,
        commit_every: float = 5.0,
        commit_lines: int = 200_000,
        spool: str | Path | None = None,
        tz: str = "UTC",
        year: int | None = None,
        workers: int | None = None,
        threads: bool = False,
        on_ready: Callable[[list[str]], None] | None = None,
        status: Callable[[CollectStats], None] | None = None,
    ) -> None:
        if not listens:
            raise ValueError("give at least one --listen tcp://HOST:PORT or udp://HOST:PORT")
        if commit_every <= 0:
            raise ValueError("--commit-every must be a positive number of seconds")
        if commit_lines <= 0:
            raise ValueError("--commit-lines must be a positive number")
        self.listens = [parse_listen(s) for s in listens]
        self.allow = parse_allow(allow)
        self.commit_every = commit_every
        self.commit_lines = commit_lines
        self.store_path = Path(store)
        self.spool_dir = Path(spool) if spool else self.store_path / "spool"
        self.tz, self.year = tz, year
        self.workers = sources.default_workers() if workers is None else max(1, workers)
        self.threads = threads  # parse on threads of this process (a parser that releases the GIL)
        self._pool: Executor | None = None
        self.on_ready, self.status = on_ready, status
        self.stats = CollectStats(store=str(self.store_path))
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._pending_lines = 0
        self._plock = threading.Lock()
        self._wake_writer = threading.Event()
        self._wake_committer = threading.Event()
        self._stopping = threading.Event()
        self._writer_done = threading.Event()
        self._parser_ready = threading.Event()
        self._durable: dict[str, int] = {}  # segment -> bytes fsync'd
        self._current = ""  # the segment being written, as the spool writer last published it
        self._durable_lines = 0
        self._committed: dict[str, int] = {}  # segment -> bytes committed
        self._committed_lines: dict[str, int] = {}  # segment -> lines committed
        self._parsed: dict[str, int] = {}  # segment -> bytes parsed into the open batch
        self._batch: live.Batch | None = None
        #: batches closed (due) whose blocks are still being parsed: committed in this order once done,
        #: while the next batch's blocks are parsed already (no worker waits for a commit)
        self._closed: list[tuple[live.Batch, str, int]] = []
        self._parsed_lines: dict[str, int] = {}  # segment -> last line number handed to the workers
        self._batch_seg = ""
        self._batch_start = 0
        self._backlog = 0
        self._transports: set[asyncio.Transport] = set()
        self._protocols: set[_TCP] = set()
        self._udp: list[asyncio.DatagramTransport] = []
        self._paused = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None

    # -- public ------------------------------------------------------------------------------
    def run(self) -> CollectStats:
        t0 = time.monotonic()
        st = Store(self.store_path, create=True)
        with st.lock(wait=0):
            spool = Spool(self.spool_dir)
            try:
                self._restore(st, spool)
                asyncio.run(self._main(st, spool))
            finally:
                spool.close()
        self.stats.seconds = time.monotonic() - t0
        if self._error is not None:
            raise self._error
        return self.stats

    def stop(self) -> None:
        """Stop receiving, commit what the spool holds, and return from :meth:`run` (thread-safe)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._begin_stop)
        else:
            self._stopping.set()

    # -- start: what the manifest says is committed ------------------------------------------
    def _restore(self, st: Store, spool: Spool) -> None:
        self._current = spool.current
        for rec in st.inputs:
            sp = rec.get("spool")
            if sp and sp.get("id") == spool.id:
                seg = sp["segment"]
                if sp["end"] > self._committed.get(seg, 0):
                    self._committed[seg] = sp["end"]
                    self._committed_lines[seg] = rec["end_line"]
        for seg in spool.segments():
            size = spool.size_of(seg)
            self._durable[seg] = size
            done = self._committed.get(seg, 0)
            if done >= size and seg != spool.current:
                spool.remove(seg)
                self._durable.pop(seg)
            else:
                self._backlog += size - done

    # -- the event loop ----------------------------------------------------------------------
    async def _main(self, st: Store, spool: Spool) -> None:
        cpu0 = time.thread_time()
        loop = asyncio.get_running_loop()
        self._loop = loop
        servers: list[asyncio.AbstractServer] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                loop.add_signal_handler(sig, self._begin_stop)
        try:
            for lst in self.listens:
                if lst.proto == "tcp":
                    srv = await loop.create_server(lambda: _TCP(self), lst.host, lst.port,
                                                   reuse_address=True, backlog=128)
                    servers.append(srv)
                    port = srv.sockets[0].getsockname()[1]
                else:
                    tr, _ = await loop.create_datagram_endpoint(lambda: _UDP(self),
                                                                local_addr=(lst.host, lst.port))
                    self._udp.append(tr)
                    port = tr.get_extra_info("sockname")[1]
                self.stats.listening.append(str(Listen(lst.proto, lst.host, port)))
        except OSError as e:
            for srv in servers:
                srv.close()
            for tr in self._udp:
                tr.close()
            raise RuntimeError(f"cannot listen: {e.strerror or e}") from None
        writer = threading.Thread(target=self._guard, args=(self._writer, spool), name="spool-writer",
                                  daemon=True)
        committer = threading.Thread(target=self._guard, args=(self._committer, st, spool),
                                     name="committer", daemon=True)
        writer.start()
        committer.start()
        # reported ready once the parser is loaded (lines sent before are spooled all the same)
        await loop.run_in_executor(None, self._parser_ready.wait, 300)
        self.stats.cpu["receive"] -= time.thread_time() - cpu0
        if self.on_ready:
            self.on_ready(list(self.stats.listening))
        try:
            while not self._stopping.is_set():
                await asyncio.sleep(0.5)
                self._udp_drops()
                if self.status:
                    self.status(self.stats)
        finally:
            for srv in servers:
                srv.close()
            for p in list(self._protocols):
                p.flush_rest()
            for tr in list(self._transports) + self._udp:
                tr.abort() if tr in self._transports else tr.close()
            self._udp_drops()
            self._wake_writer.set()
            await loop.run_in_executor(None, writer.join)
            self._wake_committer.set()
            await loop.run_in_executor(None, committer.join)
            if self.status:
                self.status(self.stats)
            self.stats.cpu["receive"] += time.thread_time() - cpu0

    def _begin_stop(self) -> None:
        self._stopping.set()

    def _guard(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except BaseException as e:  # a failing thread stops the run; run() re-raises
            self._error = e
            self._stopping.set()
            self._writer_done.set()
            self._parser_ready.set()

    # -- receiving ----------------------------------------------------------------------------
    def allowed(self, sender: str) -> bool:
        if self.allow is None:
            return True
        try:
            ip = ipaddress.ip_address(sender)
        except ValueError:
            return False
        return any(ip.version == n.version and ip in n for n in self.allow)

    def put(self, data: bytes, lines: int, udp: bool = False) -> bool:
        """Queue whole ``SENDER\\tMESSAGE\\n`` lines for the spool; False when UDP had to drop."""
        with self._plock:
            if udp and self._pending_bytes > PENDING_HARD:
                return False
            self._pending.append(data)
            self._pending_bytes += len(data)
            self._pending_lines += lines
            over = self._pending_bytes > PENDING_HIGH
        self._wake_writer.set()
        if over and not self._paused:
            self._flow()
        return True

    def _flow(self) -> None:
        """Pause or resume reading the TCP sockets (in the event loop's thread)."""
        high = self._pending_bytes > PENDING_HIGH or self._backlog > BACKLOG_HIGH
        low = self._pending_bytes < PENDING_HIGH // 4 and self._backlog < BACKLOG_HIGH // 2
        if high and not self._paused:
            self._paused = True
            self.stats.paused += 1
            for tr in self._transports:
                with contextlib.suppress(RuntimeError):
                    tr.pause_reading()
        elif low and self._paused:
            self._paused = False
            for tr in self._transports:
                with contextlib.suppress(RuntimeError):
                    tr.resume_reading()

    def _flow_threadsafe(self) -> None:
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._flow)

    def _udp_drops(self) -> None:
        total = 0
        for tr in self._udp:
            sock = tr.get_extra_info("socket")
            if sock is not None and sock.fileno() >= 0:
                total += udp_kernel_drops(os.fstat(sock.fileno()).st_ino)
        if self._udp:
            self.stats.udp_kernel_drops = max(self.stats.udp_kernel_drops, total)

    # -- the spool writer ---------------------------------------------------------------------
    def _writer(self, spool: Spool) -> None:
        cpu0 = time.thread_time()
        try:
            while True:
                self._wake_writer.wait(0.2)
                self._wake_writer.clear()
                if self._pending_bytes < SPOOL_WRITE and not self._stopping.is_set():
                    time.sleep(SPOOL_LINGER)  # one write + fsync for what arrives meanwhile too
                with self._plock:
                    chunks, lines = self._pending, self._pending_lines
                    self._pending, self._pending_bytes, self._pending_lines = [], 0, 0
                if chunks:
                    data = b"".join(chunks)
                    t = time.perf_counter()
                    seg, size = spool.append(data)
                    self.stats.cpu["fsync_wait"] += time.perf_counter() - t
                    self.stats.fsyncs += 1
                    self._durable[seg] = size
                    if spool.current not in self._durable:
                        self._durable[spool.current] = 0
                    self._current = spool.current  # after the sizes (see _feed)
                    with self._plock:
                        self._backlog += len(data)
                    self.stats.received += lines
                    self._durable_lines += lines
                    self._wake_committer.set()
                    self._flow_threadsafe()
                elif self._stopping.is_set():
                    return
        finally:
            self.stats.cpu["spool"] += time.thread_time() - cpu0
            self._writer_done.set()

    # -- the committer ------------------------------------------------------------------------
    def _committer(self, st: Store, spool: Spool) -> None:
        # worker processes, as ingest: the parser holds the GIL between its polars steps. Each watches
        # its parent and exits when a kill -9 took it away (spawned workers would otherwise stay).
        live.warm_up()
        octet_frames(b"1 x", b"-\t")  # compiled (or loaded) now, not in the event loop at the first sender
        if self.workers > 1 and self.threads:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="parser")
        elif self.workers > 1:
            self._pool = process_pool(self.workers)
            for f in [self._pool.submit(live.warm_up, 0.5) for _ in range(self.workers)]:
                f.result()
        self._parser_ready.set()
        cpu0 = time.thread_time()
        try:
            self._commit_loop(st, spool)
        finally:
            c = self.stats.cpu
            # in-process parsing (one worker) ran on this thread: counted as parse and stage already
            c["handoff"] += time.thread_time() - cpu0 - c["commit"] - (c["parse"] + c["stage"]
                                                                      if self._pool is None else 0.0)
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)

    def _commit_loop(self, st: Store, spool: Spool) -> None:
        """Parse what reaches the spool as it arrives (staged, invisible), and commit it every
        ``commit_every`` seconds or ``commit_lines`` lines: a commit is then only moves and a manifest
        write, and parsing overlaps receiving."""
        last = 0.0  # what a previous run left in the spool is committed at once
        try:
            while True:
                final = self._writer_done.is_set()
                b = self._batch
                due = final or time.monotonic() - last >= self.commit_every or \
                    (b is not None and b.lines >= self.commit_lines)
                self._feed(st, spool, whole_blocks=not due)
                if due:
                    self._close_open()
                    last = time.monotonic()
                self._commit_closed(spool, wait=final)
                if final:
                    return
                self._wake_committer.wait(0.1)
                self._wake_committer.clear()
        finally:
            for b in [c[0] for c in self._closed] + ([self._batch] if self._batch is not None else []):
                b.abort()

    def _feed(self, st: Store, spool: Spool, limit: int = 64 * 1024 * 1024, whole_blocks: bool = False) \
            -> None:
        """Parse up to ``limit`` spooled bytes into the open batch (with ``whole_blocks``, only blocks of
        :data:`COMMIT_BLOCK` bytes, except of a segment that is full); a segment that is full and parsed
        to its end is committed and deleted."""
        fed = 0
        current = self._current  # read before the sizes: a segment before it has its final size
        for seg in sorted(self._durable):
            end = self._durable[seg]
            pos = self._parsed.get(seg, self._committed.get(seg, 0))
            least = COMMIT_BLOCK if whole_blocks and seg == current else 1
            if end - pos >= least and fed < limit:
                if self._batch is not None and self._batch_seg != seg:
                    self._close_open()
                if self._batch is None:
                    first = self._parsed_lines.get(seg, self._committed_lines.get(seg, 0)) + 1
                    self._batch = live.Batch(st, first, f"collect:{seg}",
                                             sensor="collect", senders=True, tz=self.tz, year=self.year,
                                             pool=self._pool, workers=self.workers)
                    self._batch_seg, self._batch_start = seg, pos
                while end - pos >= least and fed < limit:
                    block = spool.read(seg, pos, min(end, pos + COMMIT_BLOCK))
                    if pos + len(block) < end:  # cut at the last whole line
                        cut = block.rfind(b"\n") + 1
                        block = block[:cut] if cut else block
                    self._batch.add(block, (str(spool.dir / seg), pos, pos + len(block)))
                    self.stats.blocks += 1
                    pos += len(block)
                    fed += len(block)
                self._parsed[seg] = pos
                self._parsed_lines[seg] = self._batch.next_line - 1
            if seg != current and self._parsed.get(seg, self._committed.get(seg, 0)) >= end:
                if self._batch is not None and self._batch_seg == seg:
                    self._close_open()
                if self._committed.get(seg, 0) >= end:  # else once its last batch is committed
                    spool.remove(seg)
                    for d in (self._durable, self._parsed, self._parsed_lines):
                        d.pop(seg, None)

    def _close_open(self) -> None:
        """No more blocks for the open batch: it is committed once its blocks are parsed."""
        b, self._batch = self._batch, None
        if b is None:
            return
        if not b.nbytes:
            b.abort()
            return
        self._closed.append((b, self._batch_seg, self._batch_start))
        for f in b.in_flight:  # the committer wakes as soon as the batch can be committed
            f.add_done_callback(lambda _: self._wake_committer.set())

    def _commit_closed(self, spool: Spool, wait: bool) -> None:
        """Commit the closed batches whose blocks are all parsed, in order (all of them with ``wait``)."""
        while self._closed and (wait or self._closed[0][0].done):
            self._commit(spool, *self._closed.pop(0))

    def _commit(self, spool: Spool, b: live.Batch, seg: str, start: int) -> None:
        cpu0 = time.thread_time()
        end = start + b.nbytes
        rec = b.commit({
            "source": f"collect:{seg}", "kind": "collect", "compression": None,
            "start_byte": start, "end_byte": end,
            "options": {"year": self.year, "tz": self.tz, "sensor": None},
            "spool": {"id": spool.id, "segment": seg, "start": start, "end": end},
        })
        self._committed[seg] = end
        self._committed_lines[seg] = rec["end_line"]
        with self._plock:
            self._backlog -= end - start
        self.stats.add_commit(rec, rec["lines"])
        self.stats.cpu["parse"] += b.cpu_parse
        self.stats.cpu["stage"] += b.cpu_stage
        self._flow_threadsafe()
        self.stats.cpu["commit"] += time.thread_time() - cpu0  # waiting for the workers costs no CPU


class _TCP(asyncio.Protocol):
    """One TCP connection: octet counting or newline framing, decided by its first bytes."""

    def __init__(self, col: Collector) -> None:
        self.col = col
        self.buf = b""
        self.octets: bool | None = None
        self.prefix = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sender = _sender(transport.get_extra_info("peername"))
        if not self.col.allowed(sender):
            self.col.stats.refused += 1
            transport.abort()
            return
        self.transport = transport  # type: ignore[assignment]
        self.prefix = sender.encode() + b"\t"
        self.col._transports.add(transport)  # type: ignore[arg-type]
        self.col._protocols.add(self)
        self.col.stats.connections += 1
        self.col.stats.connections_total += 1
        if self.col._paused:
            transport.pause_reading()  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is None:
            return
        self.flush_rest()
        self.col._transports.discard(self.transport)
        self.col._protocols.discard(self)
        self.col.stats.connections -= 1
        self.transport = None

    def flush_rest(self) -> None:
        """What is left when the connection ends is a last message (without its trailer)."""
        if self.buf:
            rest, self.buf = self.buf, b""
            self.col.put(self.prefix + rest.replace(b"\n", b" ") + b"\n", 1)

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        if self.octets is None:
            head = buf.lstrip()
            i = 0
            while i < len(head) and 48 <= head[i] <= 57:
                i += 1
            if i == len(head) and i < 10:
                self.buf = buf  # only digits so far: wait for more
                return
            self.octets = 0 < i < 10 and head[i] == 32
        if self.octets:
            buf = self._octet_messages(buf)
            if not self.octets:  # damaged framing: the rest is read as lines
                self._lines(buf)
                return
            self.buf = buf
        else:
            self._lines(buf)

    def _lines(self, buf: bytes) -> None:
        cut = buf.rfind(b"\n") + 1
        if not cut:
            if len(buf) > MAX_MESSAGE:  # no newline for too long: cut (the parser rejects it)
                self.buf = b""
                self.col.put(self.prefix + buf + b"\n", 1)
            else:
                self.buf = buf
            return
        body, self.buf = buf[:cut], buf[cut:]
        p = self.prefix
        self.col.put(p + body[:-1].replace(b"\n", b"\n" + p) + b"\n", body.count(b"\n"))

    def _octet_messages(self, buf: bytes) -> bytes:
        """Put the whole octet-counted frames of ``buf`` (one compiled pass, see :func:`octet_frames`);
        returns the unframed rest. Damaged framing sets ``octets`` to False."""
        out, msgs, used, damaged = octet_frames(buf, self.prefix)
        if damaged:
            self.octets = False
        if msgs:
            self.col.put(out, msgs)
        return buf[used:]


def octet_frames(buf: bytes, prefix: bytes) -> tuple[bytes, int, int, bool]:
    """RFC 6587 octet-counted frames (``LEN SP MSG``, a CR/LF/space trailer tolerated) of ``buf`` as
    ``PREFIX MSG\n`` lines (a newline inside a message becomes a space): returns (the lines, how many,
    bytes of ``buf`` used, damaged). Damaged: a length that is not 1-10 digits and a space or is above
    :data:`MAX_OCTETS`; the bytes from there on are not used."""
    src = np.frombuffer(buf, np.uint8)
    pre = np.frombuffer(prefix, np.uint8)
    out = np.empty(len(buf) + (len(buf) // 2 + 1) * (len(prefix) + 1), np.uint8)
    n_out, msgs, used, damaged = _octet_kernel(src, pre, out, MAX_OCTETS)
    return out[:n_out].tobytes(), msgs, used, damaged


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _octet_kernel(src, pre, out, max_octets):  # pragma: no cover - compiled
    n, n_pre = len(src), len(pre)
    pos = n_out = msgs = 0
    while pos < n:
        while pos < n and (src[pos] == 32 or src[pos] == 13 or src[pos] == 10):
            pos += 1
        if pos == n:
            break
        # the length: 1 to 10 digits, then a space
        j = pos
        size = 0
        while j < n and j - pos < 10 and 48 <= src[j] <= 57:
            size = size * 10 + (src[j] - 48)
            j += 1
        if j == n:  # only digits so far: wait for more
            return n_out, msgs, pos, False
        if j == pos or src[j] != 32 or size > max_octets:
            return n_out, msgs, pos, True
        start = j + 1
        end = start + size
        if end > n:
            return n_out, msgs, pos, False
        stop = end
        has_nl = False
        for k in range(start, end):
            if src[k] == 10:
                has_nl = True
                break
        if has_nl:  # a trailing CR/LF is dropped, an inner newline becomes a space
            while stop > start and (src[stop - 1] == 10 or src[stop - 1] == 13):
                stop -= 1
        out[n_out:n_out + n_pre] = pre
        n_out += n_pre
        for k in range(start, stop):
            c = src[k]
            out[n_out] = 32 if c == 10 else c
            n_out += 1
        out[n_out] = 10
        n_out += 1
        msgs += 1
        pos = end
    return n_out, msgs, pos, False


class _UDP(asyncio.DatagramProtocol):
    def __init__(self, col: Collector) -> None:
        self.col = col

    def datagram_received(self, data: bytes, addr: Any) -> None:
        sender = _sender(addr)
        if not self.col.allowed(sender):
            self.col.stats.refused += 1
            return
        m = data.rstrip(b"\r\n\x00")
        if b"\n" in m:
            m = m.replace(b"\n", b" ")
        if not self.col.put(sender.encode() + b"\t" + m + b"\n", 1, udp=True):
            self.col.stats.udp_queue_drops += 1


def udp_kernel_drops(inode: int) -> int:
    """Datagrams the kernel dropped for the socket ``inode`` (receive buffer full): the ``drops``
    column of /proc/net/udp and udp6; 0 where /proc is not there."""
    for name in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(name) as f:
                next(f, None)
                for row in f:
                    cols = row.split()
                    if len(cols) >= 13 and cols[9] == str(inode):
                        return int(cols[-1])
        except OSError:
            continue
    return 0


def collect(store: str | Path, listens: list[str], **kw: Any) -> CollectStats:
    """Run a collector until SIGTERM/SIGINT (see :class:`Collector`)."""
    return Collector(store, listens, **kw).run()


def status_line(s: CollectStats, rate: float) -> str:
    return (f"{s.connections} connections, {rate:,.0f} lines/s, {s.received:,} received, {s.rows:,} rows, "
            f"{s.rejected_total:,} rejected, last commit {s.last_commit or '-'}"
            + (f", UDP drops {s.udp_kernel_drops + s.udp_queue_drops:,}" if s.udp_kernel_drops
               or s.udp_queue_drops else ""))


if __name__ == "__main__":  # pragma: no cover
    print("use: honeyscope collect", file=sys.stderr)
