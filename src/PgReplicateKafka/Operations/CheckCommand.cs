using PgReplicateKafka.Configuration;
using PgReplicateKafka.Preflight;

namespace PgReplicateKafka.Operations;

/// <summary>The <c>check</c> command: the configuration, then PostgreSQL and Kafka, each reported line by line.</summary>
public static class CheckCommand
{
    public static async Task<CheckReport> RunAsync(string configPath, CancellationToken ct)
    {
        ReplicatorConfig config;
        try
        {
            config = ConfigLoader.LoadFile(configPath);
        }
        catch (ConfigException e)
        {
            return new CheckReport([CheckResult.Fail(CheckArea.Configuration, "configuration", e.Message)]);
        }

        var results = new List<CheckResult> { CheckResult.Pass(CheckArea.Configuration, "configuration", $"{configPath} is valid") };
        results.AddRange(await PostgresChecks.RunAsync(config, ct));
        results.Add(KafkaChecks.Reachability(config.Kafka));
        return new CheckReport(results);
    }
}
