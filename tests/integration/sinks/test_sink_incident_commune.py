"""ClickHouse counts a report under the commune the live worker counts it under.

Live (``streams/logic/incidents.py``), a report whose events name different communes is open,
overdue and carried over under the commune of its report: the first active
``report_received`` in the order of its events (``occurred_at`` to the millisecond, type,
event id), whatever the order of arrival; a receipt that arrives later but sorts first, or a
correction that withdraws the receipt, moves it. A resolution counts ``resolved``, its
crime-group slot and ``resolved_on_time`` under its own event's commune. Without a receipt the
report is under no commune (not open; its resolutions count only their own slots).

``incidents_current.commune_code`` must be that commune (``''`` without a receipt) and each
entry of ``resolutions`` must carry its event's commune (``r.5``), so that the per-commune
queries of docs/analysts.md give the live figures. Events go through the sink's real
``Writer`` into the session's ClickHouse in a given arrival order, one event per insert; the
live figures come from a fresh ``ProvinceState`` per report fed the same events in the same
order. Named reports cover the shapes the old rule (the largest commune code among the
report's events) got wrong; a seeded random set (communes drawn per event) covers the rest.
Another stores the communes twice (a set: nothing changes); the last stores the reports in a
database at migration 8 and upgrades it.
"""

from __future__ import annotations

import random
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from antt.settings import Settings
from schemas.examples import make_event
from schemas.validate import validate_batch
from sinks import migrate as migrate_module
from sinks.client import make_client
from sinks.migrate import load_migrations, migrate
from sinks.rows import Batch
from sinks.service import prepare_database
from sinks.writer import Writer
from streams.logic.facts import GROUP_RESOLVED, SLOT

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "streams"))
from test_same_instant_order import NOW, T0, facts_of, fed  # noqa: E402

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)
# Three communes of Hà Nội (01); as text A < B < C, so the old max() rule picks the last.
A, B, C = "00004", "00070", "00256"
ON_TIME, RESOLVED = SLOT["resolved_on_time"], SLOT["resolved"]
GROUP_OF_SLOT = {slot: group for group, slot in GROUP_RESOLVED.items()}
Figures = dict[tuple[str, ...], int]


def _ev(kind: str, at: datetime, iid: str, commune: str, **fields: object) -> dict:
    return make_event(kind, incident_id=iid, occurred_at=at, commune_code=commune,
                      recorded_at=max(at, T0) + timedelta(minutes=1), **fields)


def _recv(at: datetime, iid: str, commune: str, **fields: object) -> dict:
    return _ev("report_received", at, iid, commune, crime_group="property",
               severity="less_serious", **fields)


def _resolved(at: datetime, iid: str, commune: str, decision: str = "institute") -> dict:
    extra = {"suspension_reason": "awaiting_documents"} if decision == "suspend" else {}
    return _ev("report_resolved", at, iid, commune, decision=decision, **extra)


def _extended(at: datetime, iid: str, commune: str) -> dict:
    return _ev("deadline_extended", at, iid, commune, extension="complex_case", months=2)


