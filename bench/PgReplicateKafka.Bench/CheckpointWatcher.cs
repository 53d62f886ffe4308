using System.Text.Json;
using Confluent.Kafka;
using PgReplicateKafka.Events;

namespace PgReplicateKafka.Bench;

/// <summary>
/// When an exactly-once replicator has committed everything: its checkpoint record (written in the
/// same Kafka transaction as the events) reaches the workload's last commit. End offsets cannot say
/// it: they also count the transaction markers.
/// </summary>
internal sealed class CheckpointWatcher : IDisposable
{
    private readonly IConsumer<Ignore, byte[]> _consumer;

    public CheckpointWatcher(string bootstrapServers, string topic)
    {
        _consumer = new ConsumerBuilder<Ignore, byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = "bench-checkpoints",
            EnableAutoCommit = false,
            IsolationLevel = IsolationLevel.ReadCommitted,
            FetchWaitMaxMs = 5,
            FetchErrorBackoffMs = 5,
        }).SetErrorHandler((_, _) => { }).Build();
        _consumer.Assign(new TopicPartitionOffset(topic, 0, Offset.Beginning));
    }

    /// <summary>Waits for a checkpoint of <paramref name="slot"/> at or past <paramref name="lsn"/>; returns when it was read (UTC).</summary>
    public async Task<DateTime> WaitForAsync(string slot, string lsn, ReplicatorProcess replicator, TimeSpan stallTimeout)
    {
        var target = Lsn.Parse(lsn);
        var reached = 0UL;
        var lastProgress = DateTime.UtcNow;
        while (true)
        {
            var result = await Task.Run(() => _consumer.Consume(TimeSpan.FromMilliseconds(10)));
            var now = DateTime.UtcNow;
            if (result?.Message.Value is { } value)
            {
                var record = JsonDocument.Parse(value).RootElement;
                if (record.GetProperty("slot").GetString() == slot)
                {
                    reached = Lsn.Parse(record.GetProperty("lsn").GetString()!);
                    lastProgress = now;
                    if (reached >= target)
                        return now;
                }
            }

            replicator.ThrowIfExited();
            if (now - lastProgress > stallTimeout)
                throw new TimeoutException($"the last checkpoint of slot {slot} is {Lsn.Format(reached)}, short of {lsn}, and nothing more for {stallTimeout.TotalSeconds} s:\n{replicator.Output}");
        }
    }

    public void Dispose()
    {
        _consumer.Close();
        _consumer.Dispose();
    }
}
