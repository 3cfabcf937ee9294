"""The push channel's feed: framing, one snapshot per scope and tick, slow clients, errors."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from streams.screen.push import LiveFeed, encode_snapshot, screen_view, sse_frame, sse_retry


def test_sse_frame_fields_and_terminator() -> None:
    frame = sse_frame(b'{"a":1}', event="snapshot", event_id=7)
    assert frame == b'id: 7\nevent: snapshot\ndata: {"a":1}\n\n'


def test_sse_frame_splits_multiline_data() -> None:
    assert sse_frame(b"x\ny") == b"data: x\ndata: y\n\n"
    assert sse_frame(b"") == b"data: \n\n"
    assert sse_retry(1500) == b"retry: 1500\n\n"


def test_encode_snapshot_accepts_dict_bytes_and_str() -> None:
    doc = {"scope": "national", "name": "Hà Nội"}
    assert orjson.loads(encode_snapshot(doc)) == doc
    assert encode_snapshot(b"{}") == b"{}"
    assert encode_snapshot('{"n":"Huế"}') == '{"n":"Huế"}'.encode()


class Counter:
    """A snapshot function that records its calls; async like ``streams.live.snapshot``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    async def __call__(self, scope: str, code: str | None) -> dict[str, object]:
        self.calls.append((scope, code))
        return {"scope": scope, "code": code, "n": len(self.calls)}


async def take(feed: LiveFeed, scope: str, code: str | None, n: int) -> list[bytes]:
    out = []
    async for frame in feed.frames(scope, code):
        out.append(frame)
        if len(out) == n:
            break
    return out


async def test_clients_of_one_scope_share_each_snapshot() -> None:
    snap = Counter()
    feed = LiveFeed(snap, interval_s=0.05)
    results = await asyncio.wait_for(
        asyncio.gather(*(take(feed, "national", None, 4) for _ in range(10))), 5
    )
    assert all(len(r) == 4 for r in results)
    # 10 clients x 4 frames, but the snapshot was built only about once per tick
    assert len(snap.calls) <= 6
    assert feed.clients == 0


async def test_scopes_are_built_separately_and_channels_end() -> None:
    snap = Counter()
    feed = LiveFeed(snap, interval_s=0.05)
    nat, prov = await asyncio.wait_for(
        asyncio.gather(take(feed, "national", None, 2), take(feed, "province", "01", 2)), 5
    )
    assert b'"scope":"national"' in nat[0]
    assert b'"code":"01"' in prov[0]
    assert {c for c in snap.calls} == {("national", None), ("province", "01")}
    await asyncio.sleep(0.1)
    calls = len(snap.calls)
    await asyncio.sleep(0.2)
    assert len(snap.calls) == calls, "no client left, so nothing may be built any more"


async def test_slow_client_skips_to_the_newest_frame() -> None:
    snap = Counter()
    feed = LiveFeed(snap, interval_s=0.02)
    seen = []
    async for frame in feed.frames("national", None):
        seen.append(orjson.loads(frame.split(b"data: ", 1)[1]))
        if len(seen) == 3:
            break
        await asyncio.sleep(0.2)  # ten ticks pass while this client is busy
    numbers = [s["n"] for s in seen]
    assert numbers[1] - numbers[0] > 3 and numbers[2] - numbers[1] > 3


async def test_unknown_scope_raises_lookup_error_before_any_frame() -> None:
    async def snapshot(scope: str, code: str | None) -> dict[str, object]:
        raise KeyError(code)

    feed = LiveFeed(snapshot, interval_s=0.05)
    with pytest.raises(LookupError):
        await asyncio.wait_for(take(feed, "province", "99", 1), 5)


async def test_failing_snapshot_sends_unavailable_and_recovers() -> None:
    calls = 0

    def snapshot(scope: str, code: str | None) -> dict[str, object]:  # sync is allowed too
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise RuntimeError("partitions [3] not available yet")
        return {"ok": calls}

    feed = LiveFeed(snapshot, interval_s=0.02)
    frames = await asyncio.wait_for(take(feed, "national", None, 3), 5)
    assert frames[0].startswith(b"event: unavailable\n")
    assert b"not available yet" in frames[0]
    assert b"event: snapshot" in frames[2]


async def test_close_ends_every_stream() -> None:
    feed = LiveFeed(Counter(), interval_s=10)
    got: list[bytes] = []

    async def consume() -> None:
        async for frame in feed.frames("national", None):
            got.append(frame)

    task = asyncio.create_task(consume())
    while not got:
        await asyncio.sleep(0.01)
    await feed.close()
    await asyncio.wait_for(task, 2)
    assert len(got) == 1
    assert [f async for f in feed.frames("national", None)] == []


def test_screen_view_drops_only_the_childrens_breakdowns() -> None:
    figures = {"received": 3, "by_crime_group": {"drugs": {"received": 1}},
               "by_source_type": {"report": 3}}
    doc = {"scope": "national", "periods": {"today": {"start": "d", "figures": figures}},
           "children": [{"code": "01", "name": "Hà Nội", "backlog": {"open": 1},
                         "periods": {"today": {"start": "d", "end": "d", "figures": figures}}}]}
    slim = screen_view(doc)
    assert slim["periods"] == doc["periods"]  # the scope's own breakdowns stay
    assert slim["children"][0]["periods"]["today"] == {"start": "d", "end": "d",
                                                       "figures": {"received": 3}}
    assert slim["children"][0]["backlog"] == {"open": 1}
    assert "by_crime_group" in doc["children"][0]["periods"]["today"]["figures"], "not mutated"


async def test_views_of_one_scope_are_separate_channels() -> None:
    snap = Counter()
    feed = LiveFeed(snap, interval_s=0.05)

    async def first(view: str) -> bytes:
        async for frame in feed.frames("national", None, view):
            return frame
        raise AssertionError("no frame")

    full, slim = await asyncio.wait_for(asyncio.gather(first("full"), first("screen")), 5)
    assert b'"scope":"national"' in full and b'"scope":"national"' in slim
    assert len(snap.calls) == 1, "both views of one tick come from one snapshot"
    with pytest.raises(ValueError):
        await first("everything")


async def test_views_share_one_snapshot_per_tick() -> None:
    snap = Counter()
    feed = LiveFeed(snap, interval_s=0.05)

    async def some(view: str) -> None:
        n = 0
        async for _frame in feed.frames("national", None, view):
            n += 1
            if n == 6:
                return

    await asyncio.wait_for(asyncio.gather(some("full"), some("screen")), 5)
    assert len(snap.calls) <= 8, f"{len(snap.calls)} snapshots for 6 ticks of 2 views"
