using System.Text.Json.Nodes;
using System.Threading.Channels;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events;
using PgReplicateKafka.Metrics;
using PgReplicateKafka.Pipeline;
using PgReplicateKafka.Pipeline.Delivery;
using PgReplicateKafka.Sink;
using static PgReplicateKafka.Tests.Support.TestEvents;

namespace PgReplicateKafka.Tests.Unit.Pipeline;

/// <summary>The pump and the at-least-once mode against an in-memory producer.</summary>
public class EventPumpTests
{
    private readonly InMemoryProducer _producer = new();
    private readonly InFlightBudget _budget = new(1 << 20);
    private readonly DeliveryTracker _tracker;

    public EventPumpTests() => _tracker = new DeliveryTracker(new ReplicatorMetrics(), _budget);

    private async Task PumpAsync(ReplicatorConfig config, params SourceMessage[] messages)
    {
        var channel = Channel.CreateUnbounded<SourceMessage>();
        foreach (var message in messages)
        {
            if (message is ChangeEvent change)
                _budget.Add(change.ByteSize); // as the receive loop does
            channel.Writer.TryWrite(message);
        }

        channel.Writer.Complete();
        var pump = new EventPump(config, new AtLeastOnceDelivery(_producer, _tracker), new TopicRouter("cdc"), _budget, new ReplicatorMetrics(), NullLogger.Instance);
        await pump.RunAsync(channel.Reader, CancellationToken.None);
    }

    [Fact]
    public async Task Events_go_to_the_tables_topic_with_the_key_in_order_and_confirm_after_every_ack()
    {
        var t1 = Transaction(100);
        var t2 = Transaction(200);
        await PumpAsync(Config(), Insert(t1, 1, "ada"), Insert(t1, 2, "bob"), new TransactionCommitted(t1), Insert(t2, 3, "cy"), new TransactionCommitted(t2));

        Assert.Equal(["cdc.public.users", "cdc.public.users", "cdc.public.users"], _producer.Produced.Select(m => m.Topic));
        Assert.Equal([1, 2, 3], _producer.Produced.Select(m => (int)JsonNode.Parse(m.Key!)!["id"]!));
        Assert.Equal("ada", (string)JsonNode.Parse(_producer.Produced[0].Value!)!["after"]!["name"]!);
        Assert.Equal(0ul, _tracker.ConfirmedLsn); // nothing acknowledged yet
        Assert.True(_budget.Bytes > 0);

        _producer.AcknowledgeAll();
        Assert.Equal(200ul, _tracker.ConfirmedLsn);
        Assert.Equal(0, _budget.Bytes); // every byte handed over was released once
    }

    [Fact]
    public async Task The_pump_tells_the_producer_it_is_idle_when_it_has_drained_the_channel_and_not_before()
    {
        var channel = Channel.CreateUnbounded<SourceMessage>();
        var pump = new EventPump(Config(), new AtLeastOnceDelivery(_producer, _tracker), new TopicRouter("cdc"), _budget, new ReplicatorMetrics(), NullLogger.Instance);
        var t1 = Transaction(100);
        channel.Writer.TryWrite(Insert(t1, 1, "ada"));
        channel.Writer.TryWrite(Insert(t1, 2, "bob"));
        channel.Writer.TryWrite(new TransactionCommitted(t1));
        var running = pump.RunAsync(channel.Reader, CancellationToken.None);

        await WaitUntilAsync(() => pump.CommitsSeen == 1 && _producer.IdleCalls == 1);
        Assert.Equal(2, _producer.Produced.Count);
        // One item, as the receive loop hands a transaction over: written one message at a time, the running pump
        // could drain the channel between them and rightly report idle twice.
        var t2 = Transaction(200);
        channel.Writer.TryWrite(new SourceBatch([Insert(t2, 3, "cy"), new TransactionCommitted(t2)]));
        await WaitUntilAsync(() => pump.CommitsSeen == 2 && _producer.IdleCalls == 2);

        channel.Writer.Complete();
        await running;
        Assert.Equal(3, _producer.Produced.Count);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var waited = 0; !condition(); waited += 10)
        {
            Assert.True(waited < 10_000, "the condition did not hold within 10 s");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task A_failed_ack_stops_confirmation_at_the_transaction_before()
    {
        var t1 = Transaction(100);
        var t2 = Transaction(200);
        await PumpAsync(Config(), Insert(t1, 1, "ada"), new TransactionCommitted(t1));
        _producer.AcknowledgeAll();
        await PumpAsync(Config(), Insert(t2, 2, "bob"), new TransactionCommitted(t2));
        _producer.AcknowledgeAll(ErrorCode.Local_MsgTimedOut);

        Assert.Equal(100ul, _tracker.ConfirmedLsn);
        Assert.IsType<KafkaFailureException>(_tracker.Failure);
    }

    [Fact]
    public async Task A_transaction_cut_off_before_its_commit_confirms_nothing_and_blocks_nothing()
    {
        var t1 = Transaction(100);
        await PumpAsync(Config(), Insert(t1, 1, "ada"));
        _producer.AcknowledgeAll();
        Assert.Equal(0ul, _tracker.ConfirmedLsn);
        Assert.True(_tracker.IsIdle); // abandoned: PostgreSQL resends it whole
    }

    [Fact]
    public async Task An_oversized_event_is_skipped_when_asked_and_its_transaction_still_confirms()
    {
        var t1 = Transaction(100);
        _producer.FailNextProduce = new ProduceException<byte[]?, byte[]?>(new Error(ErrorCode.MsgSizeTooLarge), new DeliveryResult<byte[]?, byte[]?>());
        await PumpAsync(Config(oversized: OversizedPolicy.Skip), Insert(t1, 1, "huge"), Insert(t1, 2, "bob"), new TransactionCommitted(t1));
        _producer.AcknowledgeAll();

        Assert.Single(_producer.Produced);
        Assert.Equal(100ul, _tracker.ConfirmedLsn);
        Assert.Equal(0, _budget.Bytes);
    }

    [Fact]
    public async Task An_event_whose_wait_for_queue_room_is_cancelled_leaves_nothing_in_the_budget()
    {
        // No delivery report comes for it, and the producer's share of the budget lives as long as the producer.
        var delivery = new AtLeastOnceDelivery(_producer, _tracker);
        var transaction = delivery.Begin(Transaction(100));
        _producer.QueueFull = true;
        using var stop = new CancellationTokenSource();
        var waiting = delivery.ProduceAsync(transaction, "t", null, [1], null, 10, stop.Token).AsTask();
        Assert.Equal(10, _budget.Bytes);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(0, _budget.Bytes);
        Assert.Equal(0, _tracker.InFlightEvents);
    }

    [Fact]
    public async Task An_oversized_event_fails_with_exit_code_4_by_default_naming_table_and_lsn()
    {
        var t1 = Transaction(100);
        _producer.FailNextProduce = new ProduceException<byte[]?, byte[]?>(new Error(ErrorCode.MsgSizeTooLarge), new DeliveryResult<byte[]?, byte[]?>());
        var failure = await Assert.ThrowsAsync<KafkaFailureException>(() => PumpAsync(Config(), Insert(t1, 1, "huge", lsn: 0x1_0000_00A0), new TransactionCommitted(t1)));
        Assert.Equal(ExitCodes.KafkaFailure, failure.ExitCode);
        Assert.Contains("public.users", failure.Message);
        Assert.Contains("1/A0", failure.Message);
    }
}
