namespace PgReplicateKafka.Bench;

/// <summary>
/// What one workload measured for one delivery mode. Rates are changes per second; single figures
/// are the median of the runs; null where a metric does not apply.
/// </summary>
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
    public required double CpuSecondsPerMillion { get; init; }
    public required double PeakRssMb { get; init; }

    public string Delivery { get; init; } = "at_least_once";
    public int Runs { get; init; } = 1;

    /// <summary>The end-to-end rate of every run: its median is <see cref="EndToEndRate"/>.</summary>
    public Measured? EndToEnd { get; init; }

    /// <summary>The raw reader and the server's decode of the same WAL (throughput workloads only).</summary>
    public ReaderLimits? Limits { get; init; }

    /// <summary>End to end ÷ raw reader, run by run (each pair read the WAL in the same minute).</summary>
    public Measured? RawRatio { get; init; }

    /// <summary>Snapshot workloads: a raw read of the same table (COPY … TO STDOUT, discarded), rows/s; RawRatio is then relative to it.</summary>
    public double? CopyRate { get; init; }

    /// <summary>End to end ÷ server-side decode (text), run by run.</summary>
    public Measured? DecodeRatio { get; init; }

    /// <summary>Process start until the first change is in Kafka (latency workload only).</summary>
    public TimeSpan? FirstChangeTime { get; init; }

    public LatencyStats? Latency { get; init; }

    /// <summary>Each run's commit-to-readable p99, in milliseconds: its median is <see cref="Latency"/>'s.</summary>
    public Measured? LatencyP99 { get; init; }

    /// <summary>
    /// Latency workload: the product's Kafka producer alone (<see cref="SinkOnly"/>) handed prebuilt messages at the
    /// workload's pace and batch size, CPU s per million messages: what Kafka costs at that pace with no PostgreSQL and no JSON.
    /// </summary>
    public Measured? PacedSinkCpuSecondsPerMillion { get; init; }

    /// <summary>Worst commit-to-readable latency during the warm-up, in milliseconds (latency workload only).</summary>
    public double? WarmupLatencyMax { get; init; }
}

/// <summary>The upper bounds a replicator is compared with, measured on the same WAL in the same runs.</summary>
/// <param name="Raw">pg_recvlogical reading and discarding the pgoutput stream, changes/s.</param>
/// <param name="RawBinary">The same with pgoutput's binary option: what a binary-mode client could reach at best, changes/s.</param>
/// <param name="SocketRaw">The socket raw reader (<see cref="SocketRawReader"/>): the protocol on a bare socket, read in large, paced receives, changes/s.</param>
/// <param name="Ceiling">The faster of pg_recvlogical and the socket raw reader, run by run: what the replicator is compared with, changes/s.</param>
/// <param name="Decode">The server decoding the WAL into pgoutput text messages, with no client, changes/s.</param>
/// <param name="BinaryDecode">The same with pgoutput's binary option (values in their binary send format), changes/s.</param>
/// <param name="DecodeCpuSecondsPerMillion">The decoding backend's CPU per million changes (text).</param>
/// <param name="RawOverDecode">Ceiling ÷ server decode, run by run: what the network and a client cost PostgreSQL.</param>
/// <param name="Sink">The product's Kafka producer alone on prebuilt copies of a message the replicator wrote (<see cref="SinkOnly"/>), messages/s.</param>
/// <param name="SinkCpuSecondsPerMillion">That producer's CPU per million messages: the part of the replicator's CPU that is Kafka's.</param>
internal sealed record ReaderLimits(
    Measured Raw, Measured RawBinary, Measured SocketRaw, Measured Ceiling, Measured Decode, Measured BinaryDecode, Measured DecodeCpuSecondsPerMillion, Measured RawOverDecode,
    Measured Sink, Measured SinkCpuSecondsPerMillion);

/// <summary>One figure over several runs.</summary>
internal sealed record Measured(double Median, double Min, double Max)
{
    public static Measured Of(IReadOnlyList<double> runs)
    {
        var sorted = runs.Order().ToArray();
        var middle = sorted.Length / 2;
        var median = sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
        return new Measured(median, sorted[0], sorted[^1]);
    }

    /// <summary>(max - min) ÷ median: how far apart the runs were.</summary>
    public double Spread => Median == 0 ? 0 : (Max - Min) / Median;
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

    /// <summary>The median of each percentile over the runs.</summary>
    public static LatencyStats Median(IReadOnlyList<LatencyStats> runs) => new(
        Measured.Of(runs.Select(r => r.P50).ToList()).Median, Measured.Of(runs.Select(r => r.P99).ToList()).Median,
        Measured.Of(runs.Select(r => r.Max).ToList()).Median, Measured.Of(runs.Select(r => r.ProducedP99).ToList()).Median);

    private static double Percentile(List<double> sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
}
