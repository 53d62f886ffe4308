using PgReplicateKafka.Configuration;
using static PgReplicateKafka.Tests.Unit.Configuration.ConfigurationTestSupport;

namespace PgReplicateKafka.Tests.Unit.Configuration;

/// <summary>[[tables]] and [masking]: reading, environment overrides, and what is refused at load (exit 2).</summary>
public class TableRulesConfigTests
{
    private const string Salt = "0123456789abcdef-salt";

    private static string WithRules(string rules) => Minimal + "\n\n" + rules;

    [Fact]
    public void Rules_are_read_in_file_order_with_every_key()
    {
        var config = Parse(WithRules($$"""
            [masking]
            salt = "{{Salt}}"

            [[tables]]
            match = "public.users"
            topic = "{prefix}.people"
            exclude_columns = ["password_hash"]
            mask_columns = ["email"]

            [[tables]]
            match = "*.audit_*"
            include_columns = ["id", "at", "who"]
            mask_columns = ["who"]
            mask_with = "***"
            key_columns = ["id", "at"]
            """));

        Assert.Equal(Salt, config.Masking.Salt);
        var rules = config.Tables.Rules;
        Assert.Equal([1, 2], rules.Select(r => r.Entry));
        Assert.Equal("{prefix}.people", rules[0].Topic);
        Assert.False(rules[0].TopicIsLiteral);
        Assert.Equal(["password_hash"], rules[0].ExcludeColumns);
        Assert.Null(rules[0].IncludeColumns);
        Assert.Null(rules[0].MaskWith);
        Assert.Equal(["id", "at", "who"], rules[1].IncludeColumns!);
        Assert.Equal("***", rules[1].MaskWith);
        Assert.Equal(["id", "at"], rules[1].KeyColumns!);
        Assert.DoesNotContain(Salt, config.Masking.ToString());
    }

    [Fact]
    public void The_first_matching_rule_wins()
    {
        var config = Parse(WithRules("""
            [[tables]]
            match = "public.users"
            topic = "users-exact"

            [[tables]]
            match = "public.*"
            topic = "everything-public"
            """));

        Assert.Equal("users-exact", config.Tables.RuleFor("public", "users")!.Topic);
        Assert.Equal("everything-public", config.Tables.RuleFor("public", "orders")!.Topic);
        Assert.Null(config.Tables.RuleFor("sales", "users"));
    }

    [Theory]
    [InlineData("public.users", "public", "users", true)]
    [InlineData("public.users", "public", "Users", false)] // names compare as stored, case-sensitively
    [InlineData("public.*", "public", "anything", true)]
    [InlineData("public.*", "publicx", "anything", false)]
    [InlineData("*.audit_*", "sales", "audit_log", true)]
    [InlineData("*.audit_*", "sales", "audit_", true)]
    [InlineData("*.audit_*", "sales", "xaudit_log", false)]
    [InlineData("s?les.t*b*e", "sales", "table", true)]
    [InlineData("s?les.t*b*e", "sles", "table", false)]
    [InlineData("\"Quoted_\"\" . Schema\".\"Quoted_\"\" . Table\"", "Quoted_\" . Schema", "Quoted_\" . Table", true)]
    [InlineData("\"a.*\".t", "a.b", "t", false)] // quoted: no wildcards
    [InlineData("\"a.*\".t", "a.*", "t", true)]
    public void Patterns_match_schema_and_table_separately(string pattern, string schema, string table, bool matches)
    {
        var parsed = TablePattern.TryParse(pattern, out var error);
        Assert.True(parsed is not null, error);
        Assert.Equal(matches, parsed.Matches(schema, table));
    }

    [Theory]
    [InlineData("users")]
    [InlineData("public.")]
    [InlineData(".users")]
    [InlineData("\"public.users")]
    [InlineData("public.users.extra")]
    public void Malformed_patterns_are_refused_naming_the_entry(string pattern)
    {
        var e = Fails(WithRules($"[[tables]]\nmatch = '{pattern}'\ntopic = \"x\""));
        Assert.Contains("[[tables]] #1 match", e.Message);
        Assert.Contains(pattern, e.Message);
    }

