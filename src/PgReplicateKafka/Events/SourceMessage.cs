namespace PgReplicateKafka.Events;

/// <summary>What the source hands to the pipeline, in commit order: changes, then their transaction's commit.</summary>
public abstract class SourceMessage;

/// <summary>Every change of <see cref="Transaction"/> has been handed over before this.</summary>
public sealed class TransactionCommitted(SourceTransaction transaction) : SourceMessage
{
    public SourceTransaction Transaction { get; } = transaction;
}

/// <summary>
/// Messages handed over together, in order: one channel operation and at most one wake-up of the consumer per
/// batch instead of per change (the hand-over was a large part of the CPU per change, docs/benchmarks.md).
/// </summary>
public sealed class SourceBatch(List<SourceMessage> messages) : SourceMessage
{
    public List<SourceMessage> Messages { get; } = messages;
}
