from __future__ import annotations

import pytest

from ingest.ratelimit import RateLimiter, retry_after_header


def test_burst_then_refuse_then_refill():
    limiter = RateLimiter(rate=2.0, burst=3)
    assert [limiter.check("t", 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.check("t", 100.0)
    assert wait == pytest.approx(0.5)
    assert limiter.check("other", 100.0) == 0.0  # per key
    assert limiter.check("t", 100.5) == 0.0  # refilled one token


def test_retry_after_is_whole_seconds_and_never_zero():
    assert retry_after_header(0.01) == "1"
    assert retry_after_header(2.2) == "3"
