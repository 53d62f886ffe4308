using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events;
using PgReplicateKafka.Events.Values;
using PgReplicateKafka.Metrics;
using PgReplicateKafka.Operations;
using PgReplicateKafka.Sink;
using PgReplicateKafka.Source;

namespace PgReplicateKafka.Pipeline;

/// <summary>
/// Joins the PostgreSQL source and the Kafka sink: changes flow source → channel → JSON → producer,
/// and an LSN is confirmed to PostgreSQL only once every event up to it is acknowledged by Kafka.
/// </summary>
public sealed class Replicator(ReplicatorConfig config, ILoggerFactory loggerFactory, ReplicatorMetrics metrics)
{
    public Replicator(ReplicatorConfig config, ILoggerFactory loggerFactory)
        : this(config, loggerFactory, new ReplicatorMetrics())
    {
    }

    // Messages buffered between the receive loop and the producer; bounded so a slow Kafka
    // pauses reading from PostgreSQL instead of growing memory.
    private const int ChannelCapacity = 8192;

    private readonly ILogger _logger = loggerFactory.CreateLogger<Replicator>();
    private readonly DeliveryTracker _tracker = new(metrics);

    /// <summary>The last LSN confirmed to PostgreSQL (0 before the first confirmation).</summary>
    public ulong LastConfirmedLsn { get; private set; }

    /// <summary>Streams until <paramref name="stopToken"/> fires, then stops gracefully. Throws <see cref="ReplicatorException"/> on failure.</summary>
    public async Task RunAsync(CancellationToken stopToken)
    {
        await using var state = await SourceSetup.PrepareAsync(config.Postgres, _logger, stopToken);
        new CheckReport([KafkaChecks.Reachability(config.Kafka, config.Replication)]).ThrowIfFailed();
        using var sink = new KafkaSink(config.Kafka, config.Replication, loggerFactory.CreateLogger<KafkaSink>());

        var channel = Channel.CreateBounded<SourceMessage>(new BoundedChannelOptions(ChannelCapacity)
        {
            SingleReader = true,
            SingleWriter = true,
        });
        await using var stream = await ReplicationStream.OpenAsync(config, state, channel.Writer, _logger, stopToken);
        LastConfirmedLsn = (ulong)state.StartLsn;

        using var readCts = new CancellationTokenSource();
        using var pumpCts = new CancellationTokenSource();
        var streamTask = Task.Run(() => stream.RunAsync(readCts.Token), CancellationToken.None);
        var pumpTask = Task.Run(() => PumpAsync(channel.Reader, sink, pumpCts.Token), CancellationToken.None);
        metrics.SetState(ReplicatorState.Streaming);
        _logger.LogInformation("Streaming publication {Publication} from slot {Slot} to Kafka {Brokers} (topics {Prefix}.<schema>.<table>)",
            config.Postgres.Publication, config.Postgres.SlotName, string.Join(',', config.Kafka.Brokers), config.Kafka.TopicPrefix);

        Exception? failure = null;
        try
        {
            await StreamUntilStoppedAsync(stream, sink, streamTask, pumpTask, stopToken);
        }
        catch (Exception e)
        {
            failure = e;
        }

        failure = await ShutDownAsync(stream, sink, state, streamTask, pumpTask, readCts, pumpCts, failure);
        if (failure is not null)
            throw failure is ReplicatorException ? failure : new ReplicatorException(ExitCodes.RuntimeFailure, $"replication failed: {failure.Message}", failure);
    }

    private async Task StreamUntilStoppedAsync(ReplicationStream stream, KafkaSink sink, Task streamTask, Task pumpTask, CancellationToken stopToken)
    {
        var pollInterval = TimeSpan.FromMilliseconds(config.Replication.PollIntervalMs);
        var lastSent = Stopwatch.StartNew();
        while (!stopToken.IsCancellationRequested)
        {
            await Task.WhenAny(Task.Delay(pollInterval, stopToken), streamTask, pumpTask);
            ThrowIfFailed(sink, streamTask, pumpTask);
            if (streamTask.IsCompleted)
                throw new PostgresSetupException("the replication stream from PostgreSQL ended unexpectedly");

            var target = ConfirmableLsn(stream);
            metrics.Confirmed(LastConfirmedLsn, stream.LastReceivedLsn);
            if (target > LastConfirmedLsn && lastSent.Elapsed >= config.Replication.CheckpointInterval)
            {
                await stream.ConfirmAsync(target, stopToken);
                LastConfirmedLsn = target;
                lastSent.Restart();
                _logger.LogDebug("Confirmed {Lsn} to PostgreSQL", new NpgsqlLogSequenceNumber(target));
            }
        }
    }

    /// <summary>Delivered transactions, or, when nothing at all is in flight, the server's WAL position.</summary>
    private ulong ConfirmableLsn(ReplicationStream stream)
    {
        var target = _tracker.ConfirmedLsn;
        if (stream.TryGetIdlePosition(out var idleLsn, out var forwardedCommits) && _tracker.ConfirmedCommits == forwardedCommits && _tracker.InFlightEvents == 0)
            target = Math.Max(target, idleLsn);
        return Math.Max(target, LastConfirmedLsn);
    }

    private void ThrowIfFailed(KafkaSink sink, Task streamTask, Task pumpTask)
    {
        if (streamTask.IsFaulted)
            throw streamTask.Exception.InnerException!;
        if (pumpTask.IsFaulted)
            throw pumpTask.Exception.InnerException!;
        if (_tracker.Failure is { } delivery)
            throw delivery;
        if (sink.Fatal is { } fatal)
            throw fatal;
    }

