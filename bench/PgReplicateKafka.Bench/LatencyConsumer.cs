using System.Diagnostics;
using System.Text.Json;
using Confluent.Kafka;

namespace PgReplicateKafka.Bench;

/// <summary>
/// Reads every partition of a topic while it is written and, per message, how long after its
/// transaction's commit (source.ts_ms) it was readable, and when librdkafka in the replicator
/// created it (the message timestamp), a lower bound of the acknowledgement.
/// </summary>
internal sealed class LatencyConsumer : IDisposable
{
    private readonly IConsumer<Ignore, byte[]> _consumer;
    private readonly Stopwatch _clock;
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private readonly Lock _gate = new();
    private readonly List<double> _received = [];
    private readonly List<double> _produced = [];
    private readonly List<TimeSpan> _receivedAt = [];
    private readonly HashSet<long> _seen = [];
    private Exception? _failure;

    /// <summary>Reads from <paramref name="start"/> on; <paramref name="readCommitted"/> for exactly-once, whose events count once committed.</summary>
    public LatencyConsumer(string bootstrapServers, IEnumerable<TopicPartitionOffset> start, bool readCommitted, Stopwatch clock)
    {
        _clock = clock;
        _consumer = new ConsumerBuilder<Ignore, byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = "bench-latency",
            EnableAutoCommit = false,
            IsolationLevel = readCommitted ? IsolationLevel.ReadCommitted : IsolationLevel.ReadUncommitted,
            // Ask for new data often: the broker answers a fetch at once only when data is there.
            FetchWaitMaxMs = 5,
            FetchErrorBackoffMs = 5,
        }).SetErrorHandler((_, _) => { }).Build();
        _consumer.Assign(start);
        _thread = new Thread(Consume) { IsBackground = true, Name = "latency-consumer" };
        _thread.Start();
    }

    /// <summary>Waits until <paramref name="count"/> messages were read; returns when the last of them was, on the clock.</summary>
    public async Task<TimeSpan> WaitForAsync(long count, ReplicatorProcess replicator, TimeSpan stallTimeout)
    {
        var lastCount = -1L;
        var lastProgress = _clock.Elapsed;
        while (true)
        {
            lock (_gate)
            {
                if (_failure is not null)
                    throw new InvalidOperationException($"the latency consumer failed: {_failure.Message}", _failure);
                if (_receivedAt.Count >= count)
                    return _receivedAt[(int)count - 1];
                if (_receivedAt.Count != lastCount)
                {
                    lastCount = _receivedAt.Count;
                    lastProgress = _clock.Elapsed;
                }
            }

            replicator.ThrowIfExited();
            if (_clock.Elapsed - lastProgress > stallTimeout)
                throw new TimeoutException($"read {lastCount:N0} of {count:N0} changes from Kafka and nothing more for {stallTimeout.TotalSeconds} s:\n{replicator.Output}");
            await Task.Delay(5);
        }
    }

    /// <summary>Percentiles over the messages read, leaving out the first <paramref name="skip"/>.</summary>
    public LatencyStats Statistics(int skip)
    {
        lock (_gate)
            return LatencyStats.From(_received[skip..], _produced[skip..]);
    }

    /// <summary>The highest latency among <paramref name="count"/> messages after the first <paramref name="skip"/>.</summary>
    public double Max(int skip, int count)
    {
        lock (_gate)
            return _received.Skip(skip).Take(count).Max();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join();
        _consumer.Close();
        _consumer.Dispose();
        _stop.Dispose();
    }

    private void Consume()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                ConsumeResult<Ignore, byte[]>? result;
                try
                {
                    result = _consumer.Consume(_stop.Token);
                }
                catch (ConsumeException e) when (!e.Error.IsFatal)
                {
                    continue; // e.g. a partition leader not known yet; the consumer retries by itself
                }

                var nowMs = DateTime.UtcNow.Subtract(DateTime.UnixEpoch).TotalMilliseconds;
                var at = _clock.Elapsed;
                var (committedMs, id) = Read(result.Message.Value);
                lock (_gate)
                {
                    // Counted once per row: librdkafka's mock broker hands read_committed consumers the
                    // records of aborted transactions too, so a retried transaction would count twice.
                    if (!_seen.Add(id))
                    {
                        Duplicates++;
                        continue;
                    }

                    _received.Add(nowMs - committedMs);
                    _produced.Add(result.Message.Timestamp.UnixTimestampMs - committedMs);
                    _receivedAt.Add(at);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            lock (_gate)
                _failure = e;
        }
    }

    /// <summary>Messages of a row already read (left out of every figure).</summary>
    public long Duplicates { get; private set; }

    /// <summary>The event's source.ts_ms (the commit time of its transaction) and its row's id (after.id).</summary>
    private static (long CommittedMs, long Id) Read(byte[] value)
    {
        var reader = new Utf8JsonReader(value);
        string? section = null;
        long? committed = null;
        long? id = null;
        while (reader.Read() && (committed is null || id is null))
        {
            if (reader.TokenType != JsonTokenType.PropertyName)
                continue;
            if (reader.CurrentDepth == 1)
                section = reader.ValueTextEquals("source"u8) ? "source" : reader.ValueTextEquals("after"u8) ? "after" : null;
            else if (reader.CurrentDepth == 2 && section == "source" && reader.ValueTextEquals("ts_ms"u8) && reader.Read())
                committed = reader.GetInt64();
            else if (reader.CurrentDepth == 2 && section == "after" && reader.ValueTextEquals("id"u8) && reader.Read())
                id = reader.GetInt64();
        }

        return (committed ?? throw new InvalidDataException("event without source.ts_ms"), id ?? throw new InvalidDataException("event without after.id"));
    }
}
