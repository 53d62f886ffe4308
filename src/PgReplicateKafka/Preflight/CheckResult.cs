namespace PgReplicateKafka.Preflight;

public enum CheckOutcome { Passed, Warning, Failed }

/// <summary>Which side a check looks at; a failure exits with that side's code.</summary>
public enum CheckArea { Configuration, PostgreSQL, Kafka }

/// <summary>One line of a preflight check: what was checked, how it went, and for problems what to do.</summary>
public sealed record CheckResult(CheckArea Area, string Name, CheckOutcome Outcome, string Message)
{
    /// <summary>The slot is streaming to another process: a failure for check, the standby state for run.</summary>
    public bool SlotBusy { get; init; }

    /// <summary>The server lacks room now (all WAL senders in use): a failure at start, a wait for run once it has started.</summary>
    public bool ServerBusy { get; init; }

    public static CheckResult Pass(CheckArea area, string name, string message) => new(area, name, CheckOutcome.Passed, message);

    public static CheckResult Warn(CheckArea area, string name, string message) => new(area, name, CheckOutcome.Warning, message);

    public static CheckResult Fail(CheckArea area, string name, string message) => new(area, name, CheckOutcome.Failed, message);

    public int ExitCode => Area switch
    {
        CheckArea.Configuration => ExitCodes.BadConfiguration,
        CheckArea.PostgreSQL => ExitCodes.PostgresFailure,
        _ => ExitCodes.KafkaFailure,
    };

    public override string ToString()
    {
        var outcome = Outcome switch
        {
            CheckOutcome.Passed => "ok  ",
            CheckOutcome.Warning => "WARN",
            _ => "FAIL",
        };
        return $"{outcome} {Area.ToString().ToLowerInvariant(),-13} {Name}: {Message}";
    }
}

/// <summary>The results of every check, in the order they ran.</summary>
public sealed class CheckReport(IReadOnlyList<CheckResult> results)
{
    public IReadOnlyList<CheckResult> Results { get; } = results;

    /// <summary>0 when nothing failed, otherwise the exit code of the first failure's area.</summary>
    public int ExitCode => Results.FirstOrDefault(r => r.Outcome == CheckOutcome.Failed)?.ExitCode ?? ExitCodes.Ok;

    public void WriteTo(TextWriter output)
    {
        foreach (var result in Results)
            output.WriteLine(result);
        var failed = Results.Count(r => r.Outcome == CheckOutcome.Failed);
        var warnings = Results.Count(r => r.Outcome == CheckOutcome.Warning);
        output.WriteLine(failed == 0
            ? $"All checks passed ({warnings} warning(s))."
            : $"{failed} check(s) failed, {warnings} warning(s).");
    }

    /// <summary>For start-up: throws the first failure as the exception of its area.</summary>
    public void ThrowIfFailed()
    {
        var failure = Results.FirstOrDefault(r => r.Outcome == CheckOutcome.Failed);
        if (failure is null)
            return;
        throw failure.Area switch
        {
            CheckArea.Configuration => new ConfigException(failure.Message),
            CheckArea.PostgreSQL => new PostgresSetupException(failure.Message),
            _ => new KafkaFailureException(failure.Message),
        };
    }
}
