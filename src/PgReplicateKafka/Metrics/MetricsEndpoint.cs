using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using PgReplicateKafka.Configuration;

namespace PgReplicateKafka.Metrics;

/// <summary>
/// Serves <c>/metrics</c> (Prometheus text format) and <c>/healthz</c> (200 while streaming, 503
/// otherwise) with a plain <see cref="HttpListener"/>: prometheus-net's own MetricServer serves
/// only the metrics, and an ASP.NET host would be far more than these two paths need.
/// </summary>
public sealed class MetricsEndpoint : IAsyncDisposable
{
    private readonly HttpListener _listener;
    private readonly ReplicatorMetrics _metrics;
    private readonly ILogger _logger;
    private readonly Task _serving;

    private MetricsEndpoint(HttpListener listener, ReplicatorMetrics metrics, ILogger logger)
    {
        _listener = listener;
        _metrics = metrics;
        _logger = logger;
        _serving = Task.Run(ServeAsync);
    }

    /// <summary>Starts serving when <c>[metrics] listen</c> is set; null when metrics are off.</summary>
    public static MetricsEndpoint? Start(MetricsConfig config, ReplicatorMetrics metrics, ILogger logger)
    {
        if (config.ListenHost is null)
            return null;

        // HttpListener spells "every interface" as "+".
        var host = config.ListenHost is "0.0.0.0" or "*" or "[::]" ? "+" : config.ListenHost;
        var listener = new HttpListener();
        listener.Prefixes.Add($"http://{host}:{config.ListenPort}/");
        try
        {
            listener.Start();
        }
        catch (HttpListenerException e)
        {
            listener.Close();
            throw new ConfigException(
                $"[metrics] listen = \"{config.ListenHost}:{config.ListenPort}\" cannot be served: {e.Message}. " +
                "Choose a free port and an address of this machine, or remove [metrics] listen to turn metrics off.", e);
        }

        logger.LogInformation("Serving /metrics and /healthz on {Host}:{Port}", config.ListenHost, config.ListenPort);
        return new MetricsEndpoint(listener, metrics, logger);
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _serving;
        _listener.Close();
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return; // stopped
            }

            try
            {
                await RespondAsync(context);
            }
            catch (Exception e) when (e is HttpListenerException or IOException)
            {
                _logger.LogDebug("Metrics request to {Path} failed: {Reason}", context.Request.Url?.AbsolutePath, e.Message);
            }
            finally
            {
                context.Response.Close();
            }
        }
    }

    private async Task RespondAsync(HttpListenerContext context)
    {
        var response = context.Response;
        switch (context.Request.Url?.AbsolutePath)
        {
            case "/metrics":
                response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
                await _metrics.Registry.CollectAndExportAsTextAsync(response.OutputStream);
                break;
            case "/healthz":
                var state = _metrics.State;
                response.StatusCode = state == ReplicatorState.Streaming ? 200 : 503;
                await WriteTextAsync(response, state.ToString().ToLowerInvariant() + "\n");
                break;
            default:
                response.StatusCode = 404;
                await WriteTextAsync(response, "not found: try /metrics or /healthz\n");
                break;
        }
    }

    private static async Task WriteTextAsync(HttpListenerResponse response, string text)
    {
        response.ContentType = "text/plain; charset=utf-8";
        var bytes = Encoding.UTF8.GetBytes(text);
        await response.OutputStream.WriteAsync(bytes);
    }
}
