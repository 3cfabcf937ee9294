/* Formatting helpers for the monitoring screen: numbers, rates, money, ages, times.
   Every function takes the language explicitly; nothing here touches the DOM. */
"use strict";

var Fmt = (function () {
  var LOCALES = { vi: "vi-VN", en: "en-GB" };
  var cache = {};

  function nf(lang, opts, key) {
    var k = lang + "|" + key;
    if (!cache[k]) { cache[k] = new Intl.NumberFormat(LOCALES[lang] || "vi-VN", opts); }
    return cache[k];
  }

  function count(lang, v) {
    if (v === null || v === undefined) { return "–"; }
    return nf(lang, { maximumFractionDigits: 0 }, "int").format(v);
  }

  function rate(lang, v) {
    if (v === null || v === undefined) { return "–"; }
    return nf(lang, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 },
      "pct").format(v);
  }

  function decimal(lang, v, digits) {
    return nf(lang, { minimumFractionDigits: digits, maximumFractionDigits: digits },
      "d" + digits).format(v);
  }

  /* 1 234 567 890 đ -> "1,23 tỷ đ" (vi) / "VND 1.23 bn" (en). */
  function money(lang, t, v) {
    if (v === null || v === undefined) { return "–"; }
    var text;
    if (Math.abs(v) >= 1e9) { text = decimal(lang, v / 1e9, 2) + " " + t.unit_billion; }
    else if (Math.abs(v) >= 1e6) { text = decimal(lang, v / 1e6, 1) + " " + t.unit_million; }
    else { text = count(lang, v); }
    return lang === "en" ? t.currency + " " + text : text + " " + t.currency;
  }

  function duration(lang, t, seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) { return "–"; }
    var s = Math.max(0, seconds);
    if (s < 10) { return decimal(lang, s, 1) + " " + t.seconds_short; }
    if (s < 90) { return count(lang, Math.round(s)) + " " + t.seconds_short; }
    if (s < 5400) { return count(lang, Math.round(s / 60)) + " " + t.minutes_short; }
    return decimal(lang, s / 3600, 1) + " " + t.hours_short;
  }

  function clock(lang, tz, date) {
    return new Intl.DateTimeFormat(LOCALES[lang] || "vi-VN", {
      timeZone: tz, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false
    }).format(date);
  }

  function hhmm(lang, tz, date) {
    return new Intl.DateTimeFormat(LOCALES[lang] || "vi-VN", {
      timeZone: tz, hour: "2-digit", minute: "2-digit", hour12: false
    }).format(date);
  }

  /* "2026-11-15" -> "15/11" */
  function dayMonth(isoDate) {
    if (!isoDate) { return ""; }
    var p = isoDate.split("-");
    return p[2] + "/" + p[1];
  }

  /* Colour class of a rate against its target: good, warn, bad or none (no target for the
     period, or no rate). */
  function rateClass(target, v, period) {
    if (v === null || v === undefined || !target) { return "none"; }
    if (target.periods && target.periods.indexOf(period) < 0) { return "none"; }
    if (v >= target.target) { return "good"; }
    if (v >= target.target - target.warn_margin) { return "warn"; }
    return "bad";
  }

  return {
    count: count, rate: rate, money: money, duration: duration, clock: clock,
    hhmm: hhmm, dayMonth: dayMonth, rateClass: rateClass
  };
})();
