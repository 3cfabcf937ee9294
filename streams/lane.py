"""The validation lane: the plain lane of the validator in a child process, on the other core.

On a two-core machine one worker process is bound by the GIL, and about half of its time per
event goes to validating records and building their facts (``schemas/plain.py`` and
:func:`streams.logic.facts.plain_fact`: a pure function of the record's bytes, its key, its
Kafka timestamp and its offset). :class:`Lane` runs that function in a child process
(``python -m streams.lane``) for records the agent has fetched but not yet counted, while the
worker counts the ones before them: the agent hands each record to the lane as it arrives and
counts it a few records later (``streams/agents/count_events.py``).

The lane only ever saves work: its answer is the very list of facts ``Runtime.process`` would
build itself (``None`` when the plain lane declines the record), and the worker still does
everything else (the watermark, duplicates, the acceptance window, dead letters, counting).
A record the lane did not answer (no child, a child that died, a record without a Kafka
timestamp) is validated in the worker as before. A child that dies, or gives no answer for
:data:`ANSWER_TIMEOUT_S` (and is killed), is started again after :data:`RESTART_DELAY_S`;
it exits by itself when the worker goes away (end of its stdin).

Wire (pipes, FIFO): worker -> child a fixed header (province, validate_ts, base,
future_tolerance_s, length) and the record's bytes as they came; child -> worker ``len`` +
``marshal`` of ``list[Fact] | None``, or of an error text (a bug in the lane: the worker then
validates that record itself).
"""

from __future__ import annotations

import asyncio
import collections
import fcntl
import logging
import marshal
import signal
import struct
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from schemas import MAX_BATCH_EVENTS
from schemas.plain import plain_events
from streams.logic.facts import POS_STRIDE, Fact, plain_fact

log = logging.getLogger(__name__)

_FRAME = struct.Struct("<I")
_REQUEST = struct.Struct("<2sdqdI")  # province, validate_ts, base, future_tolerance_s, length
RESTART_DELAY_S = 1.0
ANSWER_TIMEOUT_S = 10.0
PIPE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Answer:
    """The lane's answer for one record: its facts, or ``None`` if the plain lane declined."""

    facts: list[Fact] | None


def lane_facts(
    raw: bytes, province: str, validate_ts: float, base: int, future_tolerance_s: float
) -> list[Fact] | None:
    """Facts of every event of a record the plain lane settles, positioned from ``base``;
    ``None`` when it declines the record (the full validator then says why)."""
    now = datetime.fromtimestamp(validate_ts, UTC)
    events = plain_events(raw, now=now, expected_province=province,
                          future_tolerance_s=future_tolerance_s, max_events=MAX_BATCH_EVENTS)
    if events is None:
        return None
    return [plain_fact(event, pos) for pos, event in enumerate(events, base)]


def request_of(
    key: bytes | None, offset: int, record_ts: float | None
) -> tuple[str, float, int] | None:
    """``(province, validate_ts, base)`` for a record the lane can take, else ``None``: the
    key must be a province code and the record carry its Kafka timestamp (the validator's
    "now", see ``Runtime.process``), so that the answer is the worker's own."""
    if key is None or len(key) != 2 or not key.isdigit() or record_ts is None or record_ts < 0:
        return None
    return key.decode(), record_ts, offset * POS_STRIDE


