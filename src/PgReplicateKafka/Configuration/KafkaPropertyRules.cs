using System.Globalization;

namespace PgReplicateKafka.Configuration;

/// <summary>
/// The <c>[kafka.properties]</c> entries the delivery guarantees depend on: refused outright, or
/// held to values that keep the guarantee. Names are librdkafka's, aliases included, as listed in
/// its CONFIGURATION.md. File and environment arrive here alike, and <c>check</c> loads the same way.
/// </summary>
internal static class KafkaPropertyRules
{
    private sealed record Refusal(string Reason, string? Instead = null);

    private sealed record Limit(long Min, long Max, string Requirement);

    private static readonly Refusal Brokers = new("the replicator sets it from [kafka] brokers", "[kafka] brokers");
    private static readonly Refusal Compression = new("the replicator sets it from [kafka] compression", "[kafka] compression");

    private static readonly Refusal Acks = new(
        "an event counts as delivered only once all in-sync replicas have it, so the idempotent producer always " +
        "uses acks=all ([kafka] acks accepts only \"all\")");

    private static readonly Refusal MessageTimeout = new(
        "the replicator sets it: 0 (never expire, a broker outage pauses replication) under at_least_once, and " +
        "the transaction bound under exactly_once; a shorter timeout fails events while brokers are away");

    private static readonly Refusal DeliveryReports = new(
        "an event is confirmed to PostgreSQL only when its delivery report says Kafka has it, so every report " +
        "must reach the replicator");

    private static readonly Refusal AutoCommit = new(
        "the exactly_once checkpoint reader reads its topic from the start every time and must commit no offsets");

    private static readonly Refusal ApiOnly = new(
        "it is a callback or object only librdkafka's C API can set, and the replicator's Kafka client installs its own");

    private static readonly Dictionary<string, Refusal> Refused = new(StringComparer.Ordinal)
    {
        ["bootstrap.servers"] = Brokers,
        ["metadata.broker.list"] = Brokers,
        ["compression.type"] = Compression,
        ["compression.codec"] = Compression,
        ["acks"] = Acks,
        ["request.required.acks"] = Acks,
        ["enable.idempotence"] = new("the producer is always idempotent, so that retries neither duplicate nor reorder events"),
        ["transactional.id"] = new(
            "the replicator sets it under exactly_once, from [kafka] transactional_id or derived from cluster, database and slot",
            "[kafka] transactional_id"),
        ["partitioner"] = new(
            "keys are always partitioned with murmur2_random, as Java producers do; another partitioner would send a " +
            "row's later events to another partition than its earlier ones, out of order"),
        ["queuing.strategy"] = new("lifo reorders events; the idempotent producer needs fifo, the default"),
        ["enable.gapless.guarantee"] = new(
            "the replicator handles failed deliveries itself (nothing unacknowledged is confirmed to PostgreSQL); this " +
            "experimental option would make a failed batch a fatal producer error instead"),
        ["message.timeout.ms"] = MessageTimeout,
        ["delivery.timeout.ms"] = MessageTimeout,
        ["queue.buffering.max.kbytes"] = new(
            "librdkafka's queue is sized from [replication] max_in_flight_bytes, which bounds the memory in flight",
            "[replication] max_in_flight_bytes"),
        ["delivery.report.only.error"] = DeliveryReports,
        ["dotnet.producer.enable.delivery.reports"] = DeliveryReports,
        ["dotnet.producer.enable.background.poll"] = DeliveryReports,
        ["dotnet.producer.delivery.report.fields"] = new(
            "the replicator chooses the delivery report fields: it needs each report's status, and marshalling more costs CPU per event"),
        ["isolation.level"] = new(
            "the exactly_once checkpoint reader must see only committed checkpoints (read_committed); reading an " +
            "aborted one would make a restart skip events"),
        ["enable.auto.commit"] = AutoCommit,
        ["auto.commit.enable"] = AutoCommit,
        ["enable.partition.eof"] = new(
            "the exactly_once checkpoint reader needs end-of-partition events to know it has read every checkpoint"),
        ["dotnet.consumer.consume.result.fields"] = new(
            "the exactly_once checkpoint reader needs each record's key and value to find the last checkpoint"),
        ["dr_cb"] = ApiOnly,
        ["dr_msg_cb"] = ApiOnly,
        ["error_cb"] = ApiOnly,
        ["throttle_cb"] = ApiOnly,
        ["stats_cb"] = ApiOnly,
        ["log_cb"] = ApiOnly,
        ["background_event_cb"] = ApiOnly,
        ["socket_cb"] = ApiOnly,
        ["connect_cb"] = ApiOnly,
        ["closesocket_cb"] = ApiOnly,
        ["open_cb"] = ApiOnly,
        ["resolve_cb"] = ApiOnly,
        ["oauthbearer_token_refresh_cb"] = ApiOnly,
        ["ssl.certificate.verify_cb"] = ApiOnly,
        ["consume_cb"] = ApiOnly,
        ["rebalance_cb"] = ApiOnly,
        ["offset_commit_cb"] = ApiOnly,
        ["partitioner_cb"] = ApiOnly,
        ["msg_order_cmp"] = ApiOnly,
        ["opaque"] = ApiOnly,
        ["default_topic_conf"] = ApiOnly,
        ["interceptors"] = ApiOnly,
        ["ssl_key"] = ApiOnly,
        ["ssl_certificate"] = ApiOnly,
        ["ssl_ca"] = ApiOnly,
        ["ssl_engine_callback_data"] = ApiOnly,
    };

