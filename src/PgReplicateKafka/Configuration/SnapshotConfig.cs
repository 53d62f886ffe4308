namespace PgReplicateKafka.Configuration;

/// <summary>When existing rows are read (see docs/snapshots.md).</summary>
public enum SnapshotMode
{
    /// <summary>Snapshot every published table once, when the slot is new; resume an unfinished snapshot.</summary>
    Initial,

    /// <summary>No automatic snapshot; on-demand requests still run.</summary>
    Never,

    /// <summary>As <see cref="Initial"/>, then stop (exit 0) once the last chunk is acknowledged.</summary>
    InitialOnly,

    /// <summary>As <see cref="Initial"/>, and snapshot again whenever the slot had to be created again (dropped, invalidated).</summary>
    WhenNeeded,
}

/// <summary>The <c>[snapshot]</c> section: existing rows as READ events.</summary>
public sealed class SnapshotConfig
{
    public SnapshotMode Mode { get; init; } = SnapshotMode.Initial;

    /// <summary>Tables added to the publication later are snapshotted when they first appear.</summary>
    public bool NewTables { get; init; } = true;

    /// <summary>Chunk readers at a time, across tables and key ranges of one large table.</summary>
    public int Parallelism { get; init; } = 2;

    /// <summary>Rows per chunk (one keyset page between two watermarks).</summary>
    public int ChunkSize { get; init; } = 5_000;

    internal static SnapshotConfig Build(ConfigValues v)
    {
        var defaults = new SnapshotConfig();
        return new SnapshotConfig
        {
            Mode = v.Choice(ConfigSchema.SnapshotMode,
                ("initial", SnapshotMode.Initial), ("never", SnapshotMode.Never), ("initial_only", SnapshotMode.InitialOnly), ("when_needed", SnapshotMode.WhenNeeded))
                ?? defaults.Mode,
            NewTables = v.Boolean(ConfigSchema.SnapshotNewTables) ?? defaults.NewTables,
            Parallelism = (int?)v.Integer(ConfigSchema.SnapshotParallelism, 1, 64) ?? defaults.Parallelism,
            ChunkSize = (int?)v.Integer(ConfigSchema.SnapshotChunkSize, 1, 1_000_000) ?? defaults.ChunkSize,
        };
    }
}
