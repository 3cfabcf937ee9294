"""The monitoring page in real headless Chromium against a running worker with live events.

Tests run in file order on one worker: load, live figures vs the API, drill-down, then the
stale indicator when the worker stops and the reconnection when it comes back.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from screen_feed import EventFeed
from screen_harness import Worker, get_json

from streams.screen.browser import Browser

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CARD_FIGURES = ("received", "resolved", "resolution_rate", "on_time_rate", "cleared",
                "clearance_rate", "suspects", "admin_violations", "fines_vnd")
ROW_FIGURES = ("received", "resolved", "resolution_rate", "on_time_rate", "cleared",
               "clearance_rate", "suspects", "admin_violations", "fines_vnd")

READ_PAGE = """
const cards = {};
document.querySelectorAll('[data-card]').forEach(c => {
  const v = {};
  c.querySelectorAll('[data-period]').forEach(e => v[e.dataset.period] = e.dataset.value);
  cards[c.dataset.card] = v;
});
const rows = {};
document.querySelectorAll('#units-body tr').forEach(r => {
  const v = {}; r.querySelectorAll('td').forEach(td => v[td.dataset.col] = td.dataset.value);
  rows[r.dataset.code] = v;
});
const fresh = document.getElementById('freshness');
return {cards: cards, rows: rows, updates: +(document.body.dataset.updates || 0),
        state: fresh.dataset.state, scope: document.getElementById('scope-name').textContent,
        banner: !document.getElementById('banner').hidden,
        bannerText: document.getElementById('banner').textContent,
        asOf: document.getElementById('as-of').getAttribute('datetime'),
        period: document.querySelector('#period-switch .on').dataset.period};
