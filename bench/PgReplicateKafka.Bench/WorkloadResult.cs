namespace PgReplicateKafka.Bench;

/// <summary>What one workload measured. Rates are changes per second; null where a metric does not apply.</summary>
internal sealed record WorkloadResult
{
    public required string Name { get; init; }
    public required string Description { get; init; }
    public required long Changes { get; init; }

    /// <summary>How long writing the workload into PostgreSQL took (for context only).</summary>
    public required TimeSpan WriteTime { get; init; }

    /// <summary>Replicator start-up: process start until it logs that it is streaming.</summary>
    public required TimeSpan StartupTime { get; init; }

    public required double EndToEndRate { get; init; }
    public double? CeilingRate { get; init; }

    /// <summary>What <see cref="CeilingRate"/> measured.</summary>
    public string CeilingName { get; init; } = "raw pgoutput ceiling (pg_recvlogical)";
    public double? Ratio => CeilingRate is { } ceiling ? EndToEndRate / ceiling : null;
    public required double CpuSecondsPerMillion { get; init; }
    public required double PeakRssMb { get; init; }

    /// <summary>Process start until the first change is in Kafka (latency workload only).</summary>
    public TimeSpan? FirstChangeTime { get; init; }

    public LatencyStats? Latency { get; init; }

    /// <summary>Worst commit-to-readable latency during the warm-up, in milliseconds (latency workload only).</summary>
    public double? WarmupLatencyMax { get; init; }
}

/// <summary>Commit-to-acknowledgement latency percentiles, in milliseconds.</summary>
internal sealed record LatencyStats(double P50, double P99, double Max, double ProducedP99)
{
    public static LatencyStats From(List<double> received, List<double> produced)
    {
        received.Sort();
        produced.Sort();
        return new LatencyStats(Percentile(received, 0.50), Percentile(received, 0.99), received[^1], Percentile(produced, 0.99));
    }

    private static double Percentile(List<double> sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
}
