using System.Diagnostics;
using System.Runtime.CompilerServices;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Sink.Librdkafka;

namespace PgReplicateKafka.Sink;

/// <summary>The Kafka side: an idempotent producer (acks=all, Java-compatible key partitioning).</summary>
public sealed class KafkaSink : IEventProducer
{
    private readonly RdKafkaProducer _producer;
    private readonly ILogger _logger;
    private volatile Exception? _fatal;
    private readonly TimeSpan _transactionTimeout;
    // Errors are reported wherever librdkafka's queue is served: the delivery thread, or a producing thread.
    private readonly Lock _warnedGate = new();
    private readonly Dictionary<ErrorCode, long> _warnedAt = [];
    private long _transactionStarted;

    /// <param name="systemId">The PostgreSQL cluster's system id: exactly-once derives the default transactional.id from it.</param>
    public KafkaSink(ReplicatorConfig config, ILogger logger, string? systemId = null)
    {
        _logger = logger;
        var settings = KafkaSettings.Producer(config, systemId);
        _transactionTimeout = TimeSpan.FromMilliseconds(settings.TransactionTimeoutMs ?? 60_000);
        _producer = new RdKafkaProducer(settings, OnError, OnLog);
    }

    public Exception? Fatal => _fatal;

    public bool Fenced { get; private set; }

    /// <summary>The rd_kafka_t, for tests that inject faults into it.</summary>
    internal IntPtr NativeHandle => _producer.NativeHandle;

    // Runs per change: compiled optimized at its first call, not after seconds of tier 0 (see EventPump).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ValueTask ProduceAsync(string topic, byte[]? key, byte[]? value, KafkaHeaders? headers, IDeliveryHandler? onDelivery, CancellationToken ct) =>
        _producer.TryProduce(topic, key, value, headers, onDelivery) ? ValueTask.CompletedTask : WaitAndProduceAsync(topic, key, value, headers, onDelivery, ct);

    private async ValueTask WaitAndProduceAsync(string topic, byte[]? key, byte[]? value, KafkaHeaders? headers, IDeliveryHandler? onDelivery, CancellationToken ct)
    {
        do
            await Task.Delay(2, ct);
        while (!_producer.TryProduce(topic, key, value, headers, onDelivery));
    }

    public void Idle() => _producer.Idle();

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

    public void BeginTransaction()
    {
        _producer.BeginTransaction();
        Volatile.Write(ref _transactionStarted, Stopwatch.GetTimestamp());
    }

    /// <summary>How long the current Kafka transaction has been open (null: none is).</summary>
    private TimeSpan? TransactionOpenFor =>
        Volatile.Read(ref _transactionStarted) is var started and not 0 ? Stopwatch.GetElapsedTime(started) : null;

    /// <summary>
    /// A fencing error for a transaction open longer than transaction.timeout.ms: the coordinator aborted
    /// it and bumped the epoch (brokers answer with InvalidProducerEpoch or ProducerFenced), no other
    /// instance took over. A real zombie cannot be told apart then, but its transaction would have been
    /// aborted by the timeout all the same.
    /// </summary>
    public static bool IsTransactionTimeout(ErrorCode code, TimeSpan? openFor, TimeSpan transactionTimeout) =>
        IsFencing(code) && openFor >= transactionTimeout;

    private KafkaTransactionTimeoutException TimedOut(Error error, Exception? inner) => new(
        $"the Kafka transaction coordinator aborted a transaction open longer than transaction.timeout.ms ({_transactionTimeout.TotalMilliseconds:0} ms; " +
        $"broker said: {error.Reason}): a PostgreSQL transaction (or a batch of them) took longer than that to stream. Raise " +
        "[kafka.properties] transaction.timeout.ms (600000..2147483647, and the brokers' transaction.max.timeout.ms with it), or lower " +
        "[replication] transaction_max_events / transaction_max_ms so that batches commit sooner; one PostgreSQL transaction is never split", inner);

    public void CommitTransaction(TimeSpan timeout)
    {
        while (true)
        {
            try
            {
                _producer.CommitTransaction(timeout);
                Volatile.Write(ref _transactionStarted, 0);
                return;
            }
            catch (KafkaRetriableException e)
            {
                _logger.LogWarning("Kafka transaction commit failed ({Reason}); retrying", e.Error.Reason);
            }
            catch (KafkaTxnRequiresAbortException e)
            {
                var timedOut = IsTransactionTimeout(e.Error.Code, TransactionOpenFor, _transactionTimeout);
                AbortTransaction(timeout);
                if (timedOut)
                    throw TimedOut(e.Error, e);
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
            Volatile.Write(ref _transactionStarted, 0);
        }
        catch (KafkaException e)
        {
            throw Classify(e, "aborting a Kafka transaction");
        }
    }

    private ReplicatorException Classify(KafkaException e, string what)
    {
        if (IsTransactionTimeout(e.Error.Code, TransactionOpenFor, _transactionTimeout))
            return TimedOut(e.Error, e);
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
        if (error.IsFatal && IsTransactionTimeout(error.Code, TransactionOpenFor, _transactionTimeout))
        {
            _fatal = TimedOut(error, null);
            _logger.LogError("Kafka producer fatal error: {Reason} ({Code})", error.Reason, error.Code);
        }
        else if (error.IsFatal)
        {
            Fenced |= IsFencing(error.Code);
            _fatal = Fenced
                ? new KafkaFailureException($"another producer with the same transactional.id fenced this instance ({error.Reason}): stop the other pg-replicate-kafka with this database and slot, or give each its own slot")
                : new KafkaFailureException($"Kafka producer failed fatally: {error.Reason} ({error.Code})");
            _logger.LogError("Kafka producer fatal error: {Reason} ({Code})", error.Reason, error.Code);
        }
        else
        {
            // While brokers are away librdkafka reports the same errors many times a second, two or
            // three codes taking turns: say each once per interval at warning, the repeats at debug.
            var now = Environment.TickCount64;
            bool repeated;
            lock (_warnedGate)
            {
                repeated = _warnedAt.TryGetValue(error.Code, out var warned) && now - warned < 10_000;
                if (!repeated)
                    _warnedAt[error.Code] = now;
            }

            _logger.Log(repeated ? LogLevel.Debug : LogLevel.Warning, "Kafka: {Reason} ({Code})", error.Reason, error.Code);
        }
    }

    private void OnLog(SyslogLevel syslogLevel, string facility, string message)
    {
        var level = syslogLevel switch
        {
            SyslogLevel.Emergency or SyslogLevel.Alert or SyslogLevel.Critical => LogLevel.Error,
            // Connection failures arrive through the error callback too (rate-limited there).
            SyslogLevel.Error => LogLevel.Debug,
            SyslogLevel.Warning => LogLevel.Warning,
            SyslogLevel.Notice or SyslogLevel.Info => LogLevel.Information,
            _ => LogLevel.Debug,
        };
        _logger.Log(level, "librdkafka {Facility}: {Message}", facility, message);
    }
}