    private async Task PumpAsync(ChannelReader<SourceMessage> reader, KafkaSink sink, CancellationToken ct)
    {
        var serializer = new EventSerializer(config.Postgres.Database, new FormatOptions(
            NumericAsNumber: config.Format.Numeric == NumericFormat.Number,
            JsonAsString: config.Format.Json == JsonFormat.String,
            BinaryAsHex: config.Format.Binary == BinaryFormat.Hex));
        PendingTransaction? current = null;
        while (await reader.WaitToReadAsync(ct))
        {
            while (reader.TryRead(out var message))
            {
                if (message is ChangeEvent change)
                {
                    if (current?.Transaction != change.Transaction)
                        current = _tracker.Begin(change.Transaction);

                    byte[]? key;
                    byte[] value;
                    try
                    {
                        key = serializer.SerializeKey(change);
                        value = serializer.SerializeValue(change, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                    }
                    finally
                    {
                        change.Release();
                    }

                    current.AddEvent();
                    metrics.EventProduced(change.Table.QualifiedName, change.Operation, (key?.Length ?? 0) + value.Length);
                    await sink.ProduceAsync(change.Table.Topic, key, value, current.OnDelivery, ct);
                }
                else if (message is TransactionCommitted committed)
                {
                    if (current?.Transaction != committed.Transaction)
                        current = _tracker.Begin(committed.Transaction);
                    current.Commit();
                    current = null;
                }
            }
        }
    }

    /// <summary>
    /// Graceful stop: stop reading at a transaction boundary, deliver what is in flight (bounded by
    /// shutdown_timeout_secs), confirm it, and wait until PostgreSQL shows the confirmation.
    /// </summary>
    private async Task<Exception?> ShutDownAsync(
        ReplicationStream stream, KafkaSink sink, SourceState state, Task streamTask, Task pumpTask,
        CancellationTokenSource readCts, CancellationTokenSource pumpCts, Exception? failure)
    {
        metrics.SetState(ReplicatorState.Stopping);
        var deadline = Stopwatch.StartNew();
        var timeout = config.Replication.ShutdownTimeout;
        TimeSpan Remaining() => timeout - deadline.Elapsed > TimeSpan.Zero ? timeout - deadline.Elapsed : TimeSpan.Zero;
        _logger.LogInformation(failure is null ? "Stopping: delivering events in flight" : "Stopping after a failure: delivering events in flight");

        stream.RequestStop();
        if (!await Completes(stream.ForwardingDone, Remaining()))
        {
            _logger.LogWarning("A transaction was still arriving at the shutdown deadline; it will be streamed again after restart");
            readCts.Cancel();
        }

        if (!await Completes(pumpTask, Remaining()))
            pumpCts.Cancel();
        var undelivered = sink.Flush(Remaining());
        if (undelivered > 0)
            _logger.LogWarning("{Count} events were not acknowledged by Kafka before the shutdown deadline; they will be streamed again after restart", undelivered);

        if (pumpTask.IsFaulted && failure is null && pumpTask.Exception.InnerException is not OperationCanceledException)
            failure = pumpTask.Exception.InnerException;
        failure ??= _tracker.Failure ?? sink.Fatal;

        if (!streamTask.IsCompleted)
        {
            var target = ConfirmableLsn(stream);
            try
            {
                await stream.ConfirmAsync(target, CancellationToken.None);
                LastConfirmedLsn = target;
                metrics.Confirmed(target, stream.LastReceivedLsn);
                await WaitForSlotConfirmationAsync(state.Catalog, target, TimeSpan.FromSeconds(2));

                _logger.LogInformation("Confirmed {Lsn} to PostgreSQL", new NpgsqlLogSequenceNumber(LastConfirmedLsn));
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException or TimeoutException)
            {
                _logger.LogWarning("Could not confirm the final position to PostgreSQL ({Reason}); the unconfirmed tail will be streamed again after restart", e.Message);
            }
        }

        var streamFailed = streamTask.IsFaulted;
        readCts.Cancel();
        try
        {
            await streamTask;
        }
        catch (Exception e) when (streamFailed && failure is null)
        {
            failure = e;
        }
        catch (Exception e)
        {
            // Either the failure that stopped us is already being reported, or this is the end of
            // the stream we just cancelled.
            _logger.LogDebug("Replication stream ended: {Reason}", e.Message);
        }

        return failure;
    }

    /// <summary>Status updates are asynchronous; wait until the slot shows the position so a stop really leaves it confirmed.</summary>
    private async Task WaitForSlotConfirmationAsync(NpgsqlConnection catalog, ulong lsn, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        await using var command = new NpgsqlCommand(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", catalog);
        command.Parameters.Add(new NpgsqlParameter { Value = config.Postgres.SlotName });
        while (watch.Elapsed < timeout)
        {
            if (await command.ExecuteScalarAsync() is string text && (ulong)NpgsqlLogSequenceNumber.Parse(text) >= lsn)
                return;
            await Task.Delay(20);
        }

        _logger.LogWarning("PostgreSQL did not show the confirmed position {Lsn} within {Timeout} s", new NpgsqlLogSequenceNumber(lsn), timeout.TotalSeconds);
    }

    private static async Task<bool> Completes(Task task, TimeSpan timeout)
    {
        if (task.IsCompleted)
            return true;
        await Task.WhenAny(task, Task.Delay(timeout));
        return task.IsCompleted;
    }
}
