using System.Collections.Frozen;

namespace PgReplicateKafka.Events.Values;

/// <summary>Maps type OIDs to <see cref="PgType"/>; lookups are O(1) and never throw.</summary>
public sealed class TypeCatalog
{
    private readonly FrozenDictionary<uint, PgType> _types;

    private TypeCatalog(Dictionary<uint, PgType> types) => _types = types.ToFrozenDictionary();

    /// <summary>The pg_catalog types with fixed OIDs; enough without a database round trip.</summary>
    public static TypeCatalog Builtin { get; } = new(BuildBuiltin());

    public int Count => _types.Count;

    /// <summary>False for a type created after the catalog was loaded: time to reload.</summary>
    public bool Contains(uint oid) => _types.ContainsKey(oid);

    /// <summary>The type for <paramref name="oid"/>, or <see cref="PgType.Unknown"/> (written as printed).</summary>
    public PgType Resolve(uint oid) => _types.TryGetValue(oid, out var type) ? type : PgType.Unknown;

    /// <summary>Builds the catalog from pg_type rows (read by the source).</summary>
    public static TypeCatalog FromRows(Dictionary<uint, TypeRow> rows)
    {
        var types = new Dictionary<uint, PgType>(rows.Count);
        foreach (var oid in rows.Keys)
        {
            Build(oid, rows, types);
        }

        return new TypeCatalog(types);
    }

    private static PgType Build(uint oid, Dictionary<uint, TypeRow> rows, Dictionary<uint, PgType> types)
    {
        if (types.TryGetValue(oid, out var done))
        {
            return done;
        }

        if (!rows.TryGetValue(oid, out var row))
        {
            return Builtin.Resolve(oid);
        }

        PgType type;
        if (row.TypType == 'd')
        {
            // A domain prints as its base type; keep the domain's own identity.
            var baseType = Build(row.BaseType, rows, types);
            type = new PgType(oid, row.Name, baseType.Kind, baseType.Element, baseType.Delimiter, row.Schema);
        }
        else if (row.Category == 'A' && row.Element != 0 && rows.TryGetValue(row.Element, out var elementRow) && elementRow.ArrayType == oid)
        {
            type = new PgType(oid, row.Name, PgTypeKind.Array, Build(row.Element, rows, types), (byte)elementRow.Delimiter, row.Schema);
        }
        else
        {
            type = new PgType(oid, row.Name, KindOf(row), schema: row.Schema);
        }

        types[oid] = type;
        return type;
    }

    private static PgTypeKind KindOf(TypeRow row)
    {
        if (row.Schema == "pg_catalog")
        {
            return Builtin.Resolve(row.Oid).Kind;
        }

        // Extension types have no fixed OID; recognise them by name. citext and enums print as their text.
        return row.TypType == 'b' && row.Name == "hstore" ? PgTypeKind.Hstore : PgTypeKind.String;
    }

    private static Dictionary<uint, PgType> BuildBuiltin()
    {
        var types = new Dictionary<uint, PgType>();
        void Add(uint oid, string name, PgTypeKind kind, uint arrayOid, byte delimiter = (byte)',')
        {
            var type = new PgType(oid, name, kind);
            types.Add(oid, type);
            types.Add(arrayOid, new PgType(arrayOid, "_" + name, PgTypeKind.Array, type, delimiter));
        }

        Add(16, "bool", PgTypeKind.Bool, 1000);
        Add(17, "bytea", PgTypeKind.Bytea, 1001);
        Add(18, "char", PgTypeKind.String, 1002);
        Add(19, "name", PgTypeKind.String, 1003);
        Add(20, "int8", PgTypeKind.Integer, 1016);
        Add(21, "int2", PgTypeKind.Integer, 1005);
        Add(23, "int4", PgTypeKind.Integer, 1007);
        Add(25, "text", PgTypeKind.String, 1009);
        Add(26, "oid", PgTypeKind.Integer, 1028);
        Add(28, "xid", PgTypeKind.Integer, 1011);
        Add(114, "json", PgTypeKind.Json, 199);
        Add(142, "xml", PgTypeKind.String, 143);
        Add(600, "point", PgTypeKind.String, 1017);
        Add(601, "lseg", PgTypeKind.String, 1018);
        Add(602, "path", PgTypeKind.String, 1019);
        Add(603, "box", PgTypeKind.String, 1020, (byte)';');
        Add(604, "polygon", PgTypeKind.String, 1027);
        Add(628, "line", PgTypeKind.String, 629);
        Add(650, "cidr", PgTypeKind.String, 651);
        Add(700, "float4", PgTypeKind.Float, 1021);
        Add(701, "float8", PgTypeKind.Float, 1022);
        Add(718, "circle", PgTypeKind.String, 719);
        Add(774, "macaddr8", PgTypeKind.String, 775);
        Add(790, "money", PgTypeKind.String, 791);
        Add(829, "macaddr", PgTypeKind.String, 1040);
        Add(869, "inet", PgTypeKind.String, 1041);
        Add(1042, "bpchar", PgTypeKind.String, 1014);
        Add(1043, "varchar", PgTypeKind.String, 1015);
        Add(1082, "date", PgTypeKind.String, 1182);
        Add(1083, "time", PgTypeKind.String, 1183);
        Add(1114, "timestamp", PgTypeKind.Timestamp, 1115);
        Add(1184, "timestamptz", PgTypeKind.TimestampTz, 1185);
        Add(1186, "interval", PgTypeKind.String, 1187);
        Add(1266, "timetz", PgTypeKind.TimeTz, 1270);
        Add(1560, "bit", PgTypeKind.String, 1561);
        Add(1562, "varbit", PgTypeKind.String, 1563);
        Add(1700, "numeric", PgTypeKind.Numeric, 1231);
        Add(2950, "uuid", PgTypeKind.String, 2951);
        Add(3220, "pg_lsn", PgTypeKind.String, 3221);
        Add(3614, "tsvector", PgTypeKind.String, 3643);
        Add(3615, "tsquery", PgTypeKind.String, 3645);
        Add(3802, "jsonb", PgTypeKind.Json, 3807);
        Add(3904, "int4range", PgTypeKind.String, 3905);
        Add(3906, "numrange", PgTypeKind.String, 3907);
        Add(3908, "tsrange", PgTypeKind.String, 3909);
        Add(3910, "tstzrange", PgTypeKind.String, 3911);
        Add(3912, "daterange", PgTypeKind.String, 3913);
        Add(3926, "int8range", PgTypeKind.String, 3927);
        return types;
    }

    public readonly record struct TypeRow(
        uint Oid, string Name, char TypType, uint BaseType, uint Element, char Category, char Delimiter, uint ArrayType, string Schema);
}
