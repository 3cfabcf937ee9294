-- Dimensions. Their rows are (re)loaded by `antt db migrate` from the reference data in
-- schemas/ (units, legacy mapping, crime groups) and from settings (reporting calendar).

CREATE TABLE IF NOT EXISTS {db}.dim_provinces
(
    province_code LowCardinality(String),
    name          String,
    code_regime   LowCardinality(String)
)
ENGINE = MergeTree ORDER BY (code_regime, province_code);

CREATE TABLE IF NOT EXISTS {db}.dim_communes
(
    commune_code  String,
    province_code LowCardinality(String),
    name          String,
    code_regime   LowCardinality(String)
)
ENGINE = MergeTree ORDER BY (code_regime, province_code, commune_code);

-- Legacy (2004 regime) commune -> 2025 commune. A legacy commune split across several new
-- ones has one row per candidate and unambiguous = 0: such history is never mapped silently.
CREATE TABLE IF NOT EXISTS {db}.dim_legacy_units
(
    legacy_province_code LowCardinality(String),
    legacy_commune_code  String,
    legacy_name          String,
    province_code        LowCardinality(String),
    commune_code         String,
    candidates           UInt16,
    unambiguous          UInt8
)
ENGINE = MergeTree ORDER BY (legacy_province_code, legacy_commune_code, commune_code);

CREATE TABLE IF NOT EXISTS {db}.dim_crime_groups
(
    crime_group  LowCardinality(String),
    chapter      String,
    name_vi      String,
    social_order UInt8
)
ENGINE = MergeTree ORDER BY crime_group;

-- One row per (date, period_type): month, quarter, year and stat_month (the statistical month
-- from day N of the previous month to day N-1, N = ANTT_STATISTICAL_MONTH_START_DAY). A stat
-- month is labelled by the month it ends in.
CREATE TABLE IF NOT EXISTS {db}.dim_reporting_calendar
(
    date         Date,
    period_type  LowCardinality(String),
    period_start Date,
    period_end   Date,
    period_label String
)
ENGINE = MergeTree ORDER BY (period_type, date);

-- What the loader last wrote into each dimension (so a re-run only reloads what changed).
CREATE TABLE IF NOT EXISTS {db}.dim_loads
(
    dimension String,
    checksum  String,
    rows      UInt64,
    loaded_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(loaded_at) ORDER BY dimension;
