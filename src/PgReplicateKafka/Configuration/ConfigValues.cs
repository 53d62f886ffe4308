using Tomlyn.Model;

namespace PgReplicateKafka.Configuration;

/// <summary>
/// Raw values gathered from the file and the environment, remembering where each came from so
/// that errors can say what to fix; the typed getters validate and report.
/// </summary>
internal sealed class ConfigValues(string source)
{
    private readonly Dictionary<ConfigKey, (object Value, string? EnvVar)> _values = [];

    public string Source { get; } = source;

    private readonly Dictionary<string, string> _properties = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _propertyEnvVars = new(StringComparer.Ordinal);

    /// <summary>Raw librdkafka properties, file first, then environment overrides.</summary>
    public IReadOnlyDictionary<string, string> Properties => _properties;

    /// <summary>The <c>[[tables]]</c> entries set from the file or the environment, by 1-based position.</summary>
    public SortedSet<int> TableEntries { get; } = [];

    public void Set(ConfigKey key, object value, string? envVar)
    {
        _values[key] = (value, envVar);
        if (key.Entry > 0)
        {
            TableEntries.Add(key.Entry);
        }
    }

    public void SetProperty(string property, string value, string? envVar)
    {
        _properties[property] = value;
        if (envVar is not null)
        {
            _propertyEnvVars[property] = envVar;
        }
    }

    /// <summary>The variable that set a property last, or null when it came from the file; errors name it.</summary>
    public string? PropertyEnvVar(string property) => _propertyEnvVars.GetValueOrDefault(property);

    /// <summary>Where a key's value came from, for messages.</summary>
    public string Origin(ConfigKey key) =>
        _values.TryGetValue(key, out var raw) && raw.EnvVar is not null
            ? $"from environment variable {raw.EnvVar}"
            : $"in {Source}";

    public ConfigException Error(ConfigKey key, string problem)
    {
        var fix = _values.TryGetValue(key, out var raw) && raw.EnvVar is not null
            ? $"Fix or unset environment variable {raw.EnvVar}."
            : $"Fix it in {Source} or override it with environment variable {key.EnvVar}.";
        return new ConfigException($"{key.Display} ({Origin(key)}) {problem}. {fix}");
    }

    public ConfigException Missing(ConfigKey key) =>
        new($"{key.Display} is required but not set. Add '{key.Name} = ...' under {(key.Entry == 0 ? $"[{key.Section}]" : $"entry #{key.Entry} of [[{key.Section}]]")} in {Source}, " +
            $"or set environment variable {key.EnvVar}.");

    public string? String(ConfigKey key) => Get(key) switch
    {
        null => null,
        string s => s,
        var other => throw WrongType(key, "a string", other),
    };

    public string? NonEmptyString(ConfigKey key)
    {
        var value = String(key);
        return value is "" ? throw Error(key, "must not be empty") : value;
    }

    public string RequiredString(ConfigKey key) => NonEmptyString(key) ?? throw Missing(key);

    public long? Integer(ConfigKey key, long min, long max)
    {
        var range = max == long.MaxValue ? $"an integer >= {min}" : $"an integer in {min}..{max}";
        return Get(key) switch
        {
            null => null,
            long l when l >= min && l <= max => l,
            var other => throw WrongType(key, range, other),
        };
    }

    public bool? Boolean(ConfigKey key) => Get(key) switch
    {
        null => null,
        bool b => b,
        var other => throw WrongType(key, "true or false", other),
    };

    public IReadOnlyList<string>? StringArray(ConfigKey key)
    {
        switch (Get(key))
        {
            case null:
                return null;
            case string[] fromEnvironment:
                return fromEnvironment;
            case TomlArray array:
                var items = new List<string>(array.Count);
                foreach (var item in array)
                {
                    items.Add(item as string ?? throw WrongType(key, "an array of strings", item, $"item {items.Count + 1} is"));
                }

                return items;
            case var other:
                throw WrongType(key, "an array of strings", other);
        }
    }

    /// <summary>One of a fixed set of names, mapped to its value; suggests the closest on a miss.</summary>
    public T? Choice<T>(ConfigKey key, params (string Name, T Value)[] choices)
        where T : struct
    {
        var text = String(key);
        if (text is null)
        {
            return null;
        }

        foreach (var (name, value) in choices)
        {
            if (name == text)
            {
                return value;
            }
        }

        var names = choices.Select(c => c.Name).ToArray();
        var closest = ConfigSchema.Closest(text, names);
        var hint = closest is null ? "" : $" (did you mean \"{closest}\"?)";
        throw Error(key, $"must be one of {string.Join(", ", names)}, but found \"{text}\"{hint}");
    }

    /// <summary>Whether the file or the environment set the key at all.</summary>
    public bool Has(ConfigKey key) => _values.ContainsKey(key);

    private object? Get(ConfigKey key) => _values.TryGetValue(key, out var raw) ? raw.Value : null;

    private ConfigException WrongType(ConfigKey key, string expected, object? found, string what = "found") =>
        Error(key, $"must be {expected}, but {what} {TomlReader.Describe(found, key.Secret)}");
}
