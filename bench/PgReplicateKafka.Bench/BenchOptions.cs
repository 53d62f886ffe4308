using System.Globalization;

namespace PgReplicateKafka.Bench;

/// <summary>Workload sizes and harness switches, from the command line.</summary>
internal sealed record BenchOptions
{
    public int BulkRows { get; init; } = 1_000_000;
    public int OltpTransactions { get; init; } = 100_000;
    public int OltpWriters { get; init; } = 4;
    public int WideRows { get; init; } = 200_000;
    public int SnapshotRows { get; init; } = 1_000_000;
    public int LatencyRate { get; init; } = 5_000;
    // Per run: three runs of each delivery mode make 2 minutes of measured latency load.
    public int LatencySeconds { get; init; } = 20;

    /// <summary>Seconds of the same load before the latency is measured: the replicator's JIT warm-up.</summary>
    public int LatencyWarmupSeconds { get; init; } = 5;

    /// <summary>How often each workload's WAL is read by every reader; the report gives the median and the spread.</summary>
    public int Runs { get; init; } = 3;

    /// <summary>The replicator's delivery modes to measure, each on the same WAL as the others.</summary>
    public IReadOnlyList<string> Deliveries { get; init; } = AllDeliveries;

    /// <summary>Workloads to run, in order; all by default.</summary>
    public IReadOnlyList<string> Workloads { get; init; } = AllWorkloads;

    /// <summary>Extra librdkafka producer properties for the replicator ([kafka.properties]), to try settings.</summary>
    public IReadOnlyDictionary<string, string> ProducerProperties { get; init; } = new Dictionary<string, string>();

    /// <summary>Environment variables for the replicator process only (say, DOTNET_ GC settings), not the harness and its broker.</summary>
    public IReadOnlyDictionary<string, string> ReplicatorEnvironment { get; init; } = new Dictionary<string, string>();

    /// <summary>The replicator executable to measure (a published pg-replicate-kafka); null runs the build next to the harness.</summary>
    public string? Replicator { get; init; }

    /// <summary>Where the replicator's own log goes; null discards it.</summary>
    public string? ReplicatorLog { get; init; }

    public static readonly IReadOnlyList<string> AllWorkloads = ["bulk", "oltp", "wide", "latency"];

    public static readonly IReadOnlyList<string> AllDeliveries = ["at_least_once", "exactly_once"];

    /// <summary>Runs only when named: the initial snapshot of --snapshot-rows rows ([snapshot] mode = "initial_only").</summary>
    public static readonly IReadOnlyList<string> OptionalWorkloads = ["snapshot-users", "snapshot-wide"];

    public const string Usage =
        """
        usage: pg-replicate-kafka-bench [--quick] [--workloads bulk,oltp,wide,latency,snapshot-users,snapshot-wide] [--runs N]
                                        [--delivery both|at_least_once|exactly_once]
                                        [--bulk-rows N] [--oltp-transactions N] [--oltp-writers N] [--wide-rows N]
                                        [--latency-rate CHANGES_PER_S] [--latency-seconds N] [--latency-warmup-seconds N]
                                        [--producer-property NAME=VALUE]... [--replicator-env NAME=VALUE]...
                                        [--replicator-log FILE] [--replicator EXECUTABLE] [--help]
          --quick     scaled-down sizes (bulk 100000, oltp 10000, wide 20000, latency 1000/s for 10 s after 2 s)
                      and one run; later flags still override them
          --runs N    reads of each workload's WAL per reader (default 3): the report gives median, min and max
          --delivery  the replicator's delivery modes to measure (default both)
          --replicator-env  an environment variable for the replicator process alone, e.g. DOTNET_gcServer=1
          --replicator  a published pg-replicate-kafka to measure (e.g. out/pg-replicate-kafka from
                      dotnet publish src/PgReplicateKafka.Cli -c Release -r linux-x64 -o out) instead of the build
        """;

    /// <summary>Parses the arguments; throws <see cref="ArgumentException"/> with a message for the user.</summary>
    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var options = new BenchOptions();
        var properties = new Dictionary<string, string>();
        var environment = new Dictionary<string, string>();
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            string Next() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{name} needs a value");
            int Count(bool allowZero = false) => int.TryParse(Next(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && (n > 0 || allowZero)
                ? n
                : throw new ArgumentException($"{name} needs a {(allowZero ? "non-negative" : "positive")} whole number, not '{args[i]}'");

            options = name switch
            {
                "--quick" => options with
                {
                    BulkRows = 100_000,
                    OltpTransactions = 10_000,
                    WideRows = 20_000,
                    LatencyRate = 1_000,
                    LatencySeconds = 10,
                    LatencyWarmupSeconds = 2,
                    Runs = 1,
                },
                "--runs" => options with { Runs = Count() },
                "--delivery" => options with { Deliveries = ParseDelivery(Next()) },
                "--bulk-rows" => options with { BulkRows = Count() },
                "--oltp-transactions" => options with { OltpTransactions = Count() },
                "--oltp-writers" => options with { OltpWriters = Count() },
                "--wide-rows" => options with { WideRows = Count() },
                "--snapshot-rows" => options with { SnapshotRows = Count() },
                "--latency-rate" => options with { LatencyRate = Count() },
                "--latency-seconds" => options with { LatencySeconds = Count() },
                "--latency-warmup-seconds" => options with { LatencyWarmupSeconds = Count(allowZero: true) },
                "--workloads" => options with { Workloads = ParseWorkloads(Next()) },
                "--replicator-log" => options with { ReplicatorLog = Next() },
                "--replicator" => options with { Replicator = Path.GetFullPath(Next()) },
                "--producer-property" => options with { ProducerProperties = Assign(properties, name, Next()) },
                "--replicator-env" => options with { ReplicatorEnvironment = Assign(environment, name, Next()) },
                _ => throw new ArgumentException($"unknown argument '{name}'"),
            };
        }

        return options;
    }

    private static Dictionary<string, string> Assign(Dictionary<string, string> values, string flag, string assignment)
    {
        var eq = assignment.IndexOf('=');
        if (eq <= 0)
            throw new ArgumentException($"{flag} needs NAME=VALUE, not '{assignment}'");
        values[assignment[..eq]] = assignment[(eq + 1)..];
        return values;
    }

    private static IReadOnlyList<string> ParseDelivery(string value) => value switch
    {
        "both" => AllDeliveries,
        "at_least_once" or "exactly_once" => [value],
        _ => throw new ArgumentException($"--delivery needs both, at_least_once or exactly_once, not '{value}'"),
    };

    private static string[] ParseWorkloads(string list)
    {
        var names = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var name in names)
        {
            if (!AllWorkloads.Contains(name) && !OptionalWorkloads.Contains(name))
                throw new ArgumentException($"unknown workload '{name}'; choose from {string.Join(", ", AllWorkloads.Concat(OptionalWorkloads))}");
        }

        return names.Length > 0 ? names : throw new ArgumentException("--workloads needs at least one workload");
    }
}
