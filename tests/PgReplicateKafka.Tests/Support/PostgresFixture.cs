using PgReplicateKafka.Embedded;

namespace PgReplicateKafka.Tests.Support;

/// <summary>One throwaway PostgreSQL cluster shared by the "integration" collection; each test takes its own database.</summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    /// <summary>A zone with a non-whole-hour offset, so tests prove the product never assumes a UTC server.</summary>
    public const string ServerTimeZone = "Asia/Kolkata";

    private TempPostgresCluster? _cluster;

    public TempPostgresCluster Cluster => _cluster ?? throw new InvalidOperationException("fixture not initialized");

    public async Task InitializeAsync() =>
        _cluster = await TempPostgresCluster.StartAsync(new TempPostgresOptions { TimeZone = ServerTimeZone });

    /// <summary>Creates a fresh, uniquely named database and returns its name.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = "db_" + Guid.NewGuid().ToString("N")[..12];
        await Cluster.CreateDatabaseAsync(name);
        return name;
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }
}
