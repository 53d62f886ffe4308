using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Pipeline;
using PgReplicateKafka.Sink;

namespace PgReplicateKafka.Embedded.Demo;

/// <summary>
/// The main job on embedded defaults: a throwaway PostgreSQL, librdkafka's in-process Kafka broker,
/// a demo table with a workload, the replicator, and a consumer printing every message.
/// </summary>
public static class DemoRunner
{
    private const string Database = "demo";
    private const string Topic = "demo.public.users";

    public static async Task RunAsync(ILoggerFactory loggerFactory, TextWriter output, TimeSpan duration, CancellationToken stop)
    {
        var logger = loggerFactory.CreateLogger("demo");
        logger.LogInformation("Starting a throwaway PostgreSQL cluster and an in-process Kafka broker");
        await using var postgres = await TempPostgresCluster.StartAsync(ct: stop);
        using var kafka = MockKafkaCluster.Start(brokers: 1);
        kafka.CreateTopic(Topic, partitions: 4); // so the printer can subscribe before the first event
        await postgres.CreateDatabaseAsync(Database);
        await postgres.ExecuteAsync(
            """
            CREATE TABLE public.users (
                id bigserial PRIMARY KEY, name text NOT NULL, email text,
                created_at timestamptz NOT NULL DEFAULT now(), score numeric(10,2), active bool NOT NULL DEFAULT true);
            INSERT INTO public.users (name, email, score) VALUES
                ('Ada', 'ada@example.com', 91.50), ('Grace', 'grace@example.com', 88.00), ('Edsger', NULL, 75.25);
            CREATE PUBLICATION demo_publication FOR TABLE public.users;
            """, Database);

        var config = new ReplicatorConfig
        {
            Postgres = new PostgresConfig
            {
                Host = postgres.Host,
                Port = postgres.Port,
                Database = Database,
                Username = postgres.Username,
                Password = postgres.Password,
                Publication = "demo_publication",
                SlotName = "demo_slot",
            },
            Kafka = new KafkaConfig { Brokers = [kafka.BootstrapServers], TopicPrefix = "demo" },
            Replication = new ReplicationConfig { CheckpointIntervalSecs = 1 },
        };
        // The snapshot progress topic made beforehand, as a real cluster's CreateTopics would: this broker has no
        // CreateTopics API and names no controller, and the replicator waited 3 s for one before every demo.
        kafka.CreateTopic(new SnapshotProgressStore(config, NullLogger.Instance).Topic, partitions: 1);
        logger.LogInformation("PostgreSQL on {Host}:{Port}, Kafka on {Kafka}; table public.users streams to topic {Topic}",
            postgres.Host, postgres.Port, kafka.BootstrapServers, Topic);

        using var running = CancellationTokenSource.CreateLinkedTokenSource(stop);
        if (duration > TimeSpan.Zero)
            running.CancelAfter(duration);

        var replicator = Task.Run(() => new Replicator(config, loggerFactory).RunAsync(running.Token), CancellationToken.None);
        var printer = Task.Run(() => PrintMessages(kafka.BootstrapServers, output, running.Token), CancellationToken.None);
        // The three rows above exist before the slot: the initial snapshot (the default mode) sends them as READ
        // events. The workload's changes must be in the stream, so it writes only once the slot streams.
        var workload = Task.Run(async () =>
        {
            await WaitForStreamingAsync(postgres, replicator, running.Token);
            await WriteWorkloadAsync(postgres.ConnectionString(Database), logger, running.Token);
        }, CancellationToken.None);

        // A failure of the replicator ends the demo at once; otherwise it runs until the duration or a signal.
        await Task.WhenAny(replicator, Task.Delay(Timeout.Infinite, running.Token).ContinueWith(_ => { }, TaskScheduler.Default));
        await running.CancelAsync();
        await replicator;
        await Task.WhenAll(printer, workload);
        logger.LogInformation("Demo finished; removing the throwaway PostgreSQL cluster and Kafka broker");
    }

    private static async Task WaitForStreamingAsync(TempPostgresCluster postgres, Task replicator, CancellationToken ct)
    {
        try
        {
            while (!replicator.IsCompleted &&
                   await postgres.ScalarAsync<long>("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'demo_slot' AND active", Database) == 0)
                await Task.Delay(50, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private static async Task WriteWorkloadAsync(string connectionString, ILogger logger, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        var random = new Random(42);
        var step = 0;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                step++;
                var sql = (step % 5) switch
                {
                    3 => "UPDATE public.users SET score = score + 1.25, active = NOT active WHERE id = (SELECT max(id) FROM public.users)",
                    4 when step % 10 == 9 => "DELETE FROM public.users WHERE id = (SELECT min(id) FROM public.users WHERE id > 3)", // the 3 seeded rows stay, so their READ events show
                    _ => "INSERT INTO public.users (name, email, score) VALUES ($1, $2, $3)",
                };
                await using var command = new NpgsqlCommand(sql, connection);
                if (sql.StartsWith("INSERT", StringComparison.Ordinal))
                {
                    var name = Names[random.Next(Names.Length)];
                    command.Parameters.Add(new NpgsqlParameter { Value = $"{name} {step}" });
                    command.Parameters.Add(new NpgsqlParameter { Value = $"{name.ToLowerInvariant()}{step}@example.com" });
                    command.Parameters.Add(new NpgsqlParameter { Value = Math.Round((decimal)random.NextDouble() * 100, 2) });
                }

                await command.ExecuteNonQueryAsync(ct);
                await Task.Delay(700, ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (NpgsqlException e) when (ct.IsCancellationRequested)
        {
            logger.LogDebug("Workload stopped: {Reason}", e.Message);
        }
    }

    private static readonly string[] Names = ["Ada", "Grace", "Edsger", "Barbara", "Donald", "Frances"];

    private static void PrintMessages(string bootstrap, TextWriter output, CancellationToken ct)
    {
        using var consumer = new ConsumerBuilder<string?, string?>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "demo-printer",
            AutoOffsetReset = AutoOffsetReset.Earliest,
            TopicMetadataRefreshIntervalMs = 1000,
        }).SetErrorHandler((_, _) => { }).Build();
        consumer.Subscribe(Topic);
        try
        {
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    var result = consumer.Consume(ct);
                    if (result?.Message is { } message)
                    {
                        // A delete's tombstone has no value.
                        output.WriteLine(message.Value is null
                            ? $"{result.Topic} key={message.Key ?? "null"} tombstone"
                            : $"{result.Topic} key={message.Key ?? "null"} value={message.Value}");
                    }
                }
                catch (ConsumeException e) when (!e.Error.IsFatal)
                {
                    // Transient (e.g. a partition leader not known yet): the consumer retries by itself.
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        output.Flush();
        consumer.Close();
    }
}
