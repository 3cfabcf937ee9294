/* Hand-drawn SVG charts for the monitoring screen (no library, nothing fetched). */
"use strict";

var Charts = (function () {
  var W = 640, H = 200, PAD = { l: 44, r: 10, t: 10, b: 26 };
  var MINUTE = 60000;

  function niceMax(v) {
    if (v <= 4) { return 4; }
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) {
      if (steps[i] * p >= v) { return steps[i] * p; }
    }
    return 10 * p;
  }

  function frame(lang, maxV) {
    var parts = [];
    var innerH = H - PAD.t - PAD.b;
    for (var i = 0; i <= 4; i++) {
      var y = PAD.t + innerH - innerH * i / 4;
      parts.push('<line class="grid" x1="' + PAD.l + '" x2="' + (W - PAD.r) + '" y1="' + y +
        '" y2="' + y + '"/>');
      parts.push('<text class="tick" x="' + (PAD.l - 6) + '" y="' + (y + 4) +
        '" text-anchor="end">' + Fmt.count(lang, maxV * i / 4) + "</text>");
    }
    return parts.join("");
  }

  function svg(body, label) {
    return '<svg viewBox="0 0 ' + W + " " + H + '" role="img" aria-label="' + label +
      '" preserveAspectRatio="none">' + body + "</svg>";
  }

  function legend(t) {
    return '<div class="legend"><span class="sw received"></span>' + t.legend_received +
      '<span class="sw resolved"></span>' + t.legend_resolved + "</div>";
  }

  /* 60 one-minute buckets ending at the minute of asOf; missing minutes count 0. */
  function minuteSeries(lastHour, asOf) {
    var end = Math.floor(asOf.getTime() / MINUTE) * MINUTE;
    var byMinute = {};
    (lastHour || []).forEach(function (m) { byMinute[Date.parse(m.minute)] = m; });
    var out = [];
    for (var i = 59; i >= 0; i--) {
      var at = end - i * MINUTE;
      var m = byMinute[at] || { received: 0, resolved: 0 };
      out.push({ at: at, received: m.received || 0, resolved: m.resolved || 0 });
    }
    return out;
  }

  function polyline(points, cls) {
    return '<polyline class="line ' + cls + '" points="' + points.join(" ") + '"/>';
  }

  function minutes(el, lastHour, asOf, lang, t, tz) {
    var series = minuteSeries(lastHour, asOf);
    var maxV = niceMax(Math.max.apply(null, series.map(function (s) {
      return Math.max(s.received, s.resolved);
    })));
    var innerW = W - PAD.l - PAD.r, innerH = H - PAD.t - PAD.b;
    var x = function (i) { return (PAD.l + innerW * i / 59).toFixed(1); };
    var y = function (v) { return (PAD.t + innerH - innerH * v / maxV).toFixed(1); };
    var rec = [], res = [], labels = [];
    series.forEach(function (s, i) {
      rec.push(x(i) + "," + y(s.received));
      res.push(x(i) + "," + y(s.resolved));
      if (i % 15 === 14 || i === 0) {
        labels.push('<text class="tick" x="' + x(i) + '" y="' + (H - 8) +
          '" text-anchor="' + (i === 0 ? "start" : i === 59 ? "end" : "middle") + '">' + Fmt.hhmm(lang, tz, new Date(s.at)) + "</text>");
      }
    });
    var area = '<polygon class="area received" points="' + x(0) + "," + y(0) + " " +
      rec.join(" ") + " " + x(59) + "," + y(0) + '"/>';
    el.innerHTML = svg(frame(lang, maxV) + area + polyline(rec, "received") +
      polyline(res, "resolved") + labels.join(""), t.chart_minutes) + legend(t);
    el.dataset.points = String(series.length);
  }

  function days(el, dayList, lang, t) {
    if (!dayList || !dayList.length) {
      el.innerHTML = '<p class="missing">' + t.chart_days_missing + "</p>";
      el.dataset.points = "0";
      return;
    }
    var maxV = niceMax(Math.max.apply(null, dayList.map(function (d) {
      return Math.max(d.received || 0, d.resolved || 0);
    })));
    var innerW = W - PAD.l - PAD.r, innerH = H - PAD.t - PAD.b;
    var slot = innerW / dayList.length, bw = Math.max(1, slot * 0.38);
    var parts = [frame(lang, maxV)];
    dayList.forEach(function (d, i) {
      var x0 = PAD.l + slot * i + slot * 0.1;
      [["received", d.received || 0, 0], ["resolved", d.resolved || 0, 1]].forEach(function (b) {
        var h = innerH * b[1] / maxV;
        parts.push('<rect class="bar ' + b[0] + '" data-date="' + d.date + '" data-value="' +
          b[1] + '" x="' + (x0 + bw * b[2]).toFixed(1) +
          '" y="' + (PAD.t + innerH - h).toFixed(1) + '" width="' + bw.toFixed(1) +
          '" height="' + h.toFixed(1) + '"><title>' + Fmt.dayMonth(d.date) + ": " +
          Fmt.count(lang, b[1]) + "</title></rect>");
      });
      if (i % Math.ceil(dayList.length / 10) === 0 || i === dayList.length - 1) {
        parts.push('<text class="tick" x="' + (x0 + bw).toFixed(1) + '" y="' + (H - 8) +
          '" text-anchor="middle">' + Fmt.dayMonth(d.date) + "</text>");
      }
    });
    el.innerHTML = svg(parts.join(""), t.chart_days) + legend(t);
    el.dataset.points = String(dayList.length);
  }

  return { minutes: minutes, days: days, minuteSeries: minuteSeries };
})();
