-- Raw facts: every valid event the sink accepted, one row per distinct event_id.
-- Type-specific fields are '' / 0 when the event type does not carry them.
-- Placeholders: {db} (database), {tz} (statistics time zone, Asia/Ho_Chi_Minh).

CREATE DATABASE IF NOT EXISTS {db};

CREATE TABLE IF NOT EXISTS {db}.events_raw
(
    event_id              UUID,
    event_type            LowCardinality(String),
    schema_version        UInt8,
    incident_id           String,
    province_code         LowCardinality(String),
    commune_code          LowCardinality(String),
    code_regime           LowCardinality(String),
    legacy_province_code  LowCardinality(String) DEFAULT '',
    legacy_commune_code   String DEFAULT '',
    occurred_at           DateTime64(3, 'UTC'),
    recorded_at           DateTime64(3, 'UTC'),
    event_date            Date DEFAULT toDate(occurred_at, '{tz}'),
    source_system         LowCardinality(String),
    corrects_event_id     Nullable(UUID),
    source_type           LowCardinality(String) DEFAULT '',
    channel               LowCardinality(String) DEFAULT '',
    crime_group           LowCardinality(String) DEFAULT '',
    severity              LowCardinality(String) DEFAULT '',
    outcome               LowCardinality(String) DEFAULT '',
    handled_by            LowCardinality(String) DEFAULT '',
    extension             LowCardinality(String) DEFAULT '',
    months                UInt8 DEFAULT 0,
    decision              LowCardinality(String) DEFAULT '',
    suspension_reason     LowCardinality(String) DEFAULT '',
    resume_reason         LowCardinality(String) DEFAULT '',
    suspects_count        UInt32 DEFAULT 0,
    apprehended_count     UInt32 DEFAULT 0,
    admin_field           LowCardinality(String) DEFAULT '',
    violations_detected   UInt32 DEFAULT 0,
    violations_sanctioned UInt32 DEFAULT 0,
    violators             UInt32 DEFAULT 0,
    fine_vnd              UInt64 DEFAULT 0,
    kafka_topic           LowCardinality(String),
    kafka_partition       UInt32,
    kafka_offset          UInt64,
    ingested_at           DateTime64(3, 'UTC'),
    INDEX idx_event_id event_id TYPE bloom_filter GRANULARITY 4,
    CONSTRAINT occurred_after_2000 CHECK occurred_at >= toDateTime64('2000-01-01 00:00:00', 3, 'UTC'),
    CONSTRAINT known_event_type CHECK event_type IN ('report_received', 'report_triaged',
        'report_forwarded', 'deadline_extended', 'report_resolved', 'report_resumed',
        'offence_cleared', 'suspects_apprehended', 'admin_violation_sanctioned')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_date)
ORDER BY (province_code, event_date, event_type, commune_code, event_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- Events whose contribution was withdrawn by a correction (a copy of the corrected row,
-- same columns as events_raw).
-- Materialized views subtract these rows from every aggregate and from incidents.
CREATE TABLE IF NOT EXISTS {db}.events_retracted
(
    event_id              UUID,
    event_type            LowCardinality(String),
    schema_version        UInt8,
    incident_id           String,
    province_code         LowCardinality(String),
    commune_code          LowCardinality(String),
    code_regime           LowCardinality(String),
    legacy_province_code  LowCardinality(String) DEFAULT '',
    legacy_commune_code   String DEFAULT '',
    occurred_at           DateTime64(3, 'UTC'),
    recorded_at           DateTime64(3, 'UTC'),
    event_date            Date DEFAULT toDate(occurred_at, '{tz}'),
    source_system         LowCardinality(String),
    corrects_event_id     Nullable(UUID),
    source_type           LowCardinality(String) DEFAULT '',
    channel               LowCardinality(String) DEFAULT '',
    crime_group           LowCardinality(String) DEFAULT '',
    severity              LowCardinality(String) DEFAULT '',
    outcome               LowCardinality(String) DEFAULT '',
    handled_by            LowCardinality(String) DEFAULT '',
    extension             LowCardinality(String) DEFAULT '',
    months                UInt8 DEFAULT 0,
    decision              LowCardinality(String) DEFAULT '',
    suspension_reason     LowCardinality(String) DEFAULT '',
    resume_reason         LowCardinality(String) DEFAULT '',
    suspects_count        UInt32 DEFAULT 0,
    apprehended_count     UInt32 DEFAULT 0,
    admin_field           LowCardinality(String) DEFAULT '',
    violations_detected   UInt32 DEFAULT 0,
    violations_sanctioned UInt32 DEFAULT 0,
    violators             UInt32 DEFAULT 0,
    fine_vnd              UInt64 DEFAULT 0,
    kafka_topic           LowCardinality(String),
    kafka_partition       UInt32,
    kafka_offset          UInt64,
    ingested_at           DateTime64(3, 'UTC'),
    INDEX idx_event_id event_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_date)
ORDER BY (province_code, event_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- Which event corrects which (both directions of arrival are resolved by the sink).
CREATE TABLE IF NOT EXISTS {db}.corrections
(
    corrected_event_id  UUID,
    correcting_event_id UUID,
    province_code       LowCardinality(String),
    occurred_at         DateTime64(3, 'UTC'),
    ingested_at         DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (corrected_event_id, correcting_event_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.corrections_mv TO {db}.corrections AS
SELECT assumeNotNull(corrects_event_id) AS corrected_event_id,
       event_id AS correcting_event_id,
       province_code, occurred_at, ingested_at
FROM {db}.events_raw
WHERE corrects_event_id IS NOT NULL;
