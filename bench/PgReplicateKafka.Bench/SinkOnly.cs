using System.Diagnostics;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Sink;

namespace PgReplicateKafka.Bench;

/// <summary>
/// The Kafka side's own limit: the product's producer (<see cref="KafkaSink"/>, the replicator's settings) handing
/// over prebuilt copies of a message the replicator wrote — its value and headers, keys <c>{"id":n}</c> — with no
/// PostgreSQL, no JSON and no pipeline. Runs as a child process (the harness with <see cref="Flag"/>) so its CPU is
/// its own; what the replicator spends beyond it is the rest of the pipeline.
/// </summary>
internal static class SinkOnly
{
    public const string Flag = "--sink-only";

    // Not measured: the JIT and librdkafka's connections at start.
    private const int Warmup = 20_000;

    /// <summary>Fewer would be timed in a handful of /proc clock ticks (10 ms).</summary>
    public const long MinimumMessages = 100_000;

    /// <summary>Messages handed over at <paramref name="Rate"/> a second, in batches of <paramref name="Batch"/> (a transaction's changes).</summary>
    public sealed record Pace(int Rate, int Batch);

    /// <summary>
    /// Replays a message of <paramref name="topic"/> <paramref name="count"/> times into a fresh topic; returns messages/s
    /// and CPU s per million. With a <paramref name="pace"/> it hands them over as a workload's transactions arrive,
    /// telling the producer it is idle after each batch as the pump does; without, as fast as it can.
    /// </summary>
    public static async Task<(double Rate, double CpuSecondsPerMillion)> MeasureAsync(
        BenchCluster cluster, string replicatorConfig, string topic, long count, Pace? pace = null, CancellationToken ct = default)
    {
        var sample = ReadSample(cluster.Kafka.BootstrapServers, topic);
        var target = $"{topic}.sink-only.{Guid.NewGuid():N}";
        cluster.Kafka.CreateTopic(target, BenchCluster.Partitions);
        var configFile = Path.Combine(Path.GetTempPath(), $"pgrk-bench-sink-{Guid.NewGuid():N}.toml");
        var sampleFile = configFile + ".sample";
        await File.WriteAllTextAsync(configFile, replicatorConfig, ct);
        await File.WriteAllBytesAsync(sampleFile, sample, ct);
        try
        {
            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var arg in (string[])[Path.Combine(AppContext.BaseDirectory, "pg-replicate-kafka-bench.dll"), Flag, configFile, sampleFile, target, count.ToString(CultureInfo.InvariantCulture),
                         (pace?.Rate ?? 0).ToString(CultureInfo.InvariantCulture), (pace?.Batch ?? 0).ToString(CultureInfo.InvariantCulture)])
                info.ArgumentList.Add(arg);
            using var child = Process.Start(info)!;
            var output = child.StandardOutput.ReadToEndAsync(ct);
            var errors = child.StandardError.ReadToEndAsync(ct);
            await child.WaitForExitAsync(ct);
            var result = (await output).Trim().Split(' ');
            if (child.ExitCode != 0 || result.Length != 2)
                throw new InvalidOperationException($"the sink-only producer exited with {child.ExitCode}: {await output}\n{await errors}");
            return (double.Parse(result[0], CultureInfo.InvariantCulture), double.Parse(result[1], CultureInfo.InvariantCulture));
        }
        finally
        {
            File.Delete(configFile);
            File.Delete(sampleFile);
        }
    }

    /// <summary>The child: <c>--sink-only CONFIG SAMPLE TOPIC COUNT RATE BATCH</c> (RATE 0: as fast as it can); prints "messages/s CPU-s-per-million".</summary>
    public static async Task<int> RunChildAsync(IReadOnlyList<string> args)
    {
        var config = ConfigLoader.LoadFile(args[0]);
        var (value, headers) = Parse(await File.ReadAllBytesAsync(args[1]));
        var topic = args[2];
        var count = long.Parse(args[3], CultureInfo.InvariantCulture);
        var rate = int.Parse(args[4], CultureInfo.InvariantCulture);
        var batch = int.Parse(args[5], CultureInfo.InvariantCulture);
        using var sink = new KafkaSink(config, NullLogger.Instance);
        var acknowledged = new Acknowledgements();

        // Keys are made before the clock starts: the replicator's serializer makes them, not its producer.
        var keys = new byte[Warmup + count][];
        for (var i = 0; i < keys.Length; i++)
            keys[i] = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{{\"id\":{i}}}"));

        // The producing thread serves delivery reports as it goes, as the replicator's pump does.
        await ProduceAsync(sink, topic, keys.AsMemory(0, Warmup), value, headers, acknowledged);
        await acknowledged.WaitForAsync(Warmup);
        var cpu = ProcessCpu.Seconds(Environment.ProcessId);
        var clock = Stopwatch.StartNew();
        if (rate > 0)
            ProducePaced(sink, topic, keys.AsMemory(Warmup), value, headers, acknowledged, new Pace(rate, batch));
        else
            await ProduceAsync(sink, topic, keys.AsMemory(Warmup), value, headers, acknowledged);
        await acknowledged.WaitForAsync(Warmup + count);
        var elapsed = clock.Elapsed;
        var used = ProcessCpu.Seconds(Environment.ProcessId) - cpu;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{count / elapsed.TotalSeconds:0} {used / count * 1e6:0.00}"));
        return 0;
    }

    private static async Task ProduceAsync(KafkaSink sink, string topic, ReadOnlyMemory<byte[]> keys, byte[] value, KafkaHeaders headers, Acknowledgements acknowledged)
    {
        for (var i = 0; i < keys.Length; i++)
            await sink.ProduceAsync(topic, keys.Span[i], value, headers, acknowledged, CancellationToken.None);
    }

    /// <summary>The batch starting at message n is handed over n / rate seconds after the start, by one thread that sleeps in between.</summary>
    private static void ProducePaced(KafkaSink sink, string topic, ReadOnlyMemory<byte[]> keys, byte[] value, KafkaHeaders headers, Acknowledgements acknowledged, Pace pace)
    {
        var clock = Stopwatch.StartNew();
        for (var start = 0; start < keys.Length; start += pace.Batch)
        {
            var wait = TimeSpan.FromSeconds((double)start / pace.Rate) - clock.Elapsed;
            if (wait > TimeSpan.Zero)
                Thread.Sleep(wait);
            for (var i = start; i < Math.Min(start + pace.Batch, keys.Length); i++)
            {
                if (!sink.ProduceAsync(topic, keys.Span[i], value, headers, acknowledged, CancellationToken.None).IsCompletedSuccessfully)
                    throw new InvalidOperationException("the producer's queue filled at the latency workload's pace");
            }

            sink.Idle();
        }
    }

    /// <summary>A recent message of the topic's first non-empty partition: value, then each header as name and value, length-prefixed.</summary>
    private static byte[] ReadSample(string bootstrap, string topic)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "bench-sink-sample", EnableAutoCommit = false }).Build();
        var (partition, offsets) = Enumerable.Range(0, BenchCluster.Partitions)
            .Select(p => new TopicPartition(topic, p))
            .Select(p => (Partition: p, Offsets: consumer.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(10))))
            .FirstOrDefault(p => p.Offsets.High > p.Offsets.Low);
        if (partition is null)
            throw new InvalidOperationException($"no message in {topic} to replay");
        // Not simply the last offset: under exactly-once that is a transaction marker, which a consumer never sees.
        consumer.Assign(new TopicPartitionOffset(partition, Math.Max(offsets.Low, offsets.High - 100)));
        var message = consumer.Consume(TimeSpan.FromSeconds(10))?.Message
            ?? throw new InvalidOperationException($"no message in {topic} to replay");
        using var buffer = new MemoryStream();
        using var writer = new BinaryWriter(buffer);
        writer.Write(message.Value?.Length ?? 0);
        writer.Write(message.Value ?? []);
        foreach (var header in message.Headers ?? [])
        {
            writer.Write(header.Key);
            writer.Write(header.GetValueBytes().Length);
            writer.Write(header.GetValueBytes());
        }

        writer.Flush();
        return buffer.ToArray();
    }

    private static (byte[] Value, KafkaHeaders Headers) Parse(byte[] sample)
    {
        using var reader = new BinaryReader(new MemoryStream(sample));
        var value = reader.ReadBytes(reader.ReadInt32());
        var headers = new KafkaHeaders();
        while (reader.BaseStream.Position < sample.Length)
            headers.Add(reader.ReadString(), reader.ReadBytes(reader.ReadInt32()));
        return (value, headers);
    }

    private sealed class Acknowledgements : IDeliveryHandler
    {
        private long _count;
        private volatile DeliveryFailure? _failure;

        public void Delivered(DeliveryFailure? failure)
        {
            _failure ??= failure;
            Interlocked.Increment(ref _count);
        }

        public async Task WaitForAsync(long count)
        {
            while (Interlocked.Read(ref _count) < count)
                await Task.Delay(1);
            if (_failure is { } failure)
                throw new InvalidOperationException($"Kafka did not take a message: {failure.Error.Reason}");
        }
    }
}
