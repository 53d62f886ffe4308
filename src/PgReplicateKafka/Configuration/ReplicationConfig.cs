namespace PgReplicateKafka.Configuration;

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

    internal static ReplicationConfig Build(ConfigValues v)
    {
        var defaults = new ReplicationConfig();
        var retryInitial = (int?)v.Integer(ConfigSchema.RetryInitialMs, 1, 3_600_000) ?? defaults.RetryInitialMs;
        var retryMax = (int?)v.Integer(ConfigSchema.RetryMaxMs, 1, 3_600_000) ?? defaults.RetryMaxMs;
        if (retryMax < retryInitial)
            throw v.Error(ConfigSchema.RetryMaxMs, $"must be at least [replication] retry_initial_ms ({retryInitial}), but is {retryMax}");
        return new ReplicationConfig
        {
            PollIntervalMs = (int?)v.Integer(ConfigSchema.PollIntervalMs, 1, 60_000) ?? defaults.PollIntervalMs,
            KeepaliveIntervalSecs = (int?)v.Integer(ConfigSchema.KeepaliveIntervalSecs, 1, 3600) ?? defaults.KeepaliveIntervalSecs,
            CheckpointIntervalSecs = (int?)v.Integer(ConfigSchema.CheckpointIntervalSecs, 1, 3600) ?? defaults.CheckpointIntervalSecs,
            ShutdownTimeoutSecs = (int?)v.Integer(ConfigSchema.ShutdownTimeoutSecs, 1, 3600) ?? defaults.ShutdownTimeoutSecs,
            MaxInFlightBytes = v.Integer(ConfigSchema.MaxInFlightBytes, 1_048_576, long.MaxValue) ?? defaults.MaxInFlightBytes,
            Delivery = v.Choice(ConfigSchema.Delivery,
                ("at_least_once", DeliveryGuarantee.AtLeastOnce), ("exactly_once", DeliveryGuarantee.ExactlyOnce))
                ?? defaults.Delivery,
            TransactionMaxEvents = (int?)v.Integer(ConfigSchema.TransactionMaxEvents, 1, int.MaxValue) ?? defaults.TransactionMaxEvents,
            TransactionMaxMs = (int?)v.Integer(ConfigSchema.TransactionMaxMs, 1, int.MaxValue) ?? defaults.TransactionMaxMs,
            RetryInitialMs = retryInitial,
            RetryMaxMs = retryMax,
        };
    }
}

public enum DeliveryGuarantee { AtLeastOnce, ExactlyOnce }
