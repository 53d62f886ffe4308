using System.Diagnostics;
using System.Globalization;
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
    }

    /// <summary>When the replicator reported it is streaming, on the caller's clock.</summary>
    public Task<TimeSpan> Ready => _ready.Task;

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    /// <summary>Starts the replicator on <paramref name="config"/> (TOML text); times are read from <paramref name="clock"/>.</summary>
    public static ReplicatorProcess Start(string config, Stopwatch clock, TextWriter? log)
    {
        var configFile = Path.Combine(Path.GetTempPath(), $"pgrk-bench-{Guid.NewGuid():N}.toml");
        File.WriteAllText(configFile, config);
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])[Path.Combine(AppContext.BaseDirectory, "pg-replicate-kafka.dll"), "run", "--config", configFile])
            info.ArgumentList.Add(arg);
        return new ReplicatorProcess(Process.Start(info)!, configFile, clock, log);
    }

    /// <summary>User plus system CPU time the process has used so far.</summary>
    public double CpuSeconds()
    {
        // /proc/<pid>/stat: fields after the parenthesised command name; utime and stime are the 12th and 13th.
        var stat = File.ReadAllText($"/proc/{_process.Id}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return ticks / (double)ClockTicksPerSecond;
    }

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
    public long PeakRssBytes()
    {
        var line = File.ReadLines($"/proc/{_process.Id}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
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

        // Measurements are taken before this; a graceful stop would only add waiting.
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
        _process.Dispose();
        File.Delete(_configFile);
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

    // USER_HZ, which /proc reports CPU times in; 100 on every Linux architecture .NET runs on.
    private const int ClockTicksPerSecond = 100;
}
