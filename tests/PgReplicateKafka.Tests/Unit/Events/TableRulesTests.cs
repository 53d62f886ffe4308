using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events;
using PgReplicateKafka.Events.Debezium;
using PgReplicateKafka.Events.Values;
using static PgReplicateKafka.Tests.Unit.Events.DebeziumTestSupport;

namespace PgReplicateKafka.Tests.Unit.Events;

/// <summary>Projection by [[tables]] rules: kept columns, key columns, masks, in both envelopes.</summary>
public class TableRulesTests
{
    private const string Salt = "a-salt-of-sixteen-or-more";
    private const string Email = "ada@example.com";
    private const string Secret = "s3cr3t-hash-value";

    // users(id PK, email, password_hash, name), published with its primary key as replica identity.
    private static TableInfo Users() => Table(
        "users",
        Column("id", 23, identity: true),
        Column("email", 1043, 259),
        Column("password_hash", 25),
        Column("name", 25));

    private static TableRules Rules(string rules) => new(
        ConfigurationTestSupportProxy.Parse(rules).Tables,
        new MaskingConfig { Salt = Salt });

    private static ChangeEvent Update(TableInfo table) => new(
        table, ChangeOperation.Update, 10, Transaction(5, 1_000_000),
        before: Row("7", Email, Secret, "Ada"),
        after: Row("7", Email, Secret, "Ada L."));

