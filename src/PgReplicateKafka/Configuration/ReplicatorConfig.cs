namespace PgReplicateKafka.Configuration;

/// <summary>The whole, validated configuration. Built by <see cref="ConfigLoader"/>.</summary>
public sealed class ReplicatorConfig
{
    public required PostgresConfig Postgres { get; init; }
    public required KafkaConfig Kafka { get; init; }
    public ReplicationConfig Replication { get; init; } = new();
    public FormatConfig Format { get; init; } = new();
    public MetricsConfig Metrics { get; init; } = new();
}

/// <summary>The <c>[postgres]</c> section: where to replicate from.</summary>
public sealed class PostgresConfig
{
    public string Host { get; init; } = "localhost";
    public int Port { get; init; } = 5432;
    public required string Database { get; init; }
    public required string Username { get; init; }

    /// <summary>
    /// The password from the file, <c>password_file</c> or the environment; null lets
    /// libpq-style PGPASSWORD / .pgpass apply when connecting.
    /// </summary>
    public string? Password { get; init; }

    /// <summary>Where <see cref="Password"/> was read from, when it came from a file.</summary>
    public string? PasswordFile { get; init; }

    public required string Publication { get; init; }
    public string SlotName { get; init; } = "pg_replicate_kafka_slot";
    public PgSslMode SslMode { get; init; } = PgSslMode.Prefer;
    public bool CreatePublication { get; init; }

    /// <summary>Tables as <c>schema.table</c> or <c>table</c>; used when creating the publication.</summary>
    public IReadOnlyList<string> Tables { get; init; } = [];

    public int ConnectTimeoutSecs { get; init; } = 10;
    public TimeSpan ConnectTimeout => TimeSpan.FromSeconds(ConnectTimeoutSecs);
}

/// <summary>The <c>[kafka]</c> section: where to write to.</summary>
public sealed class KafkaConfig
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
}

/// <summary>The <c>[replication]</c> section: pacing, checkpoints and delivery guarantee.</summary>
public sealed class ReplicationConfig
{
    public int PollIntervalMs { get; init; } = 100;
    public TimeSpan PollInterval => TimeSpan.FromMilliseconds(PollIntervalMs);
    public int KeepaliveIntervalSecs { get; init; } = 10;
    public TimeSpan KeepaliveInterval => TimeSpan.FromSeconds(KeepaliveIntervalSecs);
    public int CheckpointIntervalSecs { get; init; } = 10;
    public TimeSpan CheckpointInterval => TimeSpan.FromSeconds(CheckpointIntervalSecs);
    public int ShutdownTimeoutSecs { get; init; } = 8;
    public TimeSpan ShutdownTimeout => TimeSpan.FromSeconds(ShutdownTimeoutSecs);
    public long MaxInFlightBytes { get; init; } = 67_108_864;
    public DeliveryGuarantee Delivery { get; init; } = DeliveryGuarantee.AtLeastOnce;
    public int TransactionMaxEvents { get; init; } = 10_000;
    public int TransactionMaxMs { get; init; } = 100;
    public TimeSpan TransactionMaxDuration => TimeSpan.FromMilliseconds(TransactionMaxMs);

    /// <summary>First reconnection delay; doubles (with jitter) up to <see cref="RetryMaxMs"/>.</summary>
    public int RetryInitialMs { get; init; } = 500;
    public int RetryMaxMs { get; init; } = 30_000;
}

/// <summary>The <c>[format]</c> section: how PostgreSQL values are rendered in JSON.</summary>
public sealed class FormatConfig
{
    public NumericFormat Numeric { get; init; } = NumericFormat.String;
    public JsonFormat Json { get; init; } = JsonFormat.Value;
    public BinaryFormat Binary { get; init; } = BinaryFormat.Base64;
}

/// <summary>The <c>[metrics]</c> section: the Prometheus and health endpoint, off unless <c>listen</c> is set.</summary>
public sealed class MetricsConfig
{
    /// <summary>Host or address to bind; null when metrics are off.</summary>
    public string? ListenHost { get; init; }

    public int ListenPort { get; init; }

    public bool Enabled => ListenHost is not null;
}

/// <summary>libpq's sslmode values.</summary>
public enum PgSslMode { Disable, Allow, Prefer, Require, VerifyCa, VerifyFull }

public enum KafkaCompression { None, Gzip, Snappy, Lz4, Zstd }

public enum OversizedPolicy { Fail, Skip }

public enum DeliveryGuarantee { AtLeastOnce, ExactlyOnce }

/// <summary>numeric columns: as a JSON string (exact) or a JSON number (may lose precision in readers).</summary>
public enum NumericFormat { String, Number }

/// <summary>json/jsonb columns: embedded as a JSON value, or quoted as a JSON string.</summary>
public enum JsonFormat { Value, String }

/// <summary>bytea columns: base64 or hex text.</summary>
public enum BinaryFormat { Base64, Hex }
