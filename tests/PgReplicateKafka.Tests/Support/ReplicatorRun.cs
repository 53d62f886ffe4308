using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Embedded;
using PgReplicateKafka.Metrics;
using PgReplicateKafka.Pipeline;
using PgReplicateKafka.Sink;

namespace PgReplicateKafka.Tests.Support;

/// <summary>A database, a publication and a replicator running in-process against the shared test cluster and Kafka.</summary>
public sealed class ReplicatorRun : IAsyncDisposable
{
    private CancellationTokenSource? _stop;
    private Task? _running;

    private ReplicatorRun(TempPostgresCluster cluster, string database, ReplicatorConfig config)
    {
        Cluster = cluster;
        Database = database;
        Config = config;
    }

    public TempPostgresCluster Cluster { get; }

    /// <summary>The running replicator (after <see cref="StartAsync"/>).</summary>
    public Replicator? Replicator { get; private set; }
    public string Database { get; }
    public ReplicatorConfig Config { get; }

    /// <summary>The replicator's run (after <see cref="StartAsync"/>), for tests of a run that ends by itself.</summary>
    public Task? Running => _running;
    public string TopicPrefix => Config.Kafka.TopicPrefix;

    public string Topic(string table, string schema = "public") => $"{TopicPrefix}.{schema}.{table}";

    /// <summary>A fresh database with <paramref name="setupSql"/> run in it and a publication "pub" (by default for all its tables).</summary>
    public static async Task<ReplicatorRun> CreateAsync(
        PostgresFixture postgres, KafkaFixture kafka, string setupSql, Func<ReplicatorConfig, ReplicatorConfig>? adjust = null, string publish = "ALL TABLES")
    {
        var database = await postgres.CreateDatabaseAsync();
        await postgres.Cluster.ExecuteAsync(setupSql + $";\nCREATE PUBLICATION pub FOR {publish};", database);
        var config = DefaultConfig(postgres.Cluster, database, kafka.BootstrapServers, kafka.NewTopicPrefix());
        return new ReplicatorRun(postgres.Cluster, database, adjust is null ? config : adjust(config));
    }

    public static ReplicatorConfig DefaultConfig(TempPostgresCluster cluster, string database, string bootstrap, string topicPrefix) => new()
    {
        Postgres = new PostgresConfig
        {
            Host = cluster.Host,
            Port = cluster.Port,
            Database = database,
            Username = cluster.Username,
            Password = cluster.Password,
            Publication = "pub",
            SlotName = "slot_" + database,
        },
        Kafka = new KafkaConfig { Brokers = [bootstrap], TopicPrefix = topicPrefix },
        Replication = new ReplicationConfig { CheckpointIntervalSecs = 1, KeepaliveIntervalSecs = 1, PollIntervalMs = 50, RetryInitialMs = 100, RetryMaxMs = 1000 },
        // Tests of streaming count the events of their own changes; snapshot tests opt in.
        Snapshot = new SnapshotConfig { Mode = SnapshotMode.Never },
    };

    /// <summary>The verifier of every resilience test: each row the table holds reached Kafka; returns how often each id arrived.</summary>
    public async Task<Dictionary<int, int>> AssertEveryRowDeliveredAsync(string bootstrap, TimeSpan? timeout = null)
    {
        var expected = (int)(await ScalarAsync<long>("SELECT count(*) FROM items"));
        var consumed = await KafkaTestConsumer.ConsumeAsync(bootstrap, [Topic("items")], expected, timeout ?? TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(1));
        var counts = new Dictionary<int, int>();
        foreach (var message in consumed)
        {
            var id = (int)System.Text.Json.Nodes.JsonNode.Parse(message.Value!)!["after"]!["id"]!;
            counts[id] = counts.GetValueOrDefault(id) + 1;
        }

        var missing = Enumerable.Range(1, expected).Where(id => !counts.ContainsKey(id)).Take(10).ToList();
        Assert.True(missing.Count == 0, $"{expected - counts.Count} of {expected} rows never reached Kafka, e.g. ids {string.Join(", ", missing)}");
        return counts;
    }

