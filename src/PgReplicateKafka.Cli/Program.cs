using System.CommandLine;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using PgReplicateKafka;
using PgReplicateKafka.Cli;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Embedded.Demo;
using PgReplicateKafka.Operations;

var configOption = new Option<FileInfo>("--config", "-c") { Description = "Path of the TOML configuration file", Required = true };
var logFormatOption = new Option<string>("--log-format") { Description = "Log format: text or json", DefaultValueFactory = _ => "text" };
logFormatOption.AcceptOnlyFromAmong("text", "json");
var logLevelOption = new Option<LogLevel>("--log-level") { Description = "Minimum log level", DefaultValueFactory = _ => LogLevel.Information };
var durationOption = new Option<int>("--duration") { Description = "Seconds to run the demo (0 = until Ctrl-C)", DefaultValueFactory = _ => 30 };
var jsonOption = new Option<bool>("--json") { Description = "Print the status as one JSON object" };
var yesOption = new Option<bool>("--yes") { Description = "Confirm dropping the slot" };
var tableOption = new Option<string>("--table") { Description = "The published table, as schema.table", Required = true };
var whereOption = new Option<string?>("--where") { Description = "Only the rows matching this SQL condition, e.g. \"id < 1000\"" };

ReplicatorConfig LoadConfig(ParseResult parse) => ConfigLoader.LoadFile(parse.GetRequiredValue(configOption).FullName);

var run = new Command("run", "Stream every change of the publication into Kafka") { configOption, logFormatOption, logLevelOption };
run.SetAction((parse, _) => Execute(parse, async (loggerFactory, stop) =>
{
    await ReplicatorHost.RunAsync(LoadConfig(parse), loggerFactory, stop);
    return ExitCodes.Ok;
}));

var check = new Command("check", "Check the configuration, PostgreSQL and Kafka, one line per check; exit 0 only if none failed")
{
    configOption, logFormatOption, logLevelOption,
};
check.SetAction((parse, _) => Execute(parse, async (_, stop) =>
{
    var report = await CheckCommand.RunAsync(parse.GetRequiredValue(configOption).FullName, stop);
    report.WriteTo(Console.Out);
    return report.ExitCode;
}));

var status = new Command("status", "Show the replication slot (activity, confirmed position, lag, retained WAL) and each table's snapshot state")
{
    configOption, jsonOption, logFormatOption, logLevelOption,
};
status.SetAction((parse, _) => Execute(parse, async (_, stop) =>
{
    var config = LoadConfig(parse);
    var slot = await SlotOperations.StatusAsync(config.Postgres, stop);
    var snapshots = await Task.Run(() => SnapshotStatus.Read(config), stop);
    if (parse.GetValue(jsonOption))
    {
        Console.Out.WriteLine(SnapshotStatus.ToJson(slot, snapshots));
    }
    else
    {
        slot.WriteTo(Console.Out);
        SnapshotStatus.WriteTo(snapshots, Console.Out);
    }

    return ExitCodes.Ok;
}));

var slotDrop = new Command("drop", "Drop the replication slot, releasing the WAL it retains (the stream position is lost)")
{
    configOption, yesOption, logFormatOption, logLevelOption,
};
slotDrop.SetAction((parse, _) => Execute(parse, async (_, stop) =>
{
    if (!parse.GetValue(yesOption))
    {
        throw new ConfigException(
            "slot drop deletes the replication slot and with it the stream position: a later run starts from the current WAL " +
            "and misses the changes in between. Add --yes to confirm.");
    }

    var config = LoadConfig(parse);
    await SlotOperations.DropAsync(config.Postgres, stop);
    Console.Out.WriteLine($"Dropped replication slot {config.Postgres.SlotName}.");
    return ExitCodes.Ok;
}));
var slot = new Command("slot", "Manage the replication slot") { slotDrop };

var demo = new Command("demo", "Run the replicator on a throwaway PostgreSQL and an in-process Kafka, printing every message")
{
    durationOption, logFormatOption, logLevelOption,
};
demo.SetAction((parse, _) => Execute(parse, async (loggerFactory, stop) =>
{
    await DemoRunner.RunAsync(loggerFactory, Console.Out, TimeSpan.FromSeconds(parse.GetValue(durationOption)), stop);
    return ExitCodes.Ok;
}));

var verify = new Command("verify", "Replay a table's topic per key and compare it with the table; exit 0 when they agree, 1 when they differ")
{
    configOption, tableOption, logFormatOption, logLevelOption,
};
verify.SetAction((parse, _) => Execute(parse, async (_, stop) =>
{
    var report = await VerifyCommand.RunAsync(LoadConfig(parse), parse.GetRequiredValue(tableOption), stop);
    report.WriteTo(Console.Out);
    return report.ExitCode;
}));

var snapshot = new Command("snapshot", "Ask the running replicator to backfill a published table (all rows, or those matching --where) as READ events")
{
    configOption, tableOption, whereOption, logFormatOption, logLevelOption,
};
snapshot.SetAction((parse, _) => Execute(parse, async (_, stop) =>
{
    var requested = await SnapshotCommand.RunAsync(LoadConfig(parse).Postgres, parse.GetRequiredValue(tableOption), parse.GetValue(whereOption), stop);
    requested.WriteTo(Console.Out);
    return ExitCodes.Ok;
}));

var root = new RootCommand("pg-replicate-kafka: stream PostgreSQL changes (logical replication, pgoutput) into Kafka as JSON events") { run, check, status, verify, snapshot, slot, demo };
var parseResult = root.Parse(args);
if (parseResult.Errors.Count > 0)
{
    foreach (var error in parseResult.Errors)
        Console.Error.WriteLine($"error: {error.Message}");
    Console.Error.WriteLine("Run 'pg-replicate-kafka --help' for usage.");
    return ExitCodes.BadConfiguration;
}

// Signals are handled here, not by System.CommandLine, so a stop is always graceful and bounded by our own timeout.
return await parseResult.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });

async Task<int> Execute(ParseResult parse, Func<ILoggerFactory, CancellationToken, Task<int>> action)
{
    using var stop = new CancellationTokenSource();
    using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
    using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
    using var loggerFactory = Logging.Create(parse.GetValue(logFormatOption) ?? "text", parse.GetValue(logLevelOption));
    var logger = loggerFactory.CreateLogger("pg-replicate-kafka");
    try
    {
        return await action(loggerFactory, stop.Token);
    }
    catch (ReplicatorException e) when (e.ExitCode == ExitCodes.RuntimeFailure && e.InnerException is { } bug)
    {
        // Not a failure the operator can fix: the stack is what a bug report needs.
        logger.LogError(bug, "{Message}", e.Message);
        return e.ExitCode;
    }
    catch (ReplicatorException e)
    {
        logger.LogError("{Message}", e.Message);
        return e.ExitCode;
    }
    catch (OperationCanceledException) when (stop.IsCancellationRequested)
    {
        return ExitCodes.Ok;
    }
    catch (Exception e)
    {
        logger.LogError(e, "Unexpected failure: {Message}", e.Message);
        return ExitCodes.RuntimeFailure;
    }

    void Stop(PosixSignalContext context)
    {
        context.Cancel = true;
        stop.Cancel();
    }
}
