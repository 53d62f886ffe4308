using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events;
using PgReplicateKafka.Events.Values;
using PgReplicateKafka.Sink;
using PgReplicateKafka.Tests.Unit.Events;

namespace PgReplicateKafka.Tests.Unit.Sink;

/// <summary>Topic names: templates, Debezium's sanitizing, the length limit and collisions.</summary>
public class TopicRouterTests
{
    private static TableInfo Table(string schema, string name) =>
        new(16_400, schema, name, [new ColumnInfo("id", TypeCatalog.Builtin.Resolve(23), true)], identityIsFull: false, [0]);

    private static TopicRouter Router(string rules = "")
    {
        var config = ConfigurationTestSupportProxy.Parse(rules);
        return new TopicRouter("cdc", new TableRules(config.Tables, config.Masking));
    }

    [Fact]
    public void Characters_kafka_forbids_become_underscores_as_debezium_makes_them()
    {
        // Debezium's own test table, and a name with a character outside the BMP (two UTF-16 units, two '_').
        Assert.Equal("cdc.Quoted___._Schema.Quoted___._Table", Router().TopicFor(Table("Quoted_\" . Schema", "Quoted_\" . Table")));
        Assert.Equal("cdc.public.caf___", Router().TopicFor(Table("public", "café\U0001F600")));
        Assert.Equal("cdc.public.plain_Name-1", Router().TopicFor(Table("public", "plain_Name-1")));
    }

    [Fact]
    public void Templates_fill_prefix_schema_and_table_and_literal_topics_are_used_as_given()
    {
        var router = Router("""
            [[tables]]
            match = "public.users"
            topic = "{prefix}.{schema}_{table}"

            [[tables]]
            match = "*.audit_*"
            topic = "audit"
            """);

        Assert.Equal("cdc.public_users", router.TopicFor(Table("public", "users")));
        Assert.Equal("audit", router.TopicFor(Table("sales", "audit_log")));
        Assert.Equal("audit", router.TopicFor(Table("hr", "audit_trail"))); // on purpose: a literal topic
        Assert.Equal("cdc.public.orders", router.TopicFor(Table("public", "orders")));
    }

    [Fact]
    public void The_route_is_worked_out_once_per_relation()
    {
        var router = Router("[[tables]]\nmatch = \"public.t\"\ntopic = \"x\"");
        var table = Table("public", "t");
        Assert.Same(router.Route(table), router.Route(table));
        Assert.NotSame(router.Route(table), router.Route(Table("public", "t"))); // a new RELATION, the same table: allowed
    }

    [Fact]
    public void Names_over_249_characters_are_refused_naming_the_table()
    {
        var name = new string('t', 240);
        var e = Assert.Throws<ConfigException>(() => Router().TopicFor(Table("public", name)));
        Assert.Contains($"public.{name}", e.Message);
        Assert.Contains("249", e.Message);
        Assert.Equal(249, Router().TopicFor(Table("public", new string('t', 249 - "cdc.public.".Length))).Length);
    }

    [Theory]
    [InlineData("a", "b_c", "a_b", "c")] // a template joining with '_' makes the same name
    [InlineData("s", "x.y", "s", "x_y")] // '.' and '_' collide in Kafka
    public void Two_tables_on_one_topic_by_accident_are_refused_naming_both(string schema1, string table1, string schema2, string table2)
    {
        var router = Router("[[tables]]\nmatch = \"*.*\"\ntopic = \"{prefix}.{schema}_{table}\"");
        router.TopicFor(Table(schema1, table1));
        var e = Assert.Throws<ConfigException>(() => router.TopicFor(Table(schema2, table2)));
        Assert.Contains($"{schema1}.{table1}", e.Message);
        Assert.Contains($"{schema2}.{table2}", e.Message);
    }

    [Fact]
    public void Sanitized_names_that_meet_are_refused_too()
    {
        var router = Router();
        router.TopicFor(Table("public", "a b"));
        var e = Assert.Throws<ConfigException>(() => router.TopicFor(Table("public", "a-b".Replace('-', '?'))));
        Assert.Contains("cdc.public.a_b", e.Message);
    }
}
