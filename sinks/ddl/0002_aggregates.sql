-- Aggregates kept by materialized views. Every event becomes one or more metric rows
-- (metric, detail, events = 1, value = amount); a retracted (corrected) event becomes the same
-- rows with events = -1 and value = -amount, so a correction's net effect is its own rows only.
-- The views pre-aggregate each inserted block (GROUP BY), so far fewer rows are written.
-- Duplicates never reach these tables: the sink writes each event_id once, and a re-sent block
-- carries the same insert_deduplication_token, which also deduplicates dependent views.

CREATE TABLE IF NOT EXISTS {db}.metrics_daily
(
    day           Date,
    province_code LowCardinality(String),
    commune_code  LowCardinality(String),
    crime_group   LowCardinality(String),
    metric        LowCardinality(String),
    detail        LowCardinality(String),
    events        Int64,
    value         Int64
)
ENGINE = SummingMergeTree((events, value))
PARTITION BY toYYYYMM(day)
ORDER BY (province_code, metric, day, commune_code, crime_group, detail)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.metrics_daily_from_raw_mv TO {db}.metrics_daily AS
SELECT event_date AS day, province_code, commune_code, crime_group,
       m.1 AS metric, m.2 AS detail, toInt64(count()) AS events, toInt64(sum(m.3)) AS value
FROM {db}.events_raw
ARRAY JOIN multiIf(
    event_type = 'report_received', [('received', toString(source_type), toUInt64(1))],
    event_type = 'report_triaged', [(toString(outcome), '', toUInt64(1))],
    event_type = 'report_forwarded', [('forwarded', toString(handled_by), toUInt64(1))],
    event_type = 'deadline_extended', [('extended', toString(extension), toUInt64(1))],
    event_type = 'report_resolved', [('resolved', toString(decision), toUInt64(1))],
    event_type = 'report_resumed', [('resumed', toString(resume_reason), toUInt64(1))],
    event_type = 'offence_cleared', [('cleared', toString(severity), toUInt64(1)),
                                     ('cleared_suspects', toString(severity), toUInt64(suspects_count))],
    event_type = 'suspects_apprehended', [('suspects', '', toUInt64(apprehended_count))],
    event_type = 'admin_violation_sanctioned', [
        ('admin_violations', toString(admin_field), toUInt64(violations_detected)),
        ('admin_sanctioned', toString(admin_field), toUInt64(violations_sanctioned)),
        ('admin_violators', toString(admin_field), toUInt64(violators)),
        ('fines_vnd', toString(admin_field), toUInt64(fine_vnd))],
    CAST([], 'Array(Tuple(String, String, UInt64))')) AS m
GROUP BY day, province_code, commune_code, crime_group, metric, detail;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.metrics_daily_from_retracted_mv TO {db}.metrics_daily AS
SELECT event_date AS day, province_code, commune_code, crime_group,
       m.1 AS metric, m.2 AS detail, -toInt64(count()) AS events, -toInt64(sum(m.3)) AS value
FROM {db}.events_retracted
ARRAY JOIN multiIf(
    event_type = 'report_received', [('received', toString(source_type), toUInt64(1))],
    event_type = 'report_triaged', [(toString(outcome), '', toUInt64(1))],
    event_type = 'report_forwarded', [('forwarded', toString(handled_by), toUInt64(1))],
    event_type = 'deadline_extended', [('extended', toString(extension), toUInt64(1))],
    event_type = 'report_resolved', [('resolved', toString(decision), toUInt64(1))],
    event_type = 'report_resumed', [('resumed', toString(resume_reason), toUInt64(1))],
    event_type = 'offence_cleared', [('cleared', toString(severity), toUInt64(1)),
                                     ('cleared_suspects', toString(severity), toUInt64(suspects_count))],
    event_type = 'suspects_apprehended', [('suspects', '', toUInt64(apprehended_count))],
    event_type = 'admin_violation_sanctioned', [
        ('admin_violations', toString(admin_field), toUInt64(violations_detected)),
        ('admin_sanctioned', toString(admin_field), toUInt64(violations_sanctioned)),
        ('admin_violators', toString(admin_field), toUInt64(violators)),
        ('fines_vnd', toString(admin_field), toUInt64(fine_vnd))],
    CAST([], 'Array(Tuple(String, String, UInt64))')) AS m
GROUP BY day, province_code, commune_code, crime_group, metric, detail;

-- Coarser grains, fed from metrics_daily (so they see exactly the same rows).
CREATE TABLE IF NOT EXISTS {db}.metrics_daily_province
(
    day           Date,
    province_code LowCardinality(String),
    crime_group   LowCardinality(String),
    metric        LowCardinality(String),
    detail        LowCardinality(String),
    events        Int64,
    value         Int64
)
ENGINE = SummingMergeTree((events, value))
PARTITION BY toYear(day)
ORDER BY (metric, province_code, day, crime_group, detail)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.metrics_daily_province_mv
TO {db}.metrics_daily_province AS
SELECT day, province_code, crime_group, metric, detail, sum(events) AS events,
       sum(value) AS value
FROM {db}.metrics_daily
GROUP BY day, province_code, crime_group, metric, detail;

CREATE TABLE IF NOT EXISTS {db}.metrics_monthly_province
(
    month         Date,
    province_code LowCardinality(String),
    crime_group   LowCardinality(String),
    metric        LowCardinality(String),
    detail        LowCardinality(String),
    events        Int64,
    value         Int64
)
ENGINE = SummingMergeTree((events, value))
ORDER BY (metric, province_code, month, crime_group, detail)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.metrics_monthly_province_mv
TO {db}.metrics_monthly_province AS
SELECT toStartOfMonth(day) AS month, province_code, crime_group, metric, detail,
       sum(events) AS events, sum(value) AS value
FROM {db}.metrics_daily
GROUP BY month, province_code, crime_group, metric, detail;
