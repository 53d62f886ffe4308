using System.Globalization;

namespace PgReplicateKafka.Bench;

/// <summary>Prints results as Markdown tables, ready to paste into docs/benchmarks.md.</summary>
internal static class Report
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>One workload: the same WAL's limits, then the replicator in each delivery mode measured on it.</summary>
    public static void Workload(TextWriter output, IReadOnlyList<WorkloadResult> results)
    {
        var first = results[0];
        output.WriteLine();
        output.WriteLine($"### {first.Name}: {first.Description}");
        output.WriteLine();
        output.WriteLine($"Median of {first.Runs} run(s), with the lowest and highest.");
        output.WriteLine();
        output.WriteLine("| metric | median | min | max | target |");
        output.WriteLine("|---|---:|---:|---:|---|");
        Row(output, "changes", Count(first.Changes));
        if (first.Limits is { } limits)
        {
            Row(output, "server decode, text (no client), changes/s", limits.Decode, Count);
            Row(output, "server decode, binary (no client), changes/s", limits.BinaryDecode, Count);
            Row(output, "server decode CPU (text), s per million changes", limits.DecodeCpuSecondsPerMillion, Seconds);
            Row(output, "raw reader (pg_recvlogical), changes/s", limits.Raw, Count);
            Row(output, "raw reader, binary (pg_recvlogical -o binary=true), changes/s", limits.RawBinary, Count);
            Row(output, "socket raw reader (large paced reads), changes/s", limits.SocketRaw, Count);
            Row(output, "ceiling (the faster raw reader of each run), changes/s", limits.Ceiling, Count);
            Row(output, "ceiling / server decode", limits.RawOverDecode, Percent);
            Row(output, "the Kafka producer alone (prebuilt messages, no PostgreSQL, no JSON), changes/s", limits.Sink, Count);
            Row(output, "the Kafka producer alone, CPU s per million changes", limits.SinkCpuSecondsPerMillion, Seconds);
        }

        if (first.PacedSinkCpuSecondsPerMillion is { } paced)
            Row(output, "the Kafka producer alone at the same pace (prebuilt messages, no PostgreSQL, no JSON), CPU s per million changes", paced, Seconds);

        foreach (var r in results)
        {
            var mode = r.Delivery;
            Row(output, $"end to end, {mode}, changes/s", r.EndToEnd, Count,
                r.Name == "snapshot-users" ? Target(r.EndToEndRate, 150_000, atLeast: true, Count) : "");
            if (r.CopyRate is { } copy)
                Row(output, "raw read (COPY (SELECT …) TO STDOUT), rows/s", Count(copy));
            if (r.RawRatio is { } raw)
                Row(output, r.CopyRate is null ? $"end to end / ceiling, {mode}" : $"end to end / raw read, {mode}", raw, Percent, Target(raw.Median, RatioTarget(r.Name, mode), atLeast: true, Percent));
            if (r.DecodeRatio is { } decode)
                Row(output, $"end to end / server decode, {mode}", decode, Percent);
            Row(output, $"replicator CPU, {mode}, s per million changes", Seconds(r.CpuSecondsPerMillion),
                CpuTarget(r.Name) is { } cpu ? Target(r.CpuSecondsPerMillion, cpu, atLeast: false, Seconds) : "");
            Row(output, $"replicator peak RSS, {mode}, MB", r.PeakRssMb.ToString("0", Invariant),
                RssTarget(r.Name) is { } rss ? Target(r.PeakRssMb, rss, atLeast: false, v => v.ToString("0", Invariant) + " MB") : "");
            Row(output, $"replicator start-up (process start to streaming), {mode}, ms", Millis(r.StartupTime.TotalMilliseconds));
            if (r.FirstChangeTime is { } start)
                Row(output, $"process start to first change in Kafka, {mode}, ms", Millis(start.TotalMilliseconds), Target(start.TotalMilliseconds, 1000, atLeast: false, v => Millis(v) + " ms"));
            if (r.Latency is { } latency)
            {
                Row(output, $"commit to readable in Kafka p50, {mode}, ms", Millis(latency.P50));
                if (r.LatencyP99 is { } p99)
                    Row(output, $"commit to readable in Kafka p99, {mode}, ms", p99, Millis, Target(p99.Median, 25, atLeast: false, v => Millis(v) + " ms"));
                Row(output, $"commit to readable in Kafka max, {mode}, ms", Millis(latency.Max), Target(latency.Max, 100, atLeast: false, v => Millis(v) + " ms"));
                Row(output, $"commit to produced (lower bound) p99, {mode}, ms", Millis(latency.ProducedP99));
                if (r.WarmupLatencyMax is { } warmup)
                    Row(output, $"commit to readable in Kafka during the warm-ups, {mode}, max ms", Millis(warmup));
            }
        }

        Row(output, "writing the workload into PostgreSQL took, s", first.WriteTime.TotalSeconds.ToString("0.0", Invariant));
        output.Flush();
    }

    public static void Summary(TextWriter output, IReadOnlyList<WorkloadResult> results)
    {
        output.WriteLine();
        output.WriteLine("### Summary");
        output.WriteLine();
        output.WriteLine("Medians; spread = (highest - lowest) / median of the end-to-end runs; ratios are the median of each run's ratio.");
        output.WriteLine();
        output.WriteLine("| workload | delivery | runs | changes | end to end changes/s | spread | pg_recvlogical changes/s | socket reader changes/s | ceiling changes/s | binary pg_recvlogical changes/s | server decode changes/s | binary decode changes/s | e2e / ceiling | e2e / decode | CPU s / M changes | producer alone CPU s / M | peak RSS MB | p50 ms | p99 ms | max ms |");
        output.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results)
        {
            output.WriteLine(string.Join(" | ",
                "| " + r.Name, r.Delivery, r.Runs.ToString(Invariant), Count(r.Changes), Count(r.EndToEndRate),
                r.EndToEnd is { } e2e ? Percent(e2e.Spread) : "-",
                r.Limits is { } l1 ? Count(l1.Raw.Median) : "-", r.Limits is { } ls ? Count(ls.SocketRaw.Median) : "-",
                r.Limits is { } lc ? Count(lc.Ceiling.Median) : "-", r.Limits is { } lb ? Count(lb.RawBinary.Median) : "-",
                r.Limits is { } l2 ? Count(l2.Decode.Median) : "-",
                r.Limits is { } l3 ? Count(l3.BinaryDecode.Median) : "-",
                r.RawRatio is { } raw ? Percent(raw.Median) : "-", r.DecodeRatio is { } decode ? Percent(decode.Median) : "-",
                Seconds(r.CpuSecondsPerMillion), (r.Limits?.SinkCpuSecondsPerMillion ?? r.PacedSinkCpuSecondsPerMillion) is { } sink ? Seconds(sink.Median) : "-", r.PeakRssMb.ToString("0", Invariant),
                r.Latency is { } l ? Millis(l.P50) : "-", r.Latency is { } l99 ? Millis(l99.P99) : "-",
                r.Latency is { } lmax ? Millis(lmax.Max) : "-") + " |");
        }

        output.Flush();
    }

    // The targets of the performance issue (#15) and, for snapshots, of the snapshot issue (#13).
    private static double RatioTarget(string workload, string delivery) =>
        workload.StartsWith("snapshot", StringComparison.Ordinal) ? 0.50 : delivery == "exactly_once" ? 0.80 : 1.0;

    private static double? CpuTarget(string workload) => workload switch
    {
        "bulk" => 4,
        "oltp" => 8,
        "wide" => 10,
        "latency" => 15,
        _ => null,
    };

    private static double? RssTarget(string workload) => workload switch
    {
        "bulk" => 100,
        "snapshot-users" or "snapshot-wide" => 150,
        _ => null,
    };

    private static string Target(double value, double target, bool atLeast, Func<double, string> format)
    {
        var met = atLeast ? value >= target : value <= target;
        return $"{(atLeast ? ">=" : "<=")} {format(target)}: {(met ? "met" : "MISSED")}";
    }

    private static void Row(TextWriter output, string metric, string value, string target = "") =>
        output.WriteLine($"| {metric} | {value} |  |  | {target} |");

    private static void Row(TextWriter output, string metric, Measured? value, Func<double, string> format, string target = "")
    {
        if (value is { } v)
            output.WriteLine($"| {metric} | {format(v.Median)} | {format(v.Min)} | {format(v.Max)} | {target} |");
    }

    private static string Count(double value) => value.ToString("N0", Invariant);

    private static string Seconds(double value) => value.ToString("0.00", Invariant);

    private static string Percent(double value) => value.ToString("0.0%", Invariant);

    private static string Millis(double value) => value.ToString(value < 10 ? "0.0" : "0", Invariant);
}
