# syntax=docker/dockerfile:1
# pg-replicate-kafka container image (linux/amd64).
#
#   docker build -t pg-replicate-kafka:0.1.0 .
#   docker run --rm -v "$PWD/my.toml:/etc/pg-replicate-kafka/config.toml:ro" \
#       -e PGRK_POSTGRES_PASSWORD=... pg-replicate-kafka:0.1.0
#
# Two final stages: "minimal" has nothing but the replicator; the default (last) stage adds a static
# busybox so Docker's HEALTHCHECK can query /healthz (see docs/user-guide.md, "Container image").

# --- build: the same publish command as a local build (self-contained, trimmed; see the .csproj) ---
FROM mcr.microsoft.com/dotnet/sdk:10.0-noble AS build
WORKDIR /src
# Restore first, from the project files alone, so source edits do not invalidate the package layer.
COPY Directory.Build.props PgReplicateKafka.slnx ./
COPY src/PgReplicateKafka/PgReplicateKafka.csproj src/PgReplicateKafka/
COPY src/PgReplicateKafka.Embedded/PgReplicateKafka.Embedded.csproj src/PgReplicateKafka.Embedded/
COPY src/PgReplicateKafka.Cli/PgReplicateKafka.Cli.csproj src/PgReplicateKafka.Cli/
RUN dotnet restore src/PgReplicateKafka.Cli -r linux-x64
COPY .editorconfig ./
COPY src/ src/
RUN dotnet publish src/PgReplicateKafka.Cli -c Release -r linux-x64 --no-restore -o /out

# --- minimal: Ubuntu chiseled (no shell, no package manager), non-root ---
# runtime-deps carries glibc, libssl and ca-certificates; the publish brings its own .NET runtime.
# librdkafka is the centos8 build, which needs only glibc (chiseled has no libsasl2).
FROM mcr.microsoft.com/dotnet/runtime-deps:10.0-noble-chiseled AS minimal
LABEL org.opencontainers.image.title="pg-replicate-kafka" \
      org.opencontainers.image.description="Streams PostgreSQL row changes (logical replication) into Kafka as JSON" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
# Owned by root and not writable by the app user: the replicator writes nothing to disk.
COPY --from=build --chown=root:root /out/ /app/
COPY --chown=root:root LICENSE /usr/share/doc/pg-replicate-kafka/LICENSE
# The configuration is a mounted file; every key can also be set as PGRK_<SECTION>_<KEY>.
# Metrics and /healthz listen on 9187 on every interface, so the port can be published and probed.
ENV PGRK_METRICS_LISTEN=0.0.0.0:9187
# glibc gives every thread that allocates an arena of its own; librdkafka's message copies, made on whichever
# thread-pool worker produces, spread over 15 of them. Two arenas took the peak of a bulk stream from about
# 130 MB to 105 MB at no cost in CPU (docs/benchmarks.md). glibc reads it only at process start.
ENV MALLOC_ARENA_MAX=2
EXPOSE 9187
# APP_UID (1654, user "app") is defined by the .NET base images: never run as root.
USER $APP_UID
ENTRYPOINT ["/app/pg-replicate-kafka", "run", "--config", "/etc/pg-replicate-kafka/config.toml"]

# --- healthcheck tool: Alpine's statically linked busybox runs on any Linux, no libc needed ---
FROM alpine:3.23 AS busybox
RUN apk add --no-cache busybox-static

# --- default: minimal + /healthz health check (adds about 0.6 MB compressed) ---
FROM minimal AS default
# Only the binary, no applet links: the check calls "busybox wget" explicitly.
COPY --from=busybox /bin/busybox.static /usr/local/bin/busybox
# /healthz answers 200 while streaming and 503 otherwise; busybox wget exits 1 on either a refused
# connection or a non-2xx status, which is what Docker counts as unhealthy.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/busybox", "wget", "-q", "-O", "/dev/null", "-T", "4", "http://127.0.0.1:9187/healthz"]
