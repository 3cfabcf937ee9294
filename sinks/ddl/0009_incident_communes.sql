-- The commune of each report's receipts and resolutions, so that incidents_current counts a
-- report under the commune the live worker counts it under (streams/logic/incidents.py):
--
-- - commune_code: the commune of the report, i.e. of the first report_received in force in
--   the order of the report's events (the fold's order, sinks/ddl/0008), whatever the order
--   of arrival and after corrections; '' while no receipt is in force (live counts such a
--   report under no commune: not open, not carried over). Before this version it was the
--   largest commune code among all the report's events, corrected ones included;
-- - resolutions: each entry gains the commune of its own report_resolved event (5th element):
--   live counts resolved_on_time and resolved-by-crime-group there.
--
-- A table of its own instead of a column of incidents: filling a new column would mean
-- replacing incidents_from_raw_mv (dropped, then created again) and altering a replicated
-- table on a cluster; a new table and a view of its own leave both untouched. Like
-- incidents it keeps sets (groupUniqArrayArray), so a retried or replayed insert, a second
-- view firing for the same rows, or the backfill below run twice, store nothing new: it
-- needs no guard. The backfill runs after the view exists, so rows a sink inserts meanwhile
-- are covered by one or the other (or both). Province analysts need the row policy of
-- deploy/clickhouse/roles.sql on this table too.

CREATE TABLE IF NOT EXISTS {db}.incident_communes
(
    province_code LowCardinality(String),
    incident_id   String,
    communes      SimpleAggregateFunction(groupUniqArrayArray,
                      Array(Tuple(event_id UUID, commune_code String)))
)
ENGINE = AggregatingMergeTree
ORDER BY (province_code, incident_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.incident_communes_mv TO {db}.incident_communes AS
SELECT province_code, incident_id,
       groupArray(CAST((event_id, toString(commune_code)),
                       'Tuple(event_id UUID, commune_code String)')) AS communes
FROM {db}.events_raw
WHERE event_type IN ('report_received', 'report_resolved')
GROUP BY province_code, incident_id;

INSERT INTO {db}.incident_communes (province_code, incident_id, communes)
SELECT province_code, incident_id,
       groupArray(CAST((event_id, toString(commune_code)),
                       'Tuple(event_id UUID, commune_code String)')) AS communes
FROM {db}.events_raw
WHERE event_type IN ('report_received', 'report_resolved')
GROUP BY province_code, incident_id;

-- incidents_current as in 0008, plus the communes. An event_id stored with two communes (a
-- resend that changed the commune) takes the smaller code (arraySort: deterministic). The
-- communes are joined to the reports of incidents (LEFT JOIN: a reader whose row policy
-- covers incidents but not yet incident_communes sees no other province's reports through
-- the view). Measured with chDB, 100,000 reports: the join costs the full view 0.32-0.39 s
-- of CPU (0.31-0.34 s for 0008's view); a UNION ALL of both tables grouped once cost
-- 0.43-0.45 s. A filter on province_code / incident_id reaches both tables.
CREATE OR REPLACE VIEW {db}.incidents_current AS
WITH
    toDate(0) AS no_day,
    arraySort(e -> (e.occurred_at, indexOf(['report_received', 'report_triaged',
        'report_forwarded', 'deadline_extended', 'report_resumed', 'report_resolved'],
        e.event_type), toString(e.event_id)),
        arrayFilter(e -> NOT has(gone, e.event_id), evs)) AS timeline,
    arrayFirst(e -> e.event_type = 'report_received', timeline) AS recv,
    recv.event_type = 'report_received' AS received,
    toDate(recv.occurred_at, '{tz}') AS recv_day,
    arraySort(places) AS where_sorted,
    arrayFold((acc, e) -> (
        multiIf(
            e.event_type = 'deadline_extended' AND acc.4 != no_day,
                greatest(acc.1, least(
                    addMonths(if(e.detail = 'complex_case', acc.4, acc.1), e.months),
                    addMonths(acc.4, 4))),
            e.event_type = 'report_resumed' AND acc.4 != no_day,
                addMonths(toDate(e.occurred_at, '{tz}'), 1),
            acc.1),
        multiIf(e.event_type = 'report_resumed', toUInt8(1),
                e.event_type = 'report_resolved', toUInt8(0), acc.2),
        if(e.event_type = 'report_resolved',
           arrayPushBack(acc.3, (e.event_id, e.occurred_at, e.detail,
                                 toUInt8(acc.1 != no_day AND toDate(e.occurred_at, '{tz}') <= acc.1))),
           acc.3),
        acc.4
    ), timeline, (if(received, recv_day + 20, no_day), toUInt8(1),
                  CAST([], 'Array(Tuple(UUID, DateTime64(3, \'UTC\'), String, UInt8))'),
                  if(received, recv_day, no_day)))
        AS state
SELECT
    province_code,
    incident_id,
    if(received, arrayFirst(c -> c.1 = recv.event_id, where_sorted).2, '') AS commune_code,
    if(received, recv.occurred_at, NULL) AS received_at,
    nullIf(state.1, no_day) AS due_date,
    toUInt16(arrayCount(e -> e.event_type = 'deadline_extended', timeline)) AS extensions,
    received AND state.2 = 1 AS is_open,
    state.2 = 0 AS is_resolved,
    if(length(state.3) > 0, state.3[-1].2, NULL) AS resolved_at,
    if(length(state.3) > 0, state.3[-1].3, '') AS decision,
    if(length(state.3) > 0, state.3[-1].4, NULL) AS on_time,
    arrayMap(r -> (r.1, r.2, r.3, r.4, arrayFirst(c -> c.1 = r.1, where_sorted).2),
             state.3) AS resolutions,
    if(received, recv.detail, '') AS crime_group,
    if(received, recv.severity, '') AS severity,
    length(timeline) AS events_in_force
FROM
(
    SELECT province_code, incident_id, evs, gone, places
    FROM
    (
        SELECT province_code, incident_id,
               groupUniqArrayArray(events) AS evs,
               groupUniqArrayArray(retracted) AS gone
        FROM {db}.incidents
        GROUP BY province_code, incident_id
    ) AS reports
    LEFT JOIN
    (
        SELECT province_code, incident_id, groupUniqArrayArray(communes) AS places
        FROM {db}.incident_communes
        GROUP BY province_code, incident_id
    ) AS known USING (province_code, incident_id)
    SETTINGS join_use_nulls = 0
);