def named() -> dict[str, list[dict]]:
    """name -> one report's events in their order of arrival."""
    out: dict[str, list[dict]] = {}

    def iid(tag: str) -> str:
        return f"inc-commune-{tag}-{uuid.uuid4().hex}"

    i = iid("ext")  # open and overdue under A; max() said C
    out["receipt_in_the_smaller_code"] = [_recv(T0, i, A), _extended(T0 + DAY, i, C)]
    i = iid("late")  # the receipt arrives after the report's other events
    out["receipt_arrives_last"] = [
        _ev("report_resumed", T0 - 3 * DAY, i, C), _ev("report_forwarded", T0 + DAY, i, B),
        _recv(T0, i, A)]
    i = iid("two")  # the later receipt arrives first; the earlier one (A) is the report
    out["earlier_receipt_arrives_second"] = [_recv(T0 + 2 * DAY, i, C), _recv(T0, i, A)]
    i = iid("tie")  # two receipts at one instant: the smaller event id (as text) is the report
    low, high = sorted(str(uuid.uuid4()) for _ in range(2))
    out["receipts_at_one_instant"] = [_recv(T0, i, C, event_id=high),
                                      _recv(T0, i, A, event_id=low)]
    i = iid("corr")  # the receipt in C is withdrawn by a correcting receipt in A
    first = _recv(T0, i, C)
    out["corrected_receipt"] = [first, _recv(T0, i, A, corrects_event_id=first["event_id"]),
                                _extended(T0 + DAY, i, B)]
    i = iid("corr-first")  # the correction arrives before the receipt it withdraws
    first = _recv(T0 - DAY, i, C)
    out["correction_arrives_first"] = [
        _recv(T0, i, A, corrects_event_id=first["event_id"]), first]
    i = iid("chain")  # Z (B) corrects Y (A) corrects X (C): only Z counts, the report is in B
    x = _recv(T0, i, C)
    y = _recv(T0, i, A, corrects_event_id=x["event_id"])
    out["correction_of_a_correction"] = [x, y, _recv(T0, i, B, corrects_event_id=y["event_id"])]
    i = iid("gone")  # the only receipt withdrawn by a triage: no report, under no commune
    x = _recv(T0, i, A)
    out["receipt_withdrawn"] = [x, _extended(T0 + DAY, i, C),
                                _ev("report_triaged", T0, i, B, corrects_event_id=x["event_id"])]
    i = iid("res")  # resolved on time under B, the report under A; then resumed in C: open
    out["resolved_and_resumed_elsewhere"] = [
        _recv(T0, i, A), _resolved(T0 + 2 * DAY, i, B, "suspend"),
        _ev("report_resumed", T0 + 40 * DAY, i, C)]
    i = iid("res-first")  # the resolution (B) arrives before its report (A): on time under B
    out["resolution_before_its_receipt"] = [_resolved(T0 + DAY, i, B, "decline"),
                                            _recv(T0, i, A)]
    i = iid("none")  # no receipt: under no commune, the resolution counts only itself
    out["no_receipt"] = [_ev("report_resumed", T0, i, A), _resolved(T0 + DAY, i, C)]
    i = iid("larger")  # the report in C, later events in A: C (max() agreed)
    out["receipt_in_the_larger_code"] = [_recv(T0, i, C), _extended(T0 + DAY, i, A)]
    return out


