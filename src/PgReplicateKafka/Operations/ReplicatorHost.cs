using Microsoft.Extensions.Logging;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Metrics;
using PgReplicateKafka.Pipeline;

namespace PgReplicateKafka.Operations;

/// <summary>The <c>run</c> command: the replicator, with the metrics endpoint when configured.</summary>
public static class ReplicatorHost
{
    public static async Task RunAsync(ReplicatorConfig config, ILoggerFactory loggerFactory, CancellationToken stop)
    {
        var metrics = new ReplicatorMetrics();
        // Started first, so /healthz answers 503 while the replicator is still starting.
        await using var endpoint = MetricsEndpoint.Start(config.Metrics, metrics, loggerFactory.CreateLogger<MetricsEndpoint>());
        await new Replicator(config, loggerFactory, metrics).RunAsync(stop);
    }
}
