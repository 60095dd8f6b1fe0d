#!/usr/bin/env bash
# Start/stop a 3-server ZooGate ensemble on loopback (3 `zoogate server` processes), with the
# interface of the anchor kit's zk-cluster.sh, so that the kit's run.mjs --cluster (leader, pids,
# failover scenario: kill -9 the leader, start-node, ready-since) drives it unchanged.
#
#   ./zoogate-cluster.sh start            # 3 servers, client ports 8281-8283, peer ports 2981-2983
#   ./zoogate-cluster.sh stop             # SIGTERM all 3 (by PID file), SIGKILL stragglers after 10 s
#   ./zoogate-cluster.sh status           # PID + state per server (GET /cluster)
#   ./zoogate-cluster.sh clean            # stop + wipe $ZG_BASE
#   ./zoogate-cluster.sh start-node N     # (re)start server N (1..3) with its existing data, wait until it serves
#   ./zoogate-cluster.sh kill-node N      # kill -9 server N
#   ./zoogate-cluster.sh leader           # id of the server whose GET /cluster says LEADING
#   ./zoogate-cluster.sh pids             # "id pid" lines for running servers
#   ./zoogate-cluster.sh ready-since MS   # epoch ms of the first log line of a server becoming an
#                                         # active (serving) leader after epoch ms MS
#
# Environment: ZG_SRC (the ZooGate checkout to run, default this script's; npm run bench points it at
# its snapshot in .bench/zoogate-src), ZG_BASE (data, logs, PID files; default /tmp/anchors/zoogate), ZG_CLIENT_PORT_BASE
# (8280: server i listens on base+i), ZG_PEER_PORT_BASE (2980), ZG_TICK_MS (2000, ZooGate's and
# ZooKeeper's default tick; sync limit 5 ticks, init limit 10, as ZooKeeper's defaults),
# ZG_CPU_PROF_DIR (run each server under node --cpu-prof, profile in $ZG_CPU_PROF_DIR/node<i>;
# written when the server exits on SIGTERM, i.e. `stop`), ZG_LOG_LEVEL (info: lifecycle lines only,
# nothing per request), ZG_NODE_FLAGS (node's flags for the servers; default the server's own,
# --max-semi-space-size=64; empty: V8's defaults), ZG_PEER_DELAY_MS (unset: servers talk directly;
# set: through bench/delay-proxy.mjs, every peer byte delayed that long each way, as between zones;
# relay ports ZG_PROXY_PORT_BASE (3000) + 10*from + to). Other ZOOGATE_* settings (e.g.
# ZOOGATE_DIRECT_COMMIT) reach the servers through the environment. A random --secret is made once
# per ZG_BASE.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=${ZG_SRC:-$(dirname "$HERE")}
BASE=${ZG_BASE:-/tmp/anchors/zoogate}
CPB=${ZG_CLIENT_PORT_BASE:-8280}
PPB=${ZG_PEER_PORT_BASE:-2980}
TICK=${ZG_TICK_MS:-2000}
LOGLEVEL=${ZG_LOG_LEVEL:-info}
NODE=${NODE:-$(command -v node)}
# the server's V8 flags (SERVER_NODE_FLAGS in api/config.ts); ZG_NODE_FLAGS= (empty) runs V8's defaults
NODE_FLAGS=${ZG_NODE_FLAGS---max-semi-space-size=64}
N=3

client_port() { echo $((CPB + $1)); }
PXB=${ZG_PROXY_PORT_BASE:-3000}
DELAY=${ZG_PEER_DELAY_MS:-}
peer_port() { # from to: where server `from` reaches server `to`'s peer port
  if [ -n "$DELAY" ] && [ "$1" != "$2" ]; then echo $((PXB + 10 * $1 + $2)); else echo $((PPB + $2)); fi
}
peers() { # id: the --peers list as server `id` sees it
  local s="" j; for j in $(seq $N); do s+="${s:+,}$j=127.0.0.1:$(peer_port "$1" "$j")"; done; echo "$s"
}

start_proxy() {
  [ -n "$DELAY" ] || return 0
  alive "$BASE/proxy" && return 0
  mkdir -p "$BASE/proxy"
  local routes="" i j
  for i in $(seq $N); do for j in $(seq $N); do [ "$i" != "$j" ] && routes+=" $(peer_port "$i" "$j")=$((PPB + j))"; done; done
  : > "$BASE/proxy/proxy.log"
  setsid bash -c "echo \$\$ > '$BASE/proxy/pid'; exec '$NODE' '$HERE/delay-proxy.mjs' --delay-ms $DELAY $routes" >> "$BASE/proxy/proxy.log" 2>&1 < /dev/null &
  for _ in $(seq 100); do grep -q ready "$BASE/proxy/proxy.log" && return 0; sleep 0.05; done
  echo "delay proxy did not start: $(cat "$BASE/proxy/proxy.log")" >&2; exit 1
}

secret() {
  mkdir -p "$BASE"
  [ -s "$BASE/secret" ] || od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > "$BASE/secret"
  cat "$BASE/secret"
}