    public Task ExecuteAsync(string sql) => Cluster.ExecuteAsync(sql, Database);

    public Task<T?> ScalarAsync<T>(string sql) => Cluster.ScalarAsync<T>(sql, Database);

    /// <summary>
    /// Starts the replicator and waits until its walsender streams from the slot, so changes made afterwards are
    /// captured. Not just "slot active": the connection that creates a slot holds it only while creating it.
    /// </summary>
    /// <param name="producerFactory">Builds each producer (by default a <see cref="KafkaSink"/>, see <see cref="CurrentProducer"/>).</param>
    public async Task StartAsync(ILoggerFactory? loggerFactory = null, Func<string?, IEventProducer>? producerFactory = null)
    {
        _stop = new CancellationTokenSource();
        loggerFactory ??= NullLoggerFactory.Instance;
        var replicator = new Replicator(Config, loggerFactory, new ReplicatorMetrics(), producerFactory ?? (systemId =>
        {
            var producer = new KafkaSink(Config, loggerFactory.CreateLogger<KafkaSink>(), systemId);
            lock (_producers)
                _producers.Add(producer);
            return producer;
        }));
        Replicator = replicator;
        _running = Task.Run(() => replicator.RunAsync(_stop.Token));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await ScalarAsync<long>(
                   $"SELECT count(*) FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid WHERE s.slot_name = '{Config.Postgres.SlotName}' AND r.state IN ('catchup', 'streaming')") == 0)
        {
            if (_running.IsCompleted)
                await _running; // surfaces the failure
            Assert.True(DateTime.UtcNow < deadline, "the replicator did not start streaming within 30 s");
            await Task.Delay(50);
        }
    }

    /// <summary>The producer the replicator uses now (tests inject faults into it).</summary>
    public KafkaSink CurrentProducer
    {
        get
        {
            lock (_producers)
                return _producers[^1];
        }
    }

    private readonly List<KafkaSink> _producers = [];

    public Exception? LastFailure { get; private set; }

    /// <summary>Waits for the replicator to end by itself (a failure) and returns what it threw.</summary>
    public async Task<Exception> FailureAsync(TimeSpan timeout)
    {
        var running = _running ?? throw new InvalidOperationException("not started");
        var exception = await Record.ExceptionAsync(() => running.WaitAsync(timeout));
        Assert.False(exception is TimeoutException, $"the replicator did not fail within {timeout.TotalSeconds} s");
        Assert.NotNull(exception);
        _running = null;
        LastFailure = exception;
        return exception;
    }

    /// <summary>Graceful stop, as on SIGTERM; rethrows a failure of the replicator.</summary>
    public async Task StopAsync()
    {
        if (_stop is null || _running is null)
            return;
        await _stop.CancelAsync();
        await _running;
        _stop.Dispose();
        _stop = null;
        _running = null;
    }

    public async Task<ulong> ConfirmedFlushLsnAsync()
    {
        var text = await ScalarAsync<string>($"SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = '{Config.Postgres.SlotName}'");
        return (ulong)NpgsqlTypes.NpgsqlLogSequenceNumber.Parse(text!);
    }

    public async Task<ulong> CurrentWalLsnAsync() =>
        (ulong)NpgsqlTypes.NpgsqlLogSequenceNumber.Parse((await ScalarAsync<string>("SELECT pg_current_wal_lsn()::text"))!);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            // Drop the slot so the shared cluster does not retain WAL for finished tests.
            await Cluster.ExecuteAsync(
                $"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{Config.Postgres.SlotName}' AND NOT active");
            // Each test's database has its own connection pool, whose idle connections would live for
            // minutes: across the suite they would exhaust the shared cluster's max_connections.
            NpgsqlConnection.ClearAllPools();
        }
    }
}
