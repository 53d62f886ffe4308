using PgReplicateKafka.Configuration;
using PgReplicateKafka.Operations;
using PgReplicateKafka.Preflight;
using static PgReplicateKafka.Tests.Unit.Configuration.ConfigurationTestSupport;

namespace PgReplicateKafka.Tests.Unit.Configuration;

/// <summary>[kafka.properties] entries the delivery guarantees depend on are refused, from the file and the environment.</summary>
public sealed class ConfigurationKafkaPropertyTests
{
    private static string WithProperty(string property, string value) =>
        Minimal + $"\n[kafka.properties]\n\"{property}\" = {value}";

    [Theory]
    [InlineData("bootstrap.servers", "[kafka] brokers")]
    [InlineData("metadata.broker.list", "[kafka] brokers")]
    [InlineData("compression.type", "[kafka] compression")]
    [InlineData("compression.codec", "[kafka] compression")]
    [InlineData("acks", "[kafka] acks")]
    [InlineData("request.required.acks", "[kafka] acks")]
    [InlineData("enable.idempotence", "always idempotent")]
    [InlineData("transactional.id", "Set [kafka] transactional_id instead")]
    [InlineData("partitioner", "murmur2_random")]
    [InlineData("queuing.strategy", "fifo")]
    [InlineData("enable.gapless.guarantee", "fatal producer error")]
    [InlineData("message.timeout.ms", "fails events while brokers are away")]
    [InlineData("delivery.timeout.ms", "fails events while brokers are away")]
    [InlineData("queue.buffering.max.kbytes", "Set [replication] max_in_flight_bytes instead")]
    [InlineData("delivery.report.only.error", "delivery report")]
    [InlineData("dotnet.producer.enable.delivery.reports", "delivery report")]
    [InlineData("dotnet.producer.enable.background.poll", "delivery report")]
    [InlineData("dotnet.producer.delivery.report.fields", "status")]
    [InlineData("isolation.level", "read_committed")]
    [InlineData("enable.auto.commit", "commit no offsets")]
    [InlineData("auto.commit.enable", "commit no offsets")]
    [InlineData("enable.partition.eof", "end-of-partition")]
    [InlineData("dotnet.consumer.consume.result.fields", "checkpoint")]
    [InlineData("dr_msg_cb", "callback")]
    [InlineData("dr_cb", "callback")]
    [InlineData("error_cb", "callback")]
    [InlineData("log_cb", "callback")]
    [InlineData("partitioner_cb", "callback")]
    [InlineData("msg_order_cmp", "callback")]
    [InlineData("background_event_cb", "callback")]
    [InlineData("opaque", "callback")]
    [InlineData("interceptors", "callback")]
    [InlineData("ssl.certificate.verify_cb", "callback")]
    public void Property_the_guarantees_depend_on_is_refused_from_the_file(string property, string why)
    {
        var ex = Fails(WithProperty(property, "\"Zq9-property-value\""));

        Assert.Equal(ExitCodes.BadConfiguration, ex.ExitCode);
        Assert.Contains($"[kafka.properties] {property} (in test.toml) is refused", ex.Message);
        Assert.Contains(why, ex.Message);
        Assert.Contains("Remove it from [kafka.properties] in test.toml", ex.Message);
        Assert.DoesNotContain("Zq9-property-value", ex.Message);
    }

    [Theory]
    [InlineData("PGRK_KAFKA_PROPERTIES_PARTITIONER", "partitioner")]
    [InlineData("PGRK_KAFKA_PROPERTIES_ENABLE_IDEMPOTENCE", "enable.idempotence")]
    [InlineData("PGRK_KAFKA_PROPERTIES_ACKS", "acks")]
    [InlineData("PGRK_KAFKA_PROPERTIES_REQUEST_REQUIRED_ACKS", "request.required.acks")]
    [InlineData("PGRK_KAFKA_PROPERTIES_MESSAGE_TIMEOUT_MS", "message.timeout.ms")]
    [InlineData("PGRK_KAFKA_PROPERTIES_DELIVERY_TIMEOUT_MS", "delivery.timeout.ms")]
    [InlineData("PGRK_KAFKA_PROPERTIES_TRANSACTIONAL_ID", "transactional.id")]
    [InlineData("PGRK_KAFKA_PROPERTIES_ENABLE_GAPLESS_GUARANTEE", "enable.gapless.guarantee")]
    [InlineData("PGRK_KAFKA_PROPERTIES_QUEUE_BUFFERING_MAX_KBYTES", "queue.buffering.max.kbytes")]
    [InlineData("PGRK_KAFKA_PROPERTIES_ISOLATION_LEVEL", "isolation.level")]
    [InlineData("PGRK_KAFKA_PROPERTIES_ENABLE_AUTO_COMMIT", "enable.auto.commit")]
    public void Property_the_guarantees_depend_on_is_refused_from_the_environment(string variable, string property)
    {
        var ex = Fails(Minimal, new() { [variable] = "x" });

        Assert.Equal(ExitCodes.BadConfiguration, ex.ExitCode);
        Assert.Contains($"[kafka.properties] {property} (from environment variable {variable}) is refused", ex.Message);
        Assert.Contains($"Unset environment variable {variable}.", ex.Message);
    }

