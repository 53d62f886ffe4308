using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using PgReplicateKafka.Configuration;

namespace PgReplicateKafka.Sink;

/// <summary>The Kafka side: an idempotent producer (acks=all, Java-compatible key partitioning).</summary>
public sealed class KafkaSink : IDisposable
{
    private readonly IProducer<byte[]?, byte[]?> _producer;
    private readonly ILogger _logger;
    private volatile Exception? _fatal;

    public KafkaSink(KafkaConfig config, ReplicationConfig replication, ILogger logger)
    {
        _logger = logger;
        _producer = new ProducerBuilder<byte[]?, byte[]?>(ProducerSettings(config, replication))
            .SetErrorHandler((_, error) => OnError(error))
            .SetLogHandler((_, message) => OnLog(message))
            .Build();
    }

    /// <summary>A fatal producer error (e.g. fenced, or idempotence broken); once set, nothing more is delivered.</summary>
    public Exception? Fatal => _fatal;

    /// <summary>The librdkafka settings: the required ones, ours, then [kafka.properties] on top.</summary>
    public static ProducerConfig ProducerSettings(KafkaConfig config, ReplicationConfig replication)
    {
        var settings = new ProducerConfig
        {
            BootstrapServers = string.Join(',', config.Brokers),
            ClientId = "pg-replicate-kafka",
            EnableIdempotence = true,
            Acks = Acks.All,
            // The partitioner Java clients use, so a key lands where a Java producer would put it.
            Partitioner = Partitioner.Murmur2Random,
            CompressionType = config.Compression switch
            {
                KafkaCompression.Gzip => CompressionType.Gzip,
                KafkaCompression.Snappy => CompressionType.Snappy,
                KafkaCompression.Lz4 => CompressionType.Lz4,
                KafkaCompression.Zstd => CompressionType.Zstd,
                _ => CompressionType.None,
            },
            LingerMs = 5,
            // Acks are only checked for their error: marshalling timestamps and headers into every
            // delivery report cost CPU per message (measured in docs/benchmarks.md).
            DeliveryReportFields = "status",
            // librdkafka's own queue is part of the bounded in-flight memory.
            QueueBufferingMaxKbytes = (int)Math.Max(1024, replication.MaxInFlightBytes / 1024),
        };
        foreach (var (key, value) in config.Properties)
            settings.Set(key, value);
        return settings;
    }

    /// <summary>Waits (bounded) until a broker answers a metadata request, so a wrong address fails fast.</summary>
    public void VerifyReachable(TimeSpan timeout)
    {
        using var admin = new DependentAdminClientBuilder(_producer.Handle).Build();
        try
        {
            var metadata = admin.GetMetadata(timeout);
            if (metadata.Brokers.Count == 0)
                throw new KafkaException(new Error(ErrorCode.Local_AllBrokersDown, "no brokers in metadata"));
        }
        catch (KafkaException e)
        {
            throw new KafkaFailureException(
                $"Kafka brokers {_producer.Name} did not answer within {timeout.TotalSeconds:0} s ({e.Error.Reason}): " +
                "check [kafka] brokers and [kafka.properties] security settings, and that the brokers are running", e);
        }
    }

    /// <summary>
    /// Hands a message to librdkafka; waits while its queue is full (backpressure) instead of failing.
    /// <paramref name="onDelivery"/> runs on librdkafka's delivery thread.
    /// </summary>
    public async ValueTask ProduceAsync(string topic, byte[]? key, byte[] value, Action<DeliveryReport<byte[]?, byte[]?>> onDelivery, CancellationToken ct)
    {
        var message = new Message<byte[]?, byte[]?> { Key = key, Value = value };
        while (true)
        {
            try
            {
                _producer.Produce(topic, message, onDelivery);
                return;
            }
            catch (ProduceException<byte[]?, byte[]?> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                await Task.Delay(2, ct);
            }
            catch (ProduceException<byte[]?, byte[]?> e)
            {
                throw new KafkaFailureException($"Kafka refused a message for topic {topic}: {e.Error.Reason}", e);
            }
        }
    }

    /// <summary>Waits up to <paramref name="timeout"/> for every queued message; returns how many are still undelivered.</summary>
    public int Flush(TimeSpan timeout) => _producer.Flush(timeout);

    public void Dispose() => _producer.Dispose();

    private void OnError(Error error)
    {
        if (error.IsFatal)
        {
            _fatal = new KafkaFailureException($"Kafka producer failed fatally: {error.Reason} ({error.Code})");
            _logger.LogError("Kafka producer fatal error: {Reason} ({Code})", error.Reason, error.Code);
        }
        else
        {
            _logger.LogWarning("Kafka: {Reason} ({Code})", error.Reason, error.Code);
        }
    }

    private void OnLog(LogMessage message)
    {
        var level = message.Level switch
        {
            SyslogLevel.Emergency or SyslogLevel.Alert or SyslogLevel.Critical or SyslogLevel.Error => LogLevel.Error,
            SyslogLevel.Warning => LogLevel.Warning,
            SyslogLevel.Notice or SyslogLevel.Info => LogLevel.Information,
            _ => LogLevel.Debug,
        };
        _logger.Log(level, "librdkafka {Facility}: {Message}", message.Facility, message.Message);
    }
}
