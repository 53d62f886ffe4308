using Npgsql;
using PgReplicateKafka.Pipeline;

namespace PgReplicateKafka.Tests.Unit.Pipeline;

public class FailurePolicyTests
{
    private readonly FailurePolicy _policy = new(TestEvents.Config());
    private readonly InMemoryProducer _producer = new();

    [Fact]
    public void A_lost_connection_is_retried_once_streaming_has_worked()
    {
        var lost = new NpgsqlException("Exception while reading from stream", new EndOfStreamException());
        Assert.Equal(FailureAction.Reconnect, _policy.Decide(lost, _producer, established: true).Action);
        var fatal = _policy.Decide(lost, _producer, established: false);
        Assert.Equal(FailureAction.Exit, fatal.Action);
        Assert.Equal(ExitCodes.PostgresFailure, fatal.Fatal!.ExitCode);
    }

    [Fact]
    public void A_busy_slot_means_standby_even_at_start()
    {
        Assert.Equal(FailureAction.Standby, _policy.Decide(new SlotBusyException("in use"), _producer, established: false).Action);
    }

    [Fact]
    public void A_fenced_producer_exits_4_instead_of_fencing_back()
    {
        _producer.Fenced = true;
        var decision = _policy.Decide(new InvalidOperationException("x"), _producer, established: true);
        Assert.Equal(FailureAction.Exit, decision.Action);
        Assert.Equal(ExitCodes.KafkaFailure, decision.Fatal!.ExitCode);
    }

    [Fact]
    public void A_fatal_producer_error_rebuilds_the_producer()
    {
        _producer.Fatal = new KafkaFailureException("sequence broke");
        Assert.Equal(FailureAction.RebuildProducer, _policy.Decide(new KafkaFailureException("sequence broke"), _producer, established: true).Action);
    }

    [Fact]
    public void An_aborted_kafka_transaction_is_streamed_again()
    {
        var aborted = new KafkaTransactionAbortedException("abortable", new InvalidOperationException());
        Assert.Equal(FailureAction.Restream, _policy.Decide(aborted, _producer, established: true).Action);
    }

    [Fact]
    public void An_invalidated_slot_is_not_retried()
    {
        var invalidated = new PostgresException("can no longer get changes from replication slot", "ERROR", "ERROR", PostgresErrorCodes.ObjectNotInPrerequisiteState);
        var decision = _policy.Decide(invalidated, _producer, established: true);
        Assert.Equal(FailureAction.Exit, decision.Action);
        Assert.Equal(ExitCodes.PostgresFailure, decision.Fatal!.ExitCode);
    }

    [Fact]
    public void Unknown_failures_exit_1()
    {
        var decision = _policy.Decide(new InvalidOperationException("bug"), _producer, established: true);
        Assert.Equal(ExitCodes.RuntimeFailure, decision.Fatal!.ExitCode);
    }
}
