using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql;
using Npgsql.Replication;
using Npgsql.Replication.Internal;
using Npgsql.Replication.PgOutput;
using NpgsqlTypes;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events;
using PgReplicateKafka.Source.PgOutput;
using PgReplicateKafka.Source.Snapshot;

namespace PgReplicateKafka.Source;

/// <summary>
/// Reads the pgoutput stream of the slot and hands changes and commits, in commit order, to a channel.
/// It only copies bytes: JSON conversion happens on the sink side so the walsender never waits on us.
/// </summary>
public sealed partial class ReplicationStream : IAsyncDisposable
{
    private readonly ReplicatorConfig _config;
    private readonly SourceState _state;
    private readonly ChannelWriter<SourceMessage> _output;
    private readonly IBackpressure _backpressure;
    private NpgsqlLogSequenceNumber _startLsn;
    private readonly ILogger _logger;
    private readonly LogicalReplicationConnection _connection;
    private readonly RelationTables _tables;

    private readonly StreamGate _gate = new();
    private readonly HandOver _handOver;

    // Only the receive loop reads and writes it.
    private SourceTransaction? _transaction;

    private ReplicationStream(
        ReplicatorConfig config, SourceState state, ChannelWriter<SourceMessage> output, IBackpressure backpressure,
        ILogger logger, LogicalReplicationConnection connection, ClusterIdentity cluster)
    {
        Cluster = cluster;
        _config = config;
        _state = state;
        _tables = new RelationTables(state, logger);
        _output = output;
        _handOver = new HandOver(output, _gate);
        _backpressure = backpressure;
        _logger = logger;
        _connection = connection;
    }

