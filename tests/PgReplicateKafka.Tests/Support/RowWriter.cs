using Npgsql;
using PgReplicateKafka.Embedded;

namespace PgReplicateKafka.Tests.Support;

/// <summary>
/// Inserts rows with consecutive ids into <c>items(id, v)</c> in transactions, riding out server
/// restarts: a failed batch is retried, and ON CONFLICT makes a retry of a batch that did commit harmless.
/// What counts at the end is what the table holds.
/// </summary>
public sealed class RowWriter(TempPostgresCluster cluster, string database, int batches, int rowsPerBatch, TimeSpan pause)
{
    public int BatchesDone;

    public async Task RunAsync(CancellationToken ct = default)
    {
        for (var batch = 0; batch < batches; batch++)
        {
            while (true)
            {
                try
                {
                    await using var connection = new NpgsqlConnection(cluster.ConnectionString(database) + ";Pooling=false;Timeout=3");
                    await connection.OpenAsync(ct);
                    await using var command = new NpgsqlCommand(
                        $"INSERT INTO items SELECT g, 'batch {batch}' FROM generate_series({batch * rowsPerBatch + 1}, {(batch + 1) * rowsPerBatch}) g ON CONFLICT DO NOTHING",
                        connection);
                    await command.ExecuteNonQueryAsync(ct);
                    break;
                }
                catch (Exception e) when (e is NpgsqlException or IOException or TimeoutException)
                {
                    await Task.Delay(100, ct); // the server is restarting
                }
            }

            Interlocked.Increment(ref BatchesDone);
            await Task.Delay(pause, ct);
        }
    }

    public async Task WaitForBatchesAsync(int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (Volatile.Read(ref BatchesDone) < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the writer did not reach {count} batches");
            await Task.Delay(20);
        }
    }
}
