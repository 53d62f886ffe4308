using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Npgsql;

namespace PgReplicateKafka.Embedded;

/// <summary>
/// A throwaway PostgreSQL cluster in a temp dir, on a free loopback port, set up for logical replication.
/// Used by the CLI's <c>demo</c> command and by the tests.
/// </summary>
public sealed class TempPostgresCluster : IAsyncDisposable
{
    internal const string DirPrefix = "pgrk-pg-";
    private const string OwnerFile = "owner.pid";
    private const string InstallHint = "install postgresql-15: apt-get install -y postgresql-15";
    private const int PortAttempts = 5;

    // Clusters still running, stopped on process exit so a test run that never disposes leaves no postmaster.
    private static readonly ConcurrentDictionary<TempPostgresCluster, byte> Live = new();
    private static int _exitHookInstalled;
    private static int _swept;

    private readonly string _rootDir;
    private readonly bool _asPostgresUser;
    private readonly string _logFile;
    private int _disposed;

    private TempPostgresCluster(string binDir, string rootDir, bool asPostgresUser, string password)
    {
        BinDir = binDir;
        _rootDir = rootDir;
        _asPostgresUser = asPostgresUser;
        Password = password;
        DataDirectory = Path.Combine(rootDir, "data");
        _logFile = Path.Combine(rootDir, "postgres.log");
    }

    public string Host => "127.0.0.1";

    public int Port { get; private set; }

    public string Username => "postgres";

    public string Password { get; }

    public string DataDirectory { get; }

    public string BinDir { get; }

    /// <summary>How long <see cref="StartAsync"/> took, initdb included.</summary>
    public TimeSpan StartupTime { get; private set; }

    public string ConnectionString(string database = "postgres") => new NpgsqlConnectionStringBuilder
    {
        Host = Host,
        Port = Port,
        Username = Username,
        Password = Password,
        Database = database,
    }.ConnectionString;