    /// <summary>Opens the replication connection and identifies the server (IDENTIFY_SYSTEM); streaming starts with <see cref="RunAsync"/>.</summary>
    public static async Task<ReplicationStream> OpenAsync(
        ReplicatorConfig config, SourceState state, ChannelWriter<SourceMessage> output, IBackpressure backpressure,
        ILogger logger, CancellationToken ct)
    {
        var connection = new LogicalReplicationConnection(PostgresConnections.ReplicationConnectionString(config.Postgres))
        {
            WalReceiverStatusInterval = config.Replication.KeepaliveInterval,
            // Npgsql asks the server for a reply at half this timeout; the reply carries the server's
            // WAL position, which lets an idle slot advance (see TryGetIdlePosition).
            WalReceiverTimeout = TimeSpan.FromSeconds(Math.Max(10, 2 * config.Replication.KeepaliveIntervalSecs)),
        };
        try
        {
            await connection.Open(ct);
            var system = await connection.IdentifySystem(ct);
            var cluster = new ClusterIdentity(system.SystemId, system.Timeline, (ulong)system.XLogPos);
            return new ReplicationStream(config, state, output, backpressure, logger, connection, cluster);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    // Pacing: after a short burst the loop lets the server's messages gather for a millisecond before it
    // reads on. Reading each small transaction the moment it arrives woke this loop, the socket engine and
    // the pump for every one: on 100,000 one-change transactions that was over 100,000 context switches a
    // second, which took the CPU the walsender needed, so transactions kept arriving one at a time (12,000
    // changes/s, against 71,000 in a run that never fell into it; docs/benchmarks.md, optimisation 16).
    // What has arrived is handed over before the pause, so no complete transaction waits for it. The pause is
    // a sleep of this (pool) thread: Task.Delay's timer woke two more threads for each pause and often waited
    // 2 ms (latency workload: p50 13 -> 11 ms, CPU 62 -> 58 s per million changes; optimisation 16).
    private const int PacedBurst = HandOver.BatchSize;
    private static readonly TimeSpan PaceDelay = TimeSpan.FromMilliseconds(1);

    /// <summary>Completes when no more messages will be handed over (stop requested, or the stream ended).</summary>
    public Task ForwardingDone => _gate.Done;

    /// <summary>The server streamed from, as IDENTIFY_SYSTEM described it when the connection opened.</summary>
    public ClusterIdentity Cluster { get; }

    /// <summary>The walsender's process id: the slot shows it as active_pid once streaming has started.</summary>
    public int ProcessId => _connection.ProcessID;

    /// <summary>The latest WAL position the server reported (data or keepalive), for the lag metric.</summary>
    public ulong LastReceivedLsn => (ulong)_connection.LastReceivedLsn;

    /// <summary>
    /// Streams after <paramref name="startLsn"/> until cancelled; throws when the connection fails or
    /// the server ends the stream. The start may lie beyond the slot's confirmed position:
    /// transactions committed before it were delivered already, and PostgreSQL skips them. Messages
    /// arriving after the stop point are dropped: they are not confirmed, so PostgreSQL resends them.
    /// </summary>
    public async Task RunAsync(ulong startLsn, CancellationToken ct)
    {
        _startLsn = new NpgsqlLogSequenceNumber(startLsn);
        // Status updates must never report less than what is already delivered.
        _connection.SetReplicationStatus(_startLsn);
        var slot = new PgOutputReplicationSlot(_config.Postgres.SlotName);
        try
        {
            await using var messages = _connection.StartLogicalReplication(slot, ct, _startLsn, StreamOptions()).GetAsyncEnumerator(ct);
            var sinceWait = 0;
            while (true)
            {
                // Npgsql answers from its buffer without waiting while a burst lasts: complete
                // transactions are handed over when the next message has to be waited for, so a burst
                // of small transactions crosses to the pump in few batches, and none waits for more.
                // (Not inside a transaction: its messages often arrive a packet each.)
                var next = messages.MoveNextAsync();
                if (!next.IsCompleted)
                {
                    try
                    {
                        if (_handOver.HoldsCommit)
                            await _handOver.FlushAsync(ct);
                        if (sinceWait < PacedBurst)
                            Thread.Sleep(PaceDelay);
                    }
                    catch (OperationCanceledException) when (ct.IsCancellationRequested)
                    {
                        // The read in flight ends with this cancel too: leaving it running would let Npgsql's
                        // DisposeAsync resume the enumerator while that read still runs it.
                    }

                    sinceWait = 0;
                }

                if (!await next)
                    break;
                sinceWait++;
                var data = messages.Current;
                if (_gate.Stopped)
                    continue;
                var length = checked((int)data.Data.Length);
                var buffer = MessageBuffer(length);
                // No token: with one, Npgsql registers a cancellation per read; cancelling the enumeration ends the read.
                await data.Data.ReadExactlyAsync(buffer.AsMemory(0, length), CancellationToken.None);
                await Handle(new PgOutputReader(buffer, length), (ulong)data.WalStart, ct);
            }

            if (!ct.IsCancellationRequested)
                throw new ReplicationEndedException();
        }
        catch (Exception) when (ct.IsCancellationRequested)
        {
            // Cancelling replication surfaces as OperationCanceledException or, when the server's
            // cancel wins the race, as an Npgsql error: either way it is the stop we asked for.
        }
        finally
        {
            StopNow();
        }
    }

    /// <summary>
    /// Stops handing over messages: at once when no transaction is open, otherwise after the open
    /// transaction's commit, so a graceful stop never splits a transaction.
    /// </summary>
    public void RequestStop()
    {
        if (_gate.RequestStop((ulong)_connection.LastReceivedLsn))
            _output.TryComplete();
    }

    /// <summary>Stops handing over messages now, even inside a transaction (the shutdown deadline passed); the rest is resent after restart.</summary>
    public void StopNow()
    {
        if (_gate.StopNow())
            _output.TryComplete();
    }

    /// <inheritdoc cref="StreamGate.TryGetIdlePosition"/>
    public bool TryGetIdlePosition(out ulong lsn, out long forwardedCommits) =>
        // Read the position first: a BEGIN Npgsql read meanwhile is safe to confirm (its commit lies after it).
        _gate.TryGetIdlePosition((ulong)_connection.LastReceivedLsn, out lsn, out forwardedCommits);

    /// <summary>Reports <paramref name="lsn"/> as flushed and applied to PostgreSQL now.</summary>
    public async Task ConfirmAsync(ulong lsn, CancellationToken ct)
    {
        _connection.SetReplicationStatus(new NpgsqlLogSequenceNumber(lsn));
        try
        {
            await _connection.SendStatusUpdate(ct);
        }
        catch (InvalidOperationException e)
        {
            // Npgsql refuses once the stream has ended (connection lost under us): that is a lost
            // connection like any other, to be retried, not a bug.
            throw new ReplicationEndedException(e);
        }
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();

    /// <summary>pgoutput's options, as START_REPLICATION takes them.</summary>
    private List<KeyValuePair<string, string?>> StreamOptions()
    {
        var options = new List<KeyValuePair<string, string?>>
        {
            new("proto_version", "1"),
            new("publication_names", SqlNames.QuoteIdentifier(_config.Postgres.Publication)),
        };
        // Logical decoding messages carry the snapshot watermarks and requests (PostgreSQL 14+).
        if (_state.Catalog.PostgreSqlVersion.Major >= 14)
            options.Add(new("messages", "on"));
        return options;
    }

    // Messages are parsed from a copy; one buffer serves them all, except a message of megabytes (a
    // large row), whose buffer is dropped after it so it does not stay allocated.
    private byte[] _messageBuffer = new byte[64 * 1024];

    private byte[] MessageBuffer(int length)
    {
        if (length <= _messageBuffer.Length)
            return _messageBuffer;
        if (length <= 1 << 20)
            return _messageBuffer = new byte[Math.Max(length, _messageBuffer.Length * 2)];
        return new byte[length];
    }

    private SourceTransaction CurrentTransaction() =>
        _transaction ?? throw new InvalidOperationException("pgoutput sent a change outside a transaction");
}
