using System.Text;

namespace PgReplicateKafka.Configuration;

/// <summary>
/// The <c>match</c> of a per-table rule: <c>schema.table</c>, each part either a glob (<c>*</c> any run of
/// characters, <c>?</c> one character, anything else itself) or a double-quoted name matched exactly
/// (<c>""</c> for a quote), for names holding dots, quotes or wildcard characters. Names compare as stored
/// in the catalog, case-sensitively.
/// </summary>
public sealed class TablePattern
{
    private readonly Part _schema;
    private readonly Part _table;

    private TablePattern(string text, Part schema, Part table)
    {
        Text = text;
        _schema = schema;
        _table = table;
    }

    /// <summary>The pattern as written.</summary>
    public string Text { get; }

    /// <summary>No wildcard on either side: the rule names one table, which must exist.</summary>
    public bool IsExact => !_schema.IsGlob && !_table.IsGlob;

    public bool Matches(string schema, string table) => _schema.Matches(schema) && _table.Matches(table);

    /// <summary>Parses <paramref name="text"/>; null with the problem in <paramref name="error"/> when it is malformed.</summary>
    public static TablePattern? TryParse(string text, out string error)
    {
        var position = 0;
        if (ReadPart(text, ref position, out var schema, out error) && Expect(text, ref position, out error) &&
            ReadPart(text, ref position, out var table, out error))
        {
            if (position == text.Length)
                return new TablePattern(text, schema, table);
            error = $"unexpected text after the table name at character {position + 1}";
        }

        return null;
    }

    private static bool Expect(string text, ref int position, out string error)
    {
        error = "";
        if (position < text.Length && text[position] == '.')
        {
            position++;
            return true;
        }

        error = "must be schema.table (each part a name, a glob with * and ?, or a \"quoted\" name)";
        return false;
    }

    private static bool ReadPart(string text, ref int position, out Part part, out string error)
    {
        part = default;
        error = "";
        var name = new StringBuilder();
        if (position < text.Length && text[position] == '"')
        {
            position++;
            while (true)
            {
                if (position >= text.Length)
                {
                    error = "has a quoted name without its closing quote";
                    return false;
                }

                if (text[position] == '"')
                {
                    if (position + 1 < text.Length && text[position + 1] == '"')
                    {
                        name.Append('"');
                        position += 2;
                        continue;
                    }

                    position++;
                    break;
                }

                name.Append(text[position++]);
            }

            part = new Part(name.ToString(), IsGlob: false);
        }
        else
        {
            while (position < text.Length && text[position] is not '.' and not '"')
                name.Append(text[position++]);
            part = new Part(name.ToString(), IsGlob: name.ToString().AsSpan().IndexOfAny('*', '?') >= 0);
        }

        if (name.Length == 0)
        {
            error = "must be schema.table with both parts non-empty";
            return false;
        }

        return true;
    }

    private readonly record struct Part(string Text, bool IsGlob)
    {
        public bool Matches(string name) => IsGlob ? Glob(Text, name) : Text == name;

        // Iterative wildcard matching: on a mismatch, the last * takes one more character.
        private static bool Glob(string pattern, string name)
        {
            int p = 0, n = 0, star = -1, resume = 0;
            while (n < name.Length)
            {
                if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == name[n]) && pattern[p] != '*')
                {
                    p++;
                    n++;
                }
                else if (p < pattern.Length && pattern[p] == '*')
                {
                    star = p++;
                    resume = n;
                }
                else if (star >= 0)
                {
                    p = star + 1;
                    n = ++resume;
                }
                else
                {
                    return false;
                }
            }

            while (p < pattern.Length && pattern[p] == '*')
                p++;
            return p == pattern.Length;
        }
    }
}
