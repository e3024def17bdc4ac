#!/usr/bin/env bash
# NxMesh developer commands (bash, not sh: dash drops environment names with '-', e.g. Parameters__admin-email).
#   ./nxmesh.sh up        bring up the local fleet (AppHost: Postgres, Redis, Api, AgentHub, Worker, 2 nginx+agent replicas)
#   ./nxmesh.sh test      build and run the whole test suite
#   ./nxmesh.sh manifest  write the deployment manifest (aspire-manifest.json) from the AppHost model
#   ./nxmesh.sh reset     delete the local database, secrets and replica state (.nxmesh/local)
#   ./nxmesh.sh status    probe a running local fleet (Api, AgentHub gRPC health, agents' nginx, dashboard)
#   ./nxmesh.sh bench     fleet-scale benchmark (agent simulator vs AgentHub and the floor server); --help for options
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(nginx redis-server postgresql-15 npm pebble)

missing_packages() {
  local missing=()
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v npx >/dev/null 2>&1 || missing+=(npm)
  [ -x /usr/lib/postgresql/15/bin/postgres ] || missing+=(postgresql-15)
  # Pebble + pebble-challtestsrv: the ACME server of the certificate tests.
  [ -x /usr/bin/pebble ] && [ -x /usr/bin/pebble-challtestsrv ] || missing+=(pebble)
  echo "${missing[@]:-}"
}

ensure_packages() {
  local missing
  missing=$(missing_packages)
  if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "Missing OS packages: $missing" >&2
      echo "Install them with: sudo apt-get update && sudo apt-get install -y ${PACKAGES[*]}" >&2
      exit 1
    fi
    echo "Installing $missing ..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  fi
  # The agents run their own nginx; a distribution service on 0.0.0.0:80 would take their ports.
  if [ "$(id -u)" -eq 0 ]; then
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
      systemctl disable --now nginx >/dev/null 2>&1 || true
    fi
    if [ -f /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then
      kill -QUIT "$(cat /run/nginx.pid)" || true
    fi
  fi
}

export ASPIRE_ALLOW_UNSECURED_TRANSPORT=true
export DOTNET_CLI_TELEMETRY_OPTOUT=1
export DOTNET_NOLOGO=1

case "${1:-}" in
  up)
    ensure_packages
    shift
    exec dotnet run --project NxMesh.AppHost --launch-profile http -- "$@"
    ;;
  test)
    ensure_packages
    shift
    dotnet build NxMesh.sln -warnaserror -nologo -v q
    # The non-.NET agent client of the AgentHub tests (@grpc/grpc-js), from its lock file; bounded.
    timeout 300 npm ci --prefix tests/NxMesh.AgentHub.Tests/node --no-audit --no-fund --loglevel=error
    set +e
    dotnet test NxMesh.sln --no-build --nologo -m:1 --logger "console;verbosity=normal" "$@"
    status=$?
    set -e
    # The Api tests write the served OpenAPI document; a third-party validator lints it (a lint error fails the run).
    openapi=tests/NxMesh.Api.Tests/bin/Debug/net10.0/openapi-v1.json
    if [ -f "$openapi" ]; then
      echo "Linting $openapi with @redocly/cli ..."
      npx --yes @redocly/cli@2.77.0 lint "$openapi" || status=1
    elif [ "$status" -eq 0 ] && [ $# -eq 0 ]; then
      echo "The Api tests did not write $openapi." >&2
      status=1
    fi
    # The console's API types are generated from that document (openapi-typescript, web/node_modules from the build);
    # a difference from the committed web/src/api/schema.d.ts fails the run.
    if [ -f "$openapi" ]; then
      echo "Regenerating web/src/api/schema.d.ts from $openapi ..."
      (cd web && npx --no-install openapi-typescript "../$openapi" -o src/api/schema.d.ts --silent) || status=1
      git diff --exit-code -- web/src/api/schema.d.ts || { echo "web/src/api/schema.d.ts differs from the OpenAPI document: commit the regenerated file." >&2; status=1; }
    fi
    exit "$status"
    ;;
  manifest)
    shift
    dotnet run --project NxMesh.AppHost --launch-profile http -- \
      --publisher manifest --output-path ../aspire-manifest.json --NxMesh:Mode=container "$@"
    ;;
  status)
    # Each probe is bounded (curl --max-time); exit 0 only when every address answers as it should.
    failed=0
    probe() { # name, expected, actual
      if [ "$3" = "$2" ]; then echo "ok    $1"; else echo "FAIL  $1 (expected $2, got ${3:-nothing})"; failed=1; fi
    }
    probe "Api http://127.0.0.1:5080/health" 200 \
      "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:5080/health || true)"
    # grpc.health.v1.Health/Check with an empty request (a 5-byte gRPC frame); SERVING is the frame 00 00000002 0801.
    probe "AgentHub gRPC health http://127.0.0.1:5081 (SERVING)" 00000000020801 \
      "$(printf '\0\0\0\0\0' | curl -s --max-time 5 --http2-prior-knowledge -H 'content-type: application/grpc' \
          -H 'te: trailers' --data-binary @- http://127.0.0.1:5081/grpc.health.v1.Health/Check | od -An -tx1 | tr -d ' \n' || true)"
    for i in $(seq 1 "${NXMESH_AGENT_REPLICAS:-2}"); do
      address="127.0.0.$((10 + i))"
      probe "agent $i nginx http://$address/ (default server 404)" 404 \
        "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$address/" || true)"
    done
    dashboard=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:15000/ || true)
    case "$dashboard" in 2??|3??) dashboard=reachable ;; esac
    probe "Aspire dashboard http://127.0.0.1:15000" reachable "$dashboard"
    exit "$failed"
    ;;
  bench)
    # Release builds of what is measured, then the simulator drives the scenarios and writes bench/results/.
    ensure_packages
    shift
    # One build: the simulator's project references MigrationService, Api, AgentHub and Agent (no assembly reference).
    dotnet build bench/NxMesh.AgentSim -c Release -nologo -v q
    # 10,000 agents need 10,000 sockets in the simulator and in AgentHub: raise the open-file limit to the hard limit.
    ulimit -n "$(ulimit -Hn)"
    exec dotnet bench/NxMesh.AgentSim/bin/Release/net10.0/NxMesh.AgentSim.dll run --repo "$PWD" "$@"
    ;;
  reset)
    # Postgres data lives outside .nxmesh/local when the 'postgres' user cannot reach the repository (see README).
    if [ -f .nxmesh/local/postgres-location ]; then rm -rf "$(cat .nxmesh/local/postgres-location)"; fi
    rm -rf .nxmesh/local
    echo "Local data removed."
    ;;
  *)
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
