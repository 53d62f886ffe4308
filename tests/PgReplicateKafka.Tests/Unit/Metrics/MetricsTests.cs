using System.Net;
using System.Net.Sockets;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events;
using PgReplicateKafka.Metrics;
using PgReplicateKafka.Pipeline;
using PgReplicateKafka.Pipeline.Delivery;

namespace PgReplicateKafka.Tests.Unit.Metrics;

public class MetricsTests
{
    private static async Task<string> ExportAsync(ReplicatorMetrics metrics)
    {
        using var stream = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(stream);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public async Task Pipeline_calls_show_up_under_their_metric_names()
    {
        var metrics = new ReplicatorMetrics();
        metrics.EventProduced("public.items", ChangeOperation.Insert, 100);
        metrics.EventProduced("public.items", ChangeOperation.Insert, 50);
        metrics.EventProduced("public.orders", ChangeOperation.Delete, 30);
        metrics.EventAcknowledged(DateTime.UtcNow.AddSeconds(-3), 100);
        metrics.EventFailed(30);
        metrics.TransactionAcknowledged();
        metrics.Confirmed(confirmedLsn: 1000, serverLsn: 1600);

        var text = await ExportAsync(metrics);

        Assert.Contains("pgrk_events_total{table=\"public.items\",op=\"insert\"} 2", text);
        Assert.Contains("pgrk_events_total{table=\"public.orders\",op=\"delete\"} 1", text);
        Assert.Contains("pgrk_produced_bytes_total 180", text);
        Assert.Contains("pgrk_transactions_total 1", text);
        Assert.Contains("pgrk_delivery_errors_total 1", text);
        Assert.Contains("pgrk_in_flight_events 1", text);
        Assert.Contains("pgrk_in_flight_bytes 50", text);
        Assert.Contains("pgrk_confirmed_lsn 1000", text);
        Assert.Contains("pgrk_lag_bytes 600", text);
        var lag = text.Split('\n').Single(l => l.StartsWith("pgrk_lag_seconds ", StringComparison.Ordinal));
        Assert.InRange(double.Parse(lag["pgrk_lag_seconds ".Length..], System.Globalization.CultureInfo.InvariantCulture), 3, 10);
        Assert.Contains("pgrk_state{state=\"starting\"} 1", text);
    }

    [Fact]
    public void Producing_an_event_allocates_nothing_once_the_table_is_known()
    {
        var metrics = new ReplicatorMetrics();
        var acknowledged = DateTime.UtcNow;
        metrics.EventProduced("public.items", ChangeOperation.Update, 10);
        metrics.EventAcknowledged(acknowledged, 10);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            metrics.EventProduced("public.items", ChangeOperation.Update, 10);
            metrics.EventAcknowledged(acknowledged, 10);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public async Task Delivery_tracker_reports_acknowledgements_failures_and_transactions()
    {
        var metrics = new ReplicatorMetrics();
        var tracker = new DeliveryTracker(metrics);
        var transaction = tracker.Begin(new SourceTransaction(1, DateTime.UtcNow) { EndLsn = 100 });
        transaction.AddEvent(7);
        metrics.EventProduced("public.items", ChangeOperation.Insert, 7);
        transaction.Commit();
        transaction.OnDelivery.Delivered(null);

        var text = await ExportAsync(metrics);

        Assert.Contains("pgrk_transactions_total 1", text);
        Assert.Contains("pgrk_in_flight_events 0", text);
        Assert.Contains("pgrk_in_flight_bytes 0", text);
    }

    [Fact]
    public async Task Healthz_is_200_only_while_streaming_and_metrics_are_served()
    {
        var metrics = new ReplicatorMetrics();
        var port = FreePort();
        await using var endpoint = MetricsEndpoint.Start(new MetricsConfig { ListenHost = "127.0.0.1", ListenPort = port }, metrics, NullLogger.Instance);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync("healthz")).StatusCode);
        metrics.SetState(ReplicatorState.Streaming);
        var healthy = await http.GetAsync("healthz");
        Assert.Equal(HttpStatusCode.OK, healthy.StatusCode);
        Assert.Equal("streaming\n", await healthy.Content.ReadAsStringAsync());
        metrics.SetState(ReplicatorState.Reconnecting);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync("healthz")).StatusCode);
        metrics.SetState(ReplicatorState.Stopping);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync("healthz")).StatusCode);

        var scrape = await http.GetStringAsync("metrics");
        Assert.Contains("pgrk_state{state=\"stopping\"} 1", scrape);
        Assert.Contains("pgrk_state{state=\"streaming\"} 0", scrape);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("other")).StatusCode);
    }

    [Fact]
    public void Metrics_are_off_without_listen_and_a_busy_port_is_a_configuration_error()
    {
        Assert.Null(MetricsEndpoint.Start(new MetricsConfig(), new ReplicatorMetrics(), NullLogger.Instance));

        using var busy = new TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        var port = ((IPEndPoint)busy.LocalEndpoint).Port;
        var ex = Assert.Throws<ConfigException>(() =>
            MetricsEndpoint.Start(new MetricsConfig { ListenHost = "127.0.0.1", ListenPort = port }, new ReplicatorMetrics(), NullLogger.Instance));
        Assert.Contains($"[metrics] listen = \"127.0.0.1:{port}\" cannot be served", ex.Message);
        Assert.Contains("Choose a free port", ex.Message);
    }
}
