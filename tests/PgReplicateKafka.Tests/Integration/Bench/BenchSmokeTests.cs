using System.Diagnostics;
using System.Globalization;

namespace PgReplicateKafka.Tests.Integration.Bench;

/// <summary>Runs the benchmark harness with tiny sizes, so it cannot rot unnoticed.</summary>
public class BenchSmokeTests
{
    private static readonly string[] Workloads = ["bulk", "oltp", "wide", "latency"];

    [Fact]
    public async Task Quick_run_prints_a_table_with_positive_numbers_for_every_workload()
    {
        var (code, output, errors) = await RunBenchAsync(
            ["--quick", "--bulk-rows", "2000", "--oltp-transactions", "400", "--wide-rows", "500", "--latency-rate", "200", "--latency-seconds", "1", "--latency-warmup-seconds", "1"],
            TimeSpan.FromSeconds(120));

        Assert.True(code == 0, $"the harness exited with {code}:\n{output}\n{errors}");
        foreach (var workload in Workloads)
            Assert.Contains($"### {workload}: ", output);

        var rows = output[output.IndexOf("### Summary", StringComparison.Ordinal)..].Split('\n')
            .Where(line => line.StartsWith("| ", StringComparison.Ordinal))
            .Select(line => line.Trim().Trim('|').Split('|').Select(cell => cell.Trim()).ToArray())
            .Where(cells => Workloads.Contains(cells[0]))
            .ToDictionary(cells => cells[0]);
        Assert.Equal(Workloads, rows.Keys);

        // workload | changes | end to end | ceiling | ratio | CPU s/M | peak RSS | p50 | p99 | max
        foreach (var (workload, cells) in rows)
        {
            var numeric = workload == "latency" ? new[] { 1, 2, 5, 6, 7, 8, 9 } : [1, 2, 3, 4, 5, 6];
            foreach (var column in numeric)
            {
                // CPU time comes in 10 ms clock ticks: at smoke sizes a workload can take less than one.
                var value = Number(cells[column]);
                Assert.True(column == 5 ? value >= 0 : value > 0, $"{workload}: column {column} is '{cells[column]}', expected a positive number:\n{output}");
            }
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
