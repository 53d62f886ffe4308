#!/usr/bin/env bash
# Reports what the container image adds on top of its base, without a Docker engine: the published
# payload (the Dockerfile's `dotnet publish`, run here) uncompressed and as a gzip-compressed tar (what
# a registry stores for a layer), plus the published sizes of the other layers, each with its source.
#
#   scripts/image-size.sh            # publishes to out/ first
#   scripts/image-size.sh DIR        # measures an existing publish directory
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${1:-out}
if [ $# -eq 0 ]; then
    echo "Publishing (dotnet publish src/PgReplicateKafka.Cli -c Release -r linux-x64 -o out) ..." >&2
    dotnet publish src/PgReplicateKafka.Cli -c Release -r linux-x64 -o out >/dev/null
fi
[ -x "$dir/pg-replicate-kafka" ] || { echo "error: $dir/pg-replicate-kafka not found; publish first" >&2; exit 2; }

# Decimal megabytes, the unit of the registry and of the size report cited below.
mb() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1000000 }'; }

# Apparent sizes (symbolic links count as links, as in a tar layer); gzip at its default level, as
# Docker compresses layers.
raw=$(find "$dir" -printf '%s\n' | awk '{ s += $1 } END { print s }')
gz=$(tar -C "$dir" -cf - . | gzip -6 | wc -c)

# The base image, runtime-deps:10.0-noble-chiseled (linux/amd64): the .NET team's size report gives
# 11.60 MB compressed for a Native AOT web API on it, base included, so the base alone is below that.
# Used as an upper bound. Source:
# https://github.com/dotnet/dotnet-docker/blob/main/documentation/sample-image-size-report.md (Nov 2025)
base=11.60
# The default stage adds Alpine's busybox-static 1.37.0 (x86_64): 625.3 KiB as a package.
# Source: https://pkgs.alpinelinux.org/package/v3.23/main/x86_64/busybox-static
busybox=0.64

printf 'publish directory %s: %s files\n' "$dir" "$(find "$dir" -type f -o -type l | wc -l)"
printf '  uncompressed           %8s MB\n' "$(mb "$raw")"
printf '  gzip-compressed tar    %8s MB\n' "$(mb "$gz")"
printf 'estimated image, compressed (linux/amd64):\n'
printf '  base (upper bound)     %8s MB  runtime-deps:10.0-noble-chiseled\n' "$base"
printf '  payload                %8s MB\n' "$(mb "$gz")"
printf '  busybox (default only) %8s MB  static wget for HEALTHCHECK\n' "$busybox"
awk -v b="$base" -v p="$gz" -v x="$busybox" 'BEGIN {
    m = b + p / 1000000
    printf "  total, minimal stage   %8.2f MB or less\n", m
    printf "  total, default stage   %8.2f MB or less\n", m + x
}'
