namespace PgReplicateKafka.Source.Snapshot;

/// <summary>
/// A slice of a table's paging key space: keys above <see cref="Lower"/> (exclusive) up to
/// <see cref="Upper"/> (inclusive); null means unbounded. Key values are in PostgreSQL's text form.
/// </summary>
public sealed record KeyRange(string[]? Lower, string[]? Upper)
{
    public static KeyRange All { get; } = new(null, null);
}
