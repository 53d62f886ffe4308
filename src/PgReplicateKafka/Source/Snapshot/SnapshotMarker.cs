using Microsoft.Extensions.Logging;
using PgReplicateKafka.Events;

namespace PgReplicateKafka.Source.Snapshot;

/// <summary>A snapshot message of ours (watermark or request) at its place in the stream.</summary>
/// <param name="Lsn">The message's own LSN.</param>
/// <param name="Transaction">The transaction it was written in: READ events emitted at a high watermark belong to it.</param>
public sealed class SnapshotMarker(SnapshotControlMessage message, ulong lsn, SourceTransaction transaction) : SourceMessage
{
    public SnapshotControlMessage Message { get; } = message;
    public ulong Lsn { get; } = lsn;
    public SourceTransaction Transaction { get; } = transaction;

    /// <summary>Our snapshot message in the stream, or null for another prefix's; a malformed one of ours is only warned about.</summary>
    public static SnapshotMarker? Read(string prefix, ReadOnlySpan<byte> content, ulong lsn, SourceTransaction transaction, ILogger logger)
    {
        if (prefix != Watermarks.Prefix)
            return null;
        try
        {
            return new SnapshotMarker(Watermarks.Parse(content), lsn, transaction);
        }
        catch (FormatException e)
        {
            logger.LogWarning("Ignored a logical decoding message at {Lsn}: {Reason}", Events.Lsn.Format(lsn), e.Message);
            return null;
        }
    }
}
