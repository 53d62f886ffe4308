using PgReplicateKafka.Configuration;
using PgReplicateKafka.Embedded;
using PgReplicateKafka.Operations;
using PgReplicateKafka.Source;

namespace PgReplicateKafka.Tests.Integration.Operations;

/// <summary>status reports how much WAL the slot may still retain, on a server of its own (max_slot_wal_keep_size is a server setting).</summary>
public class SlotRetentionStatusTests
{
    private const long Segment = 16L * 1024 * 1024;
    private const long KeepBytes = 3 * Segment;

    [Fact]
    public async Task Status_reports_wal_status_and_safe_wal_size_and_warns_as_the_limit_nears()
    {
        await using var cluster = await TempPostgresCluster.StartAsync(new TempPostgresOptions
        {
            ExtraSettings = new Dictionary<string, string> { ["max_slot_wal_keep_size"] = "48MB" },
        });
        await cluster.ExecuteAsync("CREATE TABLE items (id int PRIMARY KEY)");
        await cluster.ExecuteAsync("SELECT pg_create_logical_replication_slot('retention', 'pgoutput')");
        var config = new PostgresConfig
        {
            Host = cluster.Host,
            Port = cluster.Port,
            Database = "postgres",
            Username = cluster.Username,
            Password = cluster.Password,
            Publication = "pub",
            SlotName = "retention",
        };

        var fresh = await SlotOperations.StatusAsync(config, CancellationToken.None);
        Assert.Equal("reserved", fresh.WalStatus);
        Assert.Equal(KeepBytes, fresh.MaxSlotWalKeepSize);
        // The limit counts whole segments past the current one.
        Assert.InRange(fresh.SafeWalSize!.Value, KeepBytes, KeepBytes + Segment);
        Assert.Null(SlotRetention.Risk(fresh.WalStatus, fresh.SafeWalSize, fresh.MaxSlotWalKeepSize));
        var json = System.Text.Json.JsonDocument.Parse(fresh.ToJson()).RootElement;
        Assert.Equal("reserved", json.GetProperty("wal_status").GetString());
        Assert.Equal(fresh.SafeWalSize, json.GetProperty("safe_wal_size").GetInt64());

        // Each switch ends a 16 MB segment the slot must keep: four of them use up the 48 MB and the current segment.
        for (var i = 0; i < 4; i++)
            await cluster.ExecuteAsync($"INSERT INTO items VALUES ({i}); SELECT pg_switch_wal()");

        var full = await SlotOperations.StatusAsync(config, CancellationToken.None);
        Assert.True(full.SafeWalSize < KeepBytes * SlotRetention.WarnFraction, $"safe_wal_size {full.SafeWalSize}, wal_status {full.WalStatus}");
        var text = new StringWriter();
        full.WriteTo(text);
        Assert.Contains($"wal_status           {full.WalStatus}", text.ToString());
        Assert.Contains($"safe_wal_size        {full.SafeWalSize}", text.ToString());
        Assert.Contains("warning              ", text.ToString());
    }
}
