/* The monitoring screen: receives live snapshots pushed by the worker (Server-Sent Events)
   and renders headline cards, two charts, the unit table and the freshness indicator.
   The snapshot shape is the live API's (docs/architecture.md, "Live API"). */
"use strict";

(function () {
  var CARDS = [
    { id: "received" }, { id: "resolved" },
    { id: "resolution_rate", kind: "rate" }, { id: "on_time_rate", kind: "rate" },
    { id: "overdue", kind: "backlog" },
    { id: "cleared" }, { id: "clearance_rate", kind: "rate" },
    { id: "suspects" }, { id: "admin_violations" }, { id: "fines_vnd", kind: "money" }
  ];
  var COLUMNS = [
    { id: "name", kind: "text" }, { id: "received" }, { id: "resolved" },
    { id: "resolution_rate", kind: "rate" }, { id: "on_time_rate", kind: "rate" },
    { id: "overdue", kind: "backlog" }, { id: "cleared" },
    { id: "clearance_rate", kind: "rate" }, { id: "suspects" },
    { id: "admin_violations" }, { id: "fines_vnd", kind: "money" }
  ];
  var PERIODS = ["today", "stat_month", "month", "ytd"];

  var S = {
    cfg: null, dict: null, lang: "vi", scope: { kind: "national", code: null },
    snap: null, lastMsgAt: 0, skewMs: 0, updates: 0, period: "today",
    sort: { col: "code", dir: 1 }, names: {}, es: null, retryTimer: null, connectedAt: 0,
    lastKind: null
  };

  function $(id) { return document.getElementById(id); }
  function t() { return S.dict[S.lang]; }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  /* ---- values ---------------------------------------------------------------------- */

  function figure(unit, period, id) {
    var p = unit && unit.periods && unit.periods[period];
    return p && p.figures ? p.figures[id] : null;
  }

  function cellValue(unit, col, period) {
    if (col.id === "name") { return unit.name || unit.code; }
    if (col.id === "code") { return unit.code; }
    if (col.kind === "backlog") { return unit.backlog ? unit.backlog.overdue : null; }
    return figure(unit, period, col.id);
  }

  function show(kind, v) {
    if (kind === "rate") { return Fmt.rate(S.lang, v); }
    if (kind === "money") { return Fmt.money(S.lang, t(), v); }
    if (kind === "text") { return esc(v); }
    return Fmt.count(S.lang, v);
  }

  function rateCls(id, v, period) {
    return "rate-" + Fmt.rateClass(S.cfg.targets[id], v, period);
  }

  function periodRange(period) {
    var p = S.snap && S.snap.periods && S.snap.periods[period];
    if (!p) { return ""; }
    return p.start === p.end ? Fmt.dayMonth(p.start)
      : Fmt.dayMonth(p.start) + "–" + Fmt.dayMonth(p.end);
  }

  function periodLabel(period) {
    return period === "stat_month" ? t()[period] + " " + periodRange(period) : t()[period];
  }

  /* ---- rendering ------------------------------------------------------------------- */

  function renderCard(c) {
    var snap = S.snap, tr = t(), first, second, firstLabel, secondLabel, cls = "";
    if (c.kind === "backlog") {
      first = snap.backlog ? snap.backlog.overdue : null;
      second = snap.backlog ? snap.backlog.open : null;
      firstLabel = tr.now; secondLabel = tr.open;
      cls = first > 0 ? "alert" : "";
    } else {
      first = figure(snap, "today", c.id); second = figure(snap, "stat_month", c.id);
      firstLabel = tr.today; secondLabel = tr.stat_month;
    }
    var kind = c.kind === "backlog" ? "count" : c.kind;
    if (c.kind === "money") { cls = "money"; }
    var c1 = c.kind === "rate" ? rateCls(c.id, first, "today") : cls;
    var c2 = c.kind === "rate" ? rateCls(c.id, second, "stat_month")
      : c.kind === "money" ? "money" : "";
    var target = c.kind === "rate" && S.cfg.targets[c.id]
      ? '<div class="target">' + tr.target + " " + Fmt.rate(S.lang, S.cfg.targets[c.id].target) +
        "</div>" : "";
    return '<div class="card" data-card="' + c.id + '"><div class="label">' + tr[c.id] +
      '</div><div class="pair"><div class="first"><span class="plabel">' + esc(firstLabel) +
      '</span><span class="value big ' + c1 + '" data-period="' +
      (c.kind === "backlog" ? "now" : "today") + '" data-value="' + (first === null ? "" : first) +
      '">' + show(kind, first) + '</span></div><div class="second"><span class="plabel">' +
      esc(secondLabel) + '</span><span class="value ' + c2 + '" data-period="' +
      (c.kind === "backlog" ? "open" : "stat_month") + '" data-value="' +
      (second === null ? "" : second) + '">' + show(kind, second) + "</span></div></div>" +
      target + "</div>";
  }

  function renderCards() {
    var tr = t();
    $("periods-line").innerHTML = "<b>" + tr.today + "</b> " + esc(periodRange("today")) +
      " · <b>" + tr.stat_month + "</b> " + esc(periodRange("stat_month"));
    $("cards").innerHTML = CARDS.map(renderCard).join("");
  }

  function renderHead() {
    var tr = t();
    $("units-head").innerHTML = COLUMNS.map(function (c) {
      var label = c.id === "name" ? (S.scope.kind === "national" ? tr.province : tr.commune)
        : tr["col_" + c.id];
      var arrow = S.sort.col === c.id ? (S.sort.dir > 0 ? " ▲" : " ▼") : "";
      return '<th data-col="' + c.id + '" title="' + esc(tr[c.id] || label) + '" class="' +
        (c.kind === "text" ? "text" : "num") + '">' + esc(label) + arrow + "</th>";
    }).join("");
  }

  function sortedRows() {
    var rows = (S.snap.children || []).slice();
    var col = S.sort.col === "code" ? { id: "code" }
      : COLUMNS.filter(function (c) { return c.id === S.sort.col; })[0];
    rows.sort(function (a, b) {
      var va = cellValue(a, col, S.period), vb = cellValue(b, col, S.period);
      if (va === null || va === undefined) { return 1; }
      if (vb === null || vb === undefined) { return -1; }
      if (typeof va === "string") { return S.sort.dir * va.localeCompare(vb, "vi"); }
      return S.sort.dir * (va - vb);
    });
    return rows;
  }

  function renderRow(unit) {
    var clickable = S.scope.kind === "national";
    return '<tr data-code="' + esc(unit.code) + '"' + (clickable ? ' class="drill" tabindex="0"' : "") +
      ">" + COLUMNS.map(function (c) {
        var v = cellValue(unit, c, S.period);
        var cls = c.kind === "text" ? "text" : "num";
        if (c.kind === "rate") { cls += " " + rateCls(c.id, v, S.period); }
        if (c.kind === "backlog" && v > 0) { cls += " alert"; }
        return '<td data-col="' + c.id + '" data-value="' + esc(v === null || v === undefined ? "" : v) +
          '" class="' + cls + '">' + show(c.kind, v) + "</td>";
      }).join("") + "</tr>";
  }

  function renderTable() {
    renderHead();
    var rows = sortedRows();
    $("units-body").innerHTML = rows.map(renderRow).join("");
    $("units").dataset.rows = String(rows.length);
    var tr = t();
    $("table-title").textContent = (S.scope.kind === "national" ? tr.table_provinces
      : tr.table_communes) + " (" + rows.length + ")";
    $("table-hint").textContent = S.scope.kind === "national" ? tr.table_hint
      : tr.table_hint_communes;
    Array.prototype.forEach.call($("period-switch").children, function (b) {
      b.textContent = periodLabel(b.dataset.period);
      b.classList.toggle("on", b.dataset.period === S.period);
    });
  }

  function renderHeader() {
    var tr = t(), snap = S.snap;
    var national = S.scope.kind === "national";
    $("back").hidden = national;
    var name = national ? tr.national
      : (snap && snap.name) || S.names[S.scope.code] || S.scope.code;
    $("scope-name").textContent = name;
    if (snap) {
      $("as-of").textContent = Fmt.clock(S.lang, S.cfg.timezone, new Date(snap.as_of));
      $("as-of").setAttribute("datetime", snap.as_of);
    }
  }

  function render() {
    if (!S.snap) { return; }
    renderHeader();
    renderCards();
    Charts.minutes($("chart-minutes"), S.snap.last_hour, new Date(S.snap.as_of), S.lang, t(),
      S.cfg.timezone);
    Charts.days($("chart-days"), S.snap.days, S.lang, t());
    renderTable();
    updateFreshness();
  }

  /* ---- freshness ------------------------------------------------------------------- */

  /* Pure: the indicator's state from the clock, the last push and the snapshot. */
  function freshness(nowMs) {
    var f = S.cfg.freshness, snap = S.snap;
    var silent = (nowMs - S.lastMsgAt) / 1000;
    var heard = S.lastMsgAt > 0;
    if (!snap) {
      var early = !heard ? "connecting" : silent > f.disconnected_after_s ? "disconnected"
        : S.lastKind === "unavailable" ? "notready" : "connecting";
      return { state: early, age: null, lag: null };
    }
    var fr = snap.freshness || {};
    var serverNow = nowMs - S.skewMs;
    var age = fr.newest_event_at ? (serverNow - Date.parse(fr.newest_event_at)) / 1000 : null;
    var state = "live";
    if (silent > f.disconnected_after_s) { state = "disconnected"; }
    else if (S.lastKind === "unavailable") { state = "notready"; }
    else if (age === null || age > f.stale_event_age_s) { state = "stale"; }
    return { state: state, age: age, lag: fr.lag_seconds, count: fr.events_counted };
  }

  function updateFreshness() {
    var fr = freshness(Date.now()), tr = t();
    var box = $("freshness");
    box.dataset.state = fr.state;
    document.body.className = fr.state;
    var labels = { live: tr.live, stale: tr.stale, disconnected: tr.stale, notready: tr.stale,
      connecting: tr.connecting };
    $("fresh-label").textContent = labels[fr.state];
    $("fresh-age").textContent = fr.age === null ? tr.no_events
      : Fmt.duration(S.lang, tr, fr.age) + " " + tr.ago;
    $("fresh-lag").textContent = Fmt.duration(S.lang, tr, fr.lag);
    $("fresh-lag").className = fr.lag > S.cfg.freshness.lag_warn_s ? "warn" : "";
    $("fresh-count").textContent = Fmt.count(S.lang, fr.count);
    var banner = $("banner");
    if (fr.state === "disconnected") { banner.textContent = tr.disconnected; }
    else if (fr.state === "notready") { banner.textContent = tr.not_ready; }
    else if (fr.state === "stale") {
      banner.textContent = tr.stale_banner.replace("{age}",
        fr.age === null ? tr.no_events : Fmt.duration(S.lang, tr, fr.age));
    }
    banner.hidden = !(fr.state === "disconnected" || fr.state === "stale" ||
      fr.state === "notready");
    banner.dataset.state = fr.state;
    var quiet = Date.now() - S.connectedAt > S.cfg.freshness.disconnected_after_s * 1000;
    if (fr.state === "disconnected" && quiet && S.es && S.es.readyState === EventSource.OPEN) {
      connect(); /* open but silent: the socket is dead without us being told */
    }
  }

  /* ---- push channel ---------------------------------------------------------------- */

  function streamUrl() {
    return (S.scope.kind === "national" ? "/api/v1/live/stream/national"
      : "/api/v1/live/stream/provinces/" + encodeURIComponent(S.scope.code)) + "?view=screen";
  }

  function onSnapshot(ev) {
    var snap = JSON.parse(ev.data);
    var wanted = S.scope.kind === "national" ? "national" : S.scope.code;
    if ((snap.scope === "national" ? "national" : snap.code) !== wanted) { return; }
    S.snap = snap;
    S.lastKind = "snapshot";
    S.lastMsgAt = Date.now();
    S.skewMs = S.lastMsgAt - Date.parse(snap.as_of);
    S.updates += 1;
    document.body.dataset.updates = String(S.updates);
    render();
  }

  function connect() {
    if (S.es) { S.es.close(); }
    clearTimeout(S.retryTimer);
    var es = new EventSource(streamUrl());
    S.es = es;
    S.connectedAt = Date.now();
    es.addEventListener("snapshot", onSnapshot);
    es.addEventListener("unavailable", function () {
      S.lastKind = "unavailable";
      S.lastMsgAt = Date.now();
      updateFreshness();
    });
    es.onerror = function () {
      if (es.readyState === EventSource.CLOSED && S.es === es) {
        S.retryTimer = setTimeout(connect, S.cfg.reconnect_delay_s * 1000);
      }
    };
  }

  /* ---- navigation and language ------------------------------------------------------ */

  function route() {
    var m = /^#\/tinh\/(\d{2})$/.exec(location.hash);
    S.scope = m ? { kind: "province", code: m[1] } : { kind: "national", code: null };
    S.snap = null;
    S.lastMsgAt = 0;
    S.lastKind = null;
    S.sort = { col: "code", dir: 1 };
    $("units-body").innerHTML = "";
    renderHeader();
    connect();
  }

  function applyLanguage() {
    var tr = t();
    document.documentElement.lang = S.lang;
    document.title = tr.title;
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (el) {
      el.textContent = tr[el.dataset.i18n];
    });
    $("lang").textContent = tr.switch_to;
    $("legend-rates").innerHTML = ["good", "warn", "bad"].map(function (k) {
      return '<span class="chip rate-' + k + '">' + tr["rate_" + k] + "</span>";
    }).join("");
    renderHeader();
    render();
  }

  function wire() {
    $("period-switch").innerHTML = PERIODS.map(function (p) {
      return '<button type="button" data-period="' + p + '">' + p + "</button>";
    }).join("");
    $("period-switch").addEventListener("click", function (e) {
      var p = e.target.dataset && e.target.dataset.period;
      if (p) { S.period = p; render(); }
    });
    $("units-head").addEventListener("click", function (e) {
      var col = e.target.closest("th") && e.target.closest("th").dataset.col;
      if (!col) { return; }
      S.sort = { col: col, dir: S.sort.col === col ? -S.sort.dir : (col === "name" ? 1 : -1) };
      render();
    });
    $("units-body").addEventListener("click", function (e) {
      var row = e.target.closest("tr.drill");
      if (row) { location.hash = "#/tinh/" + row.dataset.code; }
    });
    $("units-body").addEventListener("keydown", function (e) {
      var row = e.target.closest("tr.drill");
      if (row && e.key === "Enter") { location.hash = "#/tinh/" + row.dataset.code; }
    });
    $("lang").addEventListener("click", function () {
      S.lang = S.lang === "vi" ? "en" : "vi";
      try { localStorage.setItem("antt.lang", S.lang); } catch (err) { /* private mode */ }
      applyLanguage();
    });
    window.addEventListener("hashchange", route);
    setInterval(updateFreshness, 500);
  }

  /* Freshness thresholds may be overridden in the address, e.g. "/?stale_event_age_s=30"
     (drills and tests); anything else in the query is ignored. */
  function applyOverrides(cfg) {
    var params = new URLSearchParams(location.search);
    Object.keys(cfg.freshness).forEach(function (k) {
      var v = parseFloat(params.get(k));
      if (isFinite(v) && v > 0) { cfg.freshness[k] = v; }
    });
  }

  function start(cfg, dict) {
    applyOverrides(cfg);
    S.cfg = cfg; S.dict = dict;
    S.period = cfg.default_table_period || "today";
    var saved = null;
    try { saved = localStorage.getItem("antt.lang"); } catch (err) { /* private mode */ }
    S.lang = saved === "en" || saved === "vi" ? saved : (cfg.default_language || "vi");
    wire();
    applyLanguage();
    route();
  }

  Promise.all([
    fetch("/screen/config.json").then(function (r) { return r.json(); }),
    fetch("/screen/i18n.json").then(function (r) { return r.json(); }),
    fetch("/screen/provinces.json").then(function (r) { return r.json(); })
  ]).then(function (res) { S.names = res[2]; start(res[0], res[1]); });
})();