    [Fact]
    public void Environment_variable_that_overrides_the_file_is_the_one_named()
    {
        var ex = Fails(WithProperty("acks", "\"all\""), new() { ["PGRK_KAFKA_PROPERTIES_ACKS"] = "1" });

        Assert.Contains("from environment variable PGRK_KAFKA_PROPERTIES_ACKS", ex.Message);
    }

    [Theory]
    [InlineData("max.in.flight.requests.per.connection", "6", "1..5")]
    [InlineData("max.in.flight.requests.per.connection", "0", "1..5")]
    [InlineData("max.in.flight", "1000000", "1..5")]
    [InlineData("max.in.flight", "\"five\"", "1..5")]
    [InlineData("retries", "10", "2147483647")]
    [InlineData("retries", "0", "2147483647")]
    [InlineData("message.send.max.retries", "3", "2147483647")]
    [InlineData("transaction.timeout.ms", "60000", "600000..2147483647")]
    [InlineData("transaction.timeout.ms", "599999", "600000..2147483647")]
    [InlineData("transaction.timeout.ms", "true", "600000..2147483647")]
    public void Property_outside_the_values_that_keep_the_guarantees_is_refused(string property, string value, string range)
    {
        var ex = Fails(WithProperty(property, value));

        Assert.Equal(ExitCodes.BadConfiguration, ex.ExitCode);
        Assert.Contains($"[kafka.properties] {property} (in test.toml) must be", ex.Message);
        Assert.Contains(range, ex.Message);
        Assert.Contains("Fix or remove it in [kafka.properties] in test.toml.", ex.Message);
    }

    [Theory]
    [InlineData("PGRK_KAFKA_PROPERTIES_MAX_IN_FLIGHT", "max.in.flight", "6")]
    [InlineData("PGRK_KAFKA_PROPERTIES_RETRIES", "retries", "5")]
    [InlineData("PGRK_KAFKA_PROPERTIES_TRANSACTION_TIMEOUT_MS", "transaction.timeout.ms", "60000")]
    public void Limited_property_from_the_environment_is_checked_too(string variable, string property, string value)
    {
        var ex = Fails(Minimal, new() { [variable] = value });

        Assert.Contains($"[kafka.properties] {property} (from environment variable {variable}) must be", ex.Message);
        Assert.Contains($"Fix or unset environment variable {variable}.", ex.Message);
    }

    [Theory]
    [InlineData("max.in.flight.requests.per.connection", "1")]
    [InlineData("max.in.flight", "5")]
    [InlineData("retries", "2147483647")]
    [InlineData("message.send.max.retries", "\"2147483647\"")]
    [InlineData("transaction.timeout.ms", "600000")]
    [InlineData("transaction.timeout.ms", "900000")]
    public void Limited_property_within_its_values_is_passed_through(string property, string value)
    {
        var config = Parse(WithProperty(property, value));

        Assert.Equal(value.Trim('"'), config.Kafka.Properties[property]);
    }

    [Fact]
    public void Harmless_properties_are_still_accepted()
    {
        var config = Parse(Minimal + """

            [kafka.properties]
            linger.ms = 20
            batch.size = 1000000
            queue.buffering.max.messages = 50000
            security.protocol = "SASL_SSL"
            sasl.mechanism = "SCRAM-SHA-512"
            sasl.username = "replicator"
            sasl.password = "Zq9-kafka-secret"
            ssl.ca.location = "/etc/ssl/ca.pem"
            client.id = "replicator-1"
            log_level = 6
            dotnet.cancellation.delay.max.ms = 100
            """);

        Assert.Equal(11, config.Kafka.Properties.Count);
        Assert.Equal("SCRAM-SHA-512", config.Kafka.Properties["sasl.mechanism"]);
    }

    [Fact]
    public void Harmless_properties_from_the_environment_are_still_accepted()
    {
        var config = Parse(Minimal, new()
        {
            ["PGRK_KAFKA_PROPERTIES_LINGER_MS"] = "20",
            ["PGRK_KAFKA_PROPERTIES_SASL_PASSWORD"] = "secret",
            ["PGRK_KAFKA_PROPERTIES_SECURITY_PROTOCOL"] = "SSL",
        });

        Assert.Equal("20", config.Kafka.Properties["linger.ms"]);
        Assert.Equal("secret", config.Kafka.Properties["sasl.password"]);
        Assert.Equal("SSL", config.Kafka.Properties["security.protocol"]);
    }

    [Fact]
    public async Task Check_fails_on_a_refused_property_with_exit_code_2()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, WithProperty("partitioner", "\"consistent\""));

            var report = await CheckCommand.RunAsync(path, CancellationToken.None);

            var result = Assert.Single(report.Results);
            Assert.Equal(CheckOutcome.Failed, result.Outcome);
            Assert.Contains("[kafka.properties] partitioner", result.Message);
            Assert.Equal(ExitCodes.BadConfiguration, report.ExitCode);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
