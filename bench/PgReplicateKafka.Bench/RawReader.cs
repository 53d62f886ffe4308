using System.Diagnostics;
using System.Globalization;

namespace PgReplicateKafka.Bench;

/// <summary>
/// The raw reader: PostgreSQL's own client, pg_recvlogical, reading a slot's pgoutput stream and
/// throwing it away. A C client that only receives bytes and writes them to /dev/null: any client
/// reading the same stream does at least this much, so it is the honest upper bound of a reader.
/// </summary>
internal static class RawReader
{
    /// <summary>
    /// Reads <paramref name="slot"/> up to <paramref name="lastCommitLsn"/>, the end of the workload's
    /// last commit: pg_recvlogical stops right after writing the message at exactly that position,
    /// rather than waiting for the server to report a later one. With <paramref name="binary"/>, pgoutput
    /// sends values in their binary send format. Returns when it had read it all (UTC).
    /// </summary>
    public static async Task<DateTime> ReadAsync(BenchCluster cluster, string database, string slot, string lastCommitLsn, bool binary)
    {
        var postgres = cluster.Postgres;
        var start = new ProcessStartInfo(Path.Combine(postgres.BinDir, "pg_recvlogical"))
        {
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])[
                     "-h", postgres.Host, "-p", postgres.Port.ToString(CultureInfo.InvariantCulture), "-U", postgres.Username,
                     "-d", database, "-S", slot, "--start", "-E", lastCommitLsn, "--no-loop",
                     "-P", "pgoutput", "-o", "proto_version=1", "-o", "publication_names=" + BenchCluster.Publication,
                     // -F 0: /dev/null cannot be fsynced.
                     "-f", "/dev/null", "-F", "0"])
            start.ArgumentList.Add(arg);
        if (binary)
        {
            start.ArgumentList.Add("-o");
            start.ArgumentList.Add("binary=true");
        }

        start.Environment["PGPASSWORD"] = postgres.Password;

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var done = DateTime.UtcNow;
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"pg_recvlogical failed with exit code {process.ExitCode}: {(await stderr).Trim()}");
        return done;
    }
}
