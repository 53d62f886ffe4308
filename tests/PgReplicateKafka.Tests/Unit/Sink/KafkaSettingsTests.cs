using Confluent.Kafka;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Sink;

namespace PgReplicateKafka.Tests.Unit.Sink;

public class KafkaSettingsTests
{
    [Fact]
    public void Reads_to_the_end_do_not_wait_for_records_that_will_not_come()
    {
        // librdkafka reports the end of a partition in the fetch after the one that reached it, which the
        // broker holds open for fetch.wait.max.ms: at the default 500 ms, every exactly-once start-up that
        // found a checkpoint waited half a second (bench: 1,420-1,542 ms to the first change, 1,008-1,067 without).
        var config = new KafkaConfig { Brokers = ["localhost:9092"], Properties = new Dictionary<string, string> { ["fetch.wait.max.ms"] = "500" } };

        var reader = KafkaSettings.ReadToEnd(config, "group");

        Assert.True(reader.FetchWaitMaxMs <= 20, $"fetch.wait.max.ms = {reader.FetchWaitMaxMs}");
        Assert.Equal(IsolationLevel.ReadCommitted, reader.IsolationLevel);
        Assert.True(reader.EnablePartitionEof);
        Assert.False(reader.EnableAutoCommit);
        Assert.Equal("group", reader.GroupId);
        Assert.Equal("localhost:9092", reader.BootstrapServers);
    }
}
