namespace PgReplicateKafka.Source;

/// <summary>Quoting of identifiers for SQL text (parameters cannot stand for names).</summary>
public static class SqlNames
{
    public static string QuoteIdentifier(string name) => "\"" + name.Replace("\"", "\"\"") + "\"";

    /// <summary>Quotes "schema.table" or "table" (then in schema public) for SQL.</summary>
    public static string QuoteTable(string qualifiedName)
    {
        var dot = qualifiedName.IndexOf('.');
        return dot < 0
            ? QuoteIdentifier("public") + "." + QuoteIdentifier(qualifiedName)
            : QuoteIdentifier(qualifiedName[..dot]) + "." + QuoteIdentifier(qualifiedName[(dot + 1)..]);
    }
}
