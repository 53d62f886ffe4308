using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.RegularExpressions;
using Tomlyn;
using Tomlyn.Model;
using Tomlyn.Parsing;
using Tomlyn.Syntax;

namespace PgReplicateKafka.Configuration;

/// <summary>
/// Turns the TOML text into <see cref="ConfigValues"/>: syntax errors with positions (password
/// values masked), and unknown sections or keys rejected with the closest known name.
/// </summary>
internal static partial class TomlReader
{
    public static void Read(string toml, ConfigValues values) => ReadTables(ParseToml(toml, values.Source), values);

    /// <summary>How a found value appears in a message; secrets show only their type.</summary>
    public static string Describe(object? value, bool secret) => value switch
    {
        string s => secret ? "a string" : $"the string \"{s}\"",
        long l => secret ? "an integer" : $"the integer {l}",
        bool b => secret ? "a boolean" : $"the boolean {(b ? "true" : "false")}",
        double d => secret ? "a float" : $"the float {d.ToString(CultureInfo.InvariantCulture)}",
        TomlArray or IReadOnlyList<string> => "an array",
        TomlTable => "a table",
        _ => "a date/time",
    };

    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Deserializes only Tomlyn's own TomlTable, and the published binary roots Tomlyn whole (PgReplicateKafka.Cli.csproj)")]
    private static TomlTable ParseToml(string toml, string source)
    {
        // The syntax parser validates fully (duplicate keys included, which the serializer
        // silently lets the last one win); the serializer then gives the convenient model.
        var document = SyntaxParser.Parse(toml, source, validate: true);
        if (document.HasErrors)
        {
            throw SyntaxError(document.Diagnostics, source, toml);
        }

        try
        {
            return TomlSerializer.Deserialize<TomlTable>(toml, new TomlSerializerOptions { SourceName = source })!;
        }
        catch (TomlException ex)
        {
            throw SyntaxError(ex.Diagnostics, source, toml);
        }
    }

    private static ConfigException SyntaxError(DiagnosticsBag diagnostics, string source, string toml)
    {
        var errors = diagnostics
            .Where(d => d.Kind == DiagnosticMessageKind.Error)
            .Select(d => $"  {source}: line {d.Span.Start.Line + 1}, column {d.Span.Start.Column + 1}: {d.Message}");
        var message = $"{source} is not valid TOML:\n{string.Join('\n', errors)}\nFix the syntax at the position shown.";
        return new ConfigException(RedactPasswords(message, toml));
    }

    /// <summary>
    /// The parser quotes source text in some messages (a redefined key shows its first
    /// definition), so hide anything that looks like a password value from the file.
    /// </summary>
    private static string RedactPasswords(string message, string toml)
    {
        foreach (Match line in PasswordLine().Matches(toml))
        {
            // Both the literal as written and its content, whichever form the parser quoted.
            foreach (var secret in new[] { line.Groups["token"].Value, line.Groups["value"].Value }.Where(c => c.Length > 0))
            {
                message = message.Replace(secret, "***", StringComparison.Ordinal);
            }
        }

        return message;
    }

    private static void ReadTables(TomlTable root, ConfigValues values)
    {
        foreach (var (name, value) in root)
        {
            if (name == ConfigSchema.TablesSection)
            {
                ReadTableRules(value, values);
                continue;
            }

            if (!ConfigSchema.Sections.Contains(name))
            {
                throw new ConfigException(UnknownTopLevel(name, value, values.Source));
            }

            if (value is not TomlTable table)
            {
                throw new ConfigException(
                    $"[{name}] in {values.Source} must be a table (a '[{name}]' header followed by keys), but found {Describe(value, secret: false)}.");
            }

            foreach (var (keyName, keyValue) in table)
            {
                if (name == "kafka" && keyName == ConfigSchema.KafkaPropertiesKey)
                {
                    ReadKafkaProperties(keyValue, "", values);
                    continue;
                }

                var key = ConfigSchema.Find(name, keyName) ?? throw new ConfigException(UnknownKey(name, keyName, values.Source));
                values.Set(key, keyValue, envVar: null);
            }
        }
    }

