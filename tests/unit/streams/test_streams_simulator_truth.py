"""The live API built by streams/logic against the ingest simulator's own ground truth.

The simulator (``ingest/simulate``) computes its truth independently from what it generated;
here the whole national and one province answer (``days`` included) must agree with it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ingest.simulate import compare, generate
from schemas import units
from streams.logic.calendar import LocalCalendar
from streams.logic.render import render
from streams.logic.view import province_summary
from streams.runtime import Runtime

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=timezone(timedelta(hours=7)))


def test_whole_answers_match_the_simulator_truth() -> None:
    sim = generate(3, n_events=6000, now=NOW)
    runtime = Runtime(LocalCalendar(), "antt.events.v1")
    partition = {p: i % 4 for i, p in enumerate(units.PROVINCES)}
    for offset, rec in enumerate(sim.records):
        result = runtime.process(rec.value, rec.key, partition[rec.key.decode()], offset,
                                 NOW.timestamp())
        assert result.dead_letters == []
    as_of = NOW.timestamp()
    code = "79"
    summaries = {c: province_summary(s, as_of, detail=c == code)
                 for c, s in runtime.states.items()}
    national = render("national", None, summaries, as_of, runtime.cal,
                      [(p, units.province_name(p)) for p in units.PROVINCES])
    assert sum(d["received"] for d in national["days"]) > 0
    assert compare(sim.truth["national"], national) == []
    province = render("province", code, summaries, as_of, runtime.cal,
                      [(c, units.commune_name(c)) for c in units.communes_of(code)])
    assert province["days"] == sim.truth["provinces"][code]["days"]
    assert compare(sim.truth["provinces"][code], province) == []
