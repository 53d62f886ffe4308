using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Operations;

namespace PgReplicateKafka.Tests.Integration.Operations;

/// <summary>deploy/grafana/pg-replicate-kafka.json queries only series a running replicator exposes.</summary>
[Collection(IntegrationCollection.Name)]
public partial class DashboardTests(PostgresFixture postgres, KafkaFixture kafka)
{
    private static readonly HashSet<string> PromQlWords =
    [
        "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless", "inf", "nan",
    ];

    /// <summary>The metric names of a PromQL expression: identifiers that are not functions, keywords, labels or variables.</summary>
    internal static IEnumerable<string> MetricNames(string expr)
    {
        var bare = Matchers().Replace(expr, " ");                      // {label="value", ...} and [range]
        bare = Grouping().Replace(bare, " ");                          // by (label, ...) and the like
        return Identifier().Matches(bare)
            .Where(m => !(m.Index > 0 && bare[m.Index - 1] == '$'))     // $__range, $instance
            .Where(m => !Regex.IsMatch(bare[(m.Index + m.Length)..], @"^\s*\("))
            .Select(m => m.Value)
            .Where(name => !PromQlWords.Contains(name));
    }

    internal static List<string> DashboardMetricNames(JsonNode dashboard)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var panel in dashboard["panels"]!.AsArray())
        {
            foreach (var target in panel!["targets"]!.AsArray())
                names.UnionWith(MetricNames((string)target!["expr"]!));
        }

        foreach (var variable in dashboard["templating"]!["list"]!.AsArray())
        {
            if (LabelValues().Match((string)variable!["definition"]!) is { Success: true } query)
                names.Add(query.Groups["metric"].Value);
        }

        return [.. names];
    }

    [Fact]
    public void Metric_names_are_taken_from_expressions_and_nothing_else()
    {
        Assert.Equal(["pgrk_events_total"], MetricNames("sum by (table, op) (rate(pgrk_events_total{instance=~\"$instance\", op=\"insert\"}[$__rate_interval]))"));
        Assert.Equal(["a_total", "b"], MetricNames("sum(increase(a_total[5m])) / ignoring(x) b offset 1h"));
    }

    [Fact]
    public async Task Every_series_the_dashboard_queries_is_in_a_live_scrape()
    {
        var dashboard = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(Unit.Configuration.ConfigurationTestSupport.RepoRoot(), "deploy", "grafana", "pg-replicate-kafka.json")))!;
        var queried = DashboardMetricNames(dashboard);
        Assert.Contains("pgrk_lag_bytes", queried);
        Assert.Contains("pgrk_events_total", queried);
        Assert.Contains("pgrk_snapshot_rows_total", queried);

        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, "CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, 'existing' FROM generate_series(1, 100) g");
        var config = new ReplicatorConfig
        {
            Postgres = run.Config.Postgres,
            Kafka = run.Config.Kafka,
            Replication = run.Config.Replication,
            Metrics = new MetricsConfig { ListenHost = "127.0.0.1", ListenPort = port },
            Snapshot = new SnapshotConfig { Mode = SnapshotMode.Initial }, // the existing rows, so the snapshot series have samples
        };
        using var stop = new CancellationTokenSource();
        var running = Task.Run(() => ReplicatorHost.RunAsync(config, NullLoggerFactory.Instance, stop.Token));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        try
        {
            var scrape = "";
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (!scrape.Contains("pgrk_events_total{", StringComparison.Ordinal) || !scrape.Contains("pgrk_snapshot_rows_total{", StringComparison.Ordinal))
            {
                Assert.True(DateTime.UtcNow < deadline, "no events counted within 20 s");
                if (running.IsCompleted)
                    await running;
                await Task.Delay(100);
                try
                {
                    await run.ExecuteAsync("INSERT INTO items VALUES ((random() * 1e9)::int, 'a') ON CONFLICT DO NOTHING");
                    scrape = await http.GetStringAsync("metrics");
                }
                catch (HttpRequestException)
                {
                    // not listening yet
                }
            }

            var exposed = Regex.Matches(scrape, @"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", RegexOptions.Multiline).Select(m => m.Groups["name"].Value).ToHashSet();
            var missing = queried.Where(name => !exposed.Contains(name)).ToList();
            Assert.True(missing.Count == 0, $"the dashboard queries series the replicator does not expose: {string.Join(", ", missing)}");
        }
        finally
        {
            await stop.CancelAsync();
            await running;
        }
    }

    [GeneratedRegex(@"\{[^}]*\}|\[[^\]]*\]")]
    private static partial Regex Matchers();

    [GeneratedRegex(@"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")]
    private static partial Regex Grouping();

    // Not inside a number or a duration such as 1h.
    [GeneratedRegex(@"(?<![A-Za-z0-9_:.])[a-zA-Z_:][a-zA-Z0-9_:]*")]
    private static partial Regex Identifier();

    [GeneratedRegex(@"label_values\(\s*(?<metric>[a-zA-Z_:][a-zA-Z0-9_:]*)")]
    private static partial Regex LabelValues();
}
