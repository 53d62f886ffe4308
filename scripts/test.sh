#!/usr/bin/env bash
# Runs every test: unit tests and integration tests against a throwaway PostgreSQL and librdkafka's
# mock Kafka broker (or a real broker when KAFKA_BOOTSTRAP_SERVERS is set).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
dotnet test PgReplicateKafka.slnx -c Release --logger "console;verbosity=normal" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# dotnet test's summary ("Passed!  - Failed: 0, Passed: 42, ...") is not a line CI reads; print the plain one.
summary=$(grep -E '(Passed|Failed)! +- +Failed: +[0-9]+, +Passed: +[0-9]+' "$log" | tail -n 1 || true)
failed=$(sed -E 's/.*Failed: +([0-9]+).*/\1/' <<<"$summary")
passed=$(sed -E 's/.*Passed: +([0-9]+).*/\1/' <<<"$summary")
if [ -n "$summary" ]; then
    echo "${passed} passed, ${failed} failed"
fi
exit "$status"
