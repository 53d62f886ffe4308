using PgReplicateKafka.Configuration;
using static PgReplicateKafka.Tests.Unit.Configuration.ConfigurationTestSupport;

namespace PgReplicateKafka.Tests.Unit.Configuration;

public sealed class ConfigurationEnvironmentTests
{
    [Fact]
    public void String_variable_overrides_the_file()
    {
        var config = Parse(WithPostgres("host = \"file-host\""), new()
        {
            ["PGRK_POSTGRES_HOST"] = "env-host",
            ["PGRK_POSTGRES_PASSWORD"] = "env-pw",
        });

        Assert.Equal("env-host", config.Postgres.Host);
        Assert.Equal("env-pw", config.Postgres.Password);
    }

    [Fact]
    public void Integer_variables_override_the_file()
    {
        var config = Parse(WithPostgres("port = 5433"), new()
        {
            ["PGRK_POSTGRES_PORT"] = " 6543 ",
            ["PGRK_REPLICATION_MAX_IN_FLIGHT_BYTES"] = "8589934592",
        });

        Assert.Equal(6543, config.Postgres.Port);
        Assert.Equal(8_589_934_592, config.Replication.MaxInFlightBytes);
    }

    [Fact]
    public void Boolean_and_array_variables_override_the_file()
    {
        var config = Parse(Minimal, new()
        {
            ["PGRK_POSTGRES_CREATE_PUBLICATION"] = "TRUE",
            ["PGRK_POSTGRES_TABLES"] = "public.a,b",
            ["PGRK_KAFKA_BROKERS"] = " a:9092 , b:9092,",
        });

        Assert.True(config.Postgres.CreatePublication);
        Assert.Equal(["public.a", "b"], config.Postgres.Tables);
        Assert.Equal(["a:9092", "b:9092"], config.Kafka.Brokers);
    }

    [Fact]
    public void Enum_variable_overrides_the_file()
    {
        var config = Parse(Minimal + "\n[format]\nnumeric = \"string\"", new()
        {
            ["PGRK_FORMAT_NUMERIC"] = "number",
            ["PGRK_REPLICATION_DELIVERY"] = "exactly_once",
        });

        Assert.Equal(NumericFormat.Number, config.Format.Numeric);
        Assert.Equal(DeliveryGuarantee.ExactlyOnce, config.Replication.Delivery);
    }

    [Fact]
    public void Property_variable_maps_underscores_to_dots_and_overrides_the_file()
    {
        var config = Parse(Minimal + "\n[kafka.properties]\n\"sasl.username\" = \"file\"\nlinger.ms = 5", new()
        {
            ["PGRK_KAFKA_PROPERTIES_SASL_USERNAME"] = "x",
            ["PGRK_KAFKA_PROPERTIES_SECURITY_PROTOCOL"] = "SASL_SSL",
        });

        Assert.Equal("x", config.Kafka.Properties["sasl.username"]);
        Assert.Equal("SASL_SSL", config.Kafka.Properties["security.protocol"]);
        Assert.Equal("5", config.Kafka.Properties["linger.ms"]);
    }

    [Fact]
    public void Required_keys_may_come_only_from_the_environment_without_their_section()
    {
        var config = Parse("[postgres]\ndatabase = \"mydb\"\nusername = \"u\"\n", new()
        {
            ["PGRK_POSTGRES_PUBLICATION"] = "env_pub",
            ["PGRK_KAFKA_BROKERS"] = "k:9092",
        });

        Assert.Equal("env_pub", config.Postgres.Publication);
        Assert.Equal(["k:9092"], config.Kafka.Brokers);
    }

    [Fact]
    public void Test_prefix_variables_are_ignored()
    {
        var config = Parse(Minimal, new() { ["PGRK_TEST_ANYTHING"] = "whatever" });

        Assert.Equal("localhost", config.Postgres.Host);
    }

