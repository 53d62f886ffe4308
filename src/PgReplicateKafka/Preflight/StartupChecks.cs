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
    /// <summary>
    /// Throws the first failure; all WAL senders in use throws <see cref="ServerBusyException"/>, and
    /// a slot in use by another process <see cref="SlotBusyException"/>, once nothing else failed.
    /// </summary>
    public static async Task PostgresAsync(NpgsqlConnection connection, ReplicatorConfig config, ILogger logger, CancellationToken ct)
    {
        var checks = new CheckReport(await PostgresChecks.RunWithRulesAsync(connection, config, ct));
        foreach (var warning in checks.Results.Where(r => r.Outcome == CheckOutcome.Warning))
            logger.LogWarning("{Check}: {Message}", warning.Name, warning.Message);
        var failed = checks.Results.Where(r => r.Outcome == CheckOutcome.Failed).ToList();
        new CheckReport([.. failed.Where(r => !r.SlotBusy && !r.ServerBusy)]).ThrowIfFailed();
        if (failed.FirstOrDefault(r => r.ServerBusy) is { } full)
            throw new ServerBusyException(full.Message);
        if (failed.FirstOrDefault(r => r.SlotBusy) is { } busy)
            throw new SlotBusyException(busy.Message);
    }

    public static void Kafka(KafkaConfig config) => new CheckReport([KafkaChecks.Reachability(config)]).ThrowIfFailed();
}
