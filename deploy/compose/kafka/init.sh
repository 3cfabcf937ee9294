#!/bin/sh
# One-shot job of the compose stack: SCRAM users, topics and ACLs. Idempotent: run it again
# after changing deploy/topics.yaml (topics are created, never shrunk; see docs/operations.md).
# The topic lines below must agree with deploy/topics.yaml (tests/unit/deploy checks it).
# Env: KAFKA_ADMIN_PASSWORD, KAFKA_WORKER_PASSWORD, KAFKA_SINK_PASSWORD,
#      KAFKA_GATEWAY_PASSWORD, KAFKA_PRODUCER_PASSWORD, KAFKA_MONITOR_PASSWORD.
# KAFKA_HOME, KAFKA_WORK and TLS_DIR only to run it outside the image (tests).
set -eu
BIN=${KAFKA_HOME:-/opt/kafka}/bin
BOOT=kafka-1:9092,kafka-2:9092,kafka-3:9092
ADMIN=${KAFKA_WORK:-/tmp}/admin.properties
cat > "$ADMIN" <<PROPS
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}";
ssl.truststore.type=PEM
ssl.truststore.location=${TLS_DIR:-/run/secrets}/ca.pem
PROPS

until $BIN/kafka-topics.sh --bootstrap-server "$BOOT" --command-config "$ADMIN" --list >/dev/null 2>&1; do
  echo "waiting for the brokers"; sleep 2
done

scram_user() {  # name password
  $BIN/kafka-configs.sh --bootstrap-server "$BOOT" --command-config "$ADMIN" --alter \
    --entity-type users --entity-name "$1" --add-config "SCRAM-SHA-512=[password=$2]"
}

topic() {  # name partitions replicas config...
  name=$1 partitions=$2 replicas=$3; shift 3
  set -- $(for c in "$@"; do printf -- '--config %s ' "$c"; done)
  $BIN/kafka-topics.sh --bootstrap-server "$BOOT" --command-config "$ADMIN" --create \
    --if-not-exists --topic "$name" --partitions "$partitions" --replication-factor "$replicas" "$@"
}

acl() {  # principal operation resource-args...
  principal=$1 operation=$2; shift 2
  $BIN/kafka-acls.sh --bootstrap-server "$BOOT" --command-config "$ADMIN" --add \
    --allow-principal "User:$principal" --operation "$operation" "$@"
}

scram_user antt-worker "$KAFKA_WORKER_PASSWORD"
scram_user antt-sink "$KAFKA_SINK_PASSWORD"
scram_user antt-gateway "$KAFKA_GATEWAY_PASSWORD"
scram_user antt-producer "$KAFKA_PRODUCER_PASSWORD"
scram_user antt-monitor "$KAFKA_MONITOR_PASSWORD"

topic antt.events.v1 12 3 min.insync.replicas=2 cleanup.policy=delete retention.ms=7776000000 max.message.bytes=4194304 compression.type=producer unclean.leader.election.enable=false message.timestamp.type=LogAppendTime
topic antt.events.dlq.v1 3 3 min.insync.replicas=2 cleanup.policy=delete retention.ms=2592000000 max.message.bytes=4194304 compression.type=producer unclean.leader.election.enable=false

# antt-worker: reads events, writes dead letters, owns its Faust topics and its group.
acl antt-worker Read --topic antt.events.v1
acl antt-worker Describe --topic antt.events.v1
acl antt-worker Write --topic antt.events.dlq.v1
acl antt-worker Describe --topic antt.events.dlq.v1
acl antt-worker All --topic antt-worker --resource-pattern-type prefixed
acl antt-worker Read --group antt-worker
acl antt-worker Describe --cluster
# antt-sink: reads events, writes dead letters, its own group.
acl antt-sink Read --topic antt.events.v1
acl antt-sink Describe --topic antt.events.v1
acl antt-sink Write --topic antt.events.dlq.v1
acl antt-sink Describe --topic antt.events.dlq.v1
acl antt-sink Read --group antt-sink
acl antt-sink Describe --cluster
# antt-gateway and antt-producer (provincial systems using `antt send`): write only.
acl antt-gateway Write --topic antt.events.v1
acl antt-gateway Describe --topic antt.events.v1
acl antt-gateway Write --topic antt.events.dlq.v1
acl antt-gateway Describe --topic antt.events.dlq.v1
acl antt-gateway Describe --cluster
acl antt-producer Write --topic antt.events.v1
acl antt-producer Describe --topic antt.events.v1
# antt-monitor (kafka-exporter): describe everything, read offsets of every group.
acl antt-monitor Describe --topic '*'
acl antt-monitor Describe --group '*'
acl antt-monitor Describe --cluster
echo "kafka-init: users, topics and ACLs in place"