launch() { # id
  local i=$1 d="$BASE/node$1" prof=""
  mkdir -p "$d/data"
  if [ -n "${ZG_CPU_PROF_DIR:-}" ]; then mkdir -p "$ZG_CPU_PROF_DIR/node$i"; prof="--cpu-prof --cpu-prof-dir=$ZG_CPU_PROF_DIR/node$i"; fi
  # setsid: own session, so the server outlives the calling shell; bash writes its PID, then execs node
  ZOOGATE_SECRET=$(secret) setsid bash -c "echo \$\$ > '$d/pid'; cd '$ROOT'; exec '$NODE' $NODE_FLAGS $prof --import tsx api/main.ts server \
    --id $i --host 127.0.0.1 --port $(client_port "$i") --peer-port $((PPB + i)) --peers '$(peers "$i")' \
    --data-dir '$d/data' --tick-ms $TICK --log-level $LOGLEVEL" >> "$d/zoogate.log" 2>&1 < /dev/null &
  for _ in $(seq 50); do [ -s "$d/pid" ] && break; sleep 0.05; done
}

alive() { [ -s "$1/pid" ] && kill -0 "$(cat "$1/pid")" 2>/dev/null; }

start_node() {
  local i=$1 d="$BASE/node$1"
  if alive "$d"; then echo "node$i already running pid $(cat "$d/pid")"; return; fi
  rm -f "$d/pid"
  # a server left running from elsewhere on this port would answer for the one we start (which
  # dies on EADDRINUSE), and everything measured after would be of the wrong server
  if curl -s -m 1 -o /dev/null "http://127.0.0.1:$(client_port "$i")/health"; then
    echo "port $(client_port "$i") is already served by another process; stop it first" >&2; exit 1
  fi
  launch "$i"
  echo "node$i pid $(cat "$d/pid") clientPort $(client_port "$i")"
}

wait_ready() { # port: GET /ready is 200 once the server has a leader and is synced with it
  for _ in $(seq 600); do
    if curl -sf -m 1 -o /dev/null "http://127.0.0.1:$1/ready"; then return 0; fi
    sleep 0.05
  done
  echo "port $1 not ready" >&2; return 1
}

state_of() { # port -> LEADING|FOLLOWING|LOOKING (this server's own state, the first "state" in /cluster)
  curl -sf -m 1 "http://127.0.0.1:$1/cluster" 2>/dev/null | grep -o '"state":"[A-Z]*"' | head -1 | cut -d'"' -f4 || true
}

stop_dir() { # dir label
  local d=$1
  if alive "$d"; then
    local p; p=$(cat "$d/pid")
    kill "$p" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null || true
    echo "$2 stopped (pid $p)"
  fi
  rm -f "$d/pid"
}

cmd=${1:-}
case "$cmd" in
  start)
    start_proxy
    for i in $(seq $N); do start_node "$i"; done
    for i in $(seq $N); do wait_ready "$(client_port "$i")"; done
    "$0" status ;;
  start-node) start_proxy; start_node "$2"; wait_ready "$(client_port "$2")" ;;
  stop)
    # all three at once (a leader that outlives its followers would log its way through LOOKING)
    for i in $(seq $N); do d="$BASE/node$i"; alive "$d" && kill "$(cat "$d/pid")" 2>/dev/null || true; done
    for i in $(seq $N); do stop_dir "$BASE/node$i" "node$i"; done
    stop_dir "$BASE/proxy" "delay proxy" ;;
  kill-node)
    d="$BASE/node$2"; p=$(cat "$d/pid"); kill -9 "$p"; rm -f "$d/pid"; echo "node$2 killed (pid $p)" ;;
  status)
    for i in $(seq $N); do
      d="$BASE/node$i"
      if alive "$d"; then
        s=$(state_of "$(client_port "$i")")
        echo "node$i pid $(cat "$d/pid") port $(client_port "$i") state ${s:-?}"
      else echo "node$i down"; fi
    done ;;
  leader)
    for i in $(seq $N); do
      if alive "$BASE/node$i" && [ "$(state_of "$(client_port "$i")")" = LEADING ]; then echo "$i"; exit 0; fi
    done; exit 1 ;;
  pids)
    for i in $(seq $N); do d="$BASE/node$i"; alive "$d" && echo "$i $(cat "$d/pid")"; done; true ;;
  ready-since)
    # pino JSON lines: {"level":30,"time":<epoch ms>,"server":i,"state":"LEADING",...,"serving":true,...,"msg":"role"}
    { cat "$BASE"/node*/zoogate.log 2>/dev/null | grep '"msg":"role"' | grep '"state":"LEADING"' | grep '"serving":true' |
      sed -n 's/.*"time":\([0-9]*\).*/\1/p' | sort -n | awk -v s="$2" '$1 > s { print; exit }'; } || true ;;
  clean)
    "$0" stop; rm -rf "$BASE" ;;
  *) sed -n '2,32p' "$0"; exit 1 ;;
esac
