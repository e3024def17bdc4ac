#!/usr/bin/env bash
# NxMesh developer commands (bash, not sh: dash drops environment names with '-', e.g. Parameters__admin-email).
#   ./nxmesh.sh up        bring up the local fleet (AppHost: Postgres, Redis, Api, AgentHub, Worker, 2 nginx+agent replicas)
#   ./nxmesh.sh test      build and run the whole test suite
#   ./nxmesh.sh manifest  write the deployment manifest (aspire-manifest.json) from the AppHost model
#   ./nxmesh.sh reset     delete the local database, secrets and replica state (.nxmesh/local)
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(nginx redis-server postgresql-15)

missing_packages() {
  local missing=()
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  [ -x /usr/lib/postgresql/15/bin/postgres ] || missing+=(postgresql-15)
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
    exec dotnet test NxMesh.sln --no-build --nologo -m:1 --logger "console;verbosity=normal" "$@"
    ;;
  manifest)
    shift
    dotnet run --project NxMesh.AppHost --launch-profile http -- \
      --publisher manifest --output-path ../aspire-manifest.json --NxMesh:Mode=container "$@"
    ;;
  reset)
    rm -rf .nxmesh/local
    echo "Local data removed."
    ;;
  *)
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
