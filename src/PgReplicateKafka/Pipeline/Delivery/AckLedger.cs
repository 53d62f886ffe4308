namespace PgReplicateKafka.Pipeline.Delivery;

/// <summary>
/// Bytes of produced messages not yet acknowledged. Delivery reports carry only the status (the
/// cheapest to marshal), not the message, so each acknowledgement releases an even share and the
/// last one the remainder: every produced byte is released exactly once.
/// </summary>
public sealed class AckLedger
{
    private readonly Lock _gate = new();
    private long _bytes;
    private int _events;

    public void Add(long bytes)
    {
        lock (_gate)
        {
            _bytes += bytes;
            _events++;
        }
    }

    /// <summary>One acknowledgement arrived: returns the bytes it frees.</summary>
    public long Acknowledge()
    {
        lock (_gate)
        {
            var share = _events == 0 ? 0 : _bytes / _events;
            _bytes -= share;
            _events--;
            return share;
        }
    }

    /// <summary>A message counted by <see cref="Add"/> that was not produced after all: no report will come for it.</summary>
    public void Remove(long bytes)
    {
        lock (_gate)
        {
            _bytes -= bytes;
            _events--;
        }
    }
}
