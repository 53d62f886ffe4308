using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Logging;
using PgReplicateKafka.Configuration;

namespace PgReplicateKafka.Sink;

/// <summary>
/// One of the product's own state topics (checkpoints, snapshot progress), created compacted at first
/// need, once, where the cluster can create topics. An existing topic is left as it is; so is a
/// cluster that names no controller within a few seconds (librdkafka's test broker, which has no
/// CreateTopics API): there the topic auto-creates on first write, and asking would wait out the
/// request timeout.
/// </summary>
internal sealed class CompactedTopic(KafkaConfig kafka, string topic, int partitions, string purpose, ILogger logger)
{
    private static readonly TimeSpan MetadataTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ControllerTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan CreateTimeout = TimeSpan.FromSeconds(10);

    private volatile Task? _ensured;

    public string Name => topic;

    /// <summary>
    /// Checks (and creates) the topic once, on a thread of its own: its metadata request blocks, so a
    /// caller can start it early (exactly-once start-up overlaps it with PostgreSQL's checks) and await
    /// it later. An attempt that failed unexpectedly is made again by the next call.
    /// </summary>
    public Task EnsureAsync()
    {
        if (_ensured is null or { IsFaulted: true } or { IsCanceled: true })
            _ensured = Blocking.Run(CheckOrCreateAsync);
        return _ensured;
    }

    private async Task CheckOrCreateAsync()
    {
        // A metadata request must never auto-create the topic uncompacted.
        var settings = new AdminClientConfig(KafkaSettings.Client(kafka)) { AllowAutoCreateTopics = false };
        using var admin = new AdminClientBuilder(settings).SetErrorHandler((_, _) => { }).SetLogHandler((_, _) => { }).Build();
        try
        {
            if (admin.GetMetadata(topic, MetadataTimeout).Topics is not [{ Error.IsError: false, Partitions.Count: > 0 }])
                await CreateAsync(admin);
        }
        catch (CreateTopicsException e) when (e.Results is [{ Error.Code: ErrorCode.TopicAlreadyExists }])
        {
            logger.LogDebug("{Purpose} topic {Topic} exists", purpose, topic);
        }
        catch (KafkaException e)
        {
            // The producer reports what is really wrong with Kafka, with its own exit code.
            logger.LogDebug("{Purpose} topic {Topic} not created: {Reason}", purpose, topic, e.Message);
        }
    }

    private async Task CreateAsync(IAdminClient admin)
    {
        var cluster = await admin.DescribeClusterAsync(new DescribeClusterOptions { RequestTimeout = ControllerTimeout });
        if (cluster.Controller is null)
        {
            logger.LogDebug("Kafka names no controller: {Purpose} topic {Topic} is left to auto-create", purpose, topic);
            return;
        }

        await admin.CreateTopicsAsync(
            [new TopicSpecification { Name = topic, NumPartitions = partitions, ReplicationFactor = -1, Configs = new() { ["cleanup.policy"] = "compact" } }],
            new CreateTopicsOptions { RequestTimeout = CreateTimeout });
        logger.LogInformation("Created {Purpose} topic {Topic} (compacted)", purpose, topic);
    }
}
