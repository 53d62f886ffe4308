using PgReplicateKafka.Bench;

// The benchmark harness: a throwaway PostgreSQL and Kafka broker, the workloads, and a table per
// workload on stdout (progress goes to stderr). See docs/benchmarks.md.
if (args.Length > 0 && args[0] == SinkOnly.Flag)
    return await SinkOnly.RunChildAsync(args[1..]);

if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(BenchOptions.Usage);
    return 0;
}

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine(BenchOptions.Usage);
    return 2;
}

await using var replicatorLog = options.ReplicatorLog is { } path ? new StreamWriter(path) { AutoFlush = true } : null;
Console.Error.WriteLine("Starting a throwaway PostgreSQL cluster and an in-process Kafka broker");
await using var cluster = await BenchCluster.StartAsync();
Console.WriteLine($"## pg-replicate-kafka benchmark ({MachineInfo.Describe()})");
Console.WriteLine($"Replicator measured: {options.Replicator ?? "the framework-dependent build next to the harness"}" +
    (options.ReplicatorEnvironment.Count == 0 ? "" : $", environment {string.Join(' ', options.ReplicatorEnvironment.Select(e => $"{e.Key}={e.Value}"))}"));
var runner = new BenchRunner(cluster, options, Console.Error, replicatorLog);
var results = new List<WorkloadResult>();
foreach (var workload in options.Workloads)
{
    var measured = await runner.RunAsync(workload);
    results.AddRange(measured);
    Report.Workload(Console.Out, measured);
}

Report.Summary(Console.Out, results);
return 0;
