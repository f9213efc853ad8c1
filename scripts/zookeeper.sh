#!/usr/bin/env bash
# A throwaway ZooKeeper (Debian's) on 127.0.0.1 for ClickHouse's ON CLUSTER DDL in tests
# (shared/spec/clickhouse-notes.md §6).
#   scripts/zookeeper.sh start DIR PORT
#   scripts/zookeeper.sh stop DIR
set -euo pipefail
cmd=$1 dir=$2

if [ "$cmd" = stop ]; then
  [ -f "$dir/zk.pid" ] || exit 0
  pid=$(cat "$dir/zk.pid")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$dir/zk.pid"
  exit 0
fi

port=$3
[ -f /usr/share/java/zookeeper.jar ] || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zookeeper >/dev/null
}
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "port $port already in use" >&2; exit 1; fi
rm -rf "$dir"; mkdir -p "$dir/data"
cat > "$dir/zoo.cfg" <<CFG
tickTime=2000
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=srvr
maxClientCnxns=0
CFG
nohup java -Xms32m -Xmx256m -Dzookeeper.log.dir="$dir" -cp /usr/share/java/zookeeper.jar:/etc/zookeeper/conf \
  org.apache.zookeeper.server.ZooKeeperServerMain "$dir/zoo.cfg" >"$dir/zk.log" 2>&1 &
echo $! >"$dir/zk.pid"
# Ready when it accepts sessions (srvr prints its mode), not merely when the port is open.
for _ in $(seq 1 100); do
  if { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null && printf srvr >&3 && grep -q Mode <&3; then
    exec 3>&-
    echo "zookeeper ready on 127.0.0.1:$port (pid $(cat "$dir/zk.pid"))"
    exit 0
  fi
  exec 3>&- 2>/dev/null || true
  sleep 0.2
done
echo "zookeeper did not start" >&2
cat "$dir/zk.log" >&2
exit 1
