using System.Text.Json.Nodes;

namespace PgReplicateKafka.Tests.Integration.Operations;

public class DemoTests
{
    [Fact]
    public async Task Demo_prints_json_change_events_and_exits_0()
    {
        var (code, output) = await CliProcess.RunAsync(["demo", "--duration", "15"], TimeSpan.FromSeconds(60));

        Assert.Equal(0, code);
        var events = output.Split('\n')
            .Where(line => line.StartsWith("demo.public.users key=", StringComparison.Ordinal) && line.Contains(" value=", StringComparison.Ordinal))
            .Select(line => JsonNode.Parse(line[(line.IndexOf(" value=", StringComparison.Ordinal) + 7)..])!)
            .ToList();
        Assert.True(events.Count >= 3, $"expected change events on stdout, got:\n{output}");
        Assert.All(events, e => Assert.Equal("users", (string)e["table"]!));
        Assert.Contains(events, e => (string)e["op"]! == "INSERT" && e["after"]!["email"] is not null);
        // The rows that exist before the replicator starts arrive as READ events of the initial snapshot.
        var reads = events.Where(e => (string)e["op"]! == "READ").ToList();
        // (Against the in-process broker the snapshot starts ~10 s late: its CreateTopics request times out first.)
        Assert.Subset(reads.Select(e => (long)e["after"]!["id"]!).ToHashSet(), new HashSet<long> { 1, 2, 3 });
        Assert.All(reads, e => Assert.True((bool)e["source"]!["snapshot"]!));
        // The first row the workload writes is streamed too: it starts writing only once the slot streams.
        Assert.Contains(events, e => (string)e["op"]! == "INSERT" && (long)e["after"]!["id"]! == 4);
        Assert.Contains("removing the throwaway PostgreSQL cluster", output);
    }
}