    public static async Task<TempPostgresCluster> StartAsync(TempPostgresOptions? options = null, CancellationToken ct = default)
    {
        options ??= new TempPostgresOptions();
        var stopwatch = Stopwatch.StartNew();
        var binDir = await ResolveBinDirAsync(options.BinDir, ct);
        InstallExitHook();
        if (Interlocked.Exchange(ref _swept, 1) == 0)
        {
            await SweepStaleAsync(binDir);
        }

        var rootDir = Path.Combine(Path.GetTempPath(), DirPrefix + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(rootDir);
        // Written first: the sweep of a later run deletes dirs whose owner process is gone.
        await File.WriteAllTextAsync(Path.Combine(rootDir, OwnerFile), Environment.ProcessId.ToString(CultureInfo.InvariantCulture), ct);
        var cluster = new TempPostgresCluster(binDir, rootDir, IsRoot(), options.Password);
        try
        {
            await cluster.InitAsync(options, ct);
            Live[cluster] = 0;
            await cluster.StartOnFreePortAsync(ct);
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }

        cluster.StartupTime = stopwatch.Elapsed;
        return cluster;
    }

    public Task CreateDatabaseAsync(string name) =>
        ExecuteAsync($"CREATE DATABASE \"{name.Replace("\"", "\"\"", StringComparison.Ordinal)}\"");

    public async Task ExecuteAsync(string sql, string database = "postgres")
    {
        await using var connection = await OpenAsync(database);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    public async Task<T?> ScalarAsync<T>(string sql, string database = "postgres")
    {
        await using var connection = await OpenAsync(database);
        await using var command = new NpgsqlCommand(sql, connection);
        var result = await command.ExecuteScalarAsync();
        return result switch
        {
            null or DBNull => default,
            T value => value,
            _ => (T)Convert.ChangeType(result, Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T), CultureInfo.InvariantCulture),
        };
    }

    /// <summary>pg_ctl restart; <paramref name="mode"/> is smart, fast or immediate (a crash, then recovery).</summary>
    public Task RestartAsync(string mode = "fast") =>
        PgCtlAsync(["restart", "-m", CheckMode(mode), "-l", _logFile], CancellationToken.None);

    public Task StopAsync(string mode = "fast") => PgCtlAsync(["stop", "-m", CheckMode(mode)], CancellationToken.None);

    /// <summary>Starts the cluster again after <see cref="StopAsync"/>, on the same port.</summary>
    public Task StartAgainAsync() => PgCtlAsync(["start", "-l", _logFile], CancellationToken.None);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Live.TryRemove(this, out _);
        await StopAndDeleteAsync(BinDir, _rootDir, _asPostgresUser);
    }

    /// <summary>
    /// Removes temp dirs of runs whose process is gone (crashed or killed), stopping their postmasters.
    /// Live dirs of other processes, e.g. parallel test runs, are left alone.
    /// </summary>
    internal static async Task SweepStaleAsync(string binDir)
    {
        foreach (var dir in Directory.EnumerateDirectories(Path.GetTempPath(), DirPrefix + "*"))
        {
            try
            {
                var ownerFile = Path.Combine(dir, OwnerFile);
                var stale = File.Exists(ownerFile)
                    ? !Directory.Exists("/proc/" + (await File.ReadAllTextAsync(ownerFile)).Trim())
                    : Directory.GetLastWriteTimeUtc(dir) < DateTime.UtcNow.AddMinutes(-10); // not one being created
                if (stale)
                {
                    await StopAndDeleteAsync(binDir, dir, IsRoot());
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Another run may be sweeping the same dir; a stale dir must never fail a start.
            }
        }
    }

    private static async Task StopAndDeleteAsync(string binDir, string rootDir, bool asPostgresUser)
    {
        var dataDir = Path.Combine(rootDir, "data");
        if (File.Exists(Path.Combine(dataDir, "postmaster.pid")))
        {
            try
            {
                await RunAsync(Path.Combine(binDir, "pg_ctl"), ["stop", "-D", dataDir, "-m", "immediate", "-w", "-t", "30"], asPostgresUser, rootDir, CancellationToken.None);
            }
            catch (PostgresSetupException)
            {
                // Already stopped, e.g. crashed; deleting the dir is all that is left.
            }
        }

        if (Directory.Exists(rootDir))
        {
            Directory.Delete(rootDir, recursive: true);
        }
    }

    private static void InstallExitHook()
    {
        if (Interlocked.Exchange(ref _exitHookInstalled, 1) == 0)
        {
            AppDomain.CurrentDomain.ProcessExit += (_, _) =>
            {
                foreach (var cluster in Live.Keys)
                {
                    cluster.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(10));
                }
            };
        }
    }

    private async Task InitAsync(TempPostgresOptions options, CancellationToken ct)
    {
        var pwFile = Path.Combine(_rootDir, "pwfile");
        await File.WriteAllTextAsync(pwFile, options.Password + "\n", ct);
        var socketDir = Directory.CreateDirectory(Path.Combine(_rootDir, "sock")).FullName;
        if (_asPostgresUser)
        {
            await RunAsync("chown", ["-R", "postgres:", _rootDir], asPostgresUser: false, _rootDir, ct);
        }

        // --no-sync: a throwaway cluster needs no durability, and fsync is most of initdb's time.
        await RunAsync(Path.Combine(BinDir, "initdb"),
            ["-D", DataDirectory, "-U", Username, "--pwfile=" + pwFile, "--auth-host=scram-sha-256", "--auth-local=trust",
             "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"],
            _asPostgresUser, _rootDir, ct);
        File.Delete(pwFile);

        // initdb's pg_hba.conf already allows "host all" and "host replication" from 127.0.0.1 with scram-sha-256.
        var settings = new Dictionary<string, string>
        {
            ["listen_addresses"] = "127.0.0.1",
            ["unix_socket_directories"] = socketDir,
            ["wal_level"] = "logical",
            ["max_replication_slots"] = "20",
            ["max_wal_senders"] = "20",
            // Speed over durability: the cluster is thrown away.
            ["fsync"] = "off",
            // Not off: that loses acknowledged commits on RestartAsync("immediate"), which crash tests use, and
            // with fsync off a synchronous commit costs only a write() to the page cache.
            ["synchronous_commit"] = "on",
            ["full_page_writes"] = "off",
            ["shared_buffers"] = "128MB",
            ["max_connections"] = "200",
            ["timezone"] = options.TimeZone,
            ["log_timezone"] = options.TimeZone,
        };
        foreach (var (name, value) in options.ExtraSettings)
        {
            settings[name] = value;
        }

        await AppendSettingsAsync(settings, ct);
    }

    private async Task StartOnFreePortAsync(CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            // Another process can take the port between probing and binding; the log tells, then retry.
            Port = FreePort();
            await AppendSettingsAsync(new Dictionary<string, string> { ["port"] = Port.ToString(CultureInfo.InvariantCulture) }, ct);
            var logStart = File.Exists(_logFile) ? new FileInfo(_logFile).Length : 0;
            try
            {
                await PgCtlAsync(["start", "-l", _logFile], ct);
                return;
            }
            catch (PostgresSetupException) when (attempt < PortAttempts && PortWasTaken(logStart))
            {
            }
        }
    }

    private bool PortWasTaken(long logStart)
    {
        using var stream = new FileStream(_logFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        stream.Seek(logStart, SeekOrigin.Begin);
        var text = new StreamReader(stream).ReadToEnd();
        return text.Contains("could not bind", StringComparison.Ordinal) ||
               text.Contains("could not create any TCP/IP sockets", StringComparison.Ordinal);
    }

    // Appends to postgresql.conf, where a later line wins over an earlier one; appending keeps the file's owner.
    private Task AppendSettingsAsync(IReadOnlyDictionary<string, string> settings, CancellationToken ct)
    {
        var text = new StringBuilder();
        foreach (var (name, value) in settings)
        {
            text.Append(CultureInfo.InvariantCulture, $"{name} = '{value.Replace("'", "''", StringComparison.Ordinal)}'\n");
        }

        return File.AppendAllTextAsync(Path.Combine(DataDirectory, "postgresql.conf"), text.ToString(), ct);
    }

    private async Task PgCtlAsync(IReadOnlyList<string> args, CancellationToken ct)
    {
        try
        {
            await RunAsync(Path.Combine(BinDir, "pg_ctl"), [.. args, "-D", DataDirectory, "-w", "-t", "60"], _asPostgresUser, _rootDir, ct);
        }
        catch (PostgresSetupException e)
        {
            throw new PostgresSetupException($"{e.Message}\nserver log (tail):\n{LogTail()}", e);
        }
    }

    private string LogTail()
    {
        try
        {
            using var stream = new FileStream(_logFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var lines = new StreamReader(stream).ReadToEnd().Split('\n');
            return string.Join('\n', lines.TakeLast(20));
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }

    private async Task<NpgsqlConnection> OpenAsync(string database)
    {
        // Unpooled: a pooled connection would be stale after RestartAsync and fail the next helper call.
        var connection = new NpgsqlConnection(ConnectionString(database) + ";Pooling=false");
        await connection.OpenAsync();
        return connection;
    }

    private static string CheckMode(string mode) => mode is "smart" or "fast" or "immediate"
        ? mode
        : throw new ArgumentException($"pg_ctl mode must be smart, fast or immediate, not '{mode}'", nameof(mode));

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    // PostgreSQL refuses to run as root, and sessions and CI run as root.
    private static bool IsRoot() =>
        File.ReadLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal))
            .Split('\t', StringSplitOptions.RemoveEmptyEntries)[2] == "0";

    private static async Task<string> ResolveBinDirAsync(string? configured, CancellationToken ct)
    {
        var binDir = configured;
        if (binDir is null)
        {
            try
            {
                // Debian keeps initdb and pg_ctl in /usr/lib/postgresql/15/bin, off the PATH.
                binDir = (await RunAsync("pg_config", ["--bindir"], asPostgresUser: false, Path.GetTempPath(), ct)).Trim();
            }
            catch (Win32Exception e)
            {
                throw new PostgresSetupException($"pg_config not found; {InstallHint}", e);
            }
        }

        if (!File.Exists(Path.Combine(binDir, "initdb")) || !File.Exists(Path.Combine(binDir, "pg_ctl")))
        {
            throw new PostgresSetupException($"no initdb/pg_ctl in '{binDir}'; {InstallHint}");
        }

        return binDir;
    }

    private static async Task<string> RunAsync(string file, IReadOnlyList<string> args, bool asPostgresUser, string workDir, CancellationToken ct)
    {
        var start = new ProcessStartInfo(asPostgresUser ? "runuser" : file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            // The caller's cwd may be unreadable for the postgres user, which makes pg_ctl complain.
            WorkingDirectory = workDir,
        };
        if (asPostgresUser)
        {
            foreach (var arg in (string[])["-u", "postgres", "--", file])
            {
                start.ArgumentList.Add(arg);
            }
        }

        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        if (process.ExitCode != 0)
        {
            throw new PostgresSetupException(
                $"{Path.GetFileName(file)} {string.Join(' ', args)} failed with exit code {process.ExitCode}: {(await stderr).Trim()} {(await stdout).Trim()}");
        }

        return await stdout;
    }
}
