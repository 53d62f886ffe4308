#!/usr/bin/env bash
# The benchmark: a throwaway PostgreSQL and an in-process Kafka broker, the bulk, oltp, wide and
# latency workloads, and a Markdown table per workload on stdout (progress on stderr).
# Arguments go to the harness, e.g. --quick for a one-minute smoke run; --help lists them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
dotnet build bench/PgReplicateKafka.Bench -c Release -v quiet -nologo >&2
# Measure what users run: the binary the README, the user guide and the Dockerfile publish
# (self-contained, trimmed, ReadyToRun). The framework-dependent build next to the harness JIT-compiles
# during the first seconds of every run, which the 1-10 s runs here would count against the product
# (docs/benchmarks.md). --replicator EXECUTABLE measures another binary instead.
if [[ " $* " != *" --replicator "* && " $* " != *" --help "* && " $* " != *" -h "* ]]; then
  dotnet publish src/PgReplicateKafka.Cli -c Release -r linux-x64 -v quiet -nologo -o bench/out/replicator >&2
  # With the container image's environment (its MALLOC_ARENA_MAX and DOTNET_ settings), read from the
  # Dockerfile so the two agree; not its PGRK_ ones, which configure the replicator.
  while read -r setting; do
    set -- --replicator-env "$setting" "$@"
  done < <(sed -n 's/^ENV \(MALLOC_ARENA_MAX=.*\|DOTNET_.*\)$/\1/p' Dockerfile)
  set -- --replicator bench/out/replicator/pg-replicate-kafka "$@"
fi
exec dotnet bench/PgReplicateKafka.Bench/bin/Release/net10.0/pg-replicate-kafka-bench.dll "$@"
