using System.Text.Json.Nodes;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Metrics;
using PgReplicateKafka.Pipeline;
using PgReplicateKafka.Pipeline.Delivery;
using PgReplicateKafka.Sink;
using PgReplicateKafka.Source;
using static PgReplicateKafka.Tests.Support.TestEvents;

namespace PgReplicateKafka.Tests.Unit.Pipeline;

/// <summary>The exactly-once mode against an in-memory producer.</summary>
public class ExactlyOnceDeliveryTests
{
    private readonly InMemoryProducer _producer = new();
    private readonly InFlightBudget _budget = new(1 << 20);
    private readonly DeliveryTracker _tracker;
    private readonly ExactlyOnceDelivery _delivery;
    private readonly CheckpointStore _checkpoints;
    private static readonly ClusterIdentity Cluster = new("7300000000000000001", 1, 1_000_000);
    private Checkpoint? _stored;

    public ExactlyOnceDeliveryTests()
    {
        var config = Config(DeliveryGuarantee.ExactlyOnce, transactionMaxEvents: 3);
        _tracker = new DeliveryTracker(new ReplicatorMetrics(), _budget);
        _checkpoints = new CheckpointStore(config, Cluster.SystemId, NullLogger.Instance);
        _delivery = new ExactlyOnceDelivery(config, _producer, _checkpoints, _tracker, _budget, NullLogger.Instance, ReadCheckpoint);
        _delivery.Resume(Cluster, slotPosition: 50, slotCreated: false);
    }

    private Checkpoint? ReadCheckpoint(TimeSpan timeout)
    {
        _producer.Calls.Add("read");
        return _stored;
    }

    private ExactlyOnceDelivery NewDelivery(InMemoryProducer producer) =>
        new(Config(DeliveryGuarantee.ExactlyOnce), producer, _checkpoints, _tracker, _budget, NullLogger.Instance, ReadCheckpoint);

    private async Task TransactionAsync(ulong endLsn, int events)
    {
        var transaction = _delivery.Begin(Transaction(endLsn));
        for (var i = 0; i < events; i++)
        {
            await _delivery.ProduceAsync(transaction, "cdc.public.users", null, [1], null, 10, CancellationToken.None);
        }

        await _delivery.CommittedAsync(transaction, CancellationToken.None);
    }

    [Fact]
    public async Task Whole_postgres_transactions_commit_in_one_kafka_transaction_ending_with_the_checkpoint()
    {
        await TransactionAsync(100, 2);
        Assert.Equal(["init", "read", "begin"], _producer.Calls); // 2 events: batch not due yet
        await TransactionAsync(200, 2);                            // 4 events ≥ 3: commit at this PostgreSQL commit
        Assert.Equal(["init", "read", "begin", "commit"], _producer.Calls);

        var last = _producer.Committed[^1];
        Assert.Equal(_checkpoints.Topic, last.Topic);
        Assert.Equal("0/C8", (string)JsonNode.Parse(last.Value!)!["lsn"]!); // the last PostgreSQL commit in the batch
        Assert.Equal(5, _producer.Committed.Count);

        // Acknowledgements free memory but only the commit confirms.
        _producer.AcknowledgeAll();
        Assert.Equal(200ul, _tracker.ConfirmedLsn);
        Assert.Equal(0, _budget.Bytes);
    }

    [Fact]
    public async Task Acknowledged_events_do_not_confirm_before_the_kafka_commit()
    {
        await TransactionAsync(100, 1);
        _producer.AcknowledgeAll();
        Assert.Equal(0ul, _tracker.ConfirmedLsn);

        await _delivery.EndAsync(betweenTransactions: true);
        Assert.Equal(100ul, _tracker.ConfirmedLsn);
    }

    [Fact]
    public async Task Ending_inside_a_transaction_aborts_and_confirms_nothing()
    {
        await TransactionAsync(100, 1);
        var open = _delivery.Begin(Transaction(200));
        await _delivery.ProduceAsync(open, "cdc.public.users", null, [1], null, 10, CancellationToken.None);
        open.Abandon();
        await _delivery.EndAsync(betweenTransactions: false);

        Assert.Equal("abort", _producer.Calls[^1]);
        Assert.Equal(0ul, _tracker.ConfirmedLsn);
        Assert.True(_tracker.IsIdle);
    }

