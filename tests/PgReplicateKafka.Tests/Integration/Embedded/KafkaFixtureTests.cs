
namespace PgReplicateKafka.Tests.Integration.Embedded;

[Collection(IntegrationCollection.Name)]
public sealed class KafkaFixtureTests(KafkaFixture kafka)
{
    [Fact]
    public void Topic_prefixes_are_unique_and_valid_topic_names()
    {
        var prefixes = Enumerable.Range(0, 100).Select(_ => kafka.NewTopicPrefix()).ToList();
        Assert.Equal(prefixes.Count, prefixes.Distinct().Count());
        Assert.All(prefixes, p => Assert.Matches("^[a-z][a-z0-9]+$", p));
    }

    [Fact]
    public void Uses_the_mock_unless_a_broker_is_named()
    {
        var external = Environment.GetEnvironmentVariable("KAFKA_BOOTSTRAP_SERVERS");
        Assert.Equal(string.IsNullOrWhiteSpace(external), kafka.SupportsFaultInjection);
        Assert.Equal(external ?? kafka.Mock!.BootstrapServers, kafka.BootstrapServers);
    }
}
