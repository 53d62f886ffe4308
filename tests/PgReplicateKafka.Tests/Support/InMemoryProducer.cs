using Confluent.Kafka;
using PgReplicateKafka.Sink;

namespace PgReplicateKafka.Tests.Support;

/// <summary>
/// A producer that keeps what it is given, for unit tests of the pump and the delivery modes:
/// acknowledgements are sent when the test says so, transactions are recorded as they happen.
/// </summary>
public sealed class InMemoryProducer : IEventProducer
{
    private int _idleCalls;

    /// <summary>How often the caller said it had nothing more to produce for now.</summary>
    public int IdleCalls => Volatile.Read(ref _idleCalls);

    // Acknowledgements come only when a test gives them; the calls are counted.
    public void Idle() => Interlocked.Increment(ref _idleCalls);

    private readonly Lock _gate = new();
    private readonly List<(Message Message, IDeliveryHandler? OnDelivery)> _unacknowledged = [];

    public sealed record Message(string Topic, byte[]? Key, byte[]? Value, int TransactionNumber, Headers? Headers = null)
    {
        /// <summary>A header's value as text; null when the message has no such header.</summary>
        public string? Header(string name) =>
            Headers is not null && Headers.TryGetLastBytes(name, out var bytes) ? System.Text.Encoding.UTF8.GetString(bytes) : null;
    }

    /// <summary>Every produced message, in order.</summary>
    public List<Message> Produced { get; } = [];

    /// <summary>Transaction calls in order: "init", "begin", "commit", "abort".</summary>
    public List<string> Calls { get; } = [];

    /// <summary>Messages of committed transactions (or every message when not transactional).</summary>
    public List<Message> Committed { get; } = [];

    public Exception? Fatal { get; set; }

    public bool Fenced { get; set; }

    /// <summary>When set, ProduceAsync throws this for the next message.</summary>
    public Exception? FailNextProduce { get; set; }

    /// <summary>While set, ProduceAsync waits as for room in a full queue, until its token is cancelled.</summary>
    public bool QueueFull { get; set; }

    /// <summary>When set, CommitTransaction throws this once.</summary>
    public Exception? FailNextCommit { get; set; }

    private int _transaction;
    private bool _inTransaction;
    private long _unacknowledgedBytes;
    private long _maxUnacknowledgedBytes;

    /// <summary>The most key and value bytes that were produced and not yet reported on at any one time.</summary>
    public long MaxUnacknowledgedBytes
    {
        get
        {
            lock (_gate)
                return _maxUnacknowledgedBytes;
        }
    }

    /// <summary>A copy of <see cref="Produced"/>, safe to take while a pump produces.</summary>
    public Message[] CopyProduced()
    {
        lock (_gate)
            return [.. Produced];
    }

    private static Headers? Copy(KafkaHeaders? headers)
    {
        if (headers is null)
            return null;
        var copy = new Headers();
        for (var i = 0; i < headers.Count; i++)
            copy.Add(headers.Name(i), headers.IsNull(i) ? null : headers.Value(i).ToArray());
        return copy;
    }

    public ValueTask ProduceAsync(string topic, byte[]? key, byte[]? value, KafkaHeaders? headers, IDeliveryHandler? onDelivery, CancellationToken ct)
    {
        if (FailNextProduce is { } failure)
        {
            FailNextProduce = null;
            throw failure;
        }

        if (QueueFull)
            return new ValueTask(Task.Delay(Timeout.Infinite, ct));

        // Copied, as librdkafka copies them: the caller fills the same instance again for its next message.
        var message = new Message(topic, key, value, _inTransaction ? _transaction : 0, Copy(headers));
        lock (_gate)
        {
            Produced.Add(message);
            _unacknowledged.Add((message, onDelivery));
            _unacknowledgedBytes += Size(message);
            _maxUnacknowledgedBytes = Math.Max(_maxUnacknowledgedBytes, _unacknowledgedBytes);
            if (!_inTransaction)
                Committed.Add(message);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Sends the delivery reports of everything produced so far (an error when <paramref name="error"/> is set).</summary>
    public void AcknowledgeAll(ErrorCode error = ErrorCode.NoError)
    {
        List<(Message Message, IDeliveryHandler? OnDelivery)> pending;
        lock (_gate)
        {
            pending = [.. _unacknowledged];
            _unacknowledged.Clear();
            _unacknowledgedBytes = 0;
        }

        foreach (var (message, onDelivery) in pending)
            onDelivery?.Delivered(error == ErrorCode.NoError ? null : new DeliveryFailure(message.Topic, new Error(error)));
    }

    private static long Size(Message message) => (message.Key?.Length ?? 0) + (message.Value?.Length ?? 0);

    public void InitTransactions(TimeSpan timeout) => Calls.Add("init");

    public void BeginTransaction()
    {
        Calls.Add("begin");
        _transaction++;
        _inTransaction = true;
    }

    public void CommitTransaction(TimeSpan timeout)
    {
        if (FailNextCommit is { } failure)
        {
            FailNextCommit = null;
            throw failure;
        }

        Calls.Add("commit");
        _inTransaction = false;
        lock (_gate)
            Committed.AddRange(Produced.Where(m => m.TransactionNumber == _transaction));
    }

    public void AbortTransaction(TimeSpan timeout)
    {
        Calls.Add("abort");
        _inTransaction = false;
    }

    public void Dispose()
    {
    }
}
