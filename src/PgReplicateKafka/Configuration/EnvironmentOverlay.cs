using System.Collections;
using System.Globalization;
using System.Text.RegularExpressions;

namespace PgReplicateKafka.Configuration;

/// <summary>
/// Applies <c>PGRK_&lt;SECTION&gt;_&lt;KEY&gt;</c> and <c>PGRK_KAFKA_PROPERTIES_&lt;NAME&gt;</c> variables
/// over the file's values, converting each to its key's type; a <c>PGRK_</c> name matching no key is an error.
/// </summary>
internal static partial class EnvironmentOverlay
{
    public static Dictionary<string, string> ProcessEnvironment()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            result[(string)entry.Key] = (string?)entry.Value ?? "";
        }

        return result;
    }

    public static void Apply(IReadOnlyDictionary<string, string> environment, ConfigValues values)
    {
        // Sorted so that, with several bad variables, the same one is reported every run.
        foreach (var (name, text) in environment.Where(e => e.Key.StartsWith(ConfigSchema.EnvPrefix, StringComparison.Ordinal))
                     .OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            if (name.StartsWith(ConfigSchema.TestEnvPrefix, StringComparison.Ordinal))
            {
                continue;
            }

            if (name.StartsWith(ConfigSchema.KafkaPropertiesEnvPrefix, StringComparison.Ordinal))
            {
                var property = name[ConfigSchema.KafkaPropertiesEnvPrefix.Length..].ToLowerInvariant().Replace('_', '.');
                if (property.Length == 0)
                {
                    throw new ConfigException(
                        $"Environment variable {name} names no Kafka property. Append the property name with dots " +
                        "written as underscores, e.g. PGRK_KAFKA_PROPERTIES_SASL_USERNAME for sasl.username, or unset it.");
                }

                values.SetProperty(property, text, name);
                continue;
            }

            var key = ConfigSchema.Keys.FirstOrDefault(k => k.EnvVar == name) ?? TableKey(name);
            if (key is null)
            {
                var closest = ConfigSchema.Closest(name, ConfigSchema.Keys.Select(k => k.EnvVar));
                var hint = closest is null ? "" : $" Did you mean {closest}?";
                throw new ConfigException(
                    $"Environment variable {name} matches no configuration key.{hint} Variables starting with " +
                    $"{ConfigSchema.EnvPrefix} must name a key as {ConfigSchema.EnvPrefix}<SECTION>_<KEY> " +
                    $"or {ConfigSchema.EnvPrefix}TABLES_<n>_<KEY> for entry n of [[tables]] (see docs/configuration.md); rename or unset it. ({ConfigSchema.TestEnvPrefix}* is reserved for tests and ignored.)");
            }

            values.Set(key, Convert(key, name, text), name);
        }
    }

    /// <summary>PGRK_TABLES_&lt;n&gt;_&lt;KEY&gt;: key KEY of the n-th [[tables]] entry (1-based; a new n adds an entry).</summary>
    private static ConfigKey? TableKey(string name)
    {
        var match = TableVariable().Match(name);
        if (!match.Success || !int.TryParse(match.Groups["entry"].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var entry) || entry is < 1 or > 10_000)
        {
            return null;
        }

        return ConfigSchema.FindTableKey(match.Groups["key"].Value.ToLowerInvariant(), entry);
    }

    [GeneratedRegex("^PGRK_TABLES_(?<entry>[0-9]+)_(?<key>[A-Z_]+)$")]
    private static partial Regex TableVariable();

    private static object Convert(ConfigKey key, string name, string text)
    {
        switch (key.Kind)
        {
            case ConfigValueKind.Integer:
                if (long.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
                {
                    return number;
                }

                break;
            case ConfigValueKind.Boolean:
                if (bool.TryParse(text.Trim(), out var flag))
                {
                    return flag;
                }

                break;
            case ConfigValueKind.StringArray:
                return text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            default:
                return text;
        }

        var expected = key.Kind == ConfigValueKind.Integer ? "an integer" : "true or false";
        throw new ConfigException(
            $"Environment variable {name} sets {key.Display}, which must be {expected}, but found \"{text}\". " +
            $"Fix or unset {name}.");
    }
}
