-- The sink reads back how many rows of a Kafka offset range are stored (to catch inserts an
-- engine acknowledged without storing them). A minmax index on kafka_offset lets that count
-- skip every granule but the newest, however many events a (province, day) holds.

ALTER TABLE {db}.events_raw
    ADD INDEX IF NOT EXISTS idx_kafka_offset kafka_offset TYPE minmax GRANULARITY 1;
