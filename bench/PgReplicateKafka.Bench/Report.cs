using System.Globalization;

namespace PgReplicateKafka.Bench;

/// <summary>Prints results as Markdown tables, ready to paste into docs/benchmarks.md.</summary>
internal static class Report
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static void Workload(TextWriter output, WorkloadResult r)
    {
        output.WriteLine();
        output.WriteLine($"### {r.Name}: {r.Description}");
        output.WriteLine();
        output.WriteLine("| metric | value | target |");
        output.WriteLine("|---|---:|---|");
        Row(output, "changes", Count(r.Changes));
        Row(output, "end to end, changes/s", Count(r.EndToEndRate));
        if (r.CeilingRate is { } ceiling)
        {
            Row(output, $"{r.CeilingName}, changes/s", Count(ceiling));
            Row(output, "ratio end to end / ceiling", Percent(r.Ratio!.Value), Target(r.Ratio.Value, RatioTarget(r.Name), atLeast: true, Percent));
        }

        Row(output, "replicator CPU, s per million changes", r.CpuSecondsPerMillion.ToString("0.00", Invariant));
        Row(output, "replicator peak RSS, MB", r.PeakRssMb.ToString("0", Invariant),
            r.Name == "bulk" ? Target(r.PeakRssMb, 150, atLeast: false, v => v.ToString("0", Invariant) + " MB") : "");
        Row(output, "replicator start-up (process start to streaming), ms", Millis(r.StartupTime.TotalMilliseconds));
        if (r.FirstChangeTime is { } first)
            Row(output, "process start to first change in Kafka, ms", Millis(first.TotalMilliseconds), Target(first.TotalMilliseconds, 1000, atLeast: false, v => Millis(v) + " ms"));
        if (r.Latency is { } latency)
        {
            Row(output, "commit to readable in Kafka p50, ms", Millis(latency.P50));
            Row(output, "commit to readable in Kafka p99, ms", Millis(latency.P99), Target(latency.P99, 50, atLeast: false, v => Millis(v) + " ms"));
            Row(output, "commit to readable in Kafka max, ms", Millis(latency.Max));
            Row(output, "commit to produced (lower bound) p99, ms", Millis(latency.ProducedP99));
            if (r.WarmupLatencyMax is { } warmup)
                Row(output, "commit to readable in Kafka during the warm-up, max ms", Millis(warmup));
        }

        Row(output, "writing the workload into PostgreSQL took, s", r.WriteTime.TotalSeconds.ToString("0.0", Invariant));
        output.Flush();
    }

    public static void Summary(TextWriter output, IReadOnlyList<WorkloadResult> results)
    {
        output.WriteLine();
        output.WriteLine("### Summary");
        output.WriteLine();
        output.WriteLine("| workload | changes | end to end changes/s | ceiling changes/s | ratio | CPU s / M changes | peak RSS MB | p50 ms | p99 ms | max ms |");
        output.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results)
        {
            output.WriteLine(string.Join(" | ",
                "| " + r.Name, Count(r.Changes), Count(r.EndToEndRate),
                r.CeilingRate is { } c ? Count(c) : "-", r.Ratio is { } ratio ? Percent(ratio) : "-",
                r.CpuSecondsPerMillion.ToString("0.00", Invariant), r.PeakRssMb.ToString("0", Invariant),
                r.Latency is { } l ? Millis(l.P50) : "-", r.Latency is { } l99 ? Millis(l99.P99) : "-",
                r.Latency is { } lmax ? Millis(lmax.Max) : "-") + " |");
        }

        output.Flush();
    }

    private static double RatioTarget(string workload) => workload == "bulk" ? 0.90 : 0.80;

    private static string Target(double value, double target, bool atLeast, Func<double, string> format)
    {
        var met = atLeast ? value >= target : value <= target;
        return $"{(atLeast ? ">=" : "<=")} {format(target)}: {(met ? "met" : "MISSED")}";
    }

    private static void Row(TextWriter output, string metric, string value, string target = "") =>
        output.WriteLine($"| {metric} | {value} | {target} |");

    private static string Count(double value) => value.ToString("N0", Invariant);

    private static string Percent(double value) => value.ToString("0.0%", Invariant);

    private static string Millis(double value) => value.ToString(value < 10 ? "0.0" : "0", Invariant);
}
