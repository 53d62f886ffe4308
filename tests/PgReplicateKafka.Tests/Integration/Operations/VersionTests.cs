namespace PgReplicateKafka.Tests.Integration.Operations;

/// <summary>The real executable's --version: the release version alone, for scripts and bug reports.</summary>
public class VersionTests
{
    [Fact]
    public async Task VersionPrintsTheBareReleaseVersion()
    {
        var (exitCode, output) = await CliProcess.RunAsync(["--version"], TimeSpan.FromSeconds(30));

        Assert.Equal(0, exitCode);
        // Exactly the version line: no "+<git commit>" suffix, nothing else on stdout or stderr.
        Assert.Equal("0.1.0" + Environment.NewLine, output);
        Assert.Equal("0.1.0", ProductInfo.Version);
    }
}
