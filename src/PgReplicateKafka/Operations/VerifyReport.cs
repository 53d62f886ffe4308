using System.Text;

namespace PgReplicateKafka.Operations;

/// <summary>How many keys of one kind of disagreement there are, with the first few of them.</summary>
public sealed class KeyExamples
{
    public long Count { get; set; }

    public List<string> Examples { get; } = [];

    public void Add(byte[] key)
    {
        Count++;
        if (Examples.Count < VerifyCommand.ExampleLimit)
            Examples.Add(Text(key));
    }

    /// <summary>A key as a report shows it: its fields, without the schema Kafka Connect's JsonConverter may wrap them in.</summary>
    public static string Text(ReadOnlySpan<byte> key) => Encoding.UTF8.GetString(Verify.Envelope.KeyFields(key));
}

/// <summary>What <c>verify</c> found: exit code 0 when the topic replays to the table, 1 when it does not.</summary>
public sealed class VerifyReport(string table, string topic, int partitions, long records, long topicKeys)
{
    public string Table { get; } = table;
    public string Topic { get; } = topic;

    /// <summary>0 when the topic does not exist.</summary>
    public int Partitions { get; } = partitions;

    public long Records { get; } = records;

    /// <summary>Keys the replayed topic holds.</summary>
    public long TopicKeys { get; } = topicKeys;

    public long Rows { get; set; }

    /// <summary>In the table, not in the topic.</summary>
    public KeyExamples Missing { get; } = new();

    /// <summary>In the topic, not in the table.</summary>
    public KeyExamples Extra { get; } = new();

    /// <summary>In both, with another value.</summary>
    public KeyExamples Different { get; } = new();

    /// <summary>Records that are not events of this product (the example says why).</summary>
    public KeyExamples Unreadable { get; } = new();

    public bool Agrees => Missing.Count == 0 && Extra.Count == 0 && Different.Count == 0 && Unreadable.Count == 0;

    public int ExitCode => Agrees ? ExitCodes.Ok : ExitCodes.RuntimeFailure;

    public void WriteTo(TextWriter output)
    {
        var source = Partitions == 0 ? "does not exist" : $"{Records} records in {Partitions} partition(s)";
        output.WriteLine($"topic      {Topic}: {source}, {TopicKeys} keys after replay");
        output.WriteLine($"table      {Table}: {Rows} rows");
        Write(output, "missing", "in the table, not in the topic", Missing);
        Write(output, "extra", "in the topic, not in the table", Extra);
        Write(output, "different", "another value in the topic than in the table", Different);
        if (Unreadable.Count > 0)
            Write(output, "unreadable", "records that are not change events", Unreadable);
        output.WriteLine(Agrees
            ? $"OK: topic {Topic} agrees with table {Table}"
            : $"DIFFERENT: topic {Topic} does not agree with table {Table} (changes made while verify ran also show here: run it again, or verify a quiet table)");
    }

    private static void Write(TextWriter output, string name, string meaning, KeyExamples keys)
    {
        output.WriteLine($"{name,-10} {keys.Count} ({meaning})");
        foreach (var key in keys.Examples)
            output.WriteLine($"  {key}");
        if (keys.Count > keys.Examples.Count)
            output.WriteLine($"  … and {keys.Count - keys.Examples.Count} more");
    }
}