def random_reports(seed: int, n: int) -> dict[str, list[dict]]:
    """``n`` reports of 1-6 lifecycle events, each in a random commune and arriving in a
    random order; receipts anywhere (none, one, several), sometimes corrected."""
    rng = random.Random(seed)
    kinds = ["report_received", "deadline_extended", "report_resumed", "report_resolved",
             "report_forwarded"]
    out: dict[str, list[dict]] = {}
    for r in range(n):
        iid = f"inc-crand{r}-{uuid.UUID(int=rng.getrandbits(128)).hex}"
        events: list[dict] = []
        for _ in range(rng.randint(1, 6)):
            at = T0 + rng.randrange(-5, 60) * DAY + rng.randrange(86_400) * timedelta(seconds=1)
            commune = rng.choice((A, B, C))
            kind = rng.choices(kinds, [4, 2, 2, 3, 1])[0]
            if kind == "report_received":
                event = _recv(at, iid, commune)
            elif kind == "deadline_extended":
                event = _extended(at, iid, commune)
            elif kind == "report_resolved":
                event = _resolved(at, iid, commune, rng.choice(["institute", "decline"]))
            else:
                event = _ev(kind, at, iid, commune)
            event["event_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            events.append(event)
        receipts = [e for e in events if e["event_type"] == "report_received"]
        if receipts and rng.random() < 0.3:  # a correcting receipt in another commune
            target = rng.choice(receipts)
            fix = _recv(datetime.fromisoformat(target["occurred_at"]), iid, rng.choice((A, B, C)),
                        corrects_event_id=target["event_id"])
            fix["event_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            events.append(fix)
        rng.shuffle(events)
        out[f"random{r}"] = events
    return out


def store(writer: Writer, events: list[dict], offset: int) -> int:
    """The events in the given order, one per insert; returns the next offset."""
    report = validate_batch(events, now=datetime.now(UTC))
    assert not report.rejected, report.rejected
    for event in report.valid:
        batch = Batch("antt.events.commune", 0, offset, offset)
        batch.add(event.__dict__, offset)
        writer.write(batch)
        offset += 1
    return offset


def live_figures(events: list[dict]) -> tuple[Figures, Figures]:
    """(per-report figures, per-commune resolved) of a fresh province fed ``events``:
    ``(commune, 'open'|'overdue'|'on_time')`` and ``(commune, 'resolved', group)`` from the
    report's state, ``(commune, 'resolved')`` from the resolutions' own slots."""
    state = fed(facts_of(events))
    out: Figures = {}
    for commune, row in state.backlog.per_commune(state.cal.day(NOW.timestamp())).items():
        out[commune, "open"] = row["open"]
        out[commune, "overdue"] = row["overdue"]
    resolved: Figures = Counter()
    for (commune, _month), cells in state.month_cells.items():
        _add_cells(out, resolved, commune, cells)
    return _nonzero(out), _nonzero(resolved)


def _add_cells(out: Figures, resolved: Figures, commune: str, cells: list[int]) -> None:
    out[commune, "on_time"] = out.get((commune, "on_time"), 0) + cells[ON_TIME]
    for slot, group in GROUP_OF_SLOT.items():
        key = (commune, "resolved", group)
        out[key] = out.get(key, 0) + cells[slot]
    resolved[commune, "resolved"] += cells[RESOLVED]


def _nonzero(figures: Figures) -> Figures:
    return {key: value for key, value in figures.items() if value}


def clickhouse_backlog(ch: Any, iid: str) -> Figures:
    """``(commune, 'open'|'overdue')`` of one report by the SQL of docs/analysts.md."""
    out: Figures = {}
    for commune, is_open, overdue in ch.query(
            "SELECT commune_code, is_open, is_open AND due_date < {today:Date} "
            "FROM incidents_current WHERE incident_id = {iid:String}",
            parameters={"today": NOW.date(), "iid": iid}).result_rows:  # NOW is local
        out[commune, "open"] = int(is_open)
        out[commune, "overdue"] = int(overdue)
    return _nonzero(out)


def clickhouse_figures(ch: Any, iid: str) -> Figures:
    """The per-report figures of :func:`live_figures` by the SQL of docs/analysts.md."""
    out = clickhouse_backlog(ch, iid)
    for commune, group, n, on_time in ch.query(
            "SELECT r.5, crime_group, count(), sum(r.4) FROM incidents_current "
            "ARRAY JOIN resolutions AS r WHERE incident_id = {iid:String} "
            "GROUP BY r.5, crime_group", parameters={"iid": iid}).result_rows:
        out[commune, "on_time"] = out.get((commune, "on_time"), 0) + int(on_time)
        if group:  # a resolution waiting for its report has no group yet
            out[commune, "resolved", group] = int(n)
    return _nonzero(out)


def resolved_per_commune(ch: Any) -> Figures:
    rows = ch.query("SELECT commune_code, sum(events) FROM metrics_daily "
                    "WHERE metric = 'resolved' GROUP BY commune_code").result_rows
    return _nonzero({(str(c), "resolved"): int(n) for c, n in rows})


def differ(ch: Any, cases: dict[str, list[dict]]) -> dict[str, tuple[Figures, Figures]]:
    """name -> (ClickHouse, live) for every report whose per-commune figures differ; also
    checks the per-commune ``resolved`` of the aggregates against live over all reports."""
    out = {}
    resolved: Figures = Counter()
    for name, events in cases.items():
        live, own = live_figures(events)
        resolved.update(own)
        got = clickhouse_figures(ch, events[0]["incident_id"])
        if got != live:
            out[name] = (got, live)
    assert resolved_per_commune(ch) == dict(resolved)
    return out


def _database(stack: Settings, tag: str) -> Settings:
    return stack.model_copy(update={"clickhouse_database": f"antt_{tag}{uuid.uuid4().hex[:8]}"})


def _fill(settings: Settings, cases: dict[str, list[dict]]) -> Any:
    ch = make_client(settings, database=settings.clickhouse_database)
    writer = Writer(ch, settings)
    offset = 0
    for events in cases.values():
        offset = store(writer, events, offset)
    return ch


@pytest.fixture(scope="module")
def communes(stack: Settings) -> Iterator[tuple[Any, dict[str, list[dict]]]]:
    """(client, cases): a database of this module holding every report's events."""
    settings = _database(stack, "commune")
    prepare_database(settings)
    cases = {**named(), **random_reports(seed=2027, n=40)}
    ch = _fill(settings, cases)
    try:
        yield ch, cases
    finally:
        ch.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
        ch.close()


def test_reports_count_under_the_commune_live_counts_them(communes: tuple[Any, dict]) -> None:
    ch, cases = communes
    bad = differ(ch, cases)
    assert not bad, f"per-commune figures != live for {sorted(bad)}: {bad}"
    # the named reports reach the shapes they are there for
    live = {name: live_figures(events)[0] for name, events in named().items()}
    assert live["receipt_in_the_smaller_code"] == {(A, "open"): 1, (A, "overdue"): 1}
    assert live["receipt_arrives_last"].keys() == {(A, "open"), (A, "overdue")}
    assert live["corrected_receipt"].keys() == {(A, "open"), (A, "overdue")}
    assert live["receipts_at_one_instant"].keys() == {(A, "open"), (A, "overdue")}
    assert live["resolved_and_resumed_elsewhere"] == {
        (A, "open"): 1, (A, "overdue"): 1, (B, "on_time"): 1, (B, "resolved", "property"): 1}
    assert live["correction_of_a_correction"].keys() == {(B, "open"), (B, "overdue")}
    assert live["no_receipt"] == live["receipt_withdrawn"] == {}
    for name in ("no_receipt", "receipt_withdrawn"):
        assert ch.command("SELECT commune_code FROM incidents_current WHERE incident_id = "
                          f"'{cases[name][0]['incident_id']}'") == "", name
    shapes = [Counter(e["commune_code"] for e in events) for events in cases.values()]
    assert sum(len(s) > 1 for s in shapes) >= 20


def test_communes_stored_twice_change_nothing(communes: tuple[Any, dict]) -> None:
    """incident_communes is a set: the backfill of migration 9 run again (it has no guard)
    and every row inserted a second time (a view firing twice) leave the figures as live's."""
    ch, cases = communes
    db = ch.command("SELECT currentDatabase()")
    (backfill,) = [s for s in next(m for m in load_migrations() if m.version == 9)
                   .statements(db, "Asia/Ho_Chi_Minh") if s.startswith("INSERT")]
    before = ch.command("SELECT count() FROM incident_communes")
    ch.command(backfill, settings={"insert_deduplication_token": f"again-{uuid.uuid4()}"})
    ch.command("INSERT INTO incident_communes SELECT * FROM incident_communes")
    assert ch.command("SELECT count() FROM incident_communes") > before  # stored again
    assert not differ(ch, cases)


def test_a_database_at_migration_8_upgrades(stack: Settings,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Reports stored before the migration that keeps each event's commune count under the
    live commune once the database is migrated (a backfill from ``events_raw``)."""
    settings = _database(stack, "commune_up")
    cases = named()
    older = [m for m in load_migrations() if m.version <= 8]
    newer = [m.version for m in load_migrations() if m.version > 8]
    assert newer, "no migration after 8"
    monkeypatch.setattr(migrate_module, "load_migrations", lambda: older)
    prepare_database(settings)
    ch = _fill(settings, cases)
    try:
        # the old rule (the largest code among the report's events) puts these elsewhere
        wrong = {name for name, events in cases.items()
                 if clickhouse_backlog(ch, events[0]["incident_id"])
                 != {k: v for k, v in live_figures(events)[0].items() if k[1] != "on_time"
                     and len(k) == 2}}
        assert wrong == {"receipt_in_the_smaller_code", "receipt_arrives_last",
                         "earlier_receipt_arrives_second", "corrected_receipt",
                         "correction_arrives_first", "resolved_and_resumed_elsewhere",
                         "receipts_at_one_instant", "correction_of_a_correction"}
        monkeypatch.undo()
        assert migrate(ch, settings) == newer
        bad = differ(ch, cases)
        assert not bad, f"per-commune figures != live after the upgrade for {sorted(bad)}: {bad}"
        assert migrate(ch, settings) == []
        writer = Writer(ch, settings)  # and reports stored after it
        more = {f"after-{name}": events for name, events in named().items()}
        offset = 10_000
        for events in more.values():
            offset = store(writer, events, offset)
        assert not differ(ch, {**cases, **more})
    finally:
        ch.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
        ch.close()
