using System.Diagnostics;
using System.Text;

namespace PgReplicateKafka.Bench;

/// <summary>
/// The replicator under test, <c>pg-replicate-kafka run</c>, as a child process: its CPU time and
/// peak RSS are then its own, not mixed with the harness's broker and clients.
/// </summary>
internal sealed class ReplicatorProcess : IDisposable
{
    // The line Replicator logs once the replication stream is starting: its start-up is over.
    private const string ReadyMarker = "Streaming publication";

    private readonly Process _process;
    private readonly string _configFile;
    private readonly StringBuilder _output = new();
    private readonly TextWriter? _log;
    private readonly TaskCompletionSource<TimeSpan> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<(DateTime At, double Cpu)> _cpuSamples = [];
    private readonly CancellationTokenSource _stopSampling = new();
    private bool _disposed;

    private ReplicatorProcess(Process process, string configFile, Stopwatch clock, TextWriter? log)
    {
        _process = process;
        _configFile = configFile;
        _log = log;
        process.ErrorDataReceived += (_, e) => OnLine(e.Data, clock);
        process.OutputDataReceived += (_, e) => OnLine(e.Data, clock);
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        _ = SampleCpuAsync();
    }

    /// <summary>When the replicator reported it is streaming, on the caller's clock.</summary>
    public Task<TimeSpan> Ready => _ready.Task;

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    /// <summary>
    /// Starts the replicator on <paramref name="config"/> (TOML text): the build next to the harness, or the
    /// executable <see cref="BenchOptions.Replicator"/> names, with <see cref="BenchOptions.ReplicatorEnvironment"/>
    /// added; times are read from <paramref name="clock"/>.
    /// </summary>
    public static ReplicatorProcess Start(string config, BenchOptions options, Stopwatch clock, TextWriter? log)
    {
        var configFile = Path.Combine(Path.GetTempPath(), $"pgrk-bench-{Guid.NewGuid():N}.toml");
        File.WriteAllText(configFile, config);
        var info = new ProcessStartInfo(options.Replicator ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (options.Replicator is null)
            info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "pg-replicate-kafka.dll"));
        foreach (var arg in (string[])["run", "--config", configFile])
            info.ArgumentList.Add(arg);
        foreach (var (name, value) in options.ReplicatorEnvironment)
            info.Environment[name] = value;
        return new ReplicatorProcess(Process.Start(info)!, configFile, clock, log);
    }

    /// <summary>User plus system CPU time the process has used so far.</summary>
    public double CpuSeconds() => ProcessCpu.Seconds(_process.Id);

    /// <summary>CPU seconds and peak RSS bytes now; false once the process is gone.</summary>
    public bool TrySample(out double cpuSeconds, out long peakRssBytes)
    {
        try
        {
            cpuSeconds = CpuSeconds();
            peakRssBytes = PeakRssBytes();
            return true;
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            (cpuSeconds, peakRssBytes) = (0, 0);
            return false;
        }
    }

    public int ExitCode => _process.ExitCode;

    /// <summary>Peak resident set size so far (VmHWM), in bytes.</summary>
    public long PeakRssBytes() => ProcessCpu.PeakRssBytes(_process.Id);

    /// <summary>
    /// CPU time used up to <paramref name="utc"/>, from samples taken every 10 ms: the replicator's
    /// CPU over a window that began before the harness learnt of it (its START_REPLICATION).
    /// </summary>
    public double CpuSecondsAt(DateTime utc)
    {
        lock (_cpuSamples)
        {
            var cpu = 0.0;
            foreach (var (at, seconds) in _cpuSamples)
            {
                if (at > utc)
                    break;
                cpu = seconds;
            }

            return cpu;
        }
    }

    /// <summary>Fails with the replicator's output if it has exited.</summary>
    public void ThrowIfExited()
    {
        if (_process.HasExited)
            throw new InvalidOperationException($"the replicator exited with code {_process.ExitCode}:\n{Output}");
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _stopSampling.Cancel();

        // Measurements are taken before this; a graceful stop would only add waiting.
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
        _process.Dispose();
        File.Delete(_configFile);
    }

    private async Task SampleCpuAsync()
    {
        try
        {
            while (!_process.HasExited)
            {
                var sample = (DateTime.UtcNow, CpuSeconds());
                lock (_cpuSamples)
                    _cpuSamples.Add(sample);
                await Task.Delay(10, _stopSampling.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException)
        {
            // Stopped, or the process is gone: the samples so far are all there is.
        }
    }

    private void OnLine(string? line, Stopwatch clock)
    {
        if (line is null)
            return;
        if (line.Contains(ReadyMarker, StringComparison.Ordinal))
            _ready.TrySetResult(clock.Elapsed);
        lock (_output)
        {
            _output.AppendLine(line);
            _log?.WriteLine(line);
        }
    }
}
