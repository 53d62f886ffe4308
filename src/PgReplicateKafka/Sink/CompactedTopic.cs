using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Logging;

namespace PgReplicateKafka.Sink;

/// <summary>
/// Creates the product's own state topics (checkpoints, snapshot progress) compacted, where the
/// cluster can create topics. An existing topic is left as it is; so is a cluster that names no
/// controller within a few seconds (librdkafka's test broker, which has no CreateTopics API): there
/// the topic auto-creates on first write, and asking would wait out the request timeout.
/// </summary>
internal static class CompactedTopic
{
    private static readonly TimeSpan MetadataTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ControllerTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan CreateTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Settings for the admin client: a metadata request must never auto-create the topic uncompacted.</summary>
    public static AdminClientConfig AdminSettings(ClientConfig client) => new(client) { AllowAutoCreateTopics = false };

    public static async Task EnsureAsync(IAdminClient admin, string topic, int partitions, string purpose, ILogger logger)
    {
        try
        {
            if (admin.GetMetadata(topic, MetadataTimeout).Topics is [{ Error.IsError: false, Partitions.Count: > 0 }])
                return;
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
}
