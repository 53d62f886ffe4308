using Microsoft.Extensions.Logging;
using PgReplicateKafka.Events;

namespace PgReplicateKafka.Source.PgOutput;

/// <summary>The tables of one stream by relation id, as its RELATION messages last described them.</summary>
internal sealed class RelationTables(SourceState state, ILogger logger)
{
    private readonly Dictionary<uint, TableInfo> _tables = [];

    public TableInfo this[uint relationId] =>
        _tables.TryGetValue(relationId, out var table)
            ? table
            : throw new InvalidOperationException($"pgoutput sent a change for relation {relationId} before describing it");

    /// <summary>
    /// Builds the table description from pgoutput's RELATION message. The message key is the primary
    /// key when the table has one and REPLICA IDENTITY FULL (which flags every column); otherwise the
    /// columns pgoutput flags as replica identity, because those are the ones an old row carries.
    /// </summary>
    public async Task DescribeAsync(RelationDescription relation, CancellationToken ct)
    {
        var types = await state.TypesIncludingAsync(state.Catalog, [.. relation.Columns.Select(c => c.TypeId)], logger, ct);
        var columns = new ColumnInfo[relation.Columns.Length];
        for (var i = 0; i < columns.Length; i++)
        {
            var column = relation.Columns[i];
            columns[i] = new ColumnInfo(column.Name, types.Resolve(column.TypeId), column.IsKey, column.TypeModifier);
        }

        var full = relation.IdentityIsFull;
        var keyNames = full ? await PostgresCatalog.PrimaryKeyAsync(state.Catalog, relation.RelationId, ct) : [];
        var key = new List<int>();
        for (var i = 0; i < columns.Length; i++)
        {
            if (keyNames.Count > 0 ? keyNames.Contains(columns[i].Name) : columns[i].IsReplicaIdentity)
                key.Add(i);
        }

        logger.LogDebug("Table {Schema}.{Table} is relation {Id}", relation.Namespace, relation.Name, relation.RelationId);
        _tables[relation.RelationId] = new TableInfo(relation.RelationId, relation.Namespace, relation.Name, columns, full, [.. key]);
    }
}