    [Fact]
    public void Variables_without_the_prefix_are_ignored()
    {
        var config = Parse(Minimal, new() { ["pgrk_postgres_host"] = "lower", ["PGHOST"] = "libpq" });

        Assert.Equal("localhost", config.Postgres.Host);
    }

    [Fact]
    public void Integer_variable_that_is_not_a_number_is_an_error_naming_the_variable()
    {
        var ex = Fails(Minimal, new() { ["PGRK_POSTGRES_PORT"] = "abc" });

        Assert.Contains("PGRK_POSTGRES_PORT", ex.Message);
        Assert.Contains("[postgres] port", ex.Message);
        Assert.Contains("an integer", ex.Message);
        Assert.Contains("\"abc\"", ex.Message);
    }

    [Fact]
    public void Boolean_variable_that_is_not_true_or_false_is_an_error_naming_the_variable()
    {
        var ex = Fails(Minimal, new() { ["PGRK_POSTGRES_CREATE_PUBLICATION"] = "yes" });

        Assert.Contains("PGRK_POSTGRES_CREATE_PUBLICATION", ex.Message);
        Assert.Contains("true or false", ex.Message);
    }

    [Fact]
    public void Out_of_range_variable_names_the_variable_to_fix()
    {
        var ex = Fails(Minimal, new() { ["PGRK_POSTGRES_PORT"] = "0" });

        Assert.Contains("[postgres] port (from environment variable PGRK_POSTGRES_PORT)", ex.Message);
        Assert.Contains("1..65535", ex.Message);
        Assert.Contains("Fix or unset environment variable PGRK_POSTGRES_PORT", ex.Message);
    }

    [Fact]
    public void Unknown_prefixed_variable_is_an_error_with_a_suggestion()
    {
        var ex = Fails(Minimal, new() { ["PGRK_POSTGRES_PASWORD"] = "Zq9-unique-secret" });

        Assert.Contains("PGRK_POSTGRES_PASWORD", ex.Message);
        Assert.Contains("Did you mean PGRK_POSTGRES_PASSWORD?", ex.Message);
        Assert.DoesNotContain("Zq9-unique-secret", ex.Message);
    }

    [Fact]
    public void Of_several_bad_variables_the_first_by_name_is_reported()
    {
        var environment = new Dictionary<string, string> { ["PGRK_ZZZ"] = "1", ["PGRK_POSTGRES_PORT"] = "x", ["PGRK_AAA"] = "1" };

        var ex = Fails(Minimal, environment);

        Assert.Contains("PGRK_AAA", ex.Message);
    }

    [Fact]
    public void Property_variable_without_a_name_is_an_error()
    {
        var ex = Fails(Minimal, new() { ["PGRK_KAFKA_PROPERTIES_"] = "x" });

        Assert.Contains("PGRK_KAFKA_PROPERTIES_", ex.Message);
        Assert.Contains("names no Kafka property", ex.Message);
    }
}

[CollectionDefinition(nameof(ProcessEnvironmentCollection), DisableParallelization = true)]
public sealed class ProcessEnvironmentCollection;

/// <summary>Changes the real process environment, so it runs alone.</summary>
[Collection(nameof(ProcessEnvironmentCollection))]
public sealed class ConfigurationProcessEnvironmentTests
{
    [Fact]
    public void Null_environment_means_the_process_environment()
    {
        Environment.SetEnvironmentVariable("PGRK_FORMAT_BINARY", "hex");
        try
        {
            var config = ConfigLoader.Parse(Minimal, SourceName);

            Assert.Equal(BinaryFormat.Hex, config.Format.Binary);
        }
        finally
        {
            Environment.SetEnvironmentVariable("PGRK_FORMAT_BINARY", null);
        }
    }

    [Fact]
    public void Metrics_listen_comes_from_its_variable()
    {
        var config = Parse(Minimal, new() { ["PGRK_METRICS_LISTEN"] = "127.0.0.1:9300" });

        Assert.Equal("127.0.0.1", config.Metrics.ListenHost);
        Assert.Equal(9300, config.Metrics.ListenPort);
    }
}
