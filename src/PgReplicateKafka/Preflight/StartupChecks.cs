using Microsoft.Extensions.Logging;
using Npgsql;
using PgReplicateKafka.Configuration;

namespace PgReplicateKafka.Preflight;

/// <summary>
/// The checks as <c>run</c> uses them: the same as <c>check</c>, so run fails with the same
/// messages, but warnings are logged and a slot busy elsewhere means standby, not failure.
/// </summary>
public static class StartupChecks
{
    /// <summary>Throws the first failure; a slot in use by another process throws <see cref="SlotBusyException"/>.</summary>
    public static async Task PostgresAsync(NpgsqlConnection connection, ReplicatorConfig config, ILogger logger, CancellationToken ct)
    {
        var checks = new CheckReport(await PostgresChecks.RunWithRulesAsync(connection, config, ct));
        foreach (var warning in checks.Results.Where(r => r.Outcome == CheckOutcome.Warning))
            logger.LogWarning("{Check}: {Message}", warning.Name, warning.Message);
        new CheckReport([.. checks.Results.Where(r => !r.SlotBusy)]).ThrowIfFailed();
        if (checks.Results.FirstOrDefault(r => r.SlotBusy) is { } busy)
            throw new SlotBusyException(busy.Message);
    }

    public static void Kafka(KafkaConfig config) => new CheckReport([KafkaChecks.Reachability(config)]).ThrowIfFailed();
}
