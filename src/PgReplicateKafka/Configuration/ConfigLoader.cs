namespace PgReplicateKafka.Configuration;

/// <summary>
/// Reads the TOML configuration file, overlays <c>PGRK_&lt;SECTION&gt;_&lt;KEY&gt;</c> environment
/// variables, and validates the result. Every failure is a <see cref="ConfigException"/> that names
/// the key (and variable) and says what to do.
/// </summary>
public static class ConfigLoader
{
    /// <summary>Loads <paramref name="path"/>; <paramref name="environment"/> null means the process environment.</summary>
    public static ReplicatorConfig LoadFile(string path, IReadOnlyDictionary<string, string>? environment = null)
    {
        if (!File.Exists(path))
        {
            throw new ConfigException(
                $"Configuration file '{path}' does not exist. Pass --config FILE pointing at an existing file " +
                "(see config/example.toml for a template with every key).");
        }

        string toml;
        try
        {
            toml = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException(
                $"Configuration file '{path}' cannot be read: {ex.Message} Make it readable by this process.", ex);
        }

        return Parse(toml, path, environment);
    }

    /// <summary>
    /// Parses <paramref name="toml"/>; <paramref name="sourceName"/> names it in messages.
    /// <paramref name="environment"/> null means the process environment.
    /// </summary>
    public static ReplicatorConfig Parse(string toml, string sourceName, IReadOnlyDictionary<string, string>? environment = null)
    {
        var values = new ConfigValues(sourceName);
        TomlReader.Read(toml, values);
        EnvironmentOverlay.Apply(environment ?? EnvironmentOverlay.ProcessEnvironment(), values);
        return ReplicatorConfig.Build(values);
    }
}
