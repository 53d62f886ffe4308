using System.Text.Json.Nodes;
using Npgsql;

namespace PgReplicateKafka.Tests.Support;

/// <summary>
/// Writes inserts and updates in transactions of mixed size over tables <c>a</c> and <c>b</c>
/// (id, version, payload); every update bumps a row's version, so the verifier can check that each
/// key's versions arrive complete and in commit order.
/// </summary>
public sealed class CrashWorkload(string connectionString, int targetChanges, int changesPerSecond)
{
    public const string Schema = """
        CREATE TABLE a (id int PRIMARY KEY, version int NOT NULL, payload text);
        CREATE TABLE b (id int PRIMARY KEY, version int NOT NULL, payload text)
        """;

    private static readonly int[] TransactionSizes = [1, 1, 2, 5, 10, 40, 200, 1000];

    public long Changes;

    public async Task RunAsync()
    {
        var random = new Random(7);
        var nextId = new Dictionary<string, int> { ["a"] = 1, ["b"] = 1 };
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var started = DateTime.UtcNow;
        while (Changes < targetChanges)
        {
            var size = TransactionSizes[random.Next(TransactionSizes.Length)];
            var table = random.Next(2) == 0 ? "a" : "b";
            var inserts = nextId[table] < 100 ? size : size / 2 + 1;
            var updates = size - inserts;
            var first = nextId[table];
            nextId[table] += inserts;

            await using var transaction = await connection.BeginTransactionAsync();
            await using (var insert = new NpgsqlCommand(
                $"INSERT INTO {table} SELECT g, 1, md5(g::text) FROM generate_series({first}, {first + inserts - 1}) g", connection, transaction))
            {
                Changes += await insert.ExecuteNonQueryAsync();
            }

            if (updates > 0)
            {
                await using var update = new NpgsqlCommand(
                    $"UPDATE {table} SET version = version + 1 WHERE id IN (SELECT 1 + (random() * {first - 2})::int FROM generate_series(1, {updates}))",
                    connection, transaction);
                Changes += await update.ExecuteNonQueryAsync();
            }

            await transaction.CommitAsync();

            // Pace the writer so the replicator is killed while changes flow, not after.
            var ahead = TimeSpan.FromSeconds((double)Changes / changesPerSecond) - (DateTime.UtcNow - started);
            if (ahead > TimeSpan.Zero)
                await Task.Delay(ahead);
        }
    }

    /// <summary>
    /// Per table: missing versions, versions out of commit order, and duplicates, from everything in Kafka.
    /// <paramref name="inFlight"/>: at each kill, the slot's confirmed LSN and the server's WAL position;
    /// the changes between them are what a restart may send again.
    /// </summary>
    public static async Task<VerifyResult> VerifyAsync(ReplicatorRun run, string bootstrap, long changes, IReadOnlyList<(ulong Confirmed, ulong Written)>? inFlight = null)
    {
        var consumed = await KafkaTestConsumer.ConsumeAsync(bootstrap, [run.Topic("a"), run.Topic("b")], (int)changes, TimeSpan.FromMinutes(3), TimeSpan.FromSeconds(3));
        var result = new VerifyResult { Messages = consumed.Count };
        foreach (var table in new[] { "a", "b" })
        {
            var finals = new Dictionary<int, int>();
            await using (var connection = new NpgsqlConnection(run.Cluster.ConnectionString(run.Database)))
            {
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand($"SELECT id, version FROM {table}", connection);
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                    finals[reader.GetInt32(0)] = reader.GetInt32(1);
            }

            // Kafka keeps each key's order within its partition: read in (partition, offset) order.
            var seen = new Dictionary<int, List<int>>();
            var lsns = new Dictionary<(int, int), ulong>();
            foreach (var message in consumed.Where(m => m.Topic == run.Topic(table)).OrderBy(m => m.Partition).ThenBy(m => m.Offset))
            {
                var value = JsonNode.Parse(message.Value!)!;
                var after = value["after"]!;
                var id = (int)after["id"]!;
                if (!seen.TryGetValue(id, out var versions))
                    seen[id] = versions = [];
                versions.Add((int)after["version"]!);
                lsns.TryAdd((id, (int)after["version"]!), (ulong)NpgsqlTypes.NpgsqlLogSequenceNumber.Parse((string)value["source"]!["lsn"]!));
            }

            foreach (var (confirmed, written) in inFlight ?? [])
                result.InFlightAtKills += lsns.Values.Count(lsn => lsn > confirmed && lsn <= written);

            foreach (var (id, final) in finals)
            {
                var versions = seen.GetValueOrDefault(id) ?? [];
                // A redelivery replays a suffix of the stream: the first occurrence of each version is the original.
                var firsts = versions.Distinct().ToList();
                result.Duplicates += versions.Count - firsts.Count;
                result.Missing += Enumerable.Range(1, final).Count(v => !firsts.Contains(v));
                for (var i = 1; i < firsts.Count; i++)
                {
                    if (firsts[i] < firsts[i - 1])
                        result.OutOfOrder++;
                }
            }
        }

        return result;
    }
}

public sealed class VerifyResult
{
    public int Messages { get; init; }
    public long Missing { get; set; }
    public long OutOfOrder { get; set; }
    public long Duplicates { get; set; }

    /// <summary>Summed over the kills: changes committed after the slot's confirmed position, i.e. possibly in flight.</summary>
    public long InFlightAtKills { get; set; }

    public override string ToString() =>
        $"{Messages} messages: {Missing} missing, {OutOfOrder} out of order, {Duplicates} duplicates ({InFlightAtKills} changes were unconfirmed at the kills)";
}
