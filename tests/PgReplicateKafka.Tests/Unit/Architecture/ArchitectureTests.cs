using System.Reflection;
using NetArchTest.Rules;
using PgReplicateKafka.Configuration;

namespace PgReplicateKafka.Tests.Unit.Architecture;

/// <summary>
/// The layering of docs/architecture.md, checked: Configuration → Events → Source | Sink → Preflight →
/// Pipeline → Operations, and nothing of the embedded test infrastructure in the product.
/// </summary>
public class ArchitectureTests
{
    private static readonly Assembly Product = typeof(ReplicatorConfig).Assembly;

    private const string Root = "PgReplicateKafka";

    private static void AssertNoDependency(string layer, params string[] forbidden)
    {
        var result = Types.InAssembly(Product).That().ResideInNamespace($"{Root}.{layer}").ShouldNot().HaveDependencyOnAny(forbidden).GetResult();
        Assert.True(result.IsSuccessful,
            $"{layer} must not depend on {string.Join(", ", forbidden)}, but these types do: {string.Join(", ", result.FailingTypeNames ?? [])}");
    }

    [Fact]
    public void Configuration_depends_on_no_other_layer() =>
        AssertNoDependency("Configuration", $"{Root}.Events", $"{Root}.Source", $"{Root}.Sink", $"{Root}.Preflight", $"{Root}.Pipeline", $"{Root}.Operations", $"{Root}.Metrics", "Npgsql", "Confluent.Kafka");

    [Fact]
    public void Events_is_pure_text_to_json_without_connections() =>
        AssertNoDependency("Events", "Npgsql", "NpgsqlTypes", "Confluent.Kafka", $"{Root}.Source", $"{Root}.Sink", $"{Root}.Preflight", $"{Root}.Pipeline", $"{Root}.Operations", $"{Root}.Metrics");

    [Fact]
    public void Source_knows_nothing_of_kafka_or_the_pipeline() =>
        AssertNoDependency("Source", "Confluent.Kafka", $"{Root}.Sink", $"{Root}.Preflight", $"{Root}.Pipeline", $"{Root}.Operations", $"{Root}.Metrics");

    [Fact]
    public void Sink_knows_nothing_of_postgresql_or_the_pipeline() =>
        AssertNoDependency("Sink", "Npgsql", "NpgsqlTypes", $"{Root}.Source", $"{Root}.Preflight", $"{Root}.Pipeline", $"{Root}.Operations", $"{Root}.Metrics");

    [Fact]
    public void Preflight_runs_below_the_pipeline() =>
        AssertNoDependency("Preflight", $"{Root}.Pipeline", $"{Root}.Operations", $"{Root}.Metrics");

    [Fact]
    public void Pipeline_does_not_reach_up_to_the_commands() => AssertNoDependency("Pipeline", $"{Root}.Operations");

    [Fact]
    public void Metrics_only_observe() =>
        AssertNoDependency("Metrics", $"{Root}.Source", $"{Root}.Sink", $"{Root}.Preflight", $"{Root}.Pipeline", $"{Root}.Operations");

    [Fact]
    public void The_product_library_never_references_the_embedded_test_infrastructure()
    {
        Assert.DoesNotContain(Product.GetReferencedAssemblies(), a => a.Name == "PgReplicateKafka.Embedded");
        var result = Types.InAssembly(Product).ShouldNot().HaveDependencyOn($"{Root}.Embedded").GetResult();
        Assert.True(result.IsSuccessful, $"product types depend on Embedded: {string.Join(", ", result.FailingTypeNames ?? [])}");
    }

    [Fact]
    public void Library_files_stay_short_unless_they_say_why()
    {
        var library = Path.Combine(RepositoryRoot(), "src", "PgReplicateKafka");
        var tooLong = Directory.EnumerateFiles(library, "*.cs", SearchOption.AllDirectories)
            .Where(path => !path.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(path => (Path: Path.GetRelativePath(library, path), Lines: File.ReadAllLines(path)))
            .Where(file => file.Lines.Length > 320 && !file.Lines.Take(5).Any(line => line.StartsWith("// Longer than", StringComparison.Ordinal)))
            .Select(file => $"{file.Path} ({file.Lines.Length} lines)")
            .ToList();
        Assert.True(tooLong.Count == 0, $"split these files, or say at the top why they are long (\"// Longer than …\"): {string.Join(", ", tooLong)}");
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PgReplicateKafka.slnx")))
                return dir.FullName;
        }

        throw new InvalidOperationException("PgReplicateKafka.slnx not found above " + AppContext.BaseDirectory);
    }
}
