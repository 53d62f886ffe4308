using System.Runtime.CompilerServices;
using PgReplicateKafka.Configuration;
using PgReplicateKafka.Events;
using PgReplicateKafka.Events.Debezium;
using PgReplicateKafka.Events.Values;

namespace PgReplicateKafka.Pipeline.Format;

/// <summary>The configured envelope, native or Debezium, behind one shape of call (the pump's, and verify's).</summary>
internal sealed class EnvelopeWriter
{
    private readonly EventSerializer? _native;
    private readonly DebeziumSerializer? _debezium;

    public EnvelopeWriter(ReplicatorConfig config, IReadOnlyDictionary<uint, IReadOnlyList<string>>? enumLabels)
    {
        var format = config.Format;
        if (format.Envelope == EnvelopeFormat.Debezium)
        {
            _debezium = new DebeziumSerializer(new DebeziumOptions(
                config.Kafka.TopicPrefix,
                config.Postgres.Database,
                format.DecimalHandling switch
                {
                    DecimalHandlingMode.String => DecimalHandling.String,
                    DecimalHandlingMode.Double => DecimalHandling.Double,
                    _ => DecimalHandling.Precise,
                },
                format.TimePrecision == TimePrecisionMode.Connect ? TimePrecision.Connect : TimePrecision.Adaptive,
                format.Schemas,
                enumLabels));
        }
        else
        {
            _native = new EventSerializer(config.Postgres.Database, FormatOptions.From(format));
        }
    }

    /// <summary>End LSN of the last transaction committed before the current one (Debezium's <c>source.sequence</c>).</summary>
    public ulong LastCommitLsn { get; set; }

    // Runs per change: compiled optimized at its first call, not after seconds of tier 0 (see EventPump).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public byte[]? Key(ChangeEvent change) => _debezium is { } debezium ? debezium.SerializeKey(change) : _native!.SerializeKey(change);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public byte[] Value(ChangeEvent change, DebeziumTransactionBlock? transaction)
    {
        if (_debezium is { } debezium)
        {
            var nowUs = (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) / TimeSpan.TicksPerMicrosecond;
            return debezium.SerializeValue(change, nowUs, transaction, LastCommitLsn);
        }

        return _native!.SerializeValue(change, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), transaction);
    }
}
