using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events;
using PgReplicateKafka.Metrics;
using PgReplicateKafka.Pipeline;
using PgReplicateKafka.Pipeline.Delivery;
using PgReplicateKafka.Sink;
using PgReplicateKafka.Tests.Unit.Events;
using static PgReplicateKafka.Tests.Support.TestEvents;

namespace PgReplicateKafka.Tests.Unit.Pipeline;

/// <summary>The pump writes each event as its table's [[tables]] rule shapes it, to the rule's topic.</summary>
public class EventPumpRoutingTests
{
    private readonly InMemoryProducer _producer = new();
    private readonly InFlightBudget _budget = new(1 << 20);

    private async Task PumpAsync(string rules, params SourceMessage[] messages)
    {
        var channel = Channel.CreateUnbounded<SourceMessage>();
        foreach (var message in messages)
        {
            if (message is ChangeEvent change)
                _budget.Add(change.ByteSize);
            channel.Writer.TryWrite(message);
        }

        channel.Writer.Complete();
        var parsed = ConfigurationTestSupportProxy.Parse(rules);
        var config = Config();
        var router = new TopicRouter(new ReplicatorConfig { Postgres = config.Postgres, Kafka = config.Kafka, Replication = config.Replication, Masking = parsed.Masking, Tables = parsed.Tables });
        var pump = new EventPump(config, new AtLeastOnceDelivery(_producer, new DeliveryTracker(new ReplicatorMetrics(), _budget)), router, _budget, new ReplicatorMetrics(), NullLogger.Instance);
        await pump.RunAsync(channel.Reader, CancellationToken.None);
    }

    [Fact]
    public async Task Events_go_to_the_rules_topic_with_the_rules_columns_and_masks()
    {
        var t = Transaction(100);
        await PumpAsync("[[tables]]\nmatch = \"public.users\"\ntopic = \"people\"\nmask_columns = [\"name\"]\nmask_with = \"(hidden)\"",
            Insert(t, 1, "ada"), new TransactionCommitted(t));

        var message = Assert.Single(_producer.Produced);
        Assert.Equal("people", message.Topic);
        Assert.Equal("(hidden)", (string)JsonNode.Parse(message.Value!)!["after"]!["name"]!);
        Assert.DoesNotContain("ada", Encoding.UTF8.GetString(message.Value!));
    }

    [Fact]
    public async Task A_rule_that_does_not_fit_a_relation_stops_the_pump_as_a_configuration_error()
    {
        var t = Transaction(100);
        var e = await Assert.ThrowsAsync<ConfigException>(() => PumpAsync("[[tables]]\nmatch = \"public.*\"\nexclude_columns = [\"nickname\"]",
            Insert(t, 1, "ada"), new TransactionCommitted(t)));

        Assert.Contains("names column \"nickname\"", e.Message);
        Assert.Contains("RELATION", e.Message);
        Assert.Empty(_producer.Produced);
    }
}
