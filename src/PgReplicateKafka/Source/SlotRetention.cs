namespace PgReplicateKafka.Source;

/// <summary>
/// Whether PostgreSQL is about to invalidate the slot: <c>wal_status</c> <c>unreserved</c> (the next
/// checkpoint may remove WAL the slot needs) or <c>lost</c>, or <c>safe_wal_size</c> below a fifth of
/// <c>max_slot_wal_keep_size</c> (so there is time to act before it turns unreserved).
/// </summary>
public static class SlotRetention
{
    /// <summary>The fraction of max_slot_wal_keep_size below which the remaining safe WAL is worth a warning.</summary>
    public const double WarnFraction = 0.2;

    /// <summary>Why the slot is at risk, or null when it is not (or the server does not limit slot WAL).</summary>
    public static string? Risk(string? walStatus, long? safeWalSize, long? maxSlotWalKeepSize)
    {
        if (walStatus is "lost")
            return "wal_status is lost: PostgreSQL removed WAL the slot needs; the slot is invalid and must be dropped and re-created (changes in between are missing)";
        if (walStatus is "unreserved")
            return $"wal_status is unreserved: WAL the slot needs exceeds max_slot_wal_keep_size and the next checkpoint may invalidate it{SafeText(safeWalSize)}";
        if (safeWalSize is { } safe && maxSlotWalKeepSize is > 0 and var max && safe < max * WarnFraction)
            return $"only {safe} bytes of WAL (safe_wal_size) remain before max_slot_wal_keep_size ({max} bytes) invalidates the slot";
        return null;
    }

    private static string SafeText(long? safeWalSize) => safeWalSize is { } safe ? $" (safe_wal_size {safe} bytes)" : "";
}
