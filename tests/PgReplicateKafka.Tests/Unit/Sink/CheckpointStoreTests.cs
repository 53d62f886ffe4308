using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Sink;
using static PgReplicateKafka.Tests.Support.TestEvents;

namespace PgReplicateKafka.Tests.Unit.Sink;

/// <summary>
/// The checkpoint record's bytes. The key is matched byte for byte (compaction, ReadLast), so a run
/// of this version must write the key earlier versions wrote, or it would not find their checkpoints.
/// </summary>
public class CheckpointStoreTests
{
    [Fact]
    public void Key_and_record_keep_their_field_names_and_order()
    {
        var config = Config(DeliveryGuarantee.ExactlyOnce);
        var store = new CheckpointStore(config, "7300000000000000001", NullLogger.Instance);
        var slot = config.Postgres.SlotName;

        Assert.Equal($$"""{"system_id":"7300000000000000001","database":"shop","slot":"{{slot}}"}""", Encoding.UTF8.GetString(store.Key));
        var record = Encoding.UTF8.GetString(store.Record(new Checkpoint("7300000000000000001", 2, 0x16B3748, 0x1A2B3C4D)));
        Assert.Matches(
            $$"""^\{"system_id":"7300000000000000001","timeline":2,"database":"shop","slot":"{{Regex.Escape(slot)}}","slot_origin":"0/16B3748","lsn":"0/1A2B3C4D","ts_ms":\d{13}\}$""",
            record);
    }
}
