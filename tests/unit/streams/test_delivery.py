"""The hole check's rule (streams/agents/delivery.judge): which records are counted, which
make the worker seek back, which are dropped to come again."""

from __future__ import annotations

from streams.agents.delivery import DROP, SEEK, TAKE, judge


def replay(arrivals: list[int], start: int) -> tuple[list[int], int]:
    """Feed offsets as the fetcher delivers them; returns the offsets counted and seeks."""
    want, hole, counted, seeks = start, None, [], 0
    for offset in arrivals:
        verdict = judge(want, offset, hole)
        if verdict == SEEK:
            hole, seeks = (want, offset), seeks + 1
        elif verdict == TAKE:
            counted.append(offset)
            want = max(want, offset + 1)
    return counted, seeks


def test_in_order_and_replayed_records_are_taken() -> None:
    assert judge(5, 5, None) == TAKE
    assert judge(5, 3, None) == TAKE  # a replay: counting skips it by its position


def test_a_gap_seeks_back_once_and_the_records_fetched_before_the_seek_are_dropped() -> None:
    # 56 was lost; 57..60 were fetched already; after the seek 56.. come again.
    counted, seeks = replay([57, 58, 59, 60, 56, 57, 58, 59, 60, 61], start=56)
    assert counted == [56, 57, 58, 59, 60, 61]
    assert seeks == 1  # (one seek and one warning per gap, not one per buffered record)


def test_a_real_gap_is_accepted_after_one_seek() -> None:
    # 56..57 do not exist on the broker (e.g. compaction): after the seek 58 comes first.
    counted, seeks = replay([58, 59, 58, 59, 60], start=56)
    assert counted == [58, 59, 60]
    assert seeks == 1


def test_a_partly_real_gap_takes_what_the_broker_has() -> None:
    # 56 is gone for good, 57..59 were lost by the fetcher: the re-read starts at 57.
    counted, seeks = replay([60, 61, 57, 58, 59, 60, 61], start=56)
    assert counted == [57, 58, 59, 60, 61]
    assert seeks == 1


def test_a_new_gap_after_catching_up_seeks_again() -> None:
    counted, seeks = replay([57, 56, 57, 58, 60, 61, 59, 60, 61], start=56)
    assert counted == [56, 57, 58, 59, 60, 61]
    assert seeks == 2
    assert judge(59, 60, (56, 57)) == SEEK
    assert judge(56, 58, (56, 57)) == DROP
