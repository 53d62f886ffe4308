using System.Collections.Concurrent;
using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Sink;

namespace PgReplicateKafka.Tests.Integration.Sink;

[Collection(IntegrationCollection.Name)]
public class KafkaSinkTests(KafkaFixture kafka)
{
    [Fact]
    public async Task While_a_thread_produces_it_serves_the_delivery_reports_and_the_delivery_thread_serves_them_once_it_pauses()
    {
        var topic = kafka.NewTopicPrefix() + ".reports";
        using var sink = new KafkaSink(Config(), NullLogger.Instance);
        // Reports served while production runs, by thread.
        var threads = new ConcurrentDictionary<int, int>();
        var producing = true;
        var delivered = 0;
        var handler = new DeliveryCallback(failure =>
        {
            Assert.Null(failure);
            if (Volatile.Read(ref producing))
                threads.AddOrUpdate(Environment.CurrentManagedThreadId, 1, (_, n) => n + 1);
            Interlocked.Increment(ref delivered);
        });
        var value = new byte[200];
        var headers = new KafkaHeaders();
        headers.Add("pgrk.op", "INSERT"u8.ToArray());
        headers.Add("pgrk.lsn", "0/1"u8.ToArray());

        // One thread produces without pause for a second, as the pump does under load.
        var producer = await Task.Factory.StartNew(() =>
        {
            var produced = 0;
            var watch = Stopwatch.StartNew();
            while (watch.Elapsed < TimeSpan.FromSeconds(1))
            {
                var produce = sink.ProduceAsync(topic, BitConverter.GetBytes(produced), value, headers, handler, default);
                if (!produce.IsCompleted)
                    produce.AsTask().GetAwaiter().GetResult();
                produced++;
            }

            Volatile.Write(ref producing, false);
            return (Thread: Environment.CurrentManagedThreadId, Produced: produced);
        }, TaskCreationOptions.LongRunning);

        // Then nothing more is produced: the rest must be reported all the same (by the delivery thread).
        await WaitUntilAsync(() => Volatile.Read(ref delivered) == producer.Produced);

        var whileProducing = threads.Values.Sum();
        var onProducer = threads.GetValueOrDefault(producer.Thread);
        // Most in practice; a third leaves room for a loaded machine that deschedules the producing thread
        // for milliseconds, when the delivery thread takes over. Served only by the delivery thread: none.
        Assert.True(whileProducing > 0 && onProducer >= whileProducing / 3,
            $"{onProducer} of the {whileProducing} reports served while {producer.Produced} messages were produced were served on the producing thread");
    }

    private ReplicatorConfig Config() => new()
    {
        Postgres = new PostgresConfig { Database = "db", Username = "u", Publication = "p" },
        Kafka = new KafkaConfig { Brokers = [kafka.BootstrapServers] },
    };

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), "not every message was reported within 60 s");
            await Task.Delay(10);
        }
    }
}
