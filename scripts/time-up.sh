#!/usr/bin/env bash
# Times `./nxmesh.sh up` from a clean clone: the first start (build, initdb, migrations, seeding) and a later start,
# each until `./nxmesh.sh status` passes (Api /health, AgentHub gRPC health SERVING, both agents' nginx, dashboard).
# Stops each run by the AppHost's PID and checks that no postgres, redis or nginx of the clone is left behind.
# Usage: scripts/time-up.sh [timeout-seconds per start, default 600]
set -euo pipefail
source_repo=$(cd "$(dirname "$0")/.." && pwd)
timeout=${1:-600}
work=$(mktemp -d /tmp/nxmesh-time-up.XXXXXX)
git clone -q "$source_repo" "$work/nxmesh"
cd "$work/nxmesh"

clone_processes() { pgrep -f "$work/nxmesh" | grep -v "^$$\$" || true; }

timed_start() {
  local label=$1 started elapsed apphost
  started=$(date +%s%N)
  ./nxmesh.sh up >"$work/$label.log" 2>&1 &
  local runner=$!
  for _ in $(seq 1 "$timeout"); do
    if ./nxmesh.sh status >"$work/$label.status" 2>&1; then break; fi
    if ! kill -0 "$runner" 2>/dev/null; then echo "$label: nxmesh.sh up exited; see $work/$label.log" >&2; exit 1; fi
    sleep 1
  done
  elapsed=$(( ($(date +%s%N) - started) / 1000000000 ))
  ./nxmesh.sh status || { echo "$label: not up within ${timeout}s; see $work/$label.log" >&2; }
  printf '%s start: %d s until every probe passed\n' "$label" "$elapsed"
  apphost=$(pgrep -f "$work/nxmesh/NxMesh.AppHost/bin/.*/NxMesh.AppHost" | head -n1 || true)
  if [ -n "$apphost" ]; then kill -TERM "$apphost"; fi
  for _ in $(seq 1 60); do kill -0 "$runner" 2>/dev/null || break; sleep 1; done
  kill -0 "$runner" 2>/dev/null && { echo "$label: nxmesh.sh up still running 60 s after TERM" >&2; kill -KILL "$runner"; }
  # The AppHost hands process shutdown to DCP, which finishes it after the AppHost exits: allow it 60 s.
  local left
  for _ in $(seq 1 60); do left=$(clone_processes); [ -z "$left" ] && break; sleep 1; done
  if [ -n "$left" ]; then echo "$label: processes left behind:" >&2; ps -o pid,args -p $left >&2; exit 1; fi
  echo "$label: stopped cleanly, no process of the clone left"
}

timed_start first
timed_start later
./nxmesh.sh reset >/dev/null
rm -rf "$work"
