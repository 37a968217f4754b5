#!/usr/bin/env bash
# galera-health: the Galera node's health (Percona clustercheck style), for the Docker
# HEALTHCHECK and by hand; the logic is `galera-agent health` (agent/health).
#   galera-health [--check] [--donor-ok [--transfer-ok-after SECONDS]]
#                        exit 0 when healthy, 1 otherwise, the state on stdout
#   galera-health --http answer one HTTP request on stdin/stdout
# galera-agent run serves the same answer on port 9200 (HTTP 200 when Synced, 503 otherwise).
set -euo pipefail
exec /usr/local/bin/galera-agent health "$@"