"""


def num(value: Any) -> float | None:
    """Page values are strings ("" for none), API values JSON numbers or null."""
    if value is None or value == "":
        return None
    return float(value)


def expected_page(api: dict[str, Any], period: str) -> dict[str, Any]:
    """What the page must show for a live API document (``period``: the table's)."""
    cards: dict[str, dict[str, float | None]] = {
        fig: {p: num(api["periods"][p]["figures"][fig]) for p in ("today", "stat_month")}
        for fig in CARD_FIGURES
    }
    cards["overdue"] = {"now": num(api["backlog"]["overdue"]), "open": num(api["backlog"]["open"])}
    rows = {
        child["code"]: {
            **{f: num(child["periods"][period]["figures"][f]) for f in ROW_FIGURES},
            "overdue": num(child["backlog"]["overdue"]),
        }
        for child in api["children"]
    }
    return {"cards": cards, "rows": rows}


def shown(page: dict[str, Any]) -> dict[str, Any]:
    cards = {k: {p: num(v) for p, v in c.items()} for k, c in page["cards"].items()}
    rows = {code: {f: num(r.get(f)) for f in (*ROW_FIGURES, "overdue")}
            for code, r in page["rows"].items()}
    return {"cards": cards, "rows": rows}


def wait_page_matches_api(browser: Browser, api_url: str, timeout: float = 20.0) -> dict:
    """Poll until the page shows what the API answers (both read at nearly the same time)."""
    deadline = time.monotonic() + timeout
    while True:
        api = get_json(api_url)
        page = browser.run(READ_PAGE)
        if shown(page) == expected_page(api, page["period"]):
            return api
        if time.monotonic() > deadline:
            assert shown(page) == expected_page(api, page["period"])
        time.sleep(0.3)


def wait_counted(worker: Worker, n: int, timeout: float = 60.0) -> None:
    """Wait until the worker has applied ``n`` events (every event the feed sent)."""
    deadline = time.monotonic() + timeout
    counted = None
    while time.monotonic() < deadline:
        counted = get_json(worker.url + "/api/v1/live/national")["freshness"]["events_counted"]
        if counted >= n:
            return
        time.sleep(0.3)
    raise AssertionError(f"worker counted {counted} of {n} events in {timeout} s")


def severe(entries: list[dict[str, Any]]) -> list[str]:
    return [e["message"] for e in entries if e.get("level") == "SEVERE"]


def test_page_loads_without_errors_and_lists_34_provinces(worker: Worker,
                                                           browser: Browser) -> None:
    browser.get(worker.url + "/")
    browser.wait_for("return +(document.body.dataset.updates || 0) >= 2", timeout=30)
    page = browser.run(READ_PAGE)
    assert len(page["rows"]) == 34
    assert page["scope"] == "Toàn quốc"
    html_lang = browser.run("return document.documentElement.lang")
    assert html_lang == "vi"
    title = browser.run("return document.querySelector('h1').textContent")
    assert title == "Theo dõi trực tuyến tố giác, tin báo về tội phạm"
    assert severe(browser.console()) == []


def test_figures_change_while_events_flow_and_match_the_api(
    worker: Worker, browser: Browser, feed: EventFeed
) -> None:
    before = browser.run(READ_PAGE)
    received0 = num(before["cards"]["received"]["today"]) or 0
    feed.run_in_background()
    try:
        browser.wait_for(
            "return +document.querySelector('[data-card=received] [data-period=today]')"
            ".dataset.value > arguments[0]", received0, timeout=30)
        # pushed at least once a second while events flow (measured over 5 s)
        u0, t0 = browser.run(READ_PAGE)["updates"], time.monotonic()
        time.sleep(5)
        u1, t1 = browser.run(READ_PAGE)["updates"], time.monotonic()
        assert (u1 - u0) / (t1 - t0) >= 1.0, f"{u1 - u0} updates in {t1 - t0:.1f} s"
        assert browser.run(READ_PAGE)["state"] == "live"
        during = num(browser.run(READ_PAGE)["cards"]["received"]["today"]) or 0
    finally:
        feed.stop()
    wait_counted(worker, feed.sent_events)
    api = wait_page_matches_api(browser, worker.url + "/api/v1/live/national", timeout=30)
    assert api["periods"]["today"]["figures"]["received"] >= during > received0
    assert severe(browser.console()) == []


READ_DAY_CHART = """
const out = {};
document.querySelectorAll('#chart-days rect.bar').forEach(r => {
  const row = out[r.dataset.date] || (out[r.dataset.date] = {});
  row[r.classList.contains('received') ? 'received' : 'resolved'] = +r.dataset.value;
  row.height = Math.max(row.height || 0, +r.getAttribute('height'));
});
return out;
"""


def test_day_chart_draws_the_month_and_matches_the_api(worker: Worker, browser: Browser) -> None:
    deadline = time.monotonic() + 20
    while True:
        days = get_json(worker.url + "/api/v1/live/national")["days"]
        bars = browser.run(READ_DAY_CHART)
        want = {d["date"]: {"received": d["received"], "resolved": d["resolved"]} for d in days}
        got = {k: {"received": v.get("received"), "resolved": v.get("resolved")}
               for k, v in bars.items()}
        if got == want or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert got == want
    assert days[0]["date"].endswith("-01") and len(days) >= 1
    assert sum(d["received"] for d in days) > 0
    # bars of days with events are actually drawn (non-zero height)
    assert all(bars[d["date"]]["height"] > 0 for d in days if d["received"] or d["resolved"])
    assert browser.run("return document.querySelector('#chart-days .missing')") is None


COLUMN_VALUES = """
return Array.from(document.querySelectorAll('#units-body td[data-col="' + arguments[0] + '"]'))
  .map(td => td.dataset.value === '' ? null : +td.dataset.value);
"""


def test_table_sorts_switches_period_and_language(worker: Worker, browser: Browser) -> None:
    browser.run("document.querySelector('#units-head th[data-col=received]').click()")
    values = browser.run(COLUMN_VALUES, "received")
    assert len(values) == 34 and values == sorted(values, reverse=True) and values[0] > 0
    browser.run("document.querySelector('#units-head th[data-col=received]').click()")
    assert browser.run(COLUMN_VALUES, "received") == sorted(values)

    browser.run("document.querySelector('#period-switch [data-period=today]').click()")
    wait_page_matches_api(browser, worker.url + "/api/v1/live/national")
    assert browser.run(READ_PAGE)["period"] == "today"

    browser.run("document.getElementById('lang').click()")
    browser.wait_for("return document.documentElement.lang === 'en' && "
                     "document.getElementById('scope-name').textContent === 'Nationwide'")
    browser.run("document.getElementById('lang').click()")
    browser.wait_for("return document.getElementById('scope-name').textContent === 'Toàn quốc'")


def test_drill_down_to_a_province_and_back(worker: Worker, browser: Browser) -> None:
    national = get_json(worker.url + "/api/v1/live/national")
    busiest = max(national["children"],
                  key=lambda c: c["periods"]["today"]["figures"]["received"])
    browser.run("document.querySelector('#units-body tr[data-code=\"' + arguments[0] + '\"]')"
                ".click()", busiest["code"])
    province_url = f"{worker.url}/api/v1/live/provinces/{busiest['code']}"
    communes = get_json(province_url)["children"]
    browser.wait_for("return document.getElementById('scope-name').textContent === arguments[0]"
                     " && document.querySelectorAll('#units-body tr').length === arguments[1]",
                     busiest["name"], len(communes), timeout=20)
    api = wait_page_matches_api(browser, province_url)
    assert api["periods"]["today"]["figures"]["received"] > 0
    browser.run("document.getElementById('back').click()")
    browser.wait_for("return document.querySelectorAll('#units-body tr').length === 34 && "
                     "document.getElementById('scope-name').textContent === 'Toàn quốc'",
                     timeout=20)
    assert severe(browser.console()) == []


def test_stale_indicator_when_the_stream_stops(
    worker: Worker, browser: Browser, feed: EventFeed
) -> None:
    browser.get(worker.url + "/?stale_event_age_s=6")  # 300 s in config.json
    feed.send_tick()
    browser.wait_for("return document.getElementById('freshness').dataset.state === 'live'",
                     timeout=20)
    # no more events: the worker keeps pushing, but the newest event ages past 6 s
    browser.wait_for("return document.getElementById('freshness').dataset.state === 'stale'",
                     timeout=20)
    page = browser.run(READ_PAGE)
    assert page["banner"] and "Không nhận được sự kiện mới" in page["bannerText"]
    assert browser.run("return document.body.className") == "stale"
    feed.send_tick()
    browser.wait_for("return document.getElementById('freshness').dataset.state === 'live'",
                     timeout=20)
    assert severe(browser.console()) == []


def test_stale_indicator_when_the_worker_stops_then_reconnects(
    worker: Worker, browser: Browser, feed: EventFeed
) -> None:
    browser.get(worker.url + "/")
    browser.wait_for("return document.getElementById('freshness').dataset.state === 'live'",
                     timeout=20)
    worker.stop()
    stopped = time.monotonic()
    browser.wait_for("return document.getElementById('freshness').dataset.state === "
                     "'disconnected'", timeout=20)
    page = browser.run(READ_PAGE)
    assert page["banner"] and "Mất kết nối" in page["bannerText"]
    assert browser.run("return document.body.className") == "disconnected"
    assert time.monotonic() - stopped < 15

    worker.start()
    worker.wait_ready()
    feed.send_tick()
    updates = browser.run(READ_PAGE)["updates"]
    browser.wait_for("return +document.body.dataset.updates > arguments[0] && "
                     "document.getElementById('freshness').dataset.state === 'live'",
                     updates, timeout=60)
    wait_page_matches_api(browser, worker.url + "/api/v1/live/national")
