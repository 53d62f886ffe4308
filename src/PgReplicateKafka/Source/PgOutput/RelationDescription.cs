namespace PgReplicateKafka.Source.PgOutput;

/// <summary>A column of pgoutput's RELATION message.</summary>
/// <param name="IsKey">Flagged as part of the replica identity (flag bit 1).</param>
public sealed record RelationColumn(string Name, uint TypeId, int TypeModifier, bool IsKey);

/// <summary>pgoutput's RELATION message: the table a change's relation id stands for, as of that change.</summary>
/// <param name="ReplicaIdentity">'d' default, 'n' nothing, 'f' full, 'i' index.</param>
public sealed record RelationDescription(uint RelationId, string Namespace, string Name, char ReplicaIdentity, RelationColumn[] Columns)
{
    public bool IdentityIsFull => ReplicaIdentity == 'f';

    /// <summary>Reads the message after its type byte.</summary>
    public static RelationDescription Read(ref PgOutputReader reader)
    {
        var id = reader.ReadUInt32();
        var schema = reader.ReadString();
        var name = reader.ReadString();
        var identity = (char)reader.ReadByte();
        var columns = new RelationColumn[reader.ReadInt16()];
        for (var i = 0; i < columns.Length; i++)
        {
            var flags = reader.ReadByte();
            var column = reader.ReadString();
            var type = reader.ReadUInt32();
            var modifier = reader.ReadInt32();
            columns[i] = new RelationColumn(column, type, modifier, (flags & 1) != 0);
        }

        return new RelationDescription(id, schema, name, identity, columns);
    }
}
