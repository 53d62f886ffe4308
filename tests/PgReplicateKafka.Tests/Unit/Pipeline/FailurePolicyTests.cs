using Npgsql;
using PgReplicateKafka.Pipeline;

namespace PgReplicateKafka.Tests.Unit.Pipeline;

public class FailurePolicyTests
{
    private readonly FailurePolicy _policy = new(TestEvents.Config());
    private readonly InMemoryProducer _producer = new();
    private static readonly StreamProgress Streaming = new() { Verified = true, Established = true };
    private static readonly StreamProgress Standby = new() { Verified = true };
    private static readonly StreamProgress FirstStart = new();

    [Fact]
    public void A_lost_connection_fails_fast_at_first_start_and_is_retried_once_postgres_was_reached()
    {
        var lost = new NpgsqlException("Exception while reading from stream", new EndOfStreamException());
        Assert.Equal(FailureAction.Reconnect, _policy.Decide(lost, _producer, Streaming).Action);
        // A standby never streamed, but it saw the slot busy: PostgreSQL restarting under it is waited out.
        Assert.Equal(FailureAction.Reconnect, _policy.Decide(lost, _producer, Standby).Action);
        var fatal = _policy.Decide(lost, _producer, FirstStart);
        Assert.Equal(FailureAction.Exit, fatal.Action);
        Assert.Equal(ExitCodes.PostgresFailure, fatal.Fatal!.ExitCode);
    }

    [Theory]
    [InlineData(PostgresErrorCodes.AdminShutdown)]
    [InlineData(PostgresErrorCodes.CrashShutdown)]
    [InlineData(PostgresErrorCodes.CannotConnectNow)]
    [InlineData(PostgresErrorCodes.TooManyConnections)]
    [InlineData(PostgresErrorCodes.ConnectionFailure)]
    [InlineData(PostgresErrorCodes.QueryCanceled)]
    public void Server_side_transient_errors_are_retried_in_every_state_after_the_first_contact(string sqlState)
    {
        var error = new PostgresException("server going away", "FATAL", "FATAL", sqlState);
        Assert.Equal(FailureAction.Reconnect, _policy.Decide(error, _producer, Standby).Action);
        Assert.Equal(FailureAction.Reconnect, _policy.Decide(new PostgresSetupException("wrapped", error), _producer, Streaming).Action);
    }

    [Theory]
    [InlineData(PostgresErrorCodes.InvalidPassword)]
    [InlineData(PostgresErrorCodes.InvalidAuthorizationSpecification)]
    [InlineData(PostgresErrorCodes.InvalidCatalogName)]
    [InlineData(PostgresErrorCodes.InsufficientPrivilege)]
    [InlineData(PostgresErrorCodes.UndefinedObject)]
    [InlineData(PostgresErrorCodes.ObjectNotInPrerequisiteState)]
    [InlineData(PostgresErrorCodes.UndefinedFile)]
    [InlineData(PostgresErrorCodes.InternalError)]
    public void The_named_fatal_errors_exit_3_even_while_streaming(string sqlState)
    {
        var error = new PostgresException("needs a human", "FATAL", "FATAL", sqlState);
        var decision = _policy.Decide(error, _producer, Streaming);
        Assert.Equal(FailureAction.Exit, decision.Action);
        Assert.Equal(ExitCodes.PostgresFailure, decision.Fatal!.ExitCode);
    }

    [Fact]
    public void A_failed_check_exits_3_even_while_streaming()
    {
        var decision = _policy.Decide(new PostgresSetupException("publication \"pub\" does not exist"), _producer, Streaming);
        Assert.Equal(FailureAction.Exit, decision.Action);
        Assert.Equal(ExitCodes.PostgresFailure, decision.Fatal!.ExitCode);
    }

