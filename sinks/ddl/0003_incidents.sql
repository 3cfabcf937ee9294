-- Incidents: the life of each crime report, one row per (province_code, incident_id) after
-- merges. The table keeps the set of lifecycle events (duplicates collapse: it is a set) and
-- the set of retracted event ids; the view incidents_current folds them, in occurred_at order,
-- into the current state with the due-date rules of docs/live-api.md.

CREATE TABLE IF NOT EXISTS {db}.incidents
(
    province_code LowCardinality(String),
    incident_id   String,
    commune_code  SimpleAggregateFunction(max, String),
    events        SimpleAggregateFunction(groupUniqArrayArray,
                      Array(Tuple(event_id UUID, event_type String, occurred_at DateTime64(3, 'UTC'),
                                  detail String, months UInt8, severity String))),
    retracted     SimpleAggregateFunction(groupUniqArrayArray, Array(UUID)),
    first_seen    SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_ingested SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (province_code, incident_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.incidents_from_raw_mv TO {db}.incidents AS
SELECT province_code, incident_id,
       max(toString(commune_code)) AS commune_code,
       groupArray(CAST((event_id, toString(event_type), occurred_at,
                  multiIf(event_type = 'report_received', toString(crime_group),
                          event_type = 'deadline_extended', toString(extension),
                          event_type = 'report_resolved', toString(decision),
                          event_type = 'report_resumed', toString(resume_reason),
                          event_type = 'report_triaged', toString(outcome), ''),
                  months, toString(severity)),
                  'Tuple(event_id UUID, event_type String, occurred_at DateTime64(3, \'UTC\'), detail String, months UInt8, severity String)')) AS events,
       CAST([], 'Array(UUID)') AS retracted,
       min(occurred_at) AS first_seen,
       max(ingested_at) AS last_ingested
FROM {db}.events_raw
WHERE event_type IN ('report_received', 'report_triaged', 'report_forwarded',
                     'deadline_extended', 'report_resolved', 'report_resumed')
GROUP BY province_code, incident_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.incidents_from_retracted_mv TO {db}.incidents AS
SELECT province_code, incident_id,
       max(toString(commune_code)) AS commune_code,
       CAST([], 'Array(Tuple(event_id UUID, event_type String, occurred_at DateTime64(3, \'UTC\'), detail String, months UInt8, severity String))') AS events,
       groupArray(event_id) AS retracted,
       min(occurred_at) AS first_seen,
       max(ingested_at) AS last_ingested
FROM {db}.events_retracted
WHERE event_type IN ('report_received', 'report_triaged', 'report_forwarded',
                     'deadline_extended', 'report_resolved', 'report_resumed')
GROUP BY province_code, incident_id;

-- Current state per incident. received_at/due_date are NULL when the report_received event has
-- not arrived (yet). Due dates are local calendar dates (schemas/rules.py): receipt day + 20
-- days; complex_case: receipt day + months; procuracy: due + months; never beyond receipt day +
-- 4 months nor before the current due date; resumed: resumption day + 1 month. resolutions
-- lists every resolution in force with its on-time flag (local date <= due date in force then).
CREATE VIEW IF NOT EXISTS {db}.incidents_current AS
WITH
    toDateTime64(0, 3, 'UTC') AS none,
    toDate(0) AS no_day,
    arraySort(e -> (e.occurred_at, indexOf(['report_received', 'report_triaged',
        'report_forwarded', 'deadline_extended', 'report_resumed', 'report_resolved'],
        e.event_type)), arrayFilter(e -> NOT has(gone, e.event_id), evs)) AS timeline,
    arrayFold((acc, e) -> (
        if(e.event_type = 'report_received', e.occurred_at, acc.1),
        multiIf(
            e.event_type = 'report_received',
                toDate(e.occurred_at, '{tz}') + 20,
            e.event_type = 'deadline_extended' AND acc.1 = none, acc.2,
            e.event_type = 'deadline_extended',
                greatest(acc.2, least(
                    addMonths(if(e.detail = 'complex_case', toDate(acc.1, '{tz}'), acc.2),
                              e.months),
                    addMonths(toDate(acc.1, '{tz}'), 4))),
            e.event_type = 'report_resumed',
                addMonths(toDate(e.occurred_at, '{tz}'), 1),
            acc.2),
        multiIf(e.event_type IN ('report_received', 'report_resumed'), toUInt8(1),
                e.event_type = 'report_resolved', toUInt8(0), acc.3),
        toUInt16(acc.4 + (e.event_type = 'deadline_extended')),
        if(e.event_type = 'report_resolved',
           arrayPushBack(acc.5, (e.event_id, e.occurred_at, e.detail,
                                 toUInt8(acc.2 != no_day
                                         AND toDate(e.occurred_at, '{tz}') <= acc.2))),
           acc.5),
        if(e.event_type = 'report_received', e.detail, acc.6),
        if(e.event_type = 'report_received', e.severity, acc.7)
    ), timeline, (none, no_day, toUInt8(0), toUInt16(0),
                  CAST([], 'Array(Tuple(UUID, DateTime64(3, \'UTC\'), String, UInt8))'),
                  '', '')) AS state
SELECT
    province_code,
    incident_id,
    commune_code,
    nullIf(state.1, none) AS received_at,
    nullIf(state.2, no_day) AS due_date,
    state.4 AS extensions,
    state.1 != none AND state.3 = 1 AS is_open,
    length(state.5) > 0 AND state.3 = 0 AS is_resolved,
    if(length(state.5) > 0, state.5[-1].2, NULL) AS resolved_at,
    if(length(state.5) > 0, state.5[-1].3, '') AS decision,
    if(length(state.5) > 0, state.5[-1].4, NULL) AS on_time,
    state.5 AS resolutions,
    state.6 AS crime_group,
    state.7 AS severity,
    length(timeline) AS events_in_force
FROM
(
    SELECT province_code, incident_id,
           max(commune_code) AS commune_code,
           groupUniqArrayArray(events) AS evs,
           groupUniqArrayArray(retracted) AS gone
    FROM {db}.incidents
    GROUP BY province_code, incident_id
);
