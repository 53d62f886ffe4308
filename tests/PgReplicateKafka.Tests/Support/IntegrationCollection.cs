namespace PgReplicateKafka.Tests.Support;

/// <summary>Tests that share the one PostgreSQL cluster and the one Kafka; xunit runs them one class at a time.</summary>
[CollectionDefinition(Name)]
public sealed class IntegrationCollection : ICollectionFixture<PostgresFixture>, ICollectionFixture<KafkaFixture>
{
    public const string Name = "integration";
}
