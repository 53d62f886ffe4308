#!/usr/bin/env bash
# The demo: a throwaway PostgreSQL, an in-process Kafka broker, the replicator, and a workload;
# every Kafka message is printed as it arrives. Extra arguments go to the demo (e.g. --duration 20).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
dotnet run --project src/PgReplicateKafka.Cli -c Release -- demo "$@"
