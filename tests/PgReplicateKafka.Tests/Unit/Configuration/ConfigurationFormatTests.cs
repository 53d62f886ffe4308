using PgReplicateKafka.Configuration;
using static PgReplicateKafka.Tests.Unit.Configuration.ConfigurationTestSupport;

namespace PgReplicateKafka.Tests.Unit.Configuration;

/// <summary>The [format] keys of the envelope, tombstones and transaction metadata.</summary>
public sealed class ConfigurationFormatTests
{
    [Fact]
    public void Defaults_are_the_native_envelope_with_tombstones_and_no_transaction_topic()
    {
        var format = Parse(Minimal).Format;

        Assert.Equal(EnvelopeFormat.Native, format.Envelope);
        Assert.True(format.Tombstones);
        Assert.Null(format.TransactionTopic);
        Assert.Equal(DecimalHandlingMode.Precise, format.DecimalHandling);
        Assert.Equal(TimePrecisionMode.Adaptive, format.TimePrecision);
        Assert.False(format.Schemas);
    }

    [Fact]
    public void Debezium_keys_are_read_from_the_file_and_the_environment_overrides_them()
    {
        var format = Parse(
            Minimal + """

            [format]
            envelope = "debezium"
            decimal_handling = "string"
            time_precision = "connect"
            schemas = true
            tombstones = true
            transaction_topic = "cdc.transactions"
            """,
            new Dictionary<string, string> { ["PGRK_FORMAT_TOMBSTONES"] = "false", ["PGRK_FORMAT_DECIMAL_HANDLING"] = "double" }).Format;

        Assert.Equal(EnvelopeFormat.Debezium, format.Envelope);
        Assert.Equal(DecimalHandlingMode.Double, format.DecimalHandling);
        Assert.Equal(TimePrecisionMode.Connect, format.TimePrecision);
        Assert.True(format.Schemas);
        Assert.False(format.Tombstones);
        Assert.Equal("cdc.transactions", format.TransactionTopic);
    }

    [Fact]
    public void A_debezium_only_key_with_the_native_envelope_is_refused_naming_the_fix()
    {
        var ex = Fails(Minimal + "\n[format]\nschemas = true\n");

        Assert.Contains("[format] schemas", ex.Message);
        Assert.Contains("envelope = \"debezium\"", ex.Message);
        Assert.Equal(ExitCodes.BadConfiguration, ex.ExitCode);
        Assert.False(Parse(Minimal + "\n[format]\nschemas = false\n").Format.Schemas); // what native does anyway
    }

    [Fact]
    public void A_misspelt_envelope_and_an_illegal_transaction_topic_are_refused()
    {
        Assert.Contains("did you mean \"debezium\"?", Fails(Minimal + "\n[format]\nenvelope = \"debezum\"\n").Message);
        Assert.Contains("legal Kafka topic name", Fails(Minimal + "\n[format]\ntransaction_topic = \"a b\"\n").Message);
    }
}
