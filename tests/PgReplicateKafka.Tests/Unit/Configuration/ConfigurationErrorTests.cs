using PgReplicateKafka.Configuration;
using static PgReplicateKafka.Tests.Unit.Configuration.ConfigurationTestSupport;

namespace PgReplicateKafka.Tests.Unit.Configuration;

public sealed class ConfigurationErrorTests
{
    private const string Secret = "Zq9!unique-pg-secret";

    [Fact]
    public void Missing_file_names_the_path_and_the_flag()
    {
        var path = Path.Combine(Path.GetTempPath(), "pgrk-no-such-dir", "missing.toml");

        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.LoadFile(path, new Dictionary<string, string>()));

        Assert.Contains(path, ex.Message);
        Assert.Contains("--config FILE", ex.Message);
        Assert.Contains("config/example.toml", ex.Message);
        Assert.Equal(ExitCodes.BadConfiguration, ex.ExitCode);
    }

    [Fact]
    public void Syntax_error_names_file_line_and_column_and_the_parser_text()
    {
        var ex = Fails("[postgres]\nport = \n");

        Assert.Contains("test.toml", ex.Message);
        Assert.Contains("line 2, column 8", ex.Message);
        Assert.Contains("expecting a value", ex.Message);
    }

    [Fact]
    public void Duplicate_key_is_a_syntax_error()
    {
        var ex = Fails(WithPostgres("port = 1\nport = 2"));

        Assert.Contains("line ", ex.Message);
        Assert.Contains("port", ex.Message);
    }

    [Fact]
    public void Misspelt_section_is_named_with_a_suggestion()
    {
        var ex = Fails(Minimal.Replace("[postgres]", "[postgress]"));

        Assert.Contains("Unknown section [postgress]", ex.Message);
        Assert.Contains("Did you mean [postgres]?", ex.Message);
    }

    [Fact]
    public void Misspelt_key_is_named_with_a_suggestion()
    {
        var ex = Fails(WithPostgres("hots = \"x\""));

        Assert.Contains("Unknown key [postgres] hots", ex.Message);
        Assert.Contains("Did you mean 'host'?", ex.Message);
    }

    [Fact]
    public void Unknown_key_far_from_all_known_keys_gets_no_suggestion()
    {
        var ex = Fails(Minimal + "\nzzzzzzzzzzzz = 1");

        Assert.Contains("Unknown key [kafka] zzzzzzzzzzzz", ex.Message);
        Assert.DoesNotContain("Did you mean", ex.Message);
    }

    [Fact]
    public void Key_above_the_first_section_says_where_it_belongs()
    {
        var ex = Fails("host = \"x\"\n" + Minimal);

        Assert.Contains("'host'", ex.Message);
        Assert.Contains("Move it under [postgres]", ex.Message);
    }

    [Fact]
    public void Section_that_is_not_a_table_is_an_error()
    {
        var ex = Fails("replication = 5\n" + Minimal);

        Assert.Contains("[replication]", ex.Message);
        Assert.Contains("must be a table", ex.Message);
    }

    [Theory]
    [InlineData("database", "[postgres] database", "PGRK_POSTGRES_DATABASE")]
    [InlineData("username", "[postgres] username", "PGRK_POSTGRES_USERNAME")]
    [InlineData("publication", "[postgres] publication", "PGRK_POSTGRES_PUBLICATION")]
    [InlineData("brokers", "[kafka] brokers", "PGRK_KAFKA_BROKERS")]
    public void Missing_required_key_names_it_and_its_variable(string key, string display, string envVar)
    {
        var toml = string.Join('\n', Minimal.Split('\n').Where(line => !line.StartsWith(key + " ", StringComparison.Ordinal)));

        var ex = Fails(toml);

        Assert.Contains(display + " is required", ex.Message);
        Assert.Contains(envVar, ex.Message);
    }

    [Fact]
    public void Empty_required_string_is_an_error()
    {
        var ex = Fails(Minimal.Replace("database = \"mydb\"", "database = \"\""));

        Assert.Contains("[postgres] database", ex.Message);
        Assert.Contains("must not be empty", ex.Message);
    }

    [Fact]
    public void Empty_host_is_an_error()
    {
        var ex = Fails(Minimal, new() { ["PGRK_POSTGRES_HOST"] = "" });

        Assert.Contains("[postgres] host (from environment variable PGRK_POSTGRES_HOST)", ex.Message);
        Assert.Contains("must not be empty", ex.Message);
    }

    [Fact]
    public void Wrong_type_names_key_expected_type_and_what_was_found()
    {
        var ex = Fails(WithPostgres("port = \"5432\""));

        Assert.Contains("[postgres] port (in test.toml)", ex.Message);
        Assert.Contains("an integer in 1..65535", ex.Message);
        Assert.Contains("the string \"5432\"", ex.Message);
        Assert.Contains("PGRK_POSTGRES_PORT", ex.Message);
    }

    [Fact]
    public void Array_item_of_wrong_type_is_named()
    {
        var ex = Fails(Minimal.Replace("[\"localhost:9092\"]", "[\"a:1\", 9092]"));

        Assert.Contains("[kafka] brokers", ex.Message);
        Assert.Contains("item 2 is the integer 9092", ex.Message);
    }

    [Theory]
    [InlineData("{ name = \"x\" }", "a table")]
    [InlineData("[\"x\"]", "an array")]
    [InlineData("1.5", "the float 1.5")]
    [InlineData("true", "the boolean true")]
    [InlineData("1979-05-27", "a date/time")]
    public void Value_of_another_type_where_a_string_is_expected_is_described(string value, string described)
    {
        var ex = Fails(WithPostgres($"host = {value}"));

        Assert.Contains("[postgres] host", ex.Message);
        Assert.Contains($"must be a string, but found {described}", ex.Message);
    }

    [Fact]
    public void Empty_password_file_path_is_rejected()
    {
        var ex = Fails(WithPostgres("password_file = \"\""));

        Assert.Contains("[postgres] password_file", ex.Message);
        Assert.Contains("must not be empty", ex.Message);
    }

    [Theory]
    [InlineData("postgres", "port", "70000", "1..65535")]
    [InlineData("postgres", "connect_timeout_secs", "0", "1..3600")]
    [InlineData("replication", "poll_interval_ms", "60001", "1..60000")]
    [InlineData("replication", "keepalive_interval_secs", "0", "1..3600")]
    [InlineData("replication", "checkpoint_interval_secs", "3601", "1..3600")]
    [InlineData("replication", "shutdown_timeout_secs", "0", "1..3600")]
    [InlineData("replication", "max_in_flight_bytes", "1048575", ">= 1048576")]
    [InlineData("replication", "transaction_max_events", "0", "1..2147483647")]
    [InlineData("replication", "transaction_max_ms", "-1", "1..2147483647")]
    public void Out_of_range_integer_names_key_range_and_value(string section, string key, string value, string range)
    {
        var toml = section == "postgres" ? WithPostgres($"{key} = {value}") : Minimal + $"\n[{section}]\n{key} = {value}";

        var ex = Fails(toml);

        Assert.Contains($"[{section}] {key}", ex.Message);
        Assert.Contains(range, ex.Message);
        Assert.Contains($"the integer {value}", ex.Message);
    }

    [Fact]
    public void Unknown_choice_lists_the_allowed_values_and_suggests_one()
    {
        var ex = Fails(Minimal + "\ncompression = \"lz5\"");

        Assert.Contains("[kafka] compression", ex.Message);
        Assert.Contains("none, gzip, snappy, lz4, zstd", ex.Message);
        Assert.Contains("did you mean \"lz4\"?", ex.Message);
    }

    [Theory]
    [InlineData("replication", "delivery", "exactly-once", "at_least_once, exactly_once")]
    [InlineData("format", "numeric", "float", "string, number")]
    [InlineData("format", "json", "jsonb", "value, string")]
    [InlineData("format", "binary", "base32", "base64, hex")]
    public void Every_choice_key_rejects_unknown_values(string section, string key, string value, string allowed)
    {
        var ex = Fails(Minimal + $"\n[{section}]\n{key} = \"{value}\"");

        Assert.Contains($"[{section}] {key}", ex.Message);
        Assert.Contains(allowed, ex.Message);
    }

    [Fact]
    public void Bad_sslmode_lists_the_allowed_values()
    {
        var ex = Fails(WithPostgres("sslmode = \"on\""));

        Assert.Contains("[postgres] sslmode", ex.Message);
        Assert.Contains("disable, allow, prefer, require, verify-ca, verify-full", ex.Message);
    }

    [Fact]
    public void Acks_other_than_all_is_rejected_because_the_producer_is_idempotent()
    {
        var ex = Fails(Minimal + "\nacks = \"1\"");

        Assert.Contains("[kafka] acks", ex.Message);
        Assert.Contains("idempotent", ex.Message);
    }

    [Theory]
    [InlineData("my-pub")]
    [InlineData("1pub")]
    [InlineData("pub lication")]
    public void Invalid_publication_name_says_the_allowed_form(string name)
    {
        var ex = Fails(Minimal.Replace("\"my_publication\"", $"\"{name}\""));

        Assert.Contains("[postgres] publication", ex.Message);
        Assert.Contains("[A-Za-z_][A-Za-z0-9_$]*", ex.Message);
    }

    [Fact]
    public void Publication_name_longer_than_63_characters_is_rejected()
    {
        Assert.Equal(new string('p', 63), Parse(Minimal.Replace("my_publication", new string('p', 63))).Postgres.Publication);

        var ex = Fails(Minimal.Replace("my_publication", new string('p', 64)));

        Assert.Contains("1-63 characters", ex.Message);
    }

    [Theory]
    [InlineData("MySlot")]
    [InlineData("slot-1")]
    [InlineData("")]
    public void Invalid_slot_name_says_the_allowed_form(string name)
    {
        var ex = Fails(WithPostgres($"slot_name = \"{name}\""));

        Assert.Contains("[postgres] slot_name", ex.Message);
        Assert.Contains("lower-case letters, digits and underscores", ex.Message);
    }

    [Fact]
    public void Slot_name_longer_than_63_characters_is_rejected()
    {
        var ex = Fails(WithPostgres($"slot_name = \"{new string('s', 64)}\""));

        Assert.Contains("[postgres] slot_name", ex.Message);
    }

    [Theory]
    [InlineData("a.b.c")]
    [InlineData("public.")]
    [InlineData("my-table")]
    public void Invalid_table_name_says_the_allowed_form(string table)
    {
        var ex = Fails(WithPostgres($"tables = [\"{table}\"]"));

        Assert.Contains("[postgres] tables", ex.Message);
        Assert.Contains("'schema.table' or 'table'", ex.Message);
    }

    [Fact]
    public void Create_publication_without_tables_names_both_keys()
    {
        var ex = Fails(WithPostgres("create_publication = true"));

        Assert.Contains("[postgres] create_publication", ex.Message);
        Assert.Contains("[postgres] tables", ex.Message);
    }

    [Fact]
    public void Empty_broker_list_is_rejected()
    {
        var ex = Fails(Minimal.Replace("[\"localhost:9092\"]", "[]"));

        Assert.Contains("[kafka] brokers", ex.Message);
        Assert.Contains("at least one broker", ex.Message);
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData(":9092")]
    [InlineData("host:0")]
    [InlineData("host:x")]
    [InlineData("a b:9092")]
    public void Broker_not_host_colon_port_is_rejected(string broker)
    {
        var ex = Fails(Minimal.Replace("localhost:9092", broker));

        Assert.Contains("[kafka] brokers", ex.Message);
        Assert.Contains("\"host:port\"", ex.Message);
    }

    [Fact]
    public void Illegal_topic_prefix_is_rejected()
    {
        var ex = Fails(Minimal + "\ntopic_prefix = \"cdc/x\"");

        Assert.Contains("[kafka] topic_prefix", ex.Message);
        Assert.Contains("letters, digits, '.', '_' and '-'", ex.Message);
    }

    [Fact]
    public void Illegal_checkpoint_topic_is_rejected()
    {
        var ex = Fails(Minimal + $"\ncheckpoint_topic = \"{new string('t', 250)}\"");

        Assert.Contains("[kafka] checkpoint_topic", ex.Message);
    }

    [Theory]
    [InlineData("bootstrap.servers", "[kafka] brokers")]
    [InlineData("compression.type", "[kafka] compression")]
    [InlineData("acks", "[kafka] acks")]
    [InlineData("enable.idempotence", "always idempotent")]
    public void Properties_with_a_dedicated_key_are_rejected(string property, string instead)
    {
        var ex = Fails(Minimal + $"\n[kafka.properties]\n\"{property}\" = \"x\"");

        Assert.Contains($"[kafka.properties] {property}", ex.Message);
        Assert.Contains(instead, ex.Message);
    }

    [Fact]
    public void Reserved_property_from_the_environment_is_rejected_too()
    {
        var ex = Fails(Minimal, new() { ["PGRK_KAFKA_PROPERTIES_BOOTSTRAP_SERVERS"] = "x:1" });

        Assert.Contains("[kafka.properties] bootstrap.servers", ex.Message);
    }

    [Fact]
    public void Property_of_unsupported_type_is_rejected_without_echoing_it()
    {
        var ex = Fails(Minimal + "\n[kafka.properties]\n\"sasl.password\" = [\"Zq9-kafka-secret\"]");

        Assert.Contains("[kafka.properties] sasl.password", ex.Message);
        Assert.Contains("string, integer or boolean", ex.Message);
        Assert.DoesNotContain("Zq9-kafka-secret", ex.Message);
    }

    [Fact]
    public void Properties_that_are_not_a_table_are_rejected()
    {
        var ex = Fails(Minimal + "\nproperties = \"linger.ms=5\"");

        Assert.Contains("[kafka] properties", ex.Message);
        Assert.Contains("must be a table", ex.Message);
    }

    [Fact]
    public void Password_and_password_file_together_are_rejected()
    {
        var ex = Fails(WithPostgres($"password = \"{Secret}\"\npassword_file = \"/tmp/pw\""));

        Assert.Contains("[postgres] password", ex.Message);
        Assert.Contains("[postgres] password_file", ex.Message);
        Assert.DoesNotContain(Secret, ex.Message);
    }

    [Fact]
    public void Password_from_environment_and_password_file_together_are_rejected()
    {
        var ex = Fails(WithPostgres("password_file = \"/tmp/pw\""), new() { ["PGRK_POSTGRES_PASSWORD"] = Secret });

        Assert.Contains("PGRK_POSTGRES_PASSWORD", ex.Message);
        Assert.DoesNotContain(Secret, ex.Message);
    }

    [Fact]
    public void Unreadable_password_file_names_the_key_and_the_path()
    {
        var path = Path.Combine(Path.GetTempPath(), "pgrk-no-such-dir", "pw");

        var ex = Fails(WithPostgres($"password_file = '{path}'"));

        Assert.Contains("[postgres] password_file", ex.Message);
        Assert.Contains(path, ex.Message);
    }

    [Fact]
    public void Empty_password_file_is_rejected()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "\n");

            var ex = Fails(WithPostgres($"password_file = '{path}'"));

            Assert.Contains("[postgres] password_file", ex.Message);
            Assert.Contains("empty", ex.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData($"password = \"{Secret}\"\nport = \"x\"")]
    [InlineData($"password = \"{Secret}\"\nhots = \"x\"")]
    [InlineData($"password = \"{Secret}\"\npassword = \"{Secret}\"")]
    [InlineData($"password = '{Secret}'\npassword = 'other'")]
    [InlineData($"password = {Secret}")]
    [InlineData($"password = \"{Secret}\" # comment\npassword = \"x\"")]
    [InlineData($"\"password\" = '{Secret}'\n\"password\" = 'x'")]
    [InlineData($"password = \"{Secret}\"\n[postgres]\nport = 1")]
    public void Password_from_the_file_never_appears_in_a_message(string lines)
    {
        var ex = Fails(WithPostgres(lines));

        Assert.DoesNotContain(Secret, ex.Message);
        Assert.DoesNotContain("unique-pg", ex.Message);
    }

    [Fact]
    public void Password_of_wrong_type_is_not_echoed()
    {
        var ex = Fails(WithPostgres("password = 918273645"));

        Assert.Contains("[postgres] password", ex.Message);
        Assert.Contains("a string", ex.Message);
        Assert.DoesNotContain("918273645", ex.Message);
    }

    [Fact]
    public void Password_from_the_environment_never_appears_in_a_message()
    {
        var ex = Fails(WithPostgres("port = 0"), new() { ["PGRK_POSTGRES_PASSWORD"] = Secret });

        Assert.Contains("[postgres] port", ex.Message);
        Assert.DoesNotContain(Secret, ex.Message);
    }

    [Theory]
    [InlineData("9187")]
    [InlineData(":9187")]
    [InlineData("localhost:0")]
    [InlineData("localhost:http")]
    [InlineData("http://localhost:9187")]
    public void Metrics_listen_that_is_not_host_colon_port_is_rejected(string listen)
    {
        var ex = Fails(Minimal + $"\n[metrics]\nlisten = \"{listen}\"");

        Assert.Contains("[metrics] listen", ex.Message);
        Assert.Contains("host:port", ex.Message);
        Assert.Contains(listen, ex.Message);
    }

    [Fact]
    public void Kafka_connect_timeout_out_of_range_is_rejected()
    {
        var ex = Fails(Minimal + "\nconnect_timeout_secs = 0");

        Assert.Contains("[kafka] connect_timeout_secs", ex.Message);
        Assert.Contains("1..3600", ex.Message);
    }
}
