using System.Text;
using Npgsql;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using Npgsql.Replication.PgOutput.Messages;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events;
using PgReplicateKafka.Source;
using PgReplicateKafka.Source.Snapshot;

namespace PgReplicateKafka.Tests.Support;

/// <summary>A fresh database with a publication "pub", a snapshot connection to it, and a raw pgoutput stream on demand.</summary>
public sealed class SnapshotTestDatabase : IAsyncDisposable
{
    private SnapshotTestDatabase(PostgresFixture postgres, PostgresConfig config, NpgsqlConnection connection)
    {
        Postgres = postgres;
        Config = config;
        Connection = connection;
    }

    public PostgresFixture Postgres { get; }
    public PostgresConfig Config { get; }

    /// <summary>From <see cref="SnapshotConnection.OpenAsync"/>.</summary>
    public NpgsqlConnection Connection { get; }

    public static async Task<SnapshotTestDatabase> CreateAsync(PostgresFixture postgres, string setupSql)
    {
        var database = await postgres.CreateDatabaseAsync();
        await postgres.Cluster.ExecuteAsync(setupSql + ";\nCREATE PUBLICATION pub FOR ALL TABLES", database);
        var cluster = postgres.Cluster;
        var config = new PostgresConfig
        {
            Host = cluster.Host,
            Port = cluster.Port,
            Database = database,
            Username = cluster.Username,
            Password = cluster.Password,
            Publication = "pub",
            SlotName = "slot_" + database,
        };
        return new SnapshotTestDatabase(postgres, config, await SnapshotConnection.OpenAsync(config, CancellationToken.None));
    }

    public Task ExecuteAsync(string sql) => Postgres.Cluster.ExecuteAsync(sql, Config.Database);

    public async Task<SnapshotTable> TableAsync(string name) =>
        (await SnapshotTableCatalog.LoadAsync(Connection, "pub", CancellationToken.None)).Single(t => t.QualifiedName == name);

    public Task CreateSlotAsync() => ExecuteAsync($"SELECT pg_create_logical_replication_slot('{Config.SlotName}', 'pgoutput')");

    /// <summary>Reads every chunk of <paramref name="reader"/> from the start; returns the rows as text and the chunk count.</summary>
    public async Task<(List<string?[]> Rows, int Chunks)> ReadAllAsync(ChunkReader reader)
    {
        var rows = new List<string?[]>();
        string[]? after = null;
        var chunks = 0;
        while (true)
        {
            var chunk = await reader.ReadAsync(Connection, after, CancellationToken.None);
            chunks++;
            foreach (var row in chunk.Rows)
            {
                rows.Add(Texts(row));
                row.Release();
            }

            if (chunk.IsLast)
                return (rows, chunks);
            after = chunk.LastKey;
        }
    }

    public static string?[] Texts(RowData row)
    {
        var texts = new string?[row.ColumnCount];
        for (var i = 0; i < texts.Length; i++)
            texts[i] = row.Kind(i) == ValueKind.Text ? Encoding.UTF8.GetString(row.Value(i)) : null;
        return texts;
    }

    /// <summary>
    /// Streams the slot (pgoutput, messages on) with the replication connection's own settings and
    /// collects, in stream order, inserted rows as text and this product's snapshot messages, until <paramref name="done"/> says so.
    /// </summary>
    public async Task<List<object>> StreamAsync(Func<List<object>, bool> done, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await using var replication = new LogicalReplicationConnection(PostgresConnections.ReplicationConnectionString(Config));
        await replication.Open(cts.Token);
        var seen = new List<object>();
        var options = new PgOutputReplicationOptions("pub", PgOutputProtocolVersion.V1, messages: true);
        await foreach (var message in replication.StartReplication(new PgOutputReplicationSlot(Config.SlotName), options, cts.Token))
        {
            switch (message)
            {
                case InsertMessage insert:
                    var values = new List<string?>();
                    await foreach (var value in insert.NewRow)
                        values.Add(value.IsDBNull ? null : Encoding.UTF8.GetString(await ReadAllBytesAsync(value.GetStream())));
                    seen.Add(values.ToArray());
                    break;
                case LogicalDecodingMessage decoding:
                    if (decoding.Prefix == Watermarks.Prefix)
                        seen.Add(Watermarks.Parse(await ReadAllBytesAsync(decoding.Data)));
                    break;
            }

            if (done(seen))
                return seen;
        }

        return seen;
    }

    private static async Task<byte[]> ReadAllBytesAsync(Stream stream)
    {
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    public ValueTask DisposeAsync() => Connection.DisposeAsync();
}
