using System.Threading.Channels;
using PgReplicateKafka.Events;

namespace PgReplicateKafka.Source;

/// <summary>
/// Hands the receive loop's messages to the pipeline in batches (<see cref="SourceBatch"/>), each at a commit or
/// when <see cref="BatchSize"/> are held. pgoutput (protocol 1) sends a transaction whole at its commit, so a
/// batch never waits for changes PostgreSQL has yet to send. Only the receive loop calls it.
/// </summary>
internal sealed class HandOver(ChannelWriter<SourceMessage> output, StreamGate gate)
{
    public const int BatchSize = 256;

    private List<SourceMessage> _batch = new(BatchSize);

    public ValueTask WriteAsync(SourceMessage message, CancellationToken ct)
    {
        _batch.Add(message);
        return _batch.Count >= BatchSize ? FlushAsync(ct) : ValueTask.CompletedTask;
    }

    /// <summary>Hands over what is held now: at a commit, and before the receive loop waits for room.</summary>
    public async ValueTask FlushAsync(CancellationToken ct)
    {
        if (_batch.Count == 0)
            return;
        var batch = new SourceBatch(_batch);
        _batch = new List<SourceMessage>(BatchSize);
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
