-- Access control for the antt database (production ClickHouse with SQL-driven access control).
-- Apply as an administrator: clickhouse-client --multiquery < roles.sql
-- On a cluster add ON CLUSTER '<cluster>' to each statement, or keep access entities in
-- replicated storage (user_directories/replicated).
-- Users are examples: create one per person/service with a real password or certificate.

-- antt_writer: the sink. Inserts facts and applies corrections; never reads analyst views.
-- (It must read events_raw/corrections/events_retracted to deduplicate and to retract.)
CREATE ROLE IF NOT EXISTS antt_writer;
GRANT INSERT ON antt.events_raw TO antt_writer;
GRANT INSERT ON antt.events_retracted TO antt_writer;
GRANT SELECT ON antt.events_raw TO antt_writer;
GRANT SELECT ON antt.events_retracted TO antt_writer;
GRANT SELECT ON antt.corrections TO antt_writer;

-- antt_migrator: runs `antt db migrate` (DDL and dimension loads), nothing else.
CREATE ROLE IF NOT EXISTS antt_migrator;
GRANT CREATE DATABASE, CREATE TABLE, CREATE VIEW, DROP TABLE, DROP VIEW, ALTER,
      TRUNCATE, INSERT, SELECT ON antt.* TO antt_migrator;

-- antt_analyst: reads everything in antt, writes nothing.
CREATE ROLE IF NOT EXISTS antt_analyst;
GRANT SELECT ON antt.* TO antt_analyst;

-- antt_dashboard: reads only the aggregates, official views and dimensions (no raw facts,
-- no per-incident rows), with a small query budget.
CREATE ROLE IF NOT EXISTS antt_dashboard;
GRANT SELECT ON antt.metrics_daily TO antt_dashboard;
GRANT SELECT ON antt.metrics_daily_province TO antt_dashboard;
GRANT SELECT ON antt.metrics_monthly_province TO antt_dashboard;
GRANT SELECT ON antt.official_monthly_province TO antt_dashboard;
GRANT SELECT ON antt.metrics_by_period TO antt_dashboard;
GRANT SELECT ON antt.official_metrics_by_period TO antt_dashboard;
GRANT SELECT ON antt.on_time_by_period TO antt_dashboard;
GRANT SELECT ON antt.backlog_current TO antt_dashboard;
GRANT SELECT ON antt.dim_provinces TO antt_dashboard;
GRANT SELECT ON antt.dim_communes TO antt_dashboard;
GRANT SELECT ON antt.dim_crime_groups TO antt_dashboard;
GRANT SELECT ON antt.dim_reporting_calendar TO antt_dashboard;

-- antt_province_analyst: like antt_analyst, but row policies keep it to one province.
-- The policies below are written for province 01 (Hà Nội); copy them per province, with a
-- role per province (antt_province_analyst_79, ...).
CREATE ROLE IF NOT EXISTS antt_province_analyst_01;
GRANT SELECT ON antt.* TO antt_province_analyst_01;
CREATE ROW POLICY IF NOT EXISTS province_01 ON antt.events_raw
    FOR SELECT USING province_code = '01' TO antt_province_analyst_01;
CREATE ROW POLICY IF NOT EXISTS province_01 ON antt.events_retracted
    FOR SELECT USING province_code = '01' TO antt_province_analyst_01;
CREATE ROW POLICY IF NOT EXISTS province_01 ON antt.incidents
    FOR SELECT USING province_code = '01' TO antt_province_analyst_01;
CREATE ROW POLICY IF NOT EXISTS province_01 ON antt.incident_communes
    FOR SELECT USING province_code = '01' TO antt_province_analyst_01;
CREATE ROW POLICY IF NOT EXISTS province_01 ON antt.metrics_daily
    FOR SELECT USING province_code = '01' TO antt_province_analyst_01;
CREATE ROW POLICY IF NOT EXISTS province_01 ON antt.metrics_daily_province
    FOR SELECT USING province_code = '01' TO antt_province_analyst_01;
CREATE ROW POLICY IF NOT EXISTS province_01 ON antt.metrics_monthly_province
    FOR SELECT USING province_code = '01' TO antt_province_analyst_01;
CREATE ROW POLICY IF NOT EXISTS province_01 ON antt.official_monthly_province
    FOR SELECT USING province_code = '01' TO antt_province_analyst_01;
CREATE ROW POLICY IF NOT EXISTS province_01 ON antt.corrections
    FOR SELECT USING province_code = '01' TO antt_province_analyst_01;

-- Read-only is also enforced by settings, whatever grants a role later receives.
CREATE SETTINGS PROFILE IF NOT EXISTS antt_readonly SETTINGS readonly = 1,
    max_execution_time = 60, max_memory_usage = 8000000000 TO antt_analyst,
    antt_province_analyst_01;
CREATE SETTINGS PROFILE IF NOT EXISTS antt_dashboard_profile SETTINGS readonly = 1,
    max_execution_time = 10, max_result_rows = 100000 TO antt_dashboard;

-- Example users (replace the passwords; prefer sha256_hash or certificates).
CREATE USER IF NOT EXISTS antt_sink IDENTIFIED WITH sha256_password BY 'change-me'
    DEFAULT ROLE antt_writer;
CREATE USER IF NOT EXISTS antt_migrate IDENTIFIED WITH sha256_password BY 'change-me'
    DEFAULT ROLE antt_migrator;
CREATE USER IF NOT EXISTS analyst IDENTIFIED WITH sha256_password BY 'change-me'
    DEFAULT ROLE antt_analyst;
CREATE USER IF NOT EXISTS dashboard IDENTIFIED WITH sha256_password BY 'change-me'
    DEFAULT ROLE antt_dashboard;
CREATE USER IF NOT EXISTS analyst_hanoi IDENTIFIED WITH sha256_password BY 'change-me'
    DEFAULT ROLE antt_province_analyst_01;
GRANT antt_writer TO antt_sink;
GRANT antt_migrator TO antt_migrate;
GRANT antt_analyst TO analyst;
GRANT antt_dashboard TO dashboard;
GRANT antt_province_analyst_01 TO analyst_hanoi;