    /// <summary><c>[[tables]]</c>: an array of tables, one per rule, numbered from 1 in file order.</summary>
    private static void ReadTableRules(object value, ConfigValues values)
    {
        if (value is not TomlTableArray entries)
        {
            throw new ConfigException(
                $"tables in {values.Source} must be an array of tables, one '[[tables]]' header per rule (two brackets), " +
                $"but found {Describe(value, secret: false)}{(value is TomlArray ? " (a list of table names to publish belongs under [postgres] tables)" : "")}. " +
                "See docs/configuration.md, per-table rules.");
        }

        var entry = 0;
        foreach (var table in entries)
        {
            entry++;
            foreach (var (keyName, keyValue) in table)
            {
                var key = ConfigSchema.FindTableKey(keyName, entry) ?? throw new ConfigException(UnknownKey(ConfigSchema.TablesSection, keyName, values.Source, $"[[tables]] #{entry}"));
                values.Set(key, keyValue, envVar: null);
            }
        }
    }

    private static string UnknownTopLevel(string name, object value, string source)
    {
        if (value is TomlTable)
        {
            var section = ConfigSchema.Closest(name, ConfigSchema.Sections);
            var hint = section is null ? "" : $" Did you mean [{section}]?";
            return $"Unknown section [{name}] in {source}.{hint} Known sections: {KnownSections()}.";
        }

        // A key above the first header is usually one that belongs in a section.
        var home = ConfigSchema.Keys.FirstOrDefault(k => k.Name == name);
        var where = home is null
            ? $" Known sections: {KnownSections()}."
            : $" Move it under [{home.Section}].";
        return $"Unknown key '{name}' at the top level of {source}: every key belongs in a section.{where}";
    }

    private static string UnknownKey(string section, string name, string source, string? where = null)
    {
        where ??= $"[{section}]";
        var closest = ConfigSchema.Closest(name, ConfigSchema.NamesIn(section));
        var hint = closest is null ? "" : $" Did you mean '{closest}'?";
        return $"Unknown key {where} {name} in {source}.{hint} Known keys in {where}: {string.Join(", ", ConfigSchema.NamesIn(section))}.";
    }

    private static string KnownSections() => string.Join(", ", ConfigSchema.Sections.Select(s => $"[{s}]"));

    /// <summary>
    /// librdkafka names contain dots, which TOML reads as nesting when unquoted
    /// (<c>linger.ms = 5</c>), so nested tables are flattened back into dotted names.
    /// </summary>
    private static void ReadKafkaProperties(object value, string prefix, ConfigValues values)
    {
        if (value is not TomlTable table)
        {
            throw new ConfigException(
                $"[kafka] properties in {values.Source} must be a table of librdkafka properties " +
                $"(a [kafka.properties] section), but found {Describe(value, secret: true)}.");
        }

        foreach (var (name, item) in table)
        {
            var property = prefix + name;
            if (item is TomlTable nested)
            {
                ReadKafkaProperties(nested, property + ".", values);
                continue;
            }

            values.SetProperty(property, item switch
            {
                string s => s,
                long l => l.ToString(CultureInfo.InvariantCulture),
                bool b => b ? "true" : "false",
                // Values are not echoed: properties such as sasl.password are secrets.
                _ => throw new ConfigException(
                    $"[kafka.properties] {property} in {values.Source} must be a string, integer or boolean, " +
                    $"but found {Describe(item, secret: true)}. Write it as a string if librdkafka expects another form."),
            }, envVar: null);
        }
    }

    [GeneratedRegex(@"^[ \t]*[""']?(?:password|salt)[""']?[ \t]*=[ \t]*(?<token>""(?<value>(?:[^""\\\r\n]|\\.)*)""|'(?<value>[^'\r\n]*)'|(?<value>[^\s#]+))", RegexOptions.Multiline)]
    private static partial Regex PasswordLine();
}
