using System.Runtime.CompilerServices;
using System.Threading.Channels;
using PgReplicateKafka.Events;

namespace PgReplicateKafka.Source;

/// <summary>
/// Hands the receive loop's messages to the pipeline in batches (<see cref="SourceBatch"/>): when the receive
/// loop is about to wait for the server while it holds a commit, when it waits for room, or when
/// <see cref="BatchSize"/> are held. So a complete transaction never waits for messages PostgreSQL has yet
/// to send, and a burst of small transactions crosses in few batches. Only the receive loop calls it.
/// </summary>
internal sealed class HandOver(ChannelWriter<SourceMessage> output, StreamGate gate)
{
    public const int BatchSize = 256;

    private List<SourceMessage> _batch = new(BatchSize);

    /// <summary>A commit is among the held messages: a transaction is complete and waits for the next batch.</summary>
    public bool HoldsCommit { get; private set; }

    // Runs per change: compiled optimized at its first call, not after seconds of tier 0 (see EventPump).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ValueTask WriteAsync(SourceMessage message, CancellationToken ct)
    {
        _batch.Add(message);
        HoldsCommit |= message is TransactionCommitted;
        return _batch.Count >= BatchSize ? FlushAsync(ct) : ValueTask.CompletedTask;
    }

    /// <summary>Hands over what is held now.</summary>
    public async ValueTask FlushAsync(CancellationToken ct)
    {
        if (_batch.Count == 0)
            return;
        var batch = new SourceBatch(_batch);
        _batch = new List<SourceMessage>(BatchSize);
        HoldsCommit = false;
        try
        {
            await output.WriteAsync(batch, ct);
        }
        catch (ChannelClosedException) when (gate.Stopped)
        {
            // A stop at the shutdown deadline closed the channel under us: what was not handed over
            // is not confirmed, so PostgreSQL resends it; the session still confirms what was delivered.
        }
    }
}
