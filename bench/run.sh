#!/usr/bin/env bash
# The benchmark: a throwaway PostgreSQL and an in-process Kafka broker, the bulk, oltp, wide and
# latency workloads, and a Markdown table per workload on stdout (progress on stderr).
# Arguments go to the harness, e.g. --quick for a one-minute smoke run; --help lists them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
dotnet build bench/PgReplicateKafka.Bench -c Release -v quiet -nologo >&2
exec dotnet bench/PgReplicateKafka.Bench/bin/Release/net10.0/pg-replicate-kafka-bench.dll "$@"
