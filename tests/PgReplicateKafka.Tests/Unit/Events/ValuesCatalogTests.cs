using PgReplicateKafka.Events.Values;
using PgReplicateKafka.Source;
using static PgReplicateKafka.Events.Values.TypeCatalog;

namespace PgReplicateKafka.Tests.Unit.Events;

// pg_type rows as LoadAsync reads them; the database round trip itself is covered by an integration test.
public class ValuesCatalogTests
{
    private static readonly TypeRow[] Rows =
    [
        new(23, "int4", 'b', 0, 0, 'N', ',', 1007, "pg_catalog"),
        new(1007, "_int4", 'b', 0, 23, 'A', ',', 0, "pg_catalog"),
        new(21, "int2", 'b', 0, 0, 'N', ',', 1005, "pg_catalog"),
        new(22, "int2vector", 'b', 0, 21, 'A', ',', 1006, "pg_catalog"),
        new(603, "box", 'b', 0, 600, 'G', ';', 1020, "pg_catalog"),
        new(1020, "_box", 'b', 0, 603, 'A', ',', 0, "pg_catalog"),
        new(2205, "regclass", 'b', 0, 0, 'N', ',', 2210, "pg_catalog"),
        new(1700, "numeric", 'b', 0, 0, 'N', ',', 1231, "pg_catalog"),
        new(16_400, "hstore", 'b', 0, 0, 'U', ',', 16_405, "public"),
        new(16_405, "_hstore", 'b', 0, 16_400, 'A', ',', 0, "public"),
        new(16_410, "citext", 'b', 0, 0, 'S', ',', 16_411, "ext"),
        new(16_420, "mood", 'e', 0, 0, 'E', ',', 16_421, "public"),
        new(16_421, "_mood", 'b', 0, 16_420, 'A', ',', 0, "public"),
        new(16_430, "price", 'd', 16_431, 0, 'N', ',', 16_432, "public"),
        new(16_431, "amount", 'd', 1700, 0, 'N', ',', 0, "public"),
        new(16_432, "_price", 'b', 0, 16_430, 'A', ',', 0, "public"),
        new(16_440, "ints", 'd', 1007, 0, 'A', ',', 0, "public"),
        new(16_450, "pair", 'c', 0, 0, 'C', ',', 0, "public"),
    ];

    private static TypeCatalog Load()
    {
        var rows = new Dictionary<uint, TypeRow>();
        foreach (var row in Rows)
        {
            rows.Add(row.Oid, row);
        }

        return FromRows(rows);
    }

    [Theory]
    [InlineData(23u, PgTypeKind.Integer)]
    [InlineData(2205u, PgTypeKind.String)]
    [InlineData(16_400u, PgTypeKind.Hstore)]
    [InlineData(16_410u, PgTypeKind.String)]
    [InlineData(16_420u, PgTypeKind.String)]
    [InlineData(16_450u, PgTypeKind.String)]
    [InlineData(22u, PgTypeKind.String)]
    public void KindByType(uint oid, PgTypeKind kind) => Assert.Equal(kind, Load().Resolve(oid).Kind);

    [Fact]
    public void DomainsResolveToTheirBaseTypeRecursively()
    {
        var price = Load().Resolve(16_430);
        Assert.Equal(("price", "public", PgTypeKind.Numeric), (price.Name, price.Schema, price.Kind));
        Assert.Equal("\"12.30\"", ValuesWriterTests.Json(price, "12.30"));
    }

    [Fact]
    public void DomainOverArrayIsAnArray()
    {
        var ints = Load().Resolve(16_440);
        Assert.Equal(PgTypeKind.Array, ints.Kind);
        Assert.Equal("[[1],[2]]", ValuesWriterTests.Json(ints, "{{1},{2}}"));
    }

    [Fact]
    public void ArraysGetTheirElementAndItsDelimiter()
    {
        var catalog = Load();
        Assert.Same(catalog.Resolve(16_430), catalog.Resolve(16_432).Element);
        Assert.Same(catalog.Resolve(16_400), catalog.Resolve(16_405).Element);
        Assert.Equal("[\"happy\",null]", ValuesWriterTests.Json(catalog.Resolve(16_421), "{happy,NULL}"));
        Assert.Equal((byte)';', catalog.Resolve(1020).Delimiter);
    }

    [Fact]
    public void UnknownOidIsStringAsPrinted()
    {
        var catalog = Load();
        Assert.Equal(Rows.Length, catalog.Count);
        Assert.Same(PgType.Unknown, catalog.Resolve(99_999));
    }

    [Theory]
    [InlineData(1000u, 16u)]
    [InlineData(1005u, 21u)]
    [InlineData(1007u, 23u)]
    [InlineData(1009u, 25u)]
    [InlineData(1016u, 20u)]
    [InlineData(1182u, 1082u)]
    [InlineData(1185u, 1184u)]
    [InlineData(1231u, 1700u)]
    [InlineData(199u, 114u)]
    [InlineData(3807u, 3802u)]
    [InlineData(3221u, 3220u)]
    public void BuiltinArrays(uint arrayOid, uint elementOid) =>
        Assert.Same(Builtin.Resolve(elementOid), Builtin.Resolve(arrayOid).Element);

    [Fact]
    public void SessionOptionsPinEveryFormatTheConvertersReadAndParseAsNpgsqlOptions()
    {
        Assert.Equal(
            "-c DateStyle=ISO,YMD -c IntervalStyle=iso_8601 -c TimeZone=UTC -c extra_float_digits=1 -c bytea_output=hex -c client_encoding=UTF8 -c lc_monetary=C -c search_path=pg_catalog",
            PgSessionSettings.Options);
        Assert.Equal(PgSessionSettings.Options, new Npgsql.NpgsqlConnectionStringBuilder { Options = PgSessionSettings.Options }.Options);
    }
}
