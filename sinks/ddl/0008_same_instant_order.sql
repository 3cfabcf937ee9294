-- incidents_current with one deterministic order of a report's events, the same as the live
-- worker's (streams/logic/incidents.py, sort_key): occurred_at (milliseconds, as stored), then
-- the event type's rank (received, triaged, forwarded, extended, resumed, resolved), then the
-- event id as text (toString: the UUID type itself does not sort in textual order). Before,
-- events at the same millisecond and rank came in groupUniqArray's arbitrary order. The rest of
-- the view is 0003's. CREATE OR REPLACE: idempotent, and the views that read incidents_current
-- (on_time_by_period, backlog_current) name it, so they read the new definition unchanged.

CREATE OR REPLACE VIEW {db}.incidents_current AS
WITH
    toDateTime64(0, 3, 'UTC') AS none,
    toDate(0) AS no_day,
    arraySort(e -> (e.occurred_at, indexOf(['report_received', 'report_triaged',
        'report_forwarded', 'deadline_extended', 'report_resumed', 'report_resolved'],
        e.event_type), toString(e.event_id)),
        arrayFilter(e -> NOT has(gone, e.event_id), evs)) AS timeline,
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