    [Theory]
    [InlineData("include_columns = [\"a\"]\nexclude_columns = [\"b\"]", "not both")]
    [InlineData("mask_columns = [\"a\"]", "[masking] salt")]
    [InlineData("mask_with = \"x\"", "no mask_columns")]
    [InlineData("exclude_columns = [\"a\"]\nmask_columns = [\"a\"]\nmask_with = \"x\"", "leaves out of events anyway")]
    [InlineData("include_columns = [\"a\"]\nkey_columns = [\"b\"]", "a key column must stay")]
    [InlineData("mask_columns = [\"a\"]\nmask_with = \"x\"\nkey_columns = [\"a\"]", "share one key")]
    [InlineData("key_columns = []", "at least one column")]
    [InlineData("topic = \"{prefix}.{database}\"", "placeholders")]
    [InlineData("topic = \"a topic\"", "legal Kafka topic name")]
    [InlineData("topic = \"..\"", "legal Kafka topic name")]
    [InlineData("mach = \"x\"", "Did you mean 'match'?")]
    public void Contradictory_or_unusable_rules_are_refused(string lines, string expected)
    {
        var e = Fails(WithRules("[[tables]]\nmatch = \"public.t\"\n" + lines));
        Assert.Contains(expected, e.Message);
        Assert.Contains("#1", e.Message);
    }

    [Fact]
    public void A_single_tables_section_is_told_to_use_two_brackets()
    {
        var e = Fails(WithRules("[tables]\nmatch = \"public.t\""));
        Assert.Contains("[[tables]]", e.Message);
    }

    [Fact]
    public void A_short_salt_is_refused_without_showing_it()
    {
        var e = Fails(WithRules("[masking]\nsalt = \"tooShort42\""));
        Assert.Contains("[masking] salt", e.Message);
        Assert.DoesNotContain("tooShort42", e.Message);
    }

    [Fact]
    public void Environment_overrides_rule_keys_by_entry_and_may_add_rules()
    {
        var config = Parse(WithRules("""
            [[tables]]
            match = "public.users"
            topic = "from-file"
            """), new Dictionary<string, string>
        {
            ["PGRK_TABLES_1_TOPIC"] = "from-env",
            ["PGRK_TABLES_2_MATCH"] = "public.orders",
            ["PGRK_TABLES_2_EXCLUDE_COLUMNS"] = "notes, secret",
            ["PGRK_MASKING_SALT"] = Salt,
        });

        Assert.Equal("from-env", config.Tables.Rules[0].Topic);
        Assert.Equal("public.orders", config.Tables.Rules[1].Match.Text);
        Assert.Equal(["notes", "secret"], config.Tables.Rules[1].ExcludeColumns);
        Assert.Equal(Salt, config.Masking.Salt);
    }

    [Fact]
    public void A_rule_added_from_the_environment_without_match_names_its_variable()
    {
        var e = Fails(Minimal, new Dictionary<string, string> { ["PGRK_TABLES_1_TOPIC"] = "x" });
        Assert.Contains("[[tables]] #1 match is required", e.Message);
        Assert.Contains("PGRK_TABLES_1_MATCH", e.Message);
    }

    [Fact]
    public void A_misspelt_rule_variable_is_refused()
    {
        var e = Fails(Minimal, new Dictionary<string, string> { ["PGRK_TABLES_1_MACH"] = "public.t" });
        Assert.Contains("PGRK_TABLES_1_MACH", e.Message);
        Assert.Contains("PGRK_TABLES_<n>_<KEY>", e.Message);
    }

    [Fact]
    public void A_salt_in_a_syntax_error_is_redacted()
    {
        var e = Fails(WithRules("[masking]\nsalt = \"VerySecretSaltValue123\"\nsalt = \"VerySecretSaltValue123\""));
        Assert.DoesNotContain("VerySecretSaltValue123", e.Message);
    }
}
