using System.Globalization;
using System.Text.RegularExpressions;

namespace PgReplicateKafka.Configuration;

/// <summary>The <c>[kafka]</c> section: where to write to.</summary>
public sealed partial class KafkaConfig
{
    /// <summary>Bootstrap servers, each <c>host:port</c>.</summary>
    public required IReadOnlyList<string> Brokers { get; init; }

    public string TopicPrefix { get; init; } = "cdc";
    public KafkaCompression Compression { get; init; } = KafkaCompression.Lz4;

    /// <summary>Always "all": the producer is idempotent, which requires it.</summary>
    public string Acks { get; init; } = "all";

    /// <summary>Exactly-once checkpoints; null means "{topic_prefix}.pg-replicate-kafka.checkpoints".</summary>
    public string? CheckpointTopic { get; init; }

    /// <summary>Exactly-once producer identity; null means one derived from database and slot.</summary>
    public string? TransactionalId { get; init; }

    /// <summary>What to do with an event larger than the producer's message.max.bytes.</summary>
    public OversizedPolicy Oversized { get; init; } = OversizedPolicy.Fail;
    /// <summary>How long to wait for a broker to answer at start (check and run) before failing.</summary>
    public int ConnectTimeoutSecs { get; init; } = 30;
    public TimeSpan ConnectTimeout => TimeSpan.FromSeconds(ConnectTimeoutSecs);

    /// <summary>Raw librdkafka properties, passed through as given.</summary>
    public IReadOnlyDictionary<string, string> Properties { get; init; } = new Dictionary<string, string>();

    internal static KafkaConfig Build(ConfigValues v)
    {
        var defaults = new KafkaConfig { Brokers = [] };

        var brokers = v.StringArray(ConfigSchema.Brokers) ?? throw v.Missing(ConfigSchema.Brokers);
        if (brokers.Count == 0)
        {
            throw v.Error(ConfigSchema.Brokers, "must list at least one broker as \"host:port\"");
        }

        foreach (var broker in brokers)
        {
            var colon = broker.LastIndexOf(':');
            var host = colon > 0 ? broker[..colon] : "";
            if (host.Length == 0 || host.Any(c => char.IsWhiteSpace(c) || c == ',') ||
                !int.TryParse(broker[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) ||
                port is < 1 or > 65535)
            {
                throw v.Error(ConfigSchema.Brokers,
                    $"entries must be \"host:port\" with a port in 1..65535, but found \"{broker}\"");
            }
        }

        var topicPrefix = v.String(ConfigSchema.TopicPrefix) ?? defaults.TopicPrefix;
        if (!TopicName().IsMatch(topicPrefix))
        {
            throw v.Error(ConfigSchema.TopicPrefix,
                $"must be a legal Kafka topic-name prefix: letters, digits, '.', '_' and '-' only, but found \"{topicPrefix}\"");
        }

        var checkpointTopic = v.String(ConfigSchema.CheckpointTopic);
        if (checkpointTopic is not null && (checkpointTopic.Length > 249 || !TopicName().IsMatch(checkpointTopic)))
        {
            throw v.Error(ConfigSchema.CheckpointTopic,
                $"must be a legal Kafka topic name: 1-249 letters, digits, '.', '_' and '-', but found \"{checkpointTopic}\"");
        }

        var acks = v.String(ConfigSchema.Acks);
        if (acks is not null and not "all" and not "-1")
        {
            throw v.Error(ConfigSchema.Acks,
                $"must be \"all\" (or its synonym \"-1\") because the producer is idempotent, which requires " +
                $"acknowledgement by all in-sync replicas; found \"{acks}\"");
        }

        KafkaPropertyRules.Check(v);

        return new KafkaConfig
        {
            Brokers = brokers,
            TopicPrefix = topicPrefix,
            Compression = v.Choice(ConfigSchema.Compression,
                ("none", KafkaCompression.None), ("gzip", KafkaCompression.Gzip), ("snappy", KafkaCompression.Snappy),
                ("lz4", KafkaCompression.Lz4), ("zstd", KafkaCompression.Zstd))
                ?? defaults.Compression,
            Acks = defaults.Acks,
            CheckpointTopic = checkpointTopic,
            TransactionalId = v.NonEmptyString(ConfigSchema.TransactionalId),
            Oversized = v.Choice(ConfigSchema.Oversized, ("fail", OversizedPolicy.Fail), ("skip", OversizedPolicy.Skip)) ?? defaults.Oversized,
            ConnectTimeoutSecs = (int?)v.Integer(ConfigSchema.KafkaConnectTimeoutSecs, 1, 3600) ?? defaults.ConnectTimeoutSecs,
            Properties = new Dictionary<string, string>(v.Properties, StringComparer.Ordinal),
        };
    }

    [GeneratedRegex("^[A-Za-z0-9._-]+$")]
    private static partial Regex TopicName();
}

public enum KafkaCompression { None, Gzip, Snappy, Lz4, Zstd }

public enum OversizedPolicy { Fail, Skip }
