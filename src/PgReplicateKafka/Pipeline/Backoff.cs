namespace PgReplicateKafka.Pipeline;

/// <summary>Exponential backoff with full jitter between <c>initial</c> and <c>max</c>, so restarted peers do not retry in lockstep.</summary>
public sealed class Backoff(TimeSpan initial, TimeSpan max)
{
    private int _attempt;

    public int Attempt => _attempt;

    /// <summary>The delay before the next attempt: a random point in [ceiling/2, ceiling], the ceiling doubling per attempt.</summary>
    public TimeSpan Next()
    {
        var ceiling = initial.TotalMilliseconds * Math.Pow(2, Math.Min(_attempt, 30));
        ceiling = Math.Min(ceiling, max.TotalMilliseconds);
        _attempt++;
        return TimeSpan.FromMilliseconds(ceiling / 2 + Random.Shared.NextDouble() * ceiling / 2);
    }

    public void Reset() => _attempt = 0;
}
