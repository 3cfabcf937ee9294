#!/bin/sh
# Start one Kafka node (KRaft, combined broker + controller) of the compose stack.
# Writes server.properties from the environment, formats the log directory on first start
# with the cluster id and the admin's SCRAM credential (KIP-900: inter-broker SASL needs it
# before any broker is up), then runs the broker in the foreground.
# Env: KAFKA_NODE_ID, KAFKA_CLUSTER_ID, KAFKA_ADMIN_PASSWORD (from secrets/kafka.env);
# KAFKA_HOME, KAFKA_DATA, KAFKA_WORK, TLS_DIR only to run it outside the image (tests).
set -eu
: "${KAFKA_NODE_ID:?}" "${KAFKA_CLUSTER_ID:?}" "${KAFKA_ADMIN_PASSWORD:?}"
BIN=${KAFKA_HOME:-/opt/kafka}/bin
DATA=${KAFKA_DATA:-/var/lib/kafka/data}
WORK=${KAFKA_WORK:-/tmp}
CONF=$WORK/server.properties
TLS=${TLS_DIR:-/run/secrets}

cat > "$CONF" <<PROPS
process.roles=broker,controller
node.id=${KAFKA_NODE_ID}
controller.quorum.voters=1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093
controller.listener.names=CONTROLLER
listeners=SASL_SSL://:9092,CONTROLLER://:9093
advertised.listeners=SASL_SSL://kafka-${KAFKA_NODE_ID}:9092
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL
inter.broker.listener.name=SASL_SSL
log.dirs=${DATA}

# TLS everywhere: PEM key + chain and the compose CA (made by deploy/compose/gen-secrets.sh).
ssl.keystore.type=PEM
ssl.keystore.location=${TLS}/kafka-broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=${TLS}/ca.pem
ssl.endpoint.identification.algorithm=https
# Controllers accept only brokers holding a certificate from the CA (mutual TLS).
listener.name.controller.ssl.client.auth=required
ssl.principal.mapping.rules=RULE:^CN=([^,]+).*$/\$1/,DEFAULT

# Clients and brokers authenticate with SASL/SCRAM-SHA-512.
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}";

# Authorization: nothing is allowed without an ACL (kafka-init adds them).
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin;User:kafka-broker
allow.everyone.if.no.acl.found=false

# Durability: 3 replicas, an acked write is on at least 2 of them.
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
unclean.leader.election.enable=false
auto.create.topics.enable=false
num.partitions=12
message.max.bytes=4194304
replica.fetch.max.bytes=4194304
group.initial.rebalance.delay.ms=3000
PROPS

# Client settings for the container's own health check and for operators (docker compose exec).
cat > "$WORK/client.properties" <<PROPS
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="${KAFKA_ADMIN_PASSWORD}";
ssl.truststore.type=PEM
ssl.truststore.location=${TLS}/ca.pem
PROPS

if [ ! -f "$DATA/meta.properties" ]; then
  "$BIN/kafka-storage.sh" format --config "$CONF" --cluster-id "$KAFKA_CLUSTER_ID" \
    --add-scram "SCRAM-SHA-512=[name=admin,password=${KAFKA_ADMIN_PASSWORD}]" --ignore-formatted
fi
exec "$BIN/kafka-server-start.sh" "$CONF"
