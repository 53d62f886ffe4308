#!/usr/bin/env bash
# Installs what the demo and the tests need on a fresh Debian machine: PostgreSQL 15 (server
# binaries and contrib extensions such as hstore and citext). The .NET SDK is expected on PATH.
set -euo pipefail

if ! command -v dotnet >/dev/null 2>&1; then
    echo "error: the .NET 10 SDK is required (dotnet not found on PATH)" >&2
    exit 1
fi

have_postgres() {
    command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ] && id postgres >/dev/null 2>&1 \
        && [ -f "$(pg_config --sharedir)/extension/hstore.control" ]
}

if ! have_postgres; then
    echo "Installing PostgreSQL 15 ..." >&2
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql-15 postgresql-contrib >/dev/null
    # The package starts a system cluster; the tests and the demo start their own, so stop it.
    $SUDO service postgresql stop >/dev/null 2>&1 || true
fi