    private static readonly Limit MaxInFlight = new(1, 5,
        "an integer in 1..5: the idempotent producer keeps a partition's events in order only with at most 5 requests in flight");

    private static readonly Limit Retries = new(int.MaxValue, int.MaxValue,
        "2147483647 (librdkafka's default) if set at all: fewer retries would fail an event on a passing broker " +
        "error instead of retrying until it is delivered");

    private static readonly Dictionary<string, Limit> Limited = new(StringComparer.Ordinal)
    {
        ["max.in.flight.requests.per.connection"] = MaxInFlight,
        ["max.in.flight"] = MaxInFlight,
        ["message.send.max.retries"] = Retries,
        ["retries"] = Retries,
        // Raising it lets one huge PostgreSQL transaction (one Kafka transaction at least) take longer. The
        // floor is the 600000 ms message.timeout.ms KafkaSink sets under exactly_once: librdkafka refuses a
        // transaction timeout below the message timeout.
        ["transaction.timeout.ms"] = new(600_000, int.MaxValue,
            "an integer in 600000..2147483647 (and at most the brokers' transaction.max.timeout.ms, 900000 by default): " +
            "under exactly_once an event may wait 600000 ms for delivery, and librdkafka requires that within the transaction timeout"),
    };

    public static void Check(ConfigValues v)
    {
        foreach (var (property, value) in v.Properties)
        {
            var envVar = v.PropertyEnvVar(property);
            var origin = envVar is null ? $"in {v.Source}" : $"from environment variable {envVar}";
            if (Refused.TryGetValue(property, out var refusal))
            {
                var instead = refusal.Instead is null ? "" : $" Set {refusal.Instead} instead.";
                var fix = envVar is null ? $"Remove it from [kafka.properties] in {v.Source}." : $"Unset environment variable {envVar}.";
                throw new ConfigException($"[kafka.properties] {property} ({origin}) is refused: {refusal.Reason}.{instead} {fix}");
            }

            // The value is not echoed: [kafka.properties] values may be secrets.
            if (Limited.TryGetValue(property, out var limit) &&
                !(long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number >= limit.Min && number <= limit.Max))
            {
                var fix = envVar is null ? $"Fix or remove it in [kafka.properties] in {v.Source}." : $"Fix or unset environment variable {envVar}.";
                throw new ConfigException($"[kafka.properties] {property} ({origin}) must be {limit.Requirement}. {fix}");
            }
        }
    }
}
