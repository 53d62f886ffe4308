using System.Diagnostics;
using System.Globalization;

namespace PgReplicateKafka.Tests.Integration.Bench;

/// <summary>Runs the benchmark harness with tiny sizes, so it cannot rot unnoticed.</summary>
public class BenchSmokeTests
{
    private static readonly string[] Workloads = ["bulk", "oltp", "wide", "latency"];

    private static readonly string[] Deliveries = ["at_least_once", "exactly_once"];

    [Fact]
    public async Task Quick_run_reports_every_reader_and_both_delivery_modes_with_sane_numbers()
    {
        var (code, output, errors) = await RunBenchAsync(
            ["--quick", "--bulk-rows", "2000", "--oltp-transactions", "400", "--wide-rows", "500", "--latency-rate", "200", "--latency-seconds", "1", "--latency-warmup-seconds", "1"],
            TimeSpan.FromSeconds(180));

        Assert.True(code == 0, $"the harness exited with {code}:\n{output}\n{errors}");
        foreach (var workload in Workloads)
            Assert.Contains($"### {workload}: ", output);

        var summary = output[output.IndexOf("### Summary", StringComparison.Ordinal)..];
        Assert.Contains("| workload | delivery | runs | changes | end to end changes/s | spread | pg_recvlogical changes/s | socket reader changes/s | ceiling changes/s | binary pg_recvlogical changes/s | server decode changes/s | binary decode changes/s | e2e / ceiling | e2e / decode | CPU s / M changes | producer alone CPU s / M | peak RSS MB | p50 ms | p99 ms | max ms |", summary);
        var rows = summary.Split('\n')
            .Where(line => line.StartsWith("| ", StringComparison.Ordinal))
            .Select(line => line.Trim().Trim('|').Split('|').Select(cell => cell.Trim()).ToArray())
            .Where(cells => Workloads.Contains(cells[0]))
            .ToDictionary(cells => (cells[0], cells[1]));
        Assert.Equal(Workloads.SelectMany(w => Deliveries.Select(d => (w, d))), rows.Keys);

        // workload | delivery | runs | changes | end to end | spread | pg_recvlogical | socket reader | ceiling | binary pg_recvlogical
        // | server decode | binary decode | e2e / ceiling | e2e / decode | CPU s/M | producer alone CPU s/M | peak RSS | p50 | p99 | max
        foreach (var ((workload, delivery), cells) in rows)
        {
            Assert.Equal("1", cells[2]); // --quick is one run
            Assert.True(Number(cells[5]) >= 0, $"{workload} {delivery}: spread '{cells[5]}'");
            var positive = workload == "latency" ? new[] { 3, 4, 14, 16, 17, 18, 19 } : [3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
            foreach (var column in positive)
                Assert.True(Number(cells[column]) > 0, $"{workload} {delivery}: column {column} is '{cells[column]}', expected a positive number:\n{output}");
        }
    }

    private static double Number(string cell) =>
        double.TryParse(cell.TrimEnd('%'), NumberStyles.Float | NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out var value) ? value : double.NaN;

    private static async Task<(int Code, string Output, string Errors)> RunBenchAsync(string[] args, TimeSpan timeout)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "pg-replicate-kafka-bench.dll"));
        foreach (var arg in args)
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"the harness did not finish within {timeout.TotalSeconds} s:\n{await output}\n{await errors}");
        }

        return (process.ExitCode, await output, await errors);
    }
}
