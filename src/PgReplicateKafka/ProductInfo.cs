using System.Reflection;

namespace PgReplicateKafka;

public static class ProductInfo
{
    /// <summary>The product version (from the build's Version property), e.g. "0.1.0".</summary>
    public static string Version { get; } =
        typeof(ProductInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? "0.0.0";
}
