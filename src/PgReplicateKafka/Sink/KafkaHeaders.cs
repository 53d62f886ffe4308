namespace PgReplicateKafka.Sink;

/// <summary>
/// The headers of one Kafka message, filled again for every message: the producer copies names and values when
/// a message is handed over, so an instance can be cleared and reused as soon as its produce call has completed.
/// </summary>
/// <remarks>
/// Not Confluent.Kafka's <c>Headers</c>: per message that is a list, the arrays it grows through and an object per
/// header, about a sixth of the bytes the pipeline allocated per event (docs/benchmarks.md, optimisation 18).
/// A value is a slice of an array the caller keeps unchanged until the produce call has completed.
/// </remarks>
public sealed class KafkaHeaders
{
    private string[] _names = new string[8];
    private byte[]?[] _values = new byte[]?[8];
    private int[] _lengths = new int[8];

    public int Count { get; private set; }

    public string Name(int index) => _names[index];

    /// <summary>The value's bytes; empty for a null value (see <see cref="IsNull"/>).</summary>
    public ReadOnlySpan<byte> Value(int index) => _values[index] is { } value ? value.AsSpan(0, _lengths[index]) : default;

    public bool IsNull(int index) => _values[index] is null;

    /// <summary>Bytes of all values, for sizing a copy of them.</summary>
    public int ValueBytes
    {
        get
        {
            var bytes = 0;
            for (var i = 0; i < Count; i++)
                bytes += _lengths[i];
            return bytes;
        }
    }

    public void Clear()
    {
        // The values are the callers' arrays: let go of them, not just count from zero.
        Array.Clear(_values, 0, Count);
        Count = 0;
    }

    public void Add(string name, byte[]? value) => Add(name, value, value?.Length ?? 0);

    /// <summary>Adds a header whose value is the first <paramref name="length"/> bytes of <paramref name="value"/>.</summary>
    public void Add(string name, byte[]? value, int length)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, value?.Length ?? 0);
        if (Count == _names.Length)
        {
            Array.Resize(ref _names, Count * 2);
            Array.Resize(ref _values, Count * 2);
            Array.Resize(ref _lengths, Count * 2);
        }

        _names[Count] = name;
        _values[Count] = value;
        _lengths[Count] = length;
        Count++;
    }
}
