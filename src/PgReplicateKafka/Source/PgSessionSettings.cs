namespace PgReplicateKafka.Source;

/// <summary>
/// Session settings pinned on the replication connection. pgoutput prints every column with the
/// walsender session's settings, so each setting that changes a type's text output is fixed here:
/// the converters in Events.Values.ValueWriter rely on exactly these formats.
/// </summary>
public static class PgSessionSettings
{
    /// <summary>
    /// Value for Npgsql's <c>Options</c> connection-string keyword. All settings are user-settable (no privilege needed).
    /// <list type="bullet">
    /// <item><c>DateStyle=ISO,YMD</c>: dates and timestamps print as <c>YYYY-MM-DD HH:MM:SS</c>.</item>
    /// <item><c>IntervalStyle=iso_8601</c>: intervals print as ISO-8601 durations (<c>P1Y2M3DT4H5M6.5S</c>).</item>
    /// <item><c>TimeZone=UTC</c>: timestamptz prints with <c>+00</c>, independent of the server's zone.</item>
    /// <item><c>extra_float_digits=1</c>: float4/float8 print the shortest text that round-trips exactly.</item>
    /// <item><c>bytea_output=hex</c>: bytea prints as <c>\x…</c>; the older escape format is not parsed.</item>
    /// <item><c>client_encoding=UTF8</c>: pgoutput converts values to the client encoding; the converters read UTF-8.</item>
    /// <item><c>lc_monetary=C</c>: money prints the same whatever the server's locale.</item>
    /// <item><c>search_path=pg_catalog</c>: reg* types (regclass, regtype, …) print schema-qualified names
    /// for user objects instead of names that depend on a search path.</item>
    /// </list>
    /// </summary>
    public const string Options =
        "-c DateStyle=ISO,YMD -c IntervalStyle=iso_8601 -c TimeZone=UTC -c extra_float_digits=1 "
        + "-c bytea_output=hex -c client_encoding=UTF8 -c lc_monetary=C -c search_path=pg_catalog";
}
