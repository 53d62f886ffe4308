namespace PgReplicateKafka.Configuration;

/// <summary>The whole, validated configuration. Built by <see cref="ConfigLoader"/>.</summary>
public sealed class ReplicatorConfig
{
    public required PostgresConfig Postgres { get; init; }
    public required KafkaConfig Kafka { get; init; }
    public ReplicationConfig Replication { get; init; } = new();
    public FormatConfig Format { get; init; } = new();
    public MetricsConfig Metrics { get; init; } = new();
    public MaskingConfig Masking { get; init; } = new();

    /// <summary>The <c>[[tables]]</c> rules; none by default.</summary>
    public TableRulesConfig Tables { get; init; } = new();
    public SnapshotConfig Snapshot { get; init; } = new();

    /// <summary>Section by section in the documented order, so with several problems the same one is reported first.</summary>
    internal static ReplicatorConfig Build(ConfigValues v) => new()
    {
        Postgres = PostgresConfig.Build(v),
        Kafka = KafkaConfig.Build(v),
        Replication = ReplicationConfig.Build(v),
        Format = FormatConfig.Build(v),
        Metrics = MetricsConfig.Build(v),
        Masking = MaskingConfig.Build(v),
        Tables = TableRulesConfig.Build(v),
        Snapshot = SnapshotConfig.Build(v),
    };
}
