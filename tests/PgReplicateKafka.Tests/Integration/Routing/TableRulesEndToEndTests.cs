using System.Security.Cryptography;
using System.Text;
using PgReplicateKafka.Configuration;
using static PgReplicateKafka.Tests.Support.ChangeMessage;

namespace PgReplicateKafka.Tests.Integration.Routing;

/// <summary>A [[tables]] rule set against real PostgreSQL and the test broker: topics, columns, masks, keys.</summary>
[Collection(IntegrationCollection.Name)]
public class TableRulesEndToEndTests(PostgresFixture postgres, KafkaFixture kafka)
{
    private const string Salt = "integration-test-salt-0042";
    private const string Email = "grace@example.com";
    private const string Password = "bcrypt$hash$value";

    private const string Rules = """
        [[tables]]
        match = "public.users"
        topic = "{prefix}.people"
        exclude_columns = ["password_hash"]
        mask_columns = ["email"]

        [[tables]]
        match = "*.audit_*"
        key_columns = ["who", "at"]
        mask_columns = ["what"]
        mask_with = "***"
        """;

    private static ReplicatorConfig WithRules(ReplicatorConfig config)
    {
        var parsed = ConfigLoader.Parse(
            ConfigurationMinimal + $"\n[masking]\nsalt = \"{Salt}\"\n\n" + Rules, "rules.toml", new Dictionary<string, string>());
        return new ReplicatorConfig
        {
            Postgres = config.Postgres,
            Snapshot = config.Snapshot,
            Kafka = config.Kafka,
            Replication = config.Replication,
            Masking = parsed.Masking,
            Tables = parsed.Tables,
        };
    }

    private const string ConfigurationMinimal = """
        [postgres]
        database = "d"
        username = "u"
        publication = "p"

        [kafka]
        brokers = ["localhost:9092"]
        """;

    [Fact]
    public async Task Rules_route_project_mask_and_key_every_event_and_quoted_names_get_legal_topics()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, """
            CREATE TABLE users (id int PRIMARY KEY, email text, password_hash text, name text);
            CREATE TABLE audit_log (at text, who text, what text);
            ALTER TABLE audit_log REPLICA IDENTITY FULL;
            CREATE SCHEMA "Quoted_"" . Schema";
            CREATE TABLE "Quoted_"" . Schema"."Quoted_"" . Table" (id int PRIMARY KEY, v text)
            """, WithRules);
        await run.StartAsync();

        await run.ExecuteAsync($"""
            INSERT INTO users VALUES (1, '{Email}', '{Password}', 'Grace');
            UPDATE users SET name = 'Grace H.' WHERE id = 1;
            DELETE FROM users WHERE id = 1;
            INSERT INTO audit_log VALUES ('2026-12-01', 'grace', 'login');
            DELETE FROM audit_log;
            INSERT INTO "Quoted_"" . Schema"."Quoted_"" . Table" VALUES (1, 'x')
            """);

        var people = $"{run.TopicPrefix}.people";
        var audit = run.Topic("audit_log");
        var quoted = $"{run.TopicPrefix}.Quoted___._Schema.Quoted___._Table";
        var raw = await KafkaTestConsumer.ConsumeAsync(kafka.BootstrapServers, [people, audit, quoted], 8, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(500));
        Assert.Equal(8, raw.Count); // 6 events and the tombstones of the 2 deletes, keyed by the projected key
        Assert.Equal(2, raw.Count(m => m.Value is null));
        foreach (var message in raw)
        {
            Assert.DoesNotContain(Email, message.Key ?? "");
            Assert.DoesNotContain(Email, message.Value ?? "");
            Assert.DoesNotContain(Password, message.Value ?? "");
            Assert.DoesNotContain("login", message.Value ?? "");
        }

        var messages = raw.Where(m => m.Value is not null).Select(From).OrderBy(m => m.Lsn).ToList();
        var users = messages.Where(m => m.Topic == people).ToList();
        Assert.Equal(["INSERT", "UPDATE", "DELETE"], users.Select(m => m.Op));
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Salt + Email)));
        Assert.Equal($$"""{"id":1,"email":"{{hash}}","name":"Grace"}""", Json(users[0].After));
        Assert.Equal("""{"id":1}""", Json(users[2].Key));

        var auditEvents = messages.Where(m => m.Topic == audit).ToList();
        Assert.Equal("""{"at":"2026-12-01","who":"grace","what":"***"}""", Json(auditEvents[0].After));
        Assert.Equal("""{"at":"2026-12-01","who":"grace"}""", Json(auditEvents[0].Key));
        Assert.Equal("""{"at":"2026-12-01","who":"grace"}""", Json(auditEvents[1].Key)); // the DELETE is keyed alike
        Assert.Equal("***", (string)auditEvents[1].Before!["what"]!);

        Assert.Equal("""{"id":1,"v":"x"}""", Json(messages.Single(m => m.Topic == quoted).After));
    }
}