class Lane:
    """The child process and the records waiting for its answers (in the order sent)."""

    def __init__(self, future_tolerance_s: float):
        self.future_tolerance_s = future_tolerance_s
        self.stats = {"answered": 0, "unanswered": 0, "starts": 0, "deaths": 0, "stuck": 0}
        self._proc: asyncio.subprocess.Process | None = None
        self._waiting: collections.deque[asyncio.Future[Answer | None]] = collections.deque()
        self._reader: asyncio.Task[None] | None = None
        self._starting: asyncio.Task[None] | None = None
        self._next_start = 0.0
        self._closed = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def start(self) -> None:
        """Start the child (once it is up, :meth:`submit` sends it records). If it cannot
        start, the worker validates records itself and :meth:`submit` tries again later."""
        try:
            await self._spawn()
        except OSError:
            log.exception("validation lane: the child process did not start (tried again "
                          "in %.0f s); the worker validates records itself", RESTART_DELAY_S)

    async def _spawn(self) -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "streams.lane",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        if self._closed:
            proc.kill()
            return
        self._proc = proc
        self.stats["starts"] += 1
        self._reader = asyncio.ensure_future(self._read(proc))
        log.info("validation lane: child process %d started", proc.pid)

    def submit(self, raw: bytes, request: tuple[str, float, int]) -> asyncio.Future[Answer | None]:
        """Send a record to the child; the future gives its :class:`Answer`, or ``None`` if
        the lane cannot answer (then the caller validates the record itself)."""
        future: asyncio.Future[Answer | None] = asyncio.get_running_loop().create_future()
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdin.is_closing():
            self._start_later()
            self._resolve(future, None)
            return future
        province, validate_ts, base = request
        proc.stdin.write(_REQUEST.pack(province.encode(), validate_ts, base,
                                       self.future_tolerance_s, len(raw)))
        proc.stdin.write(raw)  # (no copy into one frame: records are hundreds of KB)
        self._waiting.append(future)
        return future

    async def answer(self, ticket: asyncio.Future[Answer | None]) -> Answer | None:
        """What ``ticket`` (from :meth:`submit`) gives, waiting at most
        :data:`ANSWER_TIMEOUT_S`: a record takes milliseconds, so a child that takes longer is
        stuck; it is killed, and the records waiting for it are validated in the worker."""
        if ticket.done():
            return ticket.result()
        try:
            return await asyncio.wait_for(asyncio.shield(ticket), ANSWER_TIMEOUT_S)
        except TimeoutError:
            proc = self._proc
            if proc is not None and proc.returncode is None:
                log.error("validation lane: child process %d gave no answer in %.0f s; "
                          "killing it", proc.pid, ANSWER_TIMEOUT_S)
                self.stats["stuck"] += 1
                proc.kill()
            return None

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        """Answers, in the order the records were sent; on the child's end, the records
        still waiting are given ``None`` (the worker validates them itself)."""
        assert proc.stdout is not None
        try:
            while True:
                (size,) = _FRAME.unpack(await proc.stdout.readexactly(_FRAME.size))
                answer = marshal.loads(await proc.stdout.readexactly(size))  # noqa: S302 (our child)
                future = self._waiting.popleft()
                if isinstance(answer, str):
                    log.error("validation lane: %s", answer)
                    self._resolve(future, None)
                else:
                    self._resolve(future, Answer(answer))
                    self.stats["answered"] += 1
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            if not self._closed:
                code = await proc.wait()
                log.error("validation lane: child process %d ended (exit code %s, %s); "
                          "the worker validates records itself meanwhile", proc.pid, code,
                          type(exc).__name__)
                self.stats["deaths"] += 1
        except Exception:  # a garbled answer: this child is not to be trusted further
            log.exception("validation lane: bad answer from child process %d; stopping it",
                          proc.pid)
            self.stats["deaths"] += 1
            proc.kill()
        finally:
            if self._proc is proc:
                self._proc = None
                self._next_start = time.monotonic() + RESTART_DELAY_S
            while self._waiting:
                self._resolve(self._waiting.popleft(), None)

    def _resolve(self, future: asyncio.Future[Answer | None], answer: Answer | None) -> None:
        if answer is None:
            self.stats["unanswered"] += 1
        if not future.done():
            future.set_result(answer)

    def _start_later(self) -> None:
        if self._closed or self._starting is not None and not self._starting.done():
            return
        if time.monotonic() >= self._next_start:
            self._next_start = time.monotonic() + RESTART_DELAY_S
            self._starting = asyncio.ensure_future(self.start())

    async def close(self) -> None:
        """Stop the child: end of its input, then a kill if it is still there after 2 s."""
        self._closed = True
        proc = self._proc
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 2.0)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        if self._reader is not None:
            await self._reader


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    """The child: answer requests until the end of ``inp`` (the worker closed or died)."""
    while True:
        header = inp.read(_REQUEST.size)
        if len(header) < _REQUEST.size:
            return
        code, validate_ts, base, tolerance, size = _REQUEST.unpack(header)
        raw, province = inp.read(size), code.decode()
        try:
            answer: list[Fact] | None | str = lane_facts(raw, province, validate_ts, base,
                                                          tolerance)
        except Exception as exc:  # a bug: the worker validates the record itself
            answer = f"lane failed on a record of province {province}: {exc!r}"
        frame = marshal.dumps(answer, 4)  # (half pickle's cost to load: tuples of plain values)
        out.write(_FRAME.pack(len(frame)) + frame)
        out.flush()


def widen_pipes(*fds: int, size: int = PIPE_BYTES) -> None:
    """Make the pipes hold several records (Linux's default is 64 KiB): the worker's event
    loop writes requests and reads answers only between the records it counts, so the child
    can run ahead only as far as the pipes hold (capped by /proc/sys/fs/pipe-max-size)."""
    try:
        cap = int(Path("/proc/sys/fs/pipe-max-size").read_text())
    except (OSError, ValueError):
        cap = size
    for fd in fds:
        try:
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, min(size, cap))
        except (OSError, AttributeError):  # not Linux, or not a pipe: the lane is slower
            log.info("validation lane: pipe %d keeps its default size", fd)


if __name__ == "__main__":
    # Ctrl-C reaches the whole process group: the worker decides (the child ends with its
    # input), so no KeyboardInterrupt traceback from here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    widen_pipes(sys.stdin.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, sys.stdout.buffer)
