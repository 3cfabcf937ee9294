#!/bin/sh
# Make deploy/compose/secrets/: a private CA, the Kafka broker certificate, a self-signed TLS
# pair for the proxy (replace with real ones: secrets/proxy.crt, secrets/proxy.key), random
# passwords, and the env files compose.yaml reads. Needs openssl. Never overwrites a file that
# exists, so running it again keeps the current secrets. Usage: ./gen-secrets.sh [public-host]
set -eu
cd "$(dirname "$0")"
HOST=${1:-antt.example.vn}
umask 077
mkdir -p secrets
cd secrets
[ -f .gitignore ] || printf '*\n' > .gitignore

pw() { openssl rand -base64 33 | tr -d '/+=\n' | cut -c1-32; }
keep() { [ -f "$1" ] && echo "keeping $1" && return 0; return 1; }

keep ca.key || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key
keep ca.pem || openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=antt compose CA" -out ca.pem

if ! keep kafka-broker.pem; then
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out kafka-broker.key
  openssl req -new -key kafka-broker.key -subj "/CN=kafka-broker" -out kafka-broker.csr
  printf 'subjectAltName=DNS:kafka-1,DNS:kafka-2,DNS:kafka-3,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' > kafka-broker.ext
  openssl x509 -req -in kafka-broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
    -sha256 -extfile kafka-broker.ext -out kafka-broker.crt
  cat kafka-broker.key kafka-broker.crt ca.pem > kafka-broker.pem
  rm kafka-broker.csr kafka-broker.ext kafka-broker.key kafka-broker.crt
fi

if ! keep proxy.crt; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout proxy.key -days 365 -subj "/CN=$HOST" \
    -addext "subjectAltName=DNS:$HOST,DNS:localhost" -out proxy.crt
fi

if ! keep kafka.env; then
  cluster_id=$(openssl rand 16 | openssl base64 | tr '+/' '-_' | tr -d '=\n')
  {
    echo "KAFKA_CLUSTER_ID=$cluster_id"
    for name in ADMIN WORKER SINK GATEWAY PRODUCER MONITOR; do echo "KAFKA_${name}_PASSWORD=$(pw)"; done
  } > kafka.env
fi
keep clickhouse.env || printf 'CH_ADMIN_PASSWORD=%s\nCH_CLUSTER_SECRET=%s\n' "$(pw)" "$(pw)" > clickhouse.env
keep ch_migrate_password || pw > ch_migrate_password
keep ch_sink_password || pw > ch_sink_password

get() { sed -n "s/^$1=//p" "$2"; }
# Env files of the antt processes: only ANTT_* settings (antt/settings.py).
cat > clickhouse-admin.env <<ENV
ANTT_CLICKHOUSE_USER=antt_admin
ANTT_CLICKHOUSE_PASSWORD=$(get CH_ADMIN_PASSWORD clickhouse.env)
ENV
cat > migrate.env <<ENV
ANTT_CLICKHOUSE_USER=antt_migrate
ANTT_CLICKHOUSE_PASSWORD=$(cat ch_migrate_password)
ENV
cat > sink.env <<ENV
ANTT_CLICKHOUSE_USER=antt_sink
ANTT_CLICKHOUSE_PASSWORD=$(cat ch_sink_password)
ANTT_KAFKA_SASL_USERNAME=antt-sink
ANTT_KAFKA_SASL_PASSWORD=$(get KAFKA_SINK_PASSWORD kafka.env)
ENV
cat > worker.env <<ENV
ANTT_KAFKA_SASL_USERNAME=antt-worker
ANTT_KAFKA_SASL_PASSWORD=$(get KAFKA_WORKER_PASSWORD kafka.env)
ENV
cat > gateway.env <<ENV
ANTT_KAFKA_SASL_USERNAME=antt-gateway
ANTT_KAFKA_SASL_PASSWORD=$(get KAFKA_GATEWAY_PASSWORD kafka.env)
ENV
# Containers run as other users than you (Kafka: uid 1000, antt: 10001): files readable,
# the directory itself stays private (umask 077 above).
chmod 0644 ./*.pem ./*.crt ./*.env ch_*_password
echo "secrets in $(pwd)"
