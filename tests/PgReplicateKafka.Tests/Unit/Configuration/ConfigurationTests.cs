using PgReplicateKafka.Configuration;
using static PgReplicateKafka.Tests.Unit.Configuration.ConfigurationTestSupport;

namespace PgReplicateKafka.Tests.Unit.Configuration;

public sealed class ConfigurationTests
{
    [Fact]
    public void Minimal_file_gets_every_default()
    {
        var config = Parse(Minimal);

        var pg = config.Postgres;
        Assert.Equal("localhost", pg.Host);
        Assert.Equal(5432, pg.Port);
        Assert.Equal("mydb", pg.Database);
        Assert.Equal("replicator", pg.Username);
        Assert.Null(pg.Password);
        Assert.Null(pg.PasswordFile);
        Assert.Equal("my_publication", pg.Publication);
        Assert.Equal("pg_replicate_kafka_slot", pg.SlotName);
        Assert.Equal(PgSslMode.Prefer, pg.SslMode);
        Assert.False(pg.CreatePublication);
        Assert.Empty(pg.Tables);
        Assert.Equal(TimeSpan.FromSeconds(10), pg.ConnectTimeout);

        var kafka = config.Kafka;
        Assert.Equal(["localhost:9092"], kafka.Brokers);
        Assert.Equal("cdc", kafka.TopicPrefix);
        Assert.Equal(KafkaCompression.Lz4, kafka.Compression);
        Assert.Equal("all", kafka.Acks);
        Assert.Null(kafka.CheckpointTopic);
        Assert.Empty(kafka.Properties);
        Assert.Equal(TimeSpan.FromSeconds(30), kafka.ConnectTimeout);

        var r = config.Replication;
        Assert.Equal(TimeSpan.FromMilliseconds(100), r.PollInterval);
        Assert.Equal(TimeSpan.FromSeconds(10), r.KeepaliveInterval);
        Assert.Equal(TimeSpan.FromSeconds(10), r.CheckpointInterval);
        Assert.Equal(TimeSpan.FromSeconds(8), r.ShutdownTimeout);
        Assert.Equal(67_108_864, r.MaxInFlightBytes);
        Assert.Equal(DeliveryGuarantee.AtLeastOnce, r.Delivery);
        Assert.Equal(10_000, r.TransactionMaxEvents);
        Assert.Equal(TimeSpan.FromMilliseconds(100), r.TransactionMaxDuration);

        Assert.Equal(NumericFormat.String, config.Format.Numeric);
        Assert.Equal(JsonFormat.Value, config.Format.Json);
        Assert.Equal(BinaryFormat.Base64, config.Format.Binary);

        Assert.False(config.Metrics.Enabled);
    }

    [Fact]
    public void Metrics_listen_and_kafka_connect_timeout_are_read_from_the_file()
    {
        var config = Parse(Minimal + "\nconnect_timeout_secs = 2\n\n[metrics]\nlisten = \"0.0.0.0:9187\"");

        Assert.Equal(TimeSpan.FromSeconds(2), config.Kafka.ConnectTimeout);
        Assert.True(config.Metrics.Enabled);
        Assert.Equal("0.0.0.0", config.Metrics.ListenHost);
        Assert.Equal(9187, config.Metrics.ListenPort);
    }

