using System.Globalization;

namespace PgReplicateKafka.Bench;

/// <summary>CPU time and peak memory of a process on this machine, from /proc.</summary>
internal static class ProcessCpu
{
    // USER_HZ, which /proc reports CPU times in; 100 on every Linux architecture .NET runs on.
    private const int ClockTicksPerSecond = 100;

    /// <summary>User plus system CPU time the process has used so far.</summary>
    public static double Seconds(int pid)
    {
        // /proc/<pid>/stat: fields after the parenthesised command name; utime and stime are the 12th and 13th.
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return ticks / (double)ClockTicksPerSecond;
    }

    /// <summary>Peak resident set size so far (VmHWM), in bytes.</summary>
    public static long PeakRssBytes(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }
}
