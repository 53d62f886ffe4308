using System.Globalization;
using System.Text.RegularExpressions;

namespace PgReplicateKafka.Bench;

/// <summary>
/// PostgreSQL's own log of replication commands: when a walsender received START_REPLICATION for a
/// slot, which is when decoding for that reader begins. Every reader is timed from that moment, so
/// neither a client's start-up nor the moment it chooses to log counts for or against it.
/// </summary>
internal sealed partial class ServerLog(string dataDirectory)
{
    // One plain file in the data directory, timestamps in UTC to the millisecond (%m).
    public static readonly IReadOnlyDictionary<string, string> Settings = new Dictionary<string, string>
    {
        ["logging_collector"] = "on",
        ["log_directory"] = "log",
        ["log_filename"] = "bench.log",
        ["log_rotation_age"] = "0",
        ["log_rotation_size"] = "0",
        ["log_file_mode"] = "0644",
        ["log_line_prefix"] = "%m [%p] ",
        ["log_timezone"] = "UTC",
        ["log_replication_commands"] = "on",
    };

    private static readonly TimeSpan WaitForLine = TimeSpan.FromSeconds(10);

    private string File => Path.Combine(dataDirectory, "log", "bench.log");

    /// <summary>When the server received START_REPLICATION for <paramref name="slot"/> (its last one), in UTC.</summary>
    public async Task<DateTime> StartReplicationAsync(string slot)
    {
        // The logging collector writes the line a moment after the walsender logs it.
        var deadline = DateTime.UtcNow + WaitForLine;
        var pattern = $"received replication command: START_REPLICATION SLOT \"{slot}\" ";
        var unquoted = $"received replication command: START_REPLICATION SLOT {slot} ";
        while (true)
        {
            DateTime? last = null;
            using (var stream = new FileStream(File, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
            using (var reader = new StreamReader(stream))
            {
                while (await reader.ReadLineAsync() is { } line)
                {
                    if ((line.Contains(pattern, StringComparison.Ordinal) || line.Contains(unquoted, StringComparison.Ordinal)) &&
                        Timestamp().Match(line) is { Success: true } match)
                        last = DateTime.SpecifyKind(DateTime.ParseExact(match.Value, "yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture), DateTimeKind.Utc);
                }
            }

            if (last is { } at)
                return at;
            if (DateTime.UtcNow > deadline)
                throw new InvalidOperationException($"PostgreSQL's log {File} shows no START_REPLICATION for slot {slot}: is log_replication_commands on?");
            await Task.Delay(20);
        }
    }

    [GeneratedRegex(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}")]
    private static partial Regex Timestamp();
}
