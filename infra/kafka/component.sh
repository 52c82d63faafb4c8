# shellcheck shell=bash
# Apache Kafka (KRaft, single combined broker+controller node) for infra/stack.sh.
# Broker 127.0.0.1:9092, controller 127.0.0.1:9093, data in $DATA_DIR/kafka.
# The jars come from Maven Central via infra/kafka/pom.xml (no tarball download needed).

KAFKA_VERSION=4.1.1
KAFKA_HOME=$CACHE_DIR/kafka-$KAFKA_VERSION
KAFKA_CONF_DIR=$ROOT/infra/kafka
KAFKA_DATA_DIR=$DATA_DIR/kafka
KAFKA_INSTALL_LOG=$LOG_DIR/kafka-install.log

# JVM options shared by the tools and the broker: our logging config and the cached jars.
KAFKA_JAVA_OPTS=(-Djava.awt.headless=true -Dlog4j2.configurationFile="$KAFKA_CONF_DIR/log4j2.yaml"
  -cp "$KAFKA_HOME/libs/*")

kafka_port() { echo 9092; }

kafka_install() {
  # The stamp holds the pom's hash, so editing the pom re-resolves the jars; it is written last
  # so an interrupted download is redone.
  local stamp=$KAFKA_HOME/.pom.sha256 want
  want=$(sha256sum "$KAFKA_CONF_DIR/pom.xml" | cut -d' ' -f1)
  [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return 0
  log_step "kafka: resolving Kafka $KAFKA_VERSION jars with Maven into $KAFKA_HOME/libs (log: $KAFKA_INSTALL_LOG)"
  rm -rf "$KAFKA_HOME/libs"
  mkdir -p "$KAFKA_HOME"
  if ! mvn -B -q -f "$KAFKA_CONF_DIR/pom.xml" dependency:copy-dependencies \
    -Dkafka.version="$KAFKA_VERSION" -Dkafka.libs.dir="$KAFKA_HOME/libs" >>"$KAFKA_INSTALL_LOG" 2>&1; then
    tail -n 40 "$KAFKA_INSTALL_LOG" >&2
    die "kafka: mvn dependency:copy-dependencies failed"
  fi
  echo "$want" >"$stamp"
}

kafka_start() {
  local config=$RUN_DIR/kafka-server.properties cluster_id
  mkdir -p "$KAFKA_DATA_DIR"
  sed "s|@KAFKA_DATA_DIR@|$KAFKA_DATA_DIR|g" "$KAFKA_CONF_DIR/server.properties" >"$config"
  # KRaft needs formatted storage (cluster id + bootstrap metadata) exactly once; formatting again
  # would refuse, or with a new cluster id orphan the existing data.
  if [ ! -f "$KAFKA_DATA_DIR/meta.properties" ]; then
    cluster_id=$(java "${KAFKA_JAVA_OPTS[@]}" kafka.tools.StorageTool random-uuid 2>>"$LOG_DIR/kafka.log" |
      tail -n 1) || die "kafka: StorageTool random-uuid failed; see $LOG_DIR/kafka.log"
    [[ $cluster_id =~ ^[A-Za-z0-9_-]{22}$ ]] || die "kafka: unexpected cluster id '$cluster_id' from StorageTool"
    log_step "kafka: formatting KRaft storage in $KAFKA_DATA_DIR (cluster id $cluster_id)"
    java "${KAFKA_JAVA_OPTS[@]}" kafka.tools.StorageTool format --standalone \
      --config "$config" --cluster-id "$cluster_id" >>"$LOG_DIR/kafka.log" 2>&1 ||
      die "kafka: formatting storage failed; see $LOG_DIR/kafka.log"
  fi
  start_daemon kafka java -Xms256m -Xmx512m "${KAFKA_JAVA_OPTS[@]}" kafka.Kafka "$config"
}

# Healthy = a real client can talk to the broker and fetch metadata.
kafka_ready() {
  "$VENV/bin/python" - <<'EOF'
from kafka import KafkaAdminClient

admin = KafkaAdminClient(bootstrap_servers="127.0.0.1:9092", client_id="twinwear-stack-health",
                         bootstrap_timeout_ms=5000, request_timeout_ms=5000)
try:
    admin.list_topics()
finally:
    admin.close()
EOF
}
