-- The inputs of the official rates per month and province (34 provinces x 12 months a year):
-- the national dashboards' per-province monthly resolution and clearance rates read a few
-- hundred rows instead of the full metric grain. Fed from metrics_daily (so net of
-- corrections, deduplicated like it). Backfilled once from metrics_monthly_province when the
-- table is created on a database that already holds data (run migrations with sinks stopped,
-- as `antt sink` does before it starts consuming).

CREATE TABLE IF NOT EXISTS {db}.official_monthly_province
(
    month                Date,
    province_code        LowCardinality(String),
    received             Int64,
    resolved             Int64,
    resumed              Int64,
    instituted           Int64,
    cleared              Int64,
    cleared_very_serious Int64
)
ENGINE = SummingMergeTree
ORDER BY (province_code, month)
SETTINGS non_replicated_deduplication_window = 10000;

INSERT INTO {db}.official_monthly_province
SELECT month, province_code,
       sumIf(events, metric = 'received'), sumIf(events, metric = 'resolved'),
       sumIf(events, metric = 'resumed'),
       sumIf(events, metric = 'resolved' AND detail = 'institute'),
       sumIf(events, metric = 'cleared'),
       sumIf(events, metric = 'cleared' AND detail IN ('very_serious', 'especially_serious'))
FROM {db}.metrics_monthly_province
WHERE metric IN ('received', 'resolved', 'resumed', 'cleared')
  AND (SELECT count() FROM {db}.official_monthly_province) = 0
GROUP BY month, province_code;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.official_monthly_province_mv
TO {db}.official_monthly_province AS
SELECT toStartOfMonth(day) AS month, province_code,
       sumIf(events, metric = 'received') AS received,
       sumIf(events, metric = 'resolved') AS resolved,
       sumIf(events, metric = 'resumed') AS resumed,
       sumIf(events, metric = 'resolved' AND detail = 'institute') AS instituted,
       sumIf(events, metric = 'cleared') AS cleared,
       sumIf(events, metric = 'cleared'
             AND detail IN ('very_serious', 'especially_serious')) AS cleared_very_serious
FROM {db}.metrics_daily
WHERE metric IN ('received', 'resolved', 'resumed', 'cleared')
GROUP BY month, province_code;
