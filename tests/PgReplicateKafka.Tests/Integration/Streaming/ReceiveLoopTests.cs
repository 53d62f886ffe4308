using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PgReplicateKafka.Events;
using PgReplicateKafka.Pipeline;
using PgReplicateKafka.Source;

namespace PgReplicateKafka.Tests.Integration.Streaming;

/// <summary>The receive loop (<see cref="ReplicationStream"/>) on its own against the shared cluster, a task draining what it hands over.</summary>
[Collection(IntegrationCollection.Name)]
public class ReceiveLoopTests(PostgresFixture postgres)
{
    [Fact]
    public async Task A_cancel_while_small_transactions_stream_never_leaves_npgsqls_read_in_flight()
    {
        // Disposing Npgsql's enumerator while a MoveNextAsync runs throws NotSupportedException (the loop's catch for
        // a cancel swallows it), and the connection's DisposeAsync then resumes that enumerator while the read still
        // runs it, which Npgsql forbids. Seen as the exception, on the receive loop's stack.
        var disposedInFlight = 0;
        void OnException(object? sender, System.Runtime.ExceptionServices.FirstChanceExceptionEventArgs e)
        {
            if (e.Exception is NotSupportedException && Environment.StackTrace.Contains(nameof(ReplicationStream), StringComparison.Ordinal))
                Interlocked.Increment(ref disposedInFlight);
        }

        AppDomain.CurrentDomain.FirstChanceException += OnException;
        try
        {
            // One-row transactions without pause: between short bursts the loop pauses for a millisecond, so most
            // cancels land in that pause, with Npgsql's next read in flight.
            for (var attempt = 0; attempt < 5; attempt++)
                await CancelWhileStreamingAsync();
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= OnException;
        }

        Assert.Equal(0, disposedInFlight);
    }

    private async Task CancelWhileStreamingAsync()
    {
        var database = await postgres.CreateDatabaseAsync();
        await postgres.Cluster.ExecuteAsync("CREATE TABLE items (id serial PRIMARY KEY, v text); CREATE PUBLICATION pub FOR ALL TABLES", database);
        var config = ReplicatorRun.DefaultConfig(postgres.Cluster, database, "localhost:9092", "cdc");
        var catalog = await PostgresConnections.OpenCatalogAsync(config.Postgres, CancellationToken.None);
        await using var state = await SourceSetup.PrepareAsync(catalog, config.Postgres, createSlot: true, NullLogger.Instance, CancellationToken.None);
        var channel = Channel.CreateBounded<SourceMessage>(32);
        var budget = new InFlightBudget(64 << 20);
        await using var stream = await ReplicationStream.OpenAsync(config, state, channel.Writer, budget, NullLogger.Instance, CancellationToken.None);
        var received = 0;
        var draining = Task.Run(async () =>
        {
            await foreach (var message in channel.Reader.ReadAllAsync())
            {
                foreach (var item in message is SourceBatch batch ? batch.Messages : [message])
                {
                    if (item is not ChangeEvent change)
                        continue;
                    budget.Release(change.ByteSize);
                    change.Release();
                    Interlocked.Increment(ref received);
                }
            }
        });
        using var writing = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            await using var connection = new NpgsqlConnection(PostgresConnections.CatalogConnectionString(config.Postgres));
            await connection.OpenAsync();
            await using var insert = new NpgsqlCommand("INSERT INTO items (v) VALUES ('x')", connection);
            while (!writing.IsCancellationRequested)
                await insert.ExecuteNonQueryAsync();
        });

        using var reading = new CancellationTokenSource();
        var running = Task.Run(() => stream.RunAsync((ulong)state.StartLsn, reading.Token));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (Volatile.Read(ref received) < 200)
        {
            Assert.True(DateTime.UtcNow < deadline, "no changes streamed within 30 s");
            await Task.Delay(10);
        }

        await reading.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(30));

        await writing.CancelAsync();
        await writer;
        await stream.DisposeAsync();
        channel.Writer.TryComplete();
        await draining;
        await postgres.Cluster.ExecuteAsync($"SELECT pg_drop_replication_slot('{config.Postgres.SlotName}')", database);
    }
}

