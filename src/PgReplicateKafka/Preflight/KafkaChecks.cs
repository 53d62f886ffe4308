using Confluent.Kafka;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Sink;

namespace PgReplicateKafka.Preflight;

/// <summary>Whether the brokers answer, with the producer's own settings (security included), within [kafka] connect_timeout_secs.</summary>
public static class KafkaChecks
{
    public static CheckResult Reachability(KafkaConfig config)
    {
        var brokers = string.Join(',', config.Brokers);
        using var admin = new AdminClientBuilder(KafkaSettings.Client(config))
            // Connection errors are reported once, below, with what to do; librdkafka's own retries would only repeat them.
            .SetErrorHandler((_, _) => { })
            .SetLogHandler((_, _) => { })
            .Build();
        try
        {
            var metadata = admin.GetMetadata(config.ConnectTimeout);
            if (metadata.Brokers.Count == 0)
                throw new KafkaException(new Error(ErrorCode.Local_AllBrokersDown, "no brokers in metadata"));
            return CheckResult.Pass(CheckArea.Kafka, "brokers", $"{brokers} answered ({metadata.Brokers.Count} broker(s) in the cluster)");
        }
        catch (KafkaException e)
        {
            return CheckResult.Fail(CheckArea.Kafka, "brokers",
                $"Kafka brokers {brokers} did not answer a metadata request within {config.ConnectTimeoutSecs} s ({e.Error.Reason}): " +
                "check [kafka] brokers and the [kafka.properties] security settings, that the brokers are running, or raise [kafka] connect_timeout_secs");
        }
    }
}