    private static string Hash(string value) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Salt + value)));

    [Fact]
    public void A_table_without_a_rule_or_with_a_topic_only_rule_is_not_copied()
    {
        var users = Users();
        Assert.Same(users, Rules("").Project(users));
        Assert.Same(users, Rules("[[tables]]\nmatch = \"public.users\"\ntopic = \"x\"").Project(users));
        Assert.Same(users, Rules("[[tables]]\nmatch = \"sales.*\"\nexclude_columns = [\"email\"]").Project(users));
    }

    [Fact]
    public void Excluded_columns_disappear_and_the_rest_keep_their_values_in_the_plain_envelope()
    {
        var projected = Rules("[[tables]]\nmatch = \"public.users\"\nexclude_columns = [\"password_hash\", \"email\"]").Project(Users());
        Assert.Equal(["id", "name"], projected.Columns.Select(c => c.Name));

        var change = Update(Users());
        change.UseProjection(projected);
        var serializer = new EventSerializer("shop", new FormatOptions());
        var value = JsonNode.Parse(serializer.SerializeValue(change, 0))!;
        AssertJson("""{"id":7,"name":"Ada L."}""", value["after"]);
        AssertJson("""{"id":7}""", value["before"]);
        AssertJson("""{"id":7}""", JsonNode.Parse(serializer.SerializeKey(change)!));
    }

    [Fact]
    public void Include_columns_keep_only_those_in_table_order_in_the_debezium_envelope_and_its_schema()
    {
        var projected = Rules("[[tables]]\nmatch = \"public.*\"\ninclude_columns = [\"name\", \"id\"]").Project(Users());
        var change = Update(Users());
        change.UseProjection(projected);

        var envelope = Value(Options with { Schemas = true }, change, 0);
        AssertJson("""{"id":7,"name":"Ada L."}""", envelope["payload"]!["after"]);
        var fields = envelope["schema"]!["fields"]![1]!["fields"]!.AsArray().Select(f => (string)f!["field"]!);
        Assert.Equal(["id", "name"], fields);
    }

    [Fact]
    public void Key_columns_define_the_message_key()
    {
        var full = new TableInfo(16_401, "public", "events", [Column("at", 25, identity: true), Column("who", 25, identity: true), Column("what", 25, identity: true)], identityIsFull: true, [0, 1, 2]);
        var projected = Rules("[[tables]]\nmatch = \"public.events\"\nkey_columns = [\"who\", \"at\"]").Project(full);
        var change = new ChangeEvent(full, ChangeOperation.Delete, 10, Transaction(5, 0), Row("2026-01-01", "ada", "login"), null);
        change.UseProjection(projected);

        AssertJson("""{"at":"2026-01-01","who":"ada"}""", JsonNode.Parse(new EventSerializer("shop", new FormatOptions()).SerializeKey(change)!));
        AssertJson("""{"at":"2026-01-01","who":"ada"}""", JsonNode.Parse(new DebeziumSerializer(Options).SerializeKey(change)!));
    }

    [Fact]
    public void Hashed_columns_are_the_salted_sha256_hex_and_the_value_appears_in_no_byte_of_either_envelope()
    {
        var projected = Rules("[[tables]]\nmatch = \"public.users\"\nmask_columns = [\"email\", \"password_hash\", \"id\"]").Project(Users());
        var change = Update(Users());
        change.UseProjection(projected);

        var plain = new EventSerializer("shop", new FormatOptions());
        var debezium = new DebeziumSerializer(Options with { Schemas = true });
        var produced = new[] { plain.SerializeKey(change)!, plain.SerializeValue(change, 0), debezium.SerializeKey(change)!, debezium.SerializeValue(change, 0) };

        foreach (var bytes in produced)
        {
            var text = Encoding.UTF8.GetString(bytes);
            Assert.DoesNotContain(Email, text);
            Assert.DoesNotContain(Secret, text);
            Assert.DoesNotContain("\"id\":7", text);
        }

        var after = JsonNode.Parse(produced[1])!["after"]!;
        Assert.Equal(Hash(Email), (string)after["email"]!);
        Assert.Equal(Hash(Secret), (string)after["password_hash"]!);
        Assert.Equal(Hash("7"), (string)JsonNode.Parse(produced[0])!["id"]!);
        Assert.Equal("Ada L.", (string)after["name"]!);
        var schema = JsonNode.Parse(produced[3])!["schema"]!["fields"]![1]!["fields"]!.AsArray();
        Assert.Equal("string", (string)schema.First(f => (string)f!["field"]! == "email")!["type"]!);
        Assert.Equal(Hash(Email), (string)JsonNode.Parse(produced[3])!["payload"]!["after"]!["email"]!);
        Assert.Equal(Hash("7"), (string)JsonNode.Parse(produced[3])!["payload"]!["before"]!["id"]!);
    }

    [Fact]
    public void A_fixed_replacement_stands_for_every_value_and_null_stays_null()
    {
        var projected = Rules("[[tables]]\nmatch = \"public.users\"\nmask_columns = [\"email\"]\nmask_with = \"***\"").Project(Users());
        var change = new ChangeEvent(Users(), ChangeOperation.Insert, 10, Transaction(5, 0), null, Row("7", Email, null, "Ada"));
        change.UseProjection(projected);

        var after = Value(Options, change, 0)["after"]!;
        Assert.Equal("***", (string)after["email"]!);
        Assert.Null(after["password_hash"]);
    }

    [Fact]
    public void Rules_that_do_not_fit_the_table_say_which_column_and_what_to_do()
    {
        var columns = new[] { new RuleColumn("id", true, true), new RuleColumn("email", false, false) };
        var rules = ConfigurationTestSupportProxy.Parse("[[tables]]\nmatch = \"public.users\"\nexclude_columns = [\"emial\"]").Tables;
        Assert.Contains("names column \"emial\" in exclude_columns", TableRules.Problem(rules.Rules[0], "public.users", columns));

        var key = ConfigurationTestSupportProxy.Parse("[[tables]]\nmatch = \"public.users\"\nkey_columns = [\"email\"]").Tables;
        Assert.Contains("REPLICA IDENTITY FULL", TableRules.Problem(key.Rules[0], "public.users", columns));

        var dropsKey = ConfigurationTestSupportProxy.Parse("[[tables]]\nmatch = \"public.users\"\ninclude_columns = [\"email\"]").Tables;
        Assert.Contains("message key is made of", TableRules.Problem(dropsKey.Rules[0], "public.users", columns));

        var fine = ConfigurationTestSupportProxy.Parse("[[tables]]\nmatch = \"public.users\"\nexclude_columns = [\"email\"]").Tables;
        Assert.Null(TableRules.Problem(fine.Rules[0], "public.users", columns));
    }

    [Fact]
    public void A_relation_that_lost_a_named_column_is_a_configuration_error()
    {
        var rules = Rules("[[tables]]\nmatch = \"public.users\"\nexclude_columns = [\"nickname\"]");
        var e = Assert.Throws<ConfigException>(() => rules.Project(Users()));
        Assert.Contains("nickname", e.Message);
        Assert.Contains("public.users", e.Message);
    }
}

/// <summary>Rules parsed from [[tables]] text after the minimal file.</summary>
internal static class ConfigurationTestSupportProxy
{
    public static ReplicatorConfig Parse(string rules) =>
        PgReplicateKafka.Tests.Unit.Configuration.ConfigurationTestSupport.Parse(
            PgReplicateKafka.Tests.Unit.Configuration.ConfigurationTestSupport.Minimal + "\n\n[masking]\nsalt = \"" + Salt + "\"\n\n" + rules);

    private const string Salt = "a-salt-of-sixteen-or-more";
}
