namespace PgReplicateKafka.Source;

/// <summary>
/// The hand-over state of the receive loop, shared with the replicator's confirm and stop calls:
/// whether a transaction is open, whether a stop was asked for, and where forwarding stopped.
/// A graceful stop never splits a transaction; the idle position is offered only between
/// transactions, because a position inside one would confirm changes not yet handed over.
/// </summary>
public sealed class StreamGate
{
    private readonly Lock _gate = new();
    private bool _inTransaction;
    private bool _stopRequested;
    private bool _stopped;
    private long _forwardedCommits;
    private ulong _stoppedAt;
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when no more messages will be handed over.</summary>
    public Task Done => _done.Task;

    /// <summary>Forwarding has stopped: the receive loop drops what still arrives (it is not confirmed, so it is resent).</summary>
    public bool Stopped => Volatile.Read(ref _stopped);

    public void Begin()
    {
        // No stop can be pending here: one requested between transactions stopped forwarding at once.
        lock (_gate)
            _inTransaction = true;
    }

    /// <summary>A commit was handed over or is held for the next batch; returns true when a pending stop took effect with it.</summary>
    public bool Committed(ulong endLsn)
    {
        lock (_gate)
        {
            _inTransaction = false;
            _forwardedCommits++;
            return _stopRequested && Stop(endLsn, idle: true);
        }
    }

    /// <summary>Stops at once between transactions (at <paramref name="lastReceivedLsn"/>), otherwise after the open transaction's commit.</summary>
    public bool RequestStop(ulong lastReceivedLsn)
    {
        lock (_gate)
        {
            _stopRequested = true;
            return !_inTransaction && Stop(lastReceivedLsn, idle: true);
        }
    }

    /// <summary>Stops now, even inside a transaction; returns true if this call stopped it.</summary>
    public bool StopNow()
    {
        lock (_gate)
            return Stop(0, idle: false);
    }

    /// <summary>
    /// The position a fully idle pipeline may confirm: the server's last reported position, provided
    /// no transaction is open. Every commit before it was counted already (messages arrive in order),
    /// so the caller must also check that the pump has seen all <paramref name="forwardedCommits"/>
    /// (some may still be held for the next batch) and that they are delivered.
    /// </summary>
    public bool TryGetIdlePosition(ulong lastReceivedLsn, out ulong lsn, out long forwardedCommits)
    {
        lock (_gate)
        {
            forwardedCommits = _forwardedCommits;
            if (_stopped)
            {
                lsn = _stoppedAt;
                return lsn != 0;
            }

            lsn = lastReceivedLsn;
            return !_inTransaction;
        }
    }

    private bool Stop(ulong lsn, bool idle)
    {
        if (_stopped)
            return false;
        _stopped = true;
        _stoppedAt = idle ? lsn : 0;
        _done.TrySetResult();
        return true;
    }
}
