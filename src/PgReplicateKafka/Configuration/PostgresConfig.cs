using System.Text.RegularExpressions;

namespace PgReplicateKafka.Configuration;

/// <summary>The <c>[postgres]</c> section: where to replicate from.</summary>
public sealed partial class PostgresConfig
{
    public string Host { get; init; } = "localhost";
    public int Port { get; init; } = 5432;
    public required string Database { get; init; }
    public required string Username { get; init; }

    /// <summary>
    /// The password from the file, <c>password_file</c> or the environment; null lets
    /// libpq-style PGPASSWORD / .pgpass apply when connecting.
    /// </summary>
    public string? Password { get; init; }

    /// <summary>Where <see cref="Password"/> was read from, when it came from a file.</summary>
    public string? PasswordFile { get; init; }

    public required string Publication { get; init; }
    public string SlotName { get; init; } = "pg_replicate_kafka_slot";
    public PgSslMode SslMode { get; init; } = PgSslMode.Prefer;
    public bool CreatePublication { get; init; }

    /// <summary>Create the slot as a failover slot (PostgreSQL 17+) so standbys can sync it.</summary>
    public bool FailoverSlot { get; init; }

    /// <summary>Tables as <c>schema.table</c> or <c>table</c>; used when creating the publication.</summary>
    public IReadOnlyList<string> Tables { get; init; } = [];

    public int ConnectTimeoutSecs { get; init; } = 10;
    public TimeSpan ConnectTimeout => TimeSpan.FromSeconds(ConnectTimeoutSecs);

    internal static PostgresConfig Build(ConfigValues v)
    {
        var defaults = new PostgresConfig { Database = "", Username = "", Publication = "" };

        var publication = v.RequiredString(ConfigSchema.Publication);
        if (publication.Length > 63 || !Identifier().IsMatch(publication))
        {
            throw v.Error(ConfigSchema.Publication,
                $"must be a PostgreSQL identifier: 1-63 characters, a letter or underscore followed by letters, digits, " +
                $"underscores or '$' ([A-Za-z_][A-Za-z0-9_$]*), but found \"{publication}\"");
        }

        var slotName = v.String(ConfigSchema.SlotName) ?? defaults.SlotName;
        if (!SlotNamePattern().IsMatch(slotName))
        {
            throw v.Error(ConfigSchema.SlotName,
                $"must be 1-63 characters of lower-case letters, digits and underscores (PostgreSQL's rule for " +
                $"replication slot names), but found \"{slotName}\"");
        }

        var tables = v.StringArray(ConfigSchema.Tables) ?? defaults.Tables;
        foreach (var table in tables)
        {
            if (!TableName().IsMatch(table) || table.Split('.').Any(part => part.Length > 63))
            {
                throw v.Error(ConfigSchema.Tables,
                    $"entries must be 'schema.table' or 'table', each part a PostgreSQL identifier of at most 63 " +
                    $"characters ([A-Za-z_][A-Za-z0-9_$]*), but found \"{table}\"");
            }
        }

        var createPublication = v.Boolean(ConfigSchema.CreatePublication) ?? defaults.CreatePublication;
        if (createPublication && tables.Count == 0)
        {
            throw new ConfigException(
                $"[postgres] create_publication is true but [postgres] tables is empty in {v.Source}. List the tables " +
                "to publish in [postgres] tables (or PGRK_POSTGRES_TABLES), or set create_publication = false and " +
                "create the publication yourself.");
        }

        var (password, passwordFile) = ReadPassword(v);
        return new PostgresConfig
        {
            Host = v.NonEmptyString(ConfigSchema.Host) ?? defaults.Host,
            Port = (int?)v.Integer(ConfigSchema.Port, 1, 65535) ?? defaults.Port,
            Database = v.RequiredString(ConfigSchema.Database),
            Username = v.RequiredString(ConfigSchema.Username),
            Password = password,
            PasswordFile = passwordFile,
            Publication = publication,
            SlotName = slotName,
            SslMode = v.Choice(ConfigSchema.SslMode,
                ("disable", PgSslMode.Disable), ("allow", PgSslMode.Allow), ("prefer", PgSslMode.Prefer),
                ("require", PgSslMode.Require), ("verify-ca", PgSslMode.VerifyCa), ("verify-full", PgSslMode.VerifyFull))
                ?? defaults.SslMode,
            CreatePublication = createPublication,
            FailoverSlot = v.Boolean(ConfigSchema.FailoverSlot) ?? defaults.FailoverSlot,
            Tables = tables,
            ConnectTimeoutSecs = (int?)v.Integer(ConfigSchema.ConnectTimeoutSecs, 1, 3600) ?? defaults.ConnectTimeoutSecs,
        };
    }

    private static (string? Password, string? PasswordFile) ReadPassword(ConfigValues v)
    {
        var password = v.String(ConfigSchema.Password);
        var path = v.NonEmptyString(ConfigSchema.PasswordFile);
        if (path is null)
        {
            return (password, null);
        }

        if (password is not null)
        {
            throw new ConfigException(
                $"Both [postgres] password ({v.Origin(ConfigSchema.Password)}) and [postgres] password_file " +
                $"({v.Origin(ConfigSchema.PasswordFile)}) are set. Keep only one of them.");
        }

        string content;
        try
        {
            content = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw v.Error(ConfigSchema.PasswordFile,
                $"names '{path}', which cannot be read ({ex.Message}). Point it at a readable file holding the password");
        }

        // Editors and `echo` add a final newline that is not part of the password.
        content = content.TrimEnd('\r', '\n');
        if (content.Length == 0)
        {
            throw v.Error(ConfigSchema.PasswordFile, $"names '{path}', which is empty. Put the password in it");
        }

        return (content, path);
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_$]*$")]
    private static partial Regex Identifier();

    [GeneratedRegex("^[a-z0-9_]{1,63}$")]
    private static partial Regex SlotNamePattern();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")]
    private static partial Regex TableName();
}

/// <summary>libpq's sslmode values.</summary>
public enum PgSslMode { Disable, Allow, Prefer, Require, VerifyCa, VerifyFull }
