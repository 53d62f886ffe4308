using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Operations;

namespace PgReplicateKafka.Tests.Integration.Operations;

/// <summary>The run command's /metrics and /healthz while it streams real changes.</summary>
[Collection(IntegrationCollection.Name)]
public class MetricsEndpointTests(PostgresFixture postgres, KafkaFixture kafka)
{
    [Fact]
    public async Task Streaming_replicator_reports_healthy_and_counts_events_transactions_and_lag()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, "CREATE TABLE items (id int PRIMARY KEY, v text)");
        var config = new ReplicatorConfig
        {
            Postgres = run.Config.Postgres,
            Kafka = run.Config.Kafka,
            Replication = run.Config.Replication,
            Metrics = new MetricsConfig { ListenHost = "127.0.0.1", ListenPort = port },
        };
        using var stop = new CancellationTokenSource();
        var running = Task.Run(() => ReplicatorHost.RunAsync(config, NullLoggerFactory.Instance, stop.Token));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
        try
        {
            await WaitUntilAsync(async () => (await TryGetAsync(http, "healthz"))?.StatusCode == HttpStatusCode.OK, running);

            await run.ExecuteAsync("INSERT INTO items VALUES (1, 'a'), (2, 'b'); UPDATE items SET v = 'c' WHERE id = 1; DELETE FROM items WHERE id = 2");
            // An event counts when it is handed to Kafka and leaves pgrk_in_flight_events on its acknowledgement,
            // later: wait for both, or the scrape can fall between them.
            var text = "";
            await WaitUntilAsync(async () =>
            {
                text = await http.GetStringAsync("metrics");
                return text.Contains("pgrk_events_total{table=\"public.items\",op=\"delete\"} 1", StringComparison.Ordinal)
                    && text.Contains("pgrk_in_flight_events 0", StringComparison.Ordinal)
                    && System.Text.RegularExpressions.Regex.IsMatch(text, "pgrk_transactions_total [1-9]");
            }, running, () => text);

            Assert.Contains("pgrk_events_total{table=\"public.items\",op=\"insert\"} 2", text);
            Assert.Contains("pgrk_events_total{table=\"public.items\",op=\"update\"} 1", text);
            Assert.Contains("pgrk_delivery_errors_total 0", text);
            Assert.Matches(@"pgrk_produced_bytes_total [1-9]", text);
            Assert.Matches(@"pgrk_confirmed_lsn [1-9]", text);
            Assert.Matches(@"pgrk_lag_seconds [0-9]", text);
            Assert.Contains("pgrk_state{state=\"streaming\"} 1", text);
        }
        finally
        {
            await stop.CancelAsync();
            await running;
        }

        Assert.Null(await TryGetAsync(http, "healthz")); // the endpoint stops with the replicator
    }

    private static async Task<HttpResponseMessage?> TryGetAsync(HttpClient http, string path)
    {
        try
        {
            return await http.GetAsync(path);
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, Task running, Func<string>? lastSeen = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!await condition())
        {
            if (running.IsCompleted)
                await running;
            Assert.True(DateTime.UtcNow < deadline, $"condition not met within 20 s. Last seen:\n{lastSeen?.Invoke()}");
            await Task.Delay(50);
        }
    }
}
