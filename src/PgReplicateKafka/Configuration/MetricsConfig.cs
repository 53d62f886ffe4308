using System.Globalization;

namespace PgReplicateKafka.Configuration;

/// <summary>The <c>[metrics]</c> section: the Prometheus and health endpoint, off unless <c>listen</c> is set.</summary>
public sealed class MetricsConfig
{
    /// <summary>Host or address to bind; null when metrics are off.</summary>
    public string? ListenHost { get; init; }

    public int ListenPort { get; init; }

    public bool Enabled => ListenHost is not null;

    internal static MetricsConfig Build(ConfigValues v)
    {
        var listen = v.String(ConfigSchema.MetricsListen);
        if (listen is null)
        {
            return new MetricsConfig();
        }

        var colon = listen.LastIndexOf(':');
        var host = colon > 0 ? listen[..colon] : "";
        if (host.Length == 0 || host.Any(c => char.IsWhiteSpace(c) || c is '/' or ',') ||
            !int.TryParse(listen[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) ||
            port is < 1 or > 65535)
        {
            throw v.Error(ConfigSchema.MetricsListen,
                $"must be \"host:port\" with a port in 1..65535 (e.g. \"127.0.0.1:9187\", or \"0.0.0.0:9187\" for every interface), but found \"{listen}\"");
        }

        return new MetricsConfig { ListenHost = host, ListenPort = port };
    }
}
