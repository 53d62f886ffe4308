using System.CommandLine;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using PgReplicateKafka;
using PgReplicateKafka.Cli;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Demo;
using PgReplicateKafka.Pipeline;

var configOption = new Option<FileInfo>("--config", "-c") { Description = "Path of the TOML configuration file", Required = true };
var logFormatOption = new Option<string>("--log-format") { Description = "Log format: text or json", DefaultValueFactory = _ => "text" };
logFormatOption.AcceptOnlyFromAmong("text", "json");
var logLevelOption = new Option<LogLevel>("--log-level") { Description = "Minimum log level", DefaultValueFactory = _ => LogLevel.Information };
var durationOption = new Option<int>("--duration") { Description = "Seconds to run the demo (0 = until Ctrl-C)", DefaultValueFactory = _ => 30 };

var run = new Command("run", "Stream every change of the publication into Kafka") { configOption, logFormatOption, logLevelOption };
run.SetAction((parse, _) => Execute(parse, async (loggerFactory, stop) =>
{
    var config = ConfigLoader.LoadFile(parse.GetRequiredValue(configOption).FullName);
    await new Replicator(config, loggerFactory).RunAsync(stop);
}));

var demo = new Command("demo", "Run the replicator on a throwaway PostgreSQL and an in-process Kafka, printing every message")
{
    durationOption, logFormatOption, logLevelOption,
};
demo.SetAction((parse, _) => Execute(parse, (loggerFactory, stop) =>
    DemoRunner.RunAsync(loggerFactory, Console.Out, TimeSpan.FromSeconds(parse.GetValue(durationOption)), stop)));

var root = new RootCommand("pg-replicate-kafka: stream PostgreSQL changes (logical replication, pgoutput) into Kafka as JSON events") { run, demo };
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

async Task<int> Execute(ParseResult parse, Func<ILoggerFactory, CancellationToken, Task> action)
{
    using var stop = new CancellationTokenSource();
    using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
    using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
    using var loggerFactory = Logging.Create(parse.GetValue(logFormatOption) ?? "text", parse.GetValue(logLevelOption));
    var logger = loggerFactory.CreateLogger("pg-replicate-kafka");
    try
    {
        await action(loggerFactory, stop.Token);
        return ExitCodes.Ok;
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
