using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using PgReplicateKafka.Configuration;

namespace PgReplicateKafka.Sink;

/// <summary>The Kafka side: an idempotent producer (acks=all, Java-compatible key partitioning).</summary>
public sealed class KafkaSink : IEventProducer
{
    private readonly IProducer<byte[]?, byte[]?> _producer;
    private readonly ILogger _logger;
    private volatile Exception? _fatal;
    private ErrorCode _lastWarning;
    private long _lastWarningAt;

    public KafkaSink(ReplicatorConfig config, ILogger logger)
    {
        _logger = logger;
        _producer = new ProducerBuilder<byte[]?, byte[]?>(KafkaSettings.Producer(config))
            .SetErrorHandler((_, error) => OnError(error))
            .SetLogHandler((_, message) => OnLog(message))
            .Build();
    }

    public Exception? Fatal => _fatal;

    public bool Fenced { get; private set; }

    /// <summary>The librdkafka client, for tests that inject faults into it.</summary>
    public IClient Client => _producer;

    public async ValueTask ProduceAsync(string topic, byte[]? key, byte[]? value, Headers? headers, Action<DeliveryReport<byte[]?, byte[]?>>? onDelivery, CancellationToken ct)
    {
        var message = new Message<byte[]?, byte[]?> { Key = key, Value = value, Headers = headers };
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