    [Fact]
    public async Task An_abort_seen_on_produce_counts_toward_the_repeated_abort_limit()
    {
        // A record the broker always rejects puts the transaction in an abortable state, seen as
        // Local_State on the next produce: each such abort counts, and the fifth in a row is exit 4.
        for (var attempt = 1; attempt <= 5; attempt++)
        {
            var transaction = _delivery.Begin(Transaction(100));
            _producer.FailNextProduce = new ProduceException<byte[]?, byte[]?>(new Error(ErrorCode.Local_State), new DeliveryResult<byte[]?, byte[]?>());
            var failure = await Record.ExceptionAsync(() => _delivery.ProduceAsync(transaction, "t", null, [1], null, 1, CancellationToken.None).AsTask());
            await _delivery.EndAsync(betweenTransactions: false);
            if (attempt < 5)
                Assert.IsType<KafkaTransactionAbortedException>(failure);
            else
                Assert.Equal(ExitCodes.KafkaFailure, Assert.IsType<KafkaFailureException>(failure).ExitCode);
        }
    }

    [Fact]
    public async Task An_event_that_was_not_produced_leaves_nothing_in_the_budget()
    {
        // No delivery report comes for it, and the producer's share of the budget lives as long as the producer.
        var transaction = _delivery.Begin(Transaction(100));
        _producer.FailNextProduce = new ProduceException<byte[]?, byte[]?>(new Error(ErrorCode.Local_State), new DeliveryResult<byte[]?, byte[]?>());
        await Assert.ThrowsAsync<KafkaTransactionAbortedException>(() => _delivery.ProduceAsync(transaction, "t", null, [1], null, 10, CancellationToken.None).AsTask());
        Assert.Equal(0, _budget.Bytes);

        // A stop cancels the wait for room in librdkafka's queue.
        _producer.QueueFull = true;
        using var stop = new CancellationTokenSource();
        var waiting = _delivery.ProduceAsync(transaction, "t", null, [1], null, 10, stop.Token).AsTask();
        Assert.Equal(10, _budget.Bytes);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(0, _budget.Bytes);
    }

    [Fact]
    public void Transactions_are_initialised_before_the_checkpoint_is_read_so_no_zombie_commits_after_the_read()
    {
        Assert.Equal(["init", "read"], _producer.Calls);
    }

    [Fact]
    public void A_new_producer_reads_the_checkpoint_again_after_initialising()
    {
        // A commit whose outcome the failed producer never learnt, or commits of another instance that
        // held the slot meanwhile: only Kafka knows.
        _stored = new Checkpoint(Cluster.SystemId, Cluster.Timeline, SlotOrigin: 40, Lsn: 900);
        var rebuilt = new InMemoryProducer();
        var delivery = NewDelivery(rebuilt);
        Assert.False(delivery.Initialized);
        Assert.Equal(900ul, delivery.Resume(Cluster, slotPosition: 50, slotCreated: false));
        Assert.True(delivery.Initialized); // no later session may use it (Replicator)
        Assert.Equal(["init"], rebuilt.Calls);
        Assert.Equal(["init", "read", "read"], _producer.Calls); // the reader records on the first producer
    }

    [Fact]
    public void A_slot_created_just_now_is_not_skipped_to_any_checkpoint()
    {
        _stored = new Checkpoint(Cluster.SystemId, Cluster.Timeline, SlotOrigin: 40, Lsn: 900);
        Assert.Null(NewDelivery(new InMemoryProducer()).Resume(Cluster, slotPosition: 800, slotCreated: true));
    }

    [Theory]
    [InlineData("7300000000000000002", 1u, 40ul, 900ul, "cluster")]   // a rebuilt cluster with the same names
    [InlineData("7300000000000000001", 2u, 40ul, 900ul, "timeline")]  // a promoted standby or a restored backup
    [InlineData("7300000000000000001", 1u, 40ul, 2_000_000ul, "beyond the server's current WAL position")]
    [InlineData("7300000000000000001", 1u, 60ul, 900ul, "created again")] // the slot stands behind where the checkpoint's slot began
    public void A_checkpoint_of_another_history_is_rejected_and_streaming_starts_from_the_slot(string systemId, uint timeline, ulong origin, ulong lsn, string reason)
    {
        var checkpoint = new Checkpoint(systemId, timeline, origin, lsn);
        Assert.Contains(reason, CheckpointRule.Rejection(checkpoint, Cluster, slotPosition: 50));

        _stored = checkpoint;
        Assert.Null(NewDelivery(new InMemoryProducer()).Resume(Cluster, slotPosition: 50, slotCreated: false));
    }

