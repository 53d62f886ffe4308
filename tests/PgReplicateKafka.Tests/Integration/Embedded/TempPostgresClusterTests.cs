using System.Diagnostics;
using Npgsql;
using Npgsql.Replication;
using PgReplicateKafka.Embedded;
using Xunit.Abstractions;

namespace PgReplicateKafka.Tests.Integration.Embedded;

[Collection(IntegrationCollection.Name)]
public sealed class TempPostgresClusterTests(PostgresFixture postgres, ITestOutputHelper output)
{
    private TempPostgresCluster Cluster => postgres.Cluster;

    [Fact]
    public async Task Starts_with_logical_wal_level_and_the_configured_timezone()
    {
        output.WriteLine($"shared cluster started in {Cluster.StartupTime.TotalMilliseconds:F0} ms");
        Assert.Equal("logical", await Cluster.ScalarAsync<string>("SHOW wal_level"));
        Assert.Equal(PostgresFixture.ServerTimeZone, await Cluster.ScalarAsync<string>("SHOW timezone"));
        Assert.Equal("20", await Cluster.ScalarAsync<string>("SHOW max_replication_slots"));
        Assert.Equal("off", await Cluster.ScalarAsync<string>("SHOW fsync"));
        Assert.Equal("UTF8", await Cluster.ScalarAsync<string>("SHOW server_encoding"));
        Assert.Equal(Cluster.Port, await Cluster.ScalarAsync<int>("SELECT inet_server_port()"));
    }

    [Fact]
    public async Task Requires_the_password_over_tcp()
    {
        var database = await postgres.CreateDatabaseAsync();
        await using (var connection = new NpgsqlConnection(Cluster.ConnectionString(database)))
        {
            await connection.OpenAsync();
            Assert.Equal(database, connection.Database);
        }

        var wrong = new NpgsqlConnectionStringBuilder(Cluster.ConnectionString(database)) { Password = "wrong", Pooling = false };
        var error = await Assert.ThrowsAsync<PostgresException>(async () =>
        {
            await using var connection = new NpgsqlConnection(wrong.ConnectionString);
            await connection.OpenAsync();
        });
        Assert.Equal("28P01", error.SqlState); // invalid_password: scram is enforced, not trust
    }

    [Fact]
    public async Task Accepts_a_logical_replication_connection()
    {
        var database = await postgres.CreateDatabaseAsync();
        await using var connection = new LogicalReplicationConnection(Cluster.ConnectionString(database));
        await connection.Open();
        var system = await connection.IdentifySystem();
        Assert.Equal(database, system.DbName);
        Assert.NotEqual(0UL, (ulong)system.XLogPos);
    }

    [Fact]
    public async Task Scalar_converts_and_maps_null_to_default()
    {
        Assert.Equal(42L, await Cluster.ScalarAsync<long>("SELECT 42::int"));
        Assert.Null(await Cluster.ScalarAsync<string>("SELECT NULL::text"));
        Assert.Null(await Cluster.ScalarAsync<int?>("SELECT NULL::int"));
    }

    [Fact]
    public async Task Missing_binaries_say_how_to_install_postgresql()
    {
        var error = await Assert.ThrowsAsync<PostgresSetupException>(() =>
            TempPostgresCluster.StartAsync(new TempPostgresOptions { BinDir = "/nonexistent/bin" }));
        Assert.Contains("apt-get install -y postgresql-15", error.Message);
    }

    [Fact]
    public async Task Restart_and_stop_start_keep_data_and_port_and_dispose_removes_everything()
    {
        var cluster = await TempPostgresCluster.StartAsync(new TempPostgresOptions
        {
            Password = "s3cret'\"",
            ExtraSettings = new Dictionary<string, string> { ["application_name"] = "harness-extra" },
        });
        output.WriteLine($"dedicated cluster started in {cluster.StartupTime.TotalMilliseconds:F0} ms");
        var port = cluster.Port;
        var dataDir = cluster.DataDirectory;
        try
        {
            Assert.Equal("harness-extra", await cluster.ScalarAsync<string>("SHOW application_name"));
            Assert.Equal("UTC", await cluster.ScalarAsync<string>("SHOW timezone"));
            await cluster.ExecuteAsync("CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2)");

            await cluster.RestartAsync("immediate");
            Assert.Equal(2L, await cluster.ScalarAsync<long>("SELECT count(*) FROM t"));
            await cluster.RestartAsync();
            await cluster.StopAsync();
            await Assert.ThrowsAnyAsync<NpgsqlException>(() => cluster.ExecuteAsync("SELECT 1"));
            await cluster.StartAgainAsync();
            Assert.Equal(2L, await cluster.ScalarAsync<long>("SELECT count(*) FROM t"));
            Assert.Equal(port, cluster.Port);
            Assert.Equal(port, await cluster.ScalarAsync<int>("SELECT inet_server_port()"));
        }
        finally
        {
            await cluster.DisposeAsync();
        }

        Assert.False(Directory.Exists(dataDir));
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => cluster.ExecuteAsync("SELECT 1"));
    }

    [Fact]
    public async Task Sweep_stops_and_deletes_the_cluster_of_a_crashed_run_but_not_live_ones()
    {
        var crashed = await TempPostgresCluster.StartAsync();
        var rootDir = Path.GetDirectoryName(crashed.DataDirectory)!;
        try
        {
            // Make the cluster look like one left by a test run that died without disposing.
            using (var gone = Process.Start("true")!)
            {
                await gone.WaitForExitAsync();
                await File.WriteAllTextAsync(Path.Combine(rootDir, "owner.pid"), gone.Id.ToString());
            }

            await TempPostgresCluster.SweepStaleAsync(crashed.BinDir);

            Assert.False(Directory.Exists(rootDir));
            await Assert.ThrowsAnyAsync<NpgsqlException>(() => crashed.ExecuteAsync("SELECT 1"));
            Assert.True(Directory.Exists(Cluster.DataDirectory));
            Assert.Equal(1, await Cluster.ScalarAsync<int>("SELECT 1"));
        }
        finally
        {
            await crashed.DisposeAsync();
        }
    }
}
