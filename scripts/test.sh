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

# CI keeps only the end of the output: repeat each failed test's name and message there.
awk '/^  Failed [A-Za-z]/ { show = 1; lines = 0; print "----"; }
     /^  (Passed|Skipped) [A-Za-z]/ { show = 0 }
     show && lines++ < 40' "$log"

# dotnet test's summary is not a line CI reads; print the plain "N passed, N failed" one.
passed=$(grep -E '^ +Passed: +[0-9]+ *$' "$log" | tail -n 1 | grep -oE '[0-9]+' || echo 0)
failed=$(grep -E '^ +Failed: +[0-9]+ *$' "$log" | tail -n 1 | grep -oE '[0-9]+' || echo 0)
echo "${passed} passed, ${failed} failed"
exit "$status"
