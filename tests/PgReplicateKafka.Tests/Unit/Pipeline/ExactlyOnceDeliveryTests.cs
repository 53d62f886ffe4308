using System.Text.Json.Nodes;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Metrics;
using PgReplicateKafka.Pipeline;
using PgReplicateKafka.Pipeline.Delivery;
using PgReplicateKafka.Sink;
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

    public ExactlyOnceDeliveryTests()
    {
        var config = Config(DeliveryGuarantee.ExactlyOnce, transactionMaxEvents: 3);
        _tracker = new DeliveryTracker(new ReplicatorMetrics(), _budget);
        _checkpoints = new CheckpointStore(config, NullLogger.Instance);
        _delivery = new ExactlyOnceDelivery(config, _producer, _checkpoints, _tracker, _budget, NullLogger.Instance);
    }

    private async Task TransactionAsync(ulong endLsn, int events)
    {
        var transaction = _delivery.Begin(Transaction(endLsn));
        for (var i = 0; i < events; i++)
        {
            _budget.Add(10);
            await _delivery.ProduceAsync(transaction, "cdc.public.users", null, [1], null, 10, CancellationToken.None);
        }

        await _delivery.CommittedAsync(transaction, CancellationToken.None);
    }

    [Fact]
    public async Task Whole_postgres_transactions_commit_in_one_kafka_transaction_ending_with_the_checkpoint()
    {
        await TransactionAsync(100, 2);
        Assert.Equal(["init", "begin"], _producer.Calls); // 2 events: batch not due yet
        await TransactionAsync(200, 2);                    // 4 events ≥ 3: commit at this PostgreSQL commit
        Assert.Equal(["init", "begin", "commit"], _producer.Calls);

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
}
