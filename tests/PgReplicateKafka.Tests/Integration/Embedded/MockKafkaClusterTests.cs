using System.Diagnostics;
using Confluent.Kafka;
using PgReplicateKafka.Embedded;

namespace PgReplicateKafka.Tests.Integration.Embedded;

/// <summary>Each test gets its own mock cluster (it starts in milliseconds), so fault injection disturbs nobody.</summary>
public sealed class MockKafkaClusterTests : IDisposable
{
    private const short ProduceApiKey = 0;
    private static readonly TimeSpan ConsumeTimeout = TimeSpan.FromSeconds(10);

    private readonly MockKafkaCluster _mock = MockKafkaCluster.Start();

    public void Dispose() => _mock.Dispose();

    [Fact]
    public async Task Idempotent_producer_records_are_read_back_exactly_with_keys()
    {
        var topic = "roundtrip";
        var sent = new List<(string? Key, string Value)> { (null, "no-key") };
        sent.AddRange(Enumerable.Range(0, 20).Select(i => ((string?)$"k{i % 5}", $"v{i}")));
        using (var producer = Producer())
        {
            foreach (var (key, value) in sent)
            {
                await producer.ProduceAsync(topic, new Message<string?, string> { Key = key!, Value = value });
            }
        }

        var received = await KafkaTestConsumer.ConsumeAsync(_mock.BootstrapServers, [topic], sent.Count, ConsumeTimeout, TimeSpan.FromMilliseconds(500));

        Assert.Equal(sent.OrderBy(m => m.Value), received.Select(m => (m.Key, Value: m.Value!)).OrderBy(m => m.Value));
        Assert.All(received, m => Assert.Equal(topic, m.Topic));
        Assert.All(received.GroupBy(m => m.Key).Where(g => g.Key is not null), g => Assert.Single(g.Select(m => m.Partition).Distinct()));
        Assert.All(received.GroupBy(m => m.Partition), g => Assert.Equal(Enumerable.Range(0, g.Count()).Select(i => (long)i), g.Select(m => m.Offset).Order()));
        Assert.All(received, m => Assert.InRange(m.Timestamp, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow));
    }

    [Fact]
    public async Task Consumer_subscribed_before_the_topic_exists_still_gets_its_records()
    {
        var consuming = KafkaTestConsumer.ConsumeAsync(_mock.BootstrapServers, ["late"], 1, ConsumeTimeout);
        await Task.Delay(1000);
        using (var producer = Producer())
        {
            await producer.ProduceAsync("late", new Message<string?, string> { Key = "k", Value = "v" });
        }

        var received = Assert.Single(await consuming);
        Assert.Equal(("k", "v"), (received.Key, received.Value));
    }

    [Fact]
    public async Task Consumer_returns_what_it_got_at_the_timeout_and_extras_within_the_quiet_period()
    {
        _mock.CreateTopic("few", partitions: 1);
        using (var producer = Producer())
        {
            for (var i = 0; i < 3; i++)
            {
                await producer.ProduceAsync("few", new Message<string?, string> { Key = null!, Value = $"v{i}" });
            }
        }

        var stopwatch = Stopwatch.StartNew();
        Assert.Equal(3, (await KafkaTestConsumer.ConsumeAsync(_mock.BootstrapServers, ["few"], 5, TimeSpan.FromSeconds(1.5))).Count);
        Assert.True(stopwatch.Elapsed >= TimeSpan.FromSeconds(1.5));
        Assert.Equal(3, (await KafkaTestConsumer.ConsumeAsync(_mock.BootstrapServers, ["few"], 1, ConsumeTimeout, TimeSpan.FromSeconds(1))).Count);
        Assert.Single(await KafkaTestConsumer.ConsumeAsync(_mock.BootstrapServers, ["few"], 1, ConsumeTimeout));
    }

