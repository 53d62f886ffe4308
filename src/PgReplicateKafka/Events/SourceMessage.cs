namespace PgReplicateKafka.Events;

/// <summary>What the source hands to the pipeline, in commit order: changes, then their transaction's commit.</summary>
public abstract class SourceMessage;

/// <summary>Every change of <see cref="Transaction"/> has been handed over before this.</summary>
public sealed class TransactionCommitted(SourceTransaction transaction) : SourceMessage
{
    public SourceTransaction Transaction { get; } = transaction;
}
