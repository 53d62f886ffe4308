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
    private ErrorCode _lastWarning;
    private long _lastWarningAt;

    public KafkaSink(ReplicatorConfig config, ILogger logger)
    {
        _logger = logger;
        Transactional = config.Replication.Delivery == DeliveryGuarantee.ExactlyOnce;
        _producer = new ProducerBuilder<byte[]?, byte[]?>(ProducerSettings(config))
            .SetErrorHandler((_, error) => OnError(error))
            .SetLogHandler((_, message) => OnLog(message))
            .Build();
    }

    /// <summary>A fatal producer error (e.g. fenced, or idempotence broken); once set, nothing more is delivered.</summary>
    public Exception? Fatal => _fatal;

    /// <summary>Another producer with our transactional.id took over: rebuilding would only fence it back.</summary>
    public bool Fenced { get; private set; }

    /// <summary>Exactly-once: events go out in Kafka transactions.</summary>
    public bool Transactional { get; }

    public IProducer<byte[]?, byte[]?> Producer => _producer;

    /// <summary>The transactional.id used when none is configured: stable for one database and slot.</summary>
    public static string DefaultTransactionalId(ReplicatorConfig config) => $"pg-replicate-kafka.{config.Postgres.Database}.{config.Postgres.SlotName}";

    /// <summary>What every client needs: the brokers and [kafka.properties] (security settings among them).</summary>
    public static ClientConfig ClientSettings(KafkaConfig config)
    {
        var settings = new ClientConfig { BootstrapServers = string.Join(',', config.Brokers) };
        foreach (var (key, value) in config.Properties)
            settings.Set(key, value);
        return settings;
    }

    /// <summary>The librdkafka settings: the required ones, ours, then [kafka.properties] on top.</summary>
    public static ProducerConfig ProducerSettings(ReplicatorConfig replicator)
    {
        var config = replicator.Kafka;
        var replication = replicator.Replication;
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
            // Never give up on a message: while brokers are away the pipeline pauses (backpressure)
            // and resumes when they return, instead of failing events after a timeout.
            MessageTimeoutMs = 0,
            // Find returning brokers within seconds rather than librdkafka's default 10 s backoff.
            ReconnectBackoffMaxMs = 2000,
            // Acks are only checked for their error: marshalling keys, values, timestamps and headers into every
            // delivery report cost CPU per message (measured in docs/benchmarks.md).
            DeliveryReportFields = "status",
            // librdkafka's own queue is part of the bounded in-flight memory.
            QueueBufferingMaxKbytes = (int)Math.Max(1024, replication.MaxInFlightBytes / 1024),
        };
        if (replication.Delivery == DeliveryGuarantee.ExactlyOnce)
        {
            settings.TransactionalId = config.TransactionalId ?? DefaultTransactionalId(replicator);
            // One PostgreSQL transaction is one Kafka transaction at least, however large; librdkafka
            // requires messages to time out within the transaction.
            settings.TransactionTimeoutMs = 600_000;
            settings.MessageTimeoutMs = 600_000;
        }

        foreach (var (key, value) in config.Properties)
            settings.Set(key, value);
        return settings;
    }

    /// <summary>
    /// Hands a message to librdkafka; waits while its queue is full (backpressure) instead of failing.
    /// <paramref name="onDelivery"/> runs on librdkafka's delivery thread. Other refusals (e.g. a
    /// message over message.max.bytes) throw <see cref="ProduceException{TKey,TValue}"/>.
    /// </summary>
    public async ValueTask ProduceAsync(string topic, byte[]? key, byte[] value, Action<DeliveryReport<byte[]?, byte[]?>>? onDelivery, CancellationToken ct)
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
        }
    }

    public void Dispose() => _producer.Dispose();

    /// <summary>Exactly-once: registers the transactional.id, aborting what a previous instance left open and fencing it.</summary>
    public void InitTransactions(TimeSpan timeout)
    {
        try
        {
            _producer.InitTransactions(timeout);
        }
        catch (KafkaException e)
        {
            throw Classify(e, "initialising Kafka transactions");
        }
    }

    public void BeginTransaction() => _producer.BeginTransaction();

    /// <summary>
    /// Commits the open Kafka transaction, retrying retriable failures. Throws
    /// <see cref="KafkaTransactionAbortedException"/> when the transaction had to be aborted.
    /// </summary>
    public void CommitTransaction(TimeSpan timeout)
    {
        while (true)
        {
            try
            {
                _producer.CommitTransaction(timeout);
                return;
            }
            catch (KafkaRetriableException e)
            {
                _logger.LogWarning("Kafka transaction commit failed ({Reason}); retrying", e.Error.Reason);
            }
            catch (KafkaTxnRequiresAbortException e)
            {
                AbortTransaction(timeout);
                throw new KafkaTransactionAbortedException(e.Error.Reason, e);
            }
            catch (KafkaException e)
            {
                throw Classify(e, "committing a Kafka transaction");
            }
        }
    }

    public void AbortTransaction(TimeSpan timeout)
    {
        try
        {
            _producer.AbortTransaction(timeout);
        }
        catch (KafkaException e)
        {
            throw Classify(e, "aborting a Kafka transaction");
        }
    }

    private KafkaFailureException Classify(KafkaException e, string what)
    {
        if (IsFencing(e.Error.Code))
        {
            Fenced = true;
            return new KafkaFailureException(
                $"another producer with the same transactional.id fenced this instance while {what}: another pg-replicate-kafka runs with " +
                "this database and slot (or [kafka] transactional_id); stop one of them, or give each its own slot", e);
        }

        return new KafkaFailureException($"Kafka failed while {what}: {e.Error.Reason} ({e.Error.Code})", e);
    }

    private static bool IsFencing(ErrorCode code) =>
        code is ErrorCode.ProducerFenced or ErrorCode.Local_Fenced or ErrorCode.InvalidProducerEpoch;

    private void OnError(Error error)
    {
        if (error.IsFatal)
        {
            Fenced |= IsFencing(error.Code);
            _fatal = Fenced
                ? new KafkaFailureException($"another producer with the same transactional.id fenced this instance ({error.Reason}): stop the other pg-replicate-kafka with this database and slot, or give each its own slot")
                : new KafkaFailureException($"Kafka producer failed fatally: {error.Reason} ({error.Code})");
            _logger.LogError("Kafka producer fatal error: {Reason} ({Code})", error.Reason, error.Code);
        }
        else
        {
            // While brokers are away librdkafka reports the same error many times a second: say it
            // once per interval at warning, the repeats at debug.
            var now = Environment.TickCount64;
            var repeated = error.Code == _lastWarning && now - _lastWarningAt < 10_000;
            _logger.Log(repeated ? LogLevel.Debug : LogLevel.Warning, "Kafka: {Reason} ({Code})", error.Reason, error.Code);
            if (!repeated)
            {
                _lastWarning = error.Code;
                _lastWarningAt = now;
            }
        }
    }

    private void OnLog(LogMessage message)
    {
        var level = message.Level switch
        {
            SyslogLevel.Emergency or SyslogLevel.Alert or SyslogLevel.Critical => LogLevel.Error,
            // Connection failures arrive through the error callback too (rate-limited there).
            SyslogLevel.Error => LogLevel.Debug,
            SyslogLevel.Warning => LogLevel.Warning,
            SyslogLevel.Notice or SyslogLevel.Info => LogLevel.Information,
            _ => LogLevel.Debug,
        };
        _logger.Log(level, "librdkafka {Facility}: {Message}", message.Facility, message.Message);
    }
}

/// <summary>A Kafka transaction was aborted; its PostgreSQL transactions must be streamed again.</summary>
public sealed class KafkaTransactionAbortedException(string reason, Exception inner)
    : Exception($"a Kafka transaction was aborted ({reason})", inner);
