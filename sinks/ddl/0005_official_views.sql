-- Official-metric views (definitions: docs/live-api.md, docs/analysts.md). They read the
-- aggregates, never raw facts, except on-time and backlog figures, which need incident state.

-- Volumes per reporting period (every period type of dim_reporting_calendar) and province.
CREATE VIEW IF NOT EXISTS {db}.metrics_by_period AS
SELECT
    c.period_type AS period_type, c.period_start AS period_start, c.period_end AS period_end,
    any(c.period_label) AS period_label, m.province_code AS province_code,
    sumIf(m.events, m.metric = 'received') AS received,
    sumIf(m.events, m.metric = 'accepted') AS accepted,
    sumIf(m.events, m.metric = 'transferred') AS transferred,
    sumIf(m.events, m.metric = 'not_crime') AS not_crime,
    sumIf(m.events, m.metric = 'resolved') AS resolved,
    sumIf(m.events, m.metric = 'resolved' AND m.detail = 'institute') AS instituted,
    sumIf(m.events, m.metric = 'resolved' AND m.detail = 'decline') AS declined,
    sumIf(m.events, m.metric = 'resolved' AND m.detail = 'suspend') AS suspended,
    sumIf(m.events, m.metric = 'resumed') AS resumed,
    sumIf(m.events, m.metric = 'cleared') AS cleared,
    sumIf(m.events, m.metric = 'cleared'
          AND m.detail IN ('very_serious', 'especially_serious')) AS cleared_very_serious,
    sumIf(m.value, m.metric = 'suspects') AS suspects,
    sumIf(m.value, m.metric = 'admin_violations') AS admin_violations,
    sumIf(m.value, m.metric = 'admin_sanctioned') AS admin_sanctioned,
    sumIf(m.value, m.metric = 'admin_violators') AS admin_violators,
    sumIf(m.value, m.metric = 'fines_vnd') AS fines_vnd
FROM {db}.metrics_daily_province AS m
INNER JOIN {db}.dim_reporting_calendar AS c ON c.date = m.day
GROUP BY period_type, period_start, period_end, province_code;

-- Resolutions and on-time resolutions per period (by the resolution's occurred_at date).
CREATE VIEW IF NOT EXISTS {db}.on_time_by_period AS
SELECT c.period_type AS period_type, c.period_start AS period_start,
       r.province_code AS province_code,
       count() AS resolved, sum(r.on_time) AS resolved_on_time
FROM
(
    SELECT province_code, toDate(res.2, '{tz}') AS day, res.4 AS on_time
    FROM {db}.incidents_current
    ARRAY JOIN resolutions AS res
) AS r
INNER JOIN {db}.dim_reporting_calendar AS c ON c.date = r.day
GROUP BY period_type, period_start, province_code;

-- The official rates per period and province.
--   carried_over    = reports open at period start = sum over earlier periods of
--                     (received - resolved + resumed)
--   resolution_rate = resolved / (carried_over + received)
--   clearance_rate  = cleared / instituted
--   on_time_rate    = resolved_on_time / resolved
--   received_change_vs_last_year = received / received(same period a year earlier) - 1
CREATE VIEW IF NOT EXISTS {db}.official_metrics_by_period AS
WITH base AS
(
    SELECT *,
           sum(received - resolved + resumed) OVER (
               PARTITION BY period_type, province_code ORDER BY period_start
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS carried_over_raw
    FROM {db}.metrics_by_period
)
SELECT
    b.period_type AS period_type, b.period_start AS period_start, b.period_end AS period_end,
    b.period_label AS period_label, b.province_code AS province_code,
    b.received AS received, b.resolved AS resolved, b.instituted AS instituted,
    b.cleared AS cleared, b.cleared_very_serious AS cleared_very_serious,
    greatest(b.carried_over_raw, 0) AS carried_over,
    if(carried_over + b.received = 0, NULL,
       round(b.resolved / (carried_over + b.received), 4)) AS resolution_rate,
    if(b.instituted = 0, NULL, round(b.cleared / b.instituted, 4)) AS clearance_rate,
    t.resolved_on_time AS resolved_on_time,
    if(t.resolved = 0, NULL, round(t.resolved_on_time / t.resolved, 4)) AS on_time_rate,
    p.received AS received_last_year,
    if(p.received = 0, NULL, round(b.received / p.received - 1, 4))
        AS received_change_vs_last_year,
    if(p.cleared = 0, NULL, round(b.cleared / p.cleared - 1, 4))
        AS cleared_change_vs_last_year
FROM base AS b
LEFT JOIN {db}.on_time_by_period AS t
    ON t.period_type = b.period_type AND t.period_start = b.period_start
   AND t.province_code = b.province_code
LEFT JOIN
(
    SELECT period_type, addYears(period_start, 1) AS next_year_start, province_code,
           received, cleared
    FROM {db}.metrics_by_period
) AS p
    ON p.period_type = b.period_type AND p.next_year_start = b.period_start
   AND p.province_code = b.province_code
SETTINGS join_use_nulls = 0;

-- Open and overdue reports right now (overdue: the due date, a local date, has passed).
-- The backlog moves with the clock, not only with events.
CREATE VIEW IF NOT EXISTS {db}.backlog_current AS
SELECT province_code,
       countIf(is_open) AS open,
       countIf(is_open AND due_date < toDate(now(), '{tz}')) AS overdue
FROM {db}.incidents_current
GROUP BY province_code;
