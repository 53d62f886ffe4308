using System.Text.Json.Nodes;
using Confluent.Kafka;

namespace PgReplicateKafka.Tests.Support;

/// <summary>
/// Reads a table's topic to its end and replays it per key, as a compacting consumer would: the last
/// value wins, DELETE removes. Rows carry a version <c>ver</c> that every write raises
/// (nextval), so it also checks that no event of a key is older than one received before it.
/// </summary>
public sealed class SnapshotReplay
{
    public Dictionary<string, JsonObject> Rows { get; } = [];
    public int Reads { get; private set; }
    public int Changes { get; private set; }
    public List<string> OrderViolations { get; } = [];

    public static SnapshotReplay Read(string bootstrap, string topic, TimeSpan timeout)
    {
        var replay = new SnapshotReplay();
        var lastVersion = new Dictionary<string, (long Version, bool Deleted)>();
        foreach (var (key, value) in ReadToEnd(bootstrap, topic, timeout))
        {
            var node = JsonNode.Parse(value)!.AsObject();
            var op = (string)node["op"]!;
            var row = (op == "DELETE" ? node["before"] : node["after"])!.AsObject();
            var version = (long)row["ver"]!;
            if (lastVersion.TryGetValue(key, out var last) && (version < last.Version || (last.Deleted && version == last.Version)))
                replay.OrderViolations.Add($"key {key}: {op} of version {version} after {(last.Deleted ? "DELETE" : "a state")} of version {last.Version}");
            lastVersion[key] = (version, op == "DELETE");
            if (op == "READ")
                replay.Reads++;
            else
                replay.Changes++;
            if (op == "DELETE")
                replay.Rows.Remove(key);
            else
                replay.Rows[key] = row;
        }

        return replay;
    }

    /// <summary>Every committed record of the topic up to its end offsets as they are now, in partition order (per key: in order).</summary>
    public static List<(string Key, byte[] Value)> ReadToEnd(string bootstrap, string topic, TimeSpan timeout)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "replay-" + Guid.NewGuid().ToString("N"),
            IsolationLevel = IsolationLevel.ReadCommitted,
            EnableAutoCommit = false,
            EnablePartitionEof = true,
        };
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config).SetErrorHandler((_, _) => { }).SetLogHandler((_, _) => { }).Build();
        using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
        var metadata = admin.GetMetadata(topic, timeout).Topics.Single();
        var ends = new Dictionary<TopicPartition, long>();
        foreach (var partition in metadata.Partitions)
        {
            var tp = new TopicPartition(topic, partition.PartitionId);
            var offsets = consumer.QueryWatermarkOffsets(tp, timeout);
            if (offsets.High.Value > offsets.Low.Value)
                ends[tp] = offsets.High.Value;
        }

        var result = new List<(string, byte[])>();
        consumer.Assign(ends.Keys.Select(tp => new TopicPartitionOffset(tp, Offset.Beginning)));
        var deadline = DateTime.UtcNow + timeout;
        while (ends.Count > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"topic {topic} was not read to its end within {timeout.TotalSeconds} s");
            var message = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (message is null || !ends.TryGetValue(message.TopicPartition, out var end))
                continue;
            if (!message.IsPartitionEOF && message.Message.Value is { } value)
                result.Add((System.Text.Encoding.UTF8.GetString(message.Message.Key!), value));
            if ((message.IsPartitionEOF ? message.Offset.Value : message.Offset.Value + 1) >= end)
                ends.Remove(message.TopicPartition);
        }

        return result;
    }

    /// <summary>The table's rows keyed like the events (<c>{"id":n}</c>), as JSON objects of every column.</summary>
    public static async Task<Dictionary<string, JsonObject>> TableAsync(ReplicatorRun run, string table)
    {
        var json = await run.ScalarAsync<string>($"SELECT coalesce(json_agg(t), '[]')::text FROM {table} t");
        var rows = new Dictionary<string, JsonObject>();
        foreach (var row in JsonNode.Parse(json!)!.AsArray())
            rows[$"{{\"id\":{(long)row!["id"]!}}}"] = row.AsObject();
        return rows;
    }

    /// <summary>Differences between the replay and the table (at most a few, for the message).</summary>
    public List<string> DifferencesFrom(Dictionary<string, JsonObject> table)
    {
        var differences = new List<string>();
        foreach (var (key, row) in table)
        {
            if (!Rows.TryGetValue(key, out var replayed))
                differences.Add($"{key} missing from the topic");
            else if ((long)replayed["ver"]! != (long)row["ver"]!)
                differences.Add($"{key}: topic has version {replayed["ver"]}, table {row["ver"]}");
        }

        foreach (var key in Rows.Keys)
        {
            if (!table.ContainsKey(key))
                differences.Add($"{key} in the topic but not in the table");
        }

        return differences.Take(10).ToList();
    }
}