    [Fact]
    public void Every_key_is_read_from_the_file()
    {
        var config = Parse("""
            [postgres]
            host = "db.internal"
            port = 6432
            database = "orders"
            username = "repl"
            password = "pw"
            publication = "pub$1"
            slot_name = "slot_1"
            sslmode = "verify-full"
            create_publication = true
            tables = ["public.orders", "items"]
            connect_timeout_secs = 30

            [kafka]
            brokers = ["k1:9092", "k2:9093"]
            topic_prefix = "app.cdc-1_x"
            compression = "zstd"
            acks = "-1"
            checkpoint_topic = "cdc.checkpoints"

            [replication]
            poll_interval_ms = 250
            keepalive_interval_secs = 5
            checkpoint_interval_secs = 20
            shutdown_timeout_secs = 15
            max_in_flight_bytes = 1048576
            delivery = "exactly_once"
            transaction_max_events = 500
            transaction_max_ms = 50

            [format]
            numeric = "number"
            json = "string"
            binary = "hex"
            """);

        var pg = config.Postgres;
        Assert.Equal("db.internal", pg.Host);
        Assert.Equal(6432, pg.Port);
        Assert.Equal("orders", pg.Database);
        Assert.Equal("repl", pg.Username);
        Assert.Equal("pw", pg.Password);
        Assert.Equal("pub$1", pg.Publication);
        Assert.Equal("slot_1", pg.SlotName);
        Assert.Equal(PgSslMode.VerifyFull, pg.SslMode);
        Assert.True(pg.CreatePublication);
        Assert.Equal(["public.orders", "items"], pg.Tables);
        Assert.Equal(30, pg.ConnectTimeoutSecs);

        var kafka = config.Kafka;
        Assert.Equal(["k1:9092", "k2:9093"], kafka.Brokers);
        Assert.Equal("app.cdc-1_x", kafka.TopicPrefix);
        Assert.Equal(KafkaCompression.Zstd, kafka.Compression);
        Assert.Equal("all", kafka.Acks);
        Assert.Equal("cdc.checkpoints", kafka.CheckpointTopic);

        var r = config.Replication;
        Assert.Equal(250, r.PollIntervalMs);
        Assert.Equal(5, r.KeepaliveIntervalSecs);
        Assert.Equal(20, r.CheckpointIntervalSecs);
        Assert.Equal(15, r.ShutdownTimeoutSecs);
        Assert.Equal(1_048_576, r.MaxInFlightBytes);
        Assert.Equal(DeliveryGuarantee.ExactlyOnce, r.Delivery);
        Assert.Equal(500, r.TransactionMaxEvents);
        Assert.Equal(50, r.TransactionMaxMs);

        Assert.Equal(NumericFormat.Number, config.Format.Numeric);
        Assert.Equal(JsonFormat.String, config.Format.Json);
        Assert.Equal(BinaryFormat.Hex, config.Format.Binary);
    }

    [Theory]
    [InlineData("disable", PgSslMode.Disable)]
    [InlineData("allow", PgSslMode.Allow)]
    [InlineData("require", PgSslMode.Require)]
    [InlineData("verify-ca", PgSslMode.VerifyCa)]
    public void Every_sslmode_is_accepted(string text, PgSslMode expected)
    {
        Assert.Equal(expected, Parse(WithPostgres($"sslmode = \"{text}\"")).Postgres.SslMode);
    }

    [Theory]
    [InlineData("none", KafkaCompression.None)]
    [InlineData("gzip", KafkaCompression.Gzip)]
    [InlineData("snappy", KafkaCompression.Snappy)]
    public void Every_compression_is_accepted(string text, KafkaCompression expected)
    {
        Assert.Equal(expected, Parse(Minimal + $"\ncompression = \"{text}\"").Kafka.Compression);
    }

    [Fact]
    public void Example_file_parses_so_it_never_rots()
    {
        var config = ConfigLoader.LoadFile(Path.Combine(RepoRoot(), "config", "example.toml"), new Dictionary<string, string>());

        Assert.Equal("mydb", config.Postgres.Database);
        Assert.Equal("replicator", config.Postgres.Username);
        Assert.Equal("my_publication", config.Postgres.Publication);
        Assert.Equal(["localhost:9092"], config.Kafka.Brokers);
        // The example claims to show the defaults; hold it to that.
        var defaults = Parse(Minimal);
        Assert.Equal(defaults.Postgres.Port, config.Postgres.Port);
        Assert.Equal(defaults.Kafka.Compression, config.Kafka.Compression);
        Assert.Equal(defaults.Replication.MaxInFlightBytes, config.Replication.MaxInFlightBytes);
        Assert.Equal(defaults.Replication.TransactionMaxEvents, config.Replication.TransactionMaxEvents);
        Assert.Equal(defaults.Format.Binary, config.Format.Binary);
        Assert.Equal(defaults.Kafka.ConnectTimeout, config.Kafka.ConnectTimeout);
        Assert.Equal(defaults.Snapshot.ChunkSize, config.Snapshot.ChunkSize);
        Assert.Equal(defaults.Snapshot.Parallelism, config.Snapshot.Parallelism);
        Assert.False(config.Metrics.Enabled);
    }

    [Fact]
    public void Kafka_properties_accept_dotted_names_quoted_or_not_and_store_strings()
    {
        var config = Parse(Minimal + """

            [kafka.properties]
            "sasl.username" = "user"
            linger.ms = 5
            enable.ssl.certificate.verification = false
            client.id = "replicator-1"
            """);

        Assert.Equal(
            new Dictionary<string, string>
            {
                ["sasl.username"] = "user",
                ["linger.ms"] = "5",
                ["enable.ssl.certificate.verification"] = "false",
                ["client.id"] = "replicator-1",
            },
            config.Kafka.Properties);
    }

    [Fact]
    public void Password_file_content_without_trailing_newline_becomes_the_password()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "from file \n");
            var config = Parse(WithPostgres($"password_file = '{path}'"));

            Assert.Equal("from file ", config.Postgres.Password);
            Assert.Equal(path, config.Postgres.PasswordFile);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
