"""HTTP sessions: created on first use, kept while used, expired after their timeout."""

from __future__ import annotations

from devstack.chserver.sessions import Sessions


def test_session_lifecycle() -> None:
    sessions = Sessions()
    s = sessions.get("a", now=0.0, timeout=60)
    s.settings["max_threads"] = "1"
    assert sessions.get("a", now=59.0, timeout=60) is s  # use extends the life
    assert sessions.get("a", now=118.0, timeout=60).settings == {"max_threads": "1"}
    assert sessions.get("a", now=179.0, timeout=60).settings == {}  # expired: a new one
    assert len(sessions) == 1


def test_no_session_id_is_throwaway() -> None:
    sessions = Sessions()
    sessions.get(None, now=0.0, timeout=60).settings["x"] = "1"
    assert sessions.get(None, now=0.0, timeout=60).settings == {}
    assert len(sessions) == 0


def test_session_count_is_bounded() -> None:
    sessions = Sessions(max_sessions=3)
    for i in range(10):
        sessions.get(str(i), now=0.0, timeout=60)
    assert len(sessions) == 3
    assert sessions.get("9", now=1.0, timeout=60) is not None