    [Fact]
    public void Created_topics_have_the_requested_partitions_and_leader()
    {
        _mock.CreateTopic("seven", partitions: 7, replicationFactor: 3);
        _mock.SetPartitionLeader("seven", 3, brokerId: 2);
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = _mock.BootstrapServers }).Build();

        var topic = Assert.Single(admin.GetMetadata("seven", TimeSpan.FromSeconds(5)).Topics);

        Assert.Equal(7, topic.Partitions.Count);
        Assert.Equal(2, topic.Partitions.Single(p => p.PartitionId == 3).Leader);
        Assert.Equal(3, admin.GetMetadata(TimeSpan.FromSeconds(5)).Brokers.Count);
    }

    [Fact]
    public void Failed_calls_throw_with_the_error_name()
    {
        _mock.CreateTopic("once", 1);
        var exists = Assert.Throws<KafkaException>(() => _mock.CreateTopic("once", 1));
        Assert.Equal(ErrorCode.TopicAlreadyExists, exists.Error.Code);
        Assert.Contains("TOPIC_ALREADY_EXISTS", exists.Message);
        var noPartition = Assert.Throws<KafkaException>(() => _mock.SetPartitionLeader("once", 5, 1));
        Assert.Contains("UNKNOWN_TOPIC_OR_PART", noPartition.Message);
        _mock.Dispose();
        Assert.Throws<ObjectDisposedException>(() => _mock.SetBrokerUp(1));
    }

    [Fact]
    public async Task Delivery_resumes_when_all_brokers_come_back_up()
    {
        using var producer = Producer();
        await producer.ProduceAsync("outage", new Message<string?, string> { Key = "k", Value = "before" });

        _mock.SetBrokerDown(-1);
        var during = producer.ProduceAsync("outage", new Message<string?, string> { Key = "k", Value = "during" });
        await Task.Delay(1500);
        Assert.False(during.IsCompleted);
        _mock.SetBrokerUp(-1);
        await during.WaitAsync(TimeSpan.FromSeconds(10));

        var received = await KafkaTestConsumer.ConsumeAsync(_mock.BootstrapServers, ["outage"], 2, ConsumeTimeout, TimeSpan.FromMilliseconds(300));
        Assert.Equal(["before", "during"], received.Select(m => m.Value));
    }

    [Fact]
    public async Task Pushed_produce_errors_are_retried_by_the_idempotent_producer_without_duplicates()
    {
        _mock.PushRequestErrors(ProduceApiKey, ErrorCode.NotEnoughReplicas, ErrorCode.Local_Transport, ErrorCode.NotLeaderForPartition);
        using (var producer = Producer())
        {
            await producer.ProduceAsync("retried", new Message<string?, string> { Key = "k", Value = "once" });
        }

        Assert.Single(await KafkaTestConsumer.ConsumeAsync(_mock.BootstrapServers, ["retried"], 1, ConsumeTimeout, TimeSpan.FromMilliseconds(500)));
    }

    [Fact]
    public async Task Cleared_request_errors_are_not_returned()
    {
        _mock.CreateTopic("cleared", partitions: 1);
        _mock.PushRequestErrors(ProduceApiKey, ErrorCode.TopicAuthorizationFailed);
        _mock.ClearRequestErrors(ProduceApiKey);
        using var producer = Producer();

        var result = await producer.ProduceAsync("cleared", new Message<string?, string> { Key = "k", Value = "v" });

        Assert.Equal(PersistenceStatus.Persisted, result.Status);
    }

    [Fact]
    public async Task Pushed_fatal_error_fails_the_produce()
    {
        _mock.CreateTopic("denied", partitions: 1);
        _mock.PushRequestErrors(ProduceApiKey, ErrorCode.TopicAuthorizationFailed);
        using var producer = Producer();

        var error = await Assert.ThrowsAsync<ProduceException<string?, string>>(() =>
            producer.ProduceAsync("denied", new Message<string?, string> { Key = "k", Value = "v" }));

        Assert.Equal(ErrorCode.TopicAuthorizationFailed, error.Error.Code);
    }

    [Fact]
    public async Task Rtt_delays_responses()
    {
        _mock.CreateTopic("slow", partitions: 1);
        using var producer = Producer();
        await producer.ProduceAsync("slow", new Message<string?, string> { Key = "k", Value = "warm-up" });
        _mock.SetRtt(-1, 400);

        var stopwatch = Stopwatch.StartNew();
        await producer.ProduceAsync("slow", new Message<string?, string> { Key = "k", Value = "v" });

        Assert.True(stopwatch.Elapsed >= TimeSpan.FromMilliseconds(350), $"took {stopwatch.Elapsed}");
    }

    private IProducer<string?, string> Producer() => new ProducerBuilder<string?, string>(new ProducerConfig
    {
        BootstrapServers = _mock.BootstrapServers,
        EnableIdempotence = true,
        Acks = Acks.All,
        LingerMs = 0,
        // The default backoff grows to 10 s; the outage test must notice the brokers' return quickly.
        ReconnectBackoffMaxMs = 200,
    }).SetLogHandler((_, _) => { }).Build();
}