    [Fact]
    public async Task Every_checkpoint_record_names_the_cluster_the_timeline_and_the_slot_origin_it_continues()
    {
        _stored = new Checkpoint(Cluster.SystemId, Cluster.Timeline, SlotOrigin: 40, Lsn: 90);
        var producer = new InMemoryProducer();
        var delivery = NewDelivery(producer);
        Assert.Null(CheckpointRule.Rejection(_stored, Cluster, slotPosition: 50));
        Assert.Equal(90ul, delivery.Resume(Cluster, slotPosition: 50, slotCreated: false));

        var transaction = delivery.Begin(Transaction(100));
        await delivery.ProduceAsync(transaction, "cdc.public.users", null, [1], null, 10, CancellationToken.None);
        await delivery.CommittedAsync(transaction, CancellationToken.None);
        await delivery.EndAsync(betweenTransactions: true);

        var record = JsonNode.Parse(producer.Committed.Single(m => m.Topic == _checkpoints.Topic).Value!)!;
        Assert.Equal(Cluster.SystemId, (string)record["system_id"]!);
        Assert.Equal(1u, (uint)record["timeline"]!);
        Assert.Equal("0/28", (string)record["slot_origin"]!); // carried from the checkpoint, not the slot's position now
        Assert.Equal("0/64", (string)record["lsn"]!);
        Assert.Contains(Cluster.SystemId, System.Text.Encoding.UTF8.GetString(_checkpoints.Key));
    }

    [Fact]
    public void A_session_on_another_cluster_than_the_producer_was_named_for_stops_with_exit_3()
    {
        var failure = Assert.Throws<PostgresSetupException>(() => _delivery.Resume(Cluster with { SystemId = "42" }, 50, slotCreated: false));
        Assert.Equal(ExitCodes.PostgresFailure, failure.ExitCode);
    }

    [Theory]
    [InlineData(ErrorCode.InvalidProducerEpoch, 601, true)]  // the coordinator bumped the epoch of a timed-out transaction
    [InlineData(ErrorCode.ProducerFenced, 601, true)]        // KIP-588 brokers say ProducerFenced for it
    [InlineData(ErrorCode.ProducerFenced, 5, false)]         // a young transaction: another instance took over
    [InlineData(ErrorCode.InvalidProducerEpoch, null, false)]
    [InlineData(ErrorCode.Local_State, 601, false)]
    public void A_fencing_error_for_a_transaction_open_past_its_timeout_is_a_timeout_not_fencing(ErrorCode code, int? openSecs, bool timedOut)
    {
        TimeSpan? openFor = openSecs is { } s ? TimeSpan.FromSeconds(s) : null;
        Assert.Equal(timedOut, KafkaSink.IsTransactionTimeout(code, openFor, TimeSpan.FromMilliseconds(600_000)));
    }

    [Fact]
    public void A_transaction_timeout_exits_4_naming_the_settings_instead_of_rebuilding_or_reporting_fencing()
    {
        var policy = new FailurePolicy(Config(DeliveryGuarantee.ExactlyOnce));
        // KafkaSink reports a timed-out producer as fatal, not fenced: a fatal producer is otherwise rebuilt.
        _producer.Fatal = new KafkaTransactionTimeoutException("[kafka.properties] transaction.timeout.ms ... [replication] transaction_max_events / transaction_max_ms");
        var decision = policy.Decide(_producer.Fatal, _producer, new StreamProgress { Established = true, Verified = true });
        Assert.Equal(FailureAction.Exit, decision.Action);
        Assert.Same(_producer.Fatal, decision.Fatal);
        Assert.Equal(ExitCodes.KafkaFailure, decision.Fatal!.ExitCode);
    }

    [Fact]
    public void A_checkpoint_that_cannot_be_read_to_its_end_retries_the_session()
    {
        var policy = new FailurePolicy(Config(DeliveryGuarantee.ExactlyOnce));
        Assert.Equal(FailureAction.Restream, policy.Decide(new CheckpointUnavailableException("open transaction"), _producer, new StreamProgress()).Action);
    }

    [Theory]
    // Kafka's own murmur2 test vectors (clients' UtilsTest): the partitioner the producer uses.
    [InlineData("21", -973932308)]
    [InlineData("foobar", -790332482)]
    [InlineData("a-little-bit-long-string", -985981536)]
    [InlineData("a-little-bit-longer-string", -1486304829)]
    [InlineData("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971)]
    [InlineData("abc", 479470107)]
    public void The_checkpoint_partition_is_the_one_the_murmur2_partitioner_picks(string key, int murmur2)
    {
        const int partitions = 1_000_003;
        Assert.Equal((murmur2 & 0x7fffffff) % partitions, CheckpointStore.PartitionOf(System.Text.Encoding.UTF8.GetBytes(key), partitions));
    }
}
