namespace PgReplicateKafka.Bench;

/// <summary>The machine a run happened on, for the report: numbers from different machines do not compare.</summary>
internal static class MachineInfo
{
    public static string Describe()
    {
        var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
        var memKb = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        return $"{Environment.ProcessorCount} cores, {cpu}, {long.Parse(memKb, System.Globalization.CultureInfo.InvariantCulture) / 1048576.0:0.0} GiB RAM, .NET {Environment.Version}";
    }
}
