#!/usr/bin/env bash
# A throwaway ClickHouse 18.16 (Debian) on 127.0.0.1 for tests and benchmarks
# (recipe: shared/spec/clickhouse-notes.md §1).
#   scripts/clickhouse.sh start DIR HTTP_PORT TCP_PORT [CLUSTER_TCP_PORTS ZK_PORT]
#   scripts/clickhouse.sh stop DIR
# With CLUSTER_TCP_PORTS (comma-separated) the server knows the cluster `groupd_test` with one shard
# per port, and ZooKeeper at ZK_PORT for ON CLUSTER DDL.
set -euo pipefail
cmd=$1 dir=$2

if [ "$cmd" = stop ]; then
  [ -f "$dir/ch.pid" ] || exit 0
  pid=$(cat "$dir/ch.pid")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$dir/ch.pid"
  exit 0
fi

http_port=$3 tcp_port=$4 cluster_ports=${5:-} zk_port=${6:-}
command -v clickhouse-server >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
}
for p in "$http_port" "$tcp_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "port $p already in use (leftover server?)" >&2; exit 1; fi
done
rm -rf "$dir"; mkdir -p "$dir"/{data,tmp,user_files,format_schemas,log}

cluster=''
if [ -n "$cluster_ports" ]; then
  shards=''
  for p in ${cluster_ports//,/ }; do
    shards+="<shard><replica><host>127.0.0.1</host><port>$p</port></replica></shard>"
  done
  cluster="<remote_servers><groupd_test>$shards</groupd_test></remote_servers>"
  cluster+="<zookeeper><node><host>127.0.0.1</host><port>$zk_port</port></node><session_timeout_ms>30000</session_timeout_ms></zookeeper>"
  cluster+="<distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>"
fi

cat > "$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$dir/log/server.log</log><errorlog>$dir/log/server.err.log</errorlog><size>100M</size><count>2</count></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$http_port</http_port>
  <tcp_port>$tcp_port</tcp_port>
  <path>$dir/data/</path>
  <tmp_path>$dir/tmp/</tmp_path>
  <user_files_path>$dir/user_files/</user_files_path>
  <format_schema_path>$dir/format_schemas/</format_schema_path>
  <users_config>$dir/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <keep_alive_timeout>10</keep_alive_timeout>
  $cluster
</yandex>
XML
cat > "$dir/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
chown -R clickhouse:clickhouse "$dir"
start-stop-daemon --start --background --chuid clickhouse:clickhouse --make-pidfile --pidfile "$dir/ch.pid" \
  --exec /usr/sbin/clickhouse-server -- --config-file="$dir/config.xml"
for _ in $(seq 1 100); do
  pid=$(cat "$dir/ch.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" != "Z" ] && kill -0 "$pid" 2>/dev/null \
    && curl -sf "http://127.0.0.1:$http_port/ping" >/dev/null; then
    # On a cluster, DDL ON CLUSTER needs the server's ZooKeeper session and queue first (18.16
    # crashes on ON CLUSTER after a failed first handshake).
    if [ -z "$cluster_ports" ] || [ "$(curl -sf "http://127.0.0.1:$http_port/" --data-binary \
      "SELECT count() FROM system.zookeeper WHERE path = '/clickhouse/task_queue' AND name = 'ddl'" 2>/dev/null)" = 1 ]; then
      echo "clickhouse ready on 127.0.0.1:$http_port (pid $pid)"
      exit 0
    fi
  fi
  sleep 0.2
done
echo "clickhouse did not start" >&2
cat "$dir/log/server.err.log" >&2 || true
exit 1
