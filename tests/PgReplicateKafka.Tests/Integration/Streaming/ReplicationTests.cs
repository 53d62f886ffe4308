using Confluent.Kafka;
using static PgReplicateKafka.Tests.Support.ChangeMessage;

namespace PgReplicateKafka.Tests.Integration.Streaming;

[Collection(IntegrationCollection.Name)]
public class ReplicationTests(PostgresFixture postgres, KafkaFixture kafka)
{
    private const string Tables = """
        CREATE TABLE public.users (id bigint PRIMARY KEY, name text, email text, created_at timestamptz, score numeric(10,2), active bool);
        CREATE TABLE public.orders (order_id int PRIMARY KEY, user_id bigint, note text, amount numeric);
        ALTER TABLE public.orders REPLICA IDENTITY FULL;
        CREATE TABLE public.nokey (a int, b text)
        """;

    [Fact]
    public async Task Streams_inserts_updates_deletes_and_truncates_of_every_published_table()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, Tables);
        await run.StartAsync();

        // Each statement is its own transaction; the session time zone differs from UTC on purpose.
        string[] statements =
        [
            "SET TIME ZONE 'America/New_York'; INSERT INTO users VALUES (1, 'Ada', 'ada@example.com', '2023-10-15 10:30:00+00', 12.30, true), (2, 'Bob', NULL, NULL, NULL, false)",
            "UPDATE users SET email = 'ada@new.example' WHERE id = 1",
            "UPDATE users SET id = 3 WHERE id = 2",
            "DELETE FROM users WHERE id = 1",
            "INSERT INTO orders VALUES (10, 1, 'first', 99.95)",
            "UPDATE orders SET note = 'changed' WHERE order_id = 10",
            "DELETE FROM orders WHERE order_id = 10",
            "INSERT INTO nokey VALUES (7, 'no key')",
            "TRUNCATE users, orders",
        ];
        foreach (var sql in statements)
            await run.ExecuteAsync(sql);
        var lastCommit = await run.CurrentWalLsnAsync();

        // With the tombstones after deletes: two on users (the key change deletes id 2), one on orders.
        var users = await ConsumeAsync(kafka, [run.Topic("users")], 9);
        var orders = await ConsumeAsync(kafka, [run.Topic("orders")], 5);
        var nokey = await ConsumeAsync(kafka, [run.Topic("nokey")], 1);

        Assert.Equal(["INSERT", "INSERT", "UPDATE", "DELETE", "INSERT", "DELETE", "TRUNCATE"], users.Select(m => m.Op));
        Assert.Equal(["INSERT", "UPDATE", "DELETE", "TRUNCATE"], orders.Select(m => m.Op));

        var ada = users[0];
        Assert.Equal("""{"id":1}""", Json(ada.Key));
        Assert.Equal("""{"id":1,"name":"Ada","email":"ada@example.com","created_at":"2023-10-15T10:30:00Z","score":"12.30","active":true}""", Json(ada.After));
        Assert.Null(ada.Before);
        Assert.Equal("public", (string)ada.Value["schema"]!);
        Assert.Equal("users", (string)ada.Value["table"]!);
        Assert.True((long)ada.Value["ts_ms"]! >= (long)ada.Source["ts_ms"]!);
        Assert.Equal("0.1.0", (string)ada.Source["version"]!);
        Assert.Equal("pg-replicate-kafka", (string)ada.Source["connector"]!);
        Assert.False((bool)ada.Source["snapshot"]!);
        Assert.Equal(run.Database, (string)ada.Source["db"]!);
        Assert.Equal("users", (string)ada.Source["table"]!);
        Assert.Equal("public", (string)ada.Source["schema"]!);
        Assert.Matches("^[0-9A-F]+/[0-9A-F]+$", (string)ada.Source["lsn"]!);
        Assert.True((long)ada.Source["xid"]! > 0);
        Assert.InRange((long)ada.Source["ts_ms"]!, DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeMilliseconds(), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        Assert.Equal((long)users[0].Source["xid"]!, (long)users[1].Source["xid"]!); // one transaction, two rows
        Assert.Equal("""{"id":2,"name":"Bob","email":null,"created_at":null,"score":null,"active":false}""", Json(users[1].After));

        // REPLICA IDENTITY DEFAULT: no old row unless the key changed; then only the key columns, and the key change
        // is a delete of the old key and an insert under the new one (EventFormatTests checks the whole sequence).
        Assert.Null(users[2].Before);
        Assert.Equal("ada@new.example", (string)users[2].After!["email"]!);
        Assert.Equal("""{"id":2}""", Json(users[3].Before));
        Assert.Equal("""{"id":2}""", Json(users[3].Key));
        Assert.Null(users[3].After);
        Assert.Equal("""{"id":3}""", Json(users[4].Key));
        Assert.Null(users[4].Before);
        Assert.Equal(3, (long)users[4].After!["id"]!);
        Assert.Equal("""{"id":1}""", Json(users[5].Before));
        Assert.Equal("""{"id":1}""", Json(users[5].Key));
        Assert.Null(users[5].After);
        Assert.Null(users[6].Key);
        Assert.Null(users[6].Before);
        Assert.Null(users[6].After);

        // REPLICA IDENTITY FULL: the whole old row; the key is still the primary key.
        Assert.Equal("""{"order_id":10}""", Json(orders[1].Key));
        Assert.Equal("""{"order_id":10,"user_id":1,"note":"first","amount":"99.95"}""", Json(orders[1].Before));
        Assert.Equal("""{"order_id":10,"user_id":1,"note":"changed","amount":"99.95"}""", Json(orders[1].After));
        Assert.Equal("""{"order_id":10,"user_id":1,"note":"changed","amount":"99.95"}""", Json(orders[2].Before));
        Assert.Equal("orders", (string)orders[3].Value["table"]!);
        Assert.Equal(users[6].Source["xid"]!.ToJsonString(), orders[3].Source["xid"]!.ToJsonString()); // one TRUNCATE, one event per table

        // No replica identity: a null key.
        Assert.Null(nokey[0].Key);
        Assert.Equal("""{"a":7,"b":"no key"}""", Json(nokey[0].After));

        await run.StopAsync();
        Assert.True(await run.ConfirmedFlushLsnAsync() >= lastCommit, "the slot's confirmed_flush_lsn has not reached the last delivered commit");
    }

    [Fact]
    public async Task Unchanged_toast_values_are_left_out_unless_full_identity_supplies_them()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, """
            CREATE TABLE docs (id int PRIMARY KEY, title text, body text);
            CREATE TABLE docs_full (id int PRIMARY KEY, title text, body text);
            ALTER TABLE docs_full REPLICA IDENTITY FULL
            """);
        await run.StartAsync();
        // md5 hex barely compresses, so 25 kB is stored out of line (TOASTed).
        const string big = "(SELECT string_agg(md5(i::text), '') FROM generate_series(1, 800) i)";
        await run.ExecuteAsync($"INSERT INTO docs VALUES (1, 'a', {big}); INSERT INTO docs_full VALUES (1, 'a', {big})");
        await run.ExecuteAsync("UPDATE docs SET title = 'b' WHERE id = 1");
        await run.ExecuteAsync("UPDATE docs_full SET title = 'b' WHERE id = 1");
        var body = await run.ScalarAsync<string>($"SELECT {big}");

        var docs = await ConsumeAsync(kafka, [run.Topic("docs")], 2);
        var full = await ConsumeAsync(kafka, [run.Topic("docs_full")], 2);

        Assert.Equal(body, (string)docs[0].After!["body"]!);
        Assert.Equal("""{"id":1,"title":"b"}""", Json(docs[1].After));
        Assert.Null(docs[1].Before);

        Assert.Equal("b", (string)full[1].After!["title"]!);
        Assert.Equal(body, (string)full[1].After!["body"]!);
        Assert.Equal(body, (string)full[1].Before!["body"]!);
        Assert.Equal("a", (string)full[1].Before!["title"]!);
    }

    [Fact]
    public async Task A_stop_inside_a_transaction_delivers_that_transaction_whole_then_confirms_it()
    {
        const int Rows = 200_000;
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, "CREATE TABLE items (id int PRIMARY KEY)");
        // Counted by end offsets, not consumed: past the mock broker's retention too.
        kafka.Mock?.CreateTopic(run.Topic("items"), partitions: 8);
        using var counter = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = kafka.BootstrapServers, GroupId = "count-" + Guid.NewGuid() })
            .SetErrorHandler((_, _) => { }).SetLogHandler((_, _) => { }).Build();
        using var admin = new DependentAdminClientBuilder(counter.Handle).Build();
        long Produced() => admin.GetMetadata(run.Topic("items"), TimeSpan.FromSeconds(10)).Topics.Single().Partitions
            .Sum(p => counter.QueryWatermarkOffsets(new TopicPartition(run.Topic("items"), p.PartitionId), TimeSpan.FromSeconds(10)).High.Value);

        await run.StartAsync();
        await run.ExecuteAsync($"INSERT INTO items SELECT g FROM generate_series(1, {Rows}) g");
        var committed = await run.CurrentWalLsnAsync();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        long before;
        while ((before = Produced()) < 1000)
        {
            Assert.True(DateTime.UtcNow < deadline, "the transaction's first events did not reach Kafka within 60 s");
            await Task.Delay(20);
        }

        await run.StopAsync();

        Assert.True(before < Rows, "the whole transaction was delivered before the stop: the test stopped too late to show anything");
        Assert.Equal(Rows, Produced());
        // The commit's end lies at most a background record or two before the position read after it.
        Assert.True(await run.ConfirmedFlushLsnAsync() >= committed - 1024, "the stop did not confirm the transaction it delivered");
    }

    [Fact]
    public async Task A_restart_resumes_where_it_stopped_without_loss_or_duplicates()
    {
        await using var run = await ReplicatorRun.CreateAsync(postgres, kafka, "CREATE TABLE items (id int PRIMARY KEY, v text)");
        await run.StartAsync();
        await run.ExecuteAsync("INSERT INTO items SELECT i, 'first' FROM generate_series(1, 300) i");
        await run.StopAsync();

        // Written while the replicator is down: the slot keeps it.
        await run.ExecuteAsync("INSERT INTO items SELECT i, 'while down' FROM generate_series(301, 600) i");
        await run.ExecuteAsync("UPDATE items SET v = 'updated while down' WHERE id <= 10");

        await run.StartAsync();
        await run.ExecuteAsync("INSERT INTO items SELECT i, 'after restart' FROM generate_series(601, 900) i");

        var messages = await ConsumeAsync(kafka, [run.Topic("items")], 910, quiet: TimeSpan.FromSeconds(2));
        Assert.Equal(910, messages.Count);
        var inserted = messages.Where(m => m.Op == "INSERT").Select(m => (int)m.After!["id"]!).Order().ToList();
        Assert.Equal(Enumerable.Range(1, 900), inserted);
        Assert.Equal(10, messages.Count(m => m.Op == "UPDATE"));
    }

    [Fact]
    public async Task The_slot_advances_while_published_tables_are_idle_and_the_database_is_busy()
    {
        await using var run = await ReplicatorRun.CreateAsync(
            postgres, kafka, "CREATE TABLE published (id int PRIMARY KEY); CREATE TABLE other (id int, pad text)", publish: "TABLE published");
        await run.StartAsync();
        await run.ExecuteAsync("INSERT INTO published VALUES (1)");
        await ConsumeAsync(kafka, [run.Topic("published")], 1);

        for (var i = 0; i < 5; i++)
            await run.ExecuteAsync("INSERT INTO other SELECT g, repeat('x', 200) FROM generate_series(1, 2000) g");
        var busy = await run.CurrentWalLsnAsync();

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (await run.ConfirmedFlushLsnAsync() < busy)
        {
            Assert.True(DateTime.UtcNow < deadline, "confirmed_flush_lsn did not follow the server's WAL while the published table was idle");
            await Task.Delay(100);
        }
    }
}