    [Fact]
    public void All_wal_senders_in_use_is_waited_out_on_reconnect_but_fails_the_first_start_with_the_check_message()
    {
        var full = new ServerBusyException("all 10 WAL senders are in use");
        Assert.Equal(FailureAction.Reconnect, _policy.Decide(full, _producer, Streaming).Action);
        Assert.Equal(FailureAction.Reconnect, _policy.Decide(full, _producer, Standby).Action);
        var fatal = _policy.Decide(full, _producer, FirstStart);
        Assert.Equal(FailureAction.Exit, fatal.Action);
        Assert.Equal(ExitCodes.PostgresFailure, fatal.Fatal!.ExitCode);
        Assert.Equal("all 10 WAL senders are in use", fatal.Fatal.Message);
    }

    [Fact]
    public void A_busy_slot_means_standby_even_at_start()
    {
        Assert.Equal(FailureAction.Standby, _policy.Decide(new SlotBusyException("in use"), _producer, FirstStart).Action);
    }

    [Fact]
    public void A_fenced_producer_exits_4_instead_of_fencing_back()
    {
        _producer.Fenced = true;
        var decision = _policy.Decide(new InvalidOperationException("x"), _producer, Streaming);
        Assert.Equal(FailureAction.Exit, decision.Action);
        Assert.Equal(ExitCodes.KafkaFailure, decision.Fatal!.ExitCode);
    }

    [Fact]
    public void A_producer_fenced_after_postgres_was_lost_continues_on_a_new_one()
    {
        // The session had lost PostgreSQL; while it delivered what it held, the instance that took the free slot fenced it.
        _producer.Fenced = true;
        _producer.Fatal = new KafkaFailureException("fenced");
        var lost = new PostgresException("terminating connection due to administrator command", "FATAL", "FATAL", PostgresErrorCodes.AdminShutdown);
        Assert.NotEqual(FailureAction.Exit, _policy.Decide(lost, _producer, Streaming).Action);
    }

    [Fact]
    public void A_kafka_call_that_timed_out_is_retried_once_streaming_worked_and_exits_4_at_first_start()
    {
        // InitTransactions while the brokers are away (a reconnect of PostgreSQL during a Kafka outage).
        var timedOut = new KafkaFailureException("Kafka failed while initialising Kafka transactions: Timed out (Local_TimedOut)",
            new Confluent.Kafka.KafkaRetriableException(new Confluent.Kafka.Error(Confluent.Kafka.ErrorCode.Local_TimedOut)));
        Assert.Equal(FailureAction.Restream, _policy.Decide(timedOut, _producer, Streaming).Action);
        var fatal = _policy.Decide(timedOut, _producer, FirstStart);
        Assert.Equal(FailureAction.Exit, fatal.Action);
        Assert.Equal(ExitCodes.KafkaFailure, fatal.Fatal!.ExitCode);
    }

    [Fact]
    public void A_fatal_producer_error_rebuilds_the_producer()
    {
        _producer.Fatal = new KafkaFailureException("sequence broke");
        Assert.Equal(FailureAction.RebuildProducer, _policy.Decide(new KafkaFailureException("sequence broke"), _producer, Streaming).Action);
    }

    [Fact]
    public void An_aborted_kafka_transaction_is_streamed_again()
    {
        var aborted = new KafkaTransactionAbortedException("abortable", new InvalidOperationException());
        Assert.Equal(FailureAction.Restream, _policy.Decide(aborted, _producer, Streaming).Action);
    }

    [Fact]
    public void An_invalidated_slot_is_not_retried()
    {
        var invalidated = new PostgresException("can no longer get changes from replication slot", "ERROR", "ERROR", PostgresErrorCodes.ObjectNotInPrerequisiteState);
        var decision = _policy.Decide(invalidated, _producer, Streaming);
        Assert.Equal(FailureAction.Exit, decision.Action);
        Assert.Equal(ExitCodes.PostgresFailure, decision.Fatal!.ExitCode);
    }

    [Fact]
    public void Unknown_failures_exit_1()
    {
        var decision = _policy.Decide(new InvalidOperationException("bug"), _producer, Streaming);
        Assert.Equal(ExitCodes.RuntimeFailure, decision.Fatal!.ExitCode);
    }
}
