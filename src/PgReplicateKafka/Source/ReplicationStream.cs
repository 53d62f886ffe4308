using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using Npgsql.Replication.PgOutput.Messages;
using NpgsqlTypes;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events;
using PgReplicateKafka.Source.Snapshot;

namespace PgReplicateKafka.Source;

/// <summary>
/// Reads the pgoutput stream of the slot and hands changes and commits, in commit order, to a channel.
/// It only copies bytes: JSON conversion happens on the sink side so the walsender never waits on us.
/// </summary>
public sealed class ReplicationStream : IAsyncDisposable
{
    private readonly ReplicatorConfig _config;
    private readonly SourceState _state;
    private readonly ChannelWriter<SourceMessage> _output;
    private readonly IBackpressure _backpressure;
    private NpgsqlLogSequenceNumber _startLsn;
    private readonly ILogger _logger;
    private readonly LogicalReplicationConnection _connection;
    private readonly Dictionary<uint, TableInfo> _tables = [];

    private readonly StreamGate _gate = new();

    // Only the receive loop reads and writes it.
    private SourceTransaction? _transaction;

    private ReplicationStream(
        ReplicatorConfig config, SourceState state, ChannelWriter<SourceMessage> output, IBackpressure backpressure,
        ILogger logger, LogicalReplicationConnection connection, ClusterIdentity cluster)
    {
        Cluster = cluster;
        _config = config;
        _state = state;
        _output = output;
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
        // Logical decoding messages carry the snapshot watermarks and requests (PostgreSQL 14+).
        var options = new PgOutputReplicationOptions(_config.Postgres.Publication, PgOutputProtocolVersion.V1, messages: _state.Catalog.PostgreSqlVersion.Major >= 14 ? true : null);
        try
        {
            await foreach (var message in _connection.StartReplication(slot, options, ct, _startLsn))
            {
                if (_gate.Stopped)
                    continue;
                await HandleAsync(message, ct);
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

    private async Task HandleAsync(PgOutputReplicationMessage message, CancellationToken ct)
    {
        switch (message)
        {
            case BeginMessage begin:
                _gate.Begin();
                _transaction = new SourceTransaction(begin.TransactionXid, begin.TransactionCommitTimestamp);

                break;

            case RelationMessage relation:
                _tables[relation.RelationId] = await DescribeTableAsync(relation, ct);
                break;

            case InsertMessage insert:
                await ForwardAsync(new ChangeEvent(Table(insert.Relation), ChangeOperation.Insert, (ulong)insert.WalStart, CurrentTransaction(),
                    before: null, after: await ReadRowAsync(insert.NewRow, ct)), ct);
                break;

            case FullUpdateMessage update:
                await ForwardAsync(new ChangeEvent(Table(update.Relation), ChangeOperation.Update, (ulong)update.WalStart, CurrentTransaction(),
                    before: await ReadRowAsync(update.OldRow, ct), after: await ReadRowAsync(update.NewRow, ct)), ct);
                break;

            case IndexUpdateMessage update:
                await ForwardAsync(new ChangeEvent(Table(update.Relation), ChangeOperation.Update, (ulong)update.WalStart, CurrentTransaction(),
                    before: await ReadRowAsync(update.Key, ct), after: await ReadRowAsync(update.NewRow, ct)), ct);
                break;

            case UpdateMessage update:
                await ForwardAsync(new ChangeEvent(Table(update.Relation), ChangeOperation.Update, (ulong)update.WalStart, CurrentTransaction(),
                    before: null, after: await ReadRowAsync(update.NewRow, ct)), ct);
                break;

            case FullDeleteMessage delete:
                await ForwardAsync(new ChangeEvent(Table(delete.Relation), ChangeOperation.Delete, (ulong)delete.WalStart, CurrentTransaction(),
                    before: await ReadRowAsync(delete.OldRow, ct), after: null), ct);
                break;

            case KeyDeleteMessage delete:
                await ForwardAsync(new ChangeEvent(Table(delete.Relation), ChangeOperation.Delete, (ulong)delete.WalStart, CurrentTransaction(),
                    before: await ReadRowAsync(delete.Key, ct), after: null), ct);
                break;

            case TruncateMessage truncate:
                foreach (var relation in truncate.Relations)
                {
                    await ForwardAsync(new ChangeEvent(Table(relation), ChangeOperation.Truncate, (ulong)truncate.WalStart, CurrentTransaction(),
                        before: null, after: null), ct);
                }

                break;

            case CommitMessage commit:
                var transaction = CurrentTransaction();
                transaction.EndLsn = (ulong)commit.TransactionEndLsn;
                await WriteAsync(new TransactionCommitted(transaction), ct);
                _transaction = null;
                if (_gate.Committed(transaction.EndLsn))
                    _output.TryComplete();

                break;

            case LogicalDecodingMessage decoding when decoding.Flags == 1 && _transaction is not null:
                if (await SnapshotMarker.ReadAsync(decoding, _transaction, _logger, ct) is { } marker)
                    await WriteAsync(marker, ct);
                break;

                // Types, origins and other logical decoding messages carry nothing to publish.
        }
    }

    private async ValueTask ForwardAsync(ChangeEvent change, CancellationToken ct)
    {
        // Backpressure: wait while Kafka has not yet acknowledged enough of what we handed over.
        await _backpressure.WaitForRoomAsync(ct);
        _backpressure.Add(change.ByteSize);
        await WriteAsync(change, ct);
    }

    private async ValueTask WriteAsync(SourceMessage message, CancellationToken ct)
    {
        try
        {
            await _output.WriteAsync(message, ct);
        }
        catch (ChannelClosedException) when (_gate.Stopped)
        {
            // A stop at the shutdown deadline closed the channel under us: what was not handed over
            // is not confirmed, so PostgreSQL resends it; the session still confirms what was delivered.
        }
    }

    private SourceTransaction CurrentTransaction() =>
        _transaction ?? throw new InvalidOperationException("pgoutput sent a change outside a transaction");

    private TableInfo Table(RelationMessage relation) =>
        _tables.TryGetValue(relation.RelationId, out var table)
            ? table
            : throw new InvalidOperationException($"pgoutput sent a change for relation {relation.RelationId} before describing it");

    private static async Task<RowData> ReadRowAsync(ReplicationTuple tuple, CancellationToken ct)
    {
        var row = new RowData(tuple.NumColumns, 256);
        var i = 0;
        await foreach (var value in tuple.WithCancellation(ct))
        {
            switch (value.Kind)
            {
                case TupleDataKind.Null:
                    row.SetNull(i);
                    break;
                case TupleDataKind.UnchangedToastedValue:
                    row.SetUnchangedToast(i);
                    break;
                case TupleDataKind.TextValue:
                    var target = row.ReserveText(i, value.Length);
                    await value.GetStream().ReadExactlyAsync(target, ct);
                    break;
                default:
                    throw new InvalidOperationException($"unexpected {value.Kind} in a text-mode pgoutput stream");
            }

            i++;
        }

        return row;
    }

    /// <summary>
    /// Builds the table description from pgoutput's RELATION message. The message key is the primary
    /// key when the table has one and REPLICA IDENTITY FULL (which flags every column); otherwise the
    /// columns pgoutput flags as replica identity, because those are the ones an old row carries.
    /// </summary>
    private async Task<TableInfo> DescribeTableAsync(RelationMessage relation, CancellationToken ct)
    {
        var columns = new ColumnInfo[relation.Columns.Count];
        for (var i = 0; i < columns.Length; i++)
        {
            var column = relation.Columns[i];
            if (!_state.Types.Contains(column.DataTypeId))
                await _state.ReloadTypesAsync(ct); // a type created after we started
            var isIdentity = (column.Flags & RelationMessage.Column.ColumnFlags.PartOfKey) != 0;
            columns[i] = new ColumnInfo(column.ColumnName, _state.Types.Resolve(column.DataTypeId), isIdentity, column.TypeModifier);
        }

        var full = relation.ReplicaIdentity == RelationMessage.ReplicaIdentitySetting.AllColumns;
        var keyNames = full ? await PostgresCatalog.PrimaryKeyAsync(_state.Catalog, relation.RelationId, ct) : [];
        var key = new List<int>();
        for (var i = 0; i < columns.Length; i++)
        {
            if (keyNames.Count > 0 ? keyNames.Contains(columns[i].Name) : columns[i].IsReplicaIdentity)
                key.Add(i);
        }

        _logger.LogDebug("Table {Schema}.{Table} is relation {Id}", relation.Namespace, relation.RelationName, relation.RelationId);
        return new TableInfo(relation.RelationId, relation.Namespace, relation.RelationName, columns, full, [.. key]);
    }
}
