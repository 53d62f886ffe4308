namespace PgReplicateKafka;

/// <summary>The process exit codes of the product contract.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int RuntimeFailure = 1;
    public const int BadConfiguration = 2;
    public const int PostgresFailure = 3;
    public const int KafkaFailure = 4;
}

/// <summary>
/// A failure the operator has to act on. The message names what is wrong and what to do;
/// the exit code says which side failed.
/// </summary>
public class ReplicatorException(int exitCode, string message, Exception? inner = null) : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>Bad configuration or usage (exit code 2).</summary>
public sealed class ConfigException(string message, Exception? inner = null)
    : ReplicatorException(ExitCodes.BadConfiguration, message, inner);

/// <summary>A PostgreSQL precondition or connection failure (exit code 3).</summary>
public sealed class PostgresSetupException(string message, Exception? inner = null)
    : ReplicatorException(ExitCodes.PostgresFailure, message, inner);

/// <summary>A Kafka failure (exit code 4).</summary>
public sealed class KafkaFailureException(string message, Exception? inner = null)
    : ReplicatorException(ExitCodes.KafkaFailure, message, inner);

/// <summary>A Kafka transaction was aborted; its PostgreSQL transactions must be streamed again.</summary>
public sealed class KafkaTransactionAbortedException(string reason, Exception inner)
    : Exception($"a Kafka transaction was aborted ({reason})", inner);

/// <summary>The server ended the replication stream without an error (e.g. the walsender exited).</summary>
public sealed class ReplicationEndedException(Exception? inner = null) : Exception("the replication stream from PostgreSQL ended unexpectedly", inner);

/// <summary>The slot is active for another walsender (seen before START_REPLICATION would say so).</summary>
public sealed class SlotBusyException(string message) : Exception(message);

/// <summary>PostgreSQL has no room for our connection now (all WAL senders in use): worth waiting for once running.</summary>
public sealed class ServerBusyException(string message) : Exception(message);

/// <summary>
/// The Kafka transaction coordinator aborted our transaction because it stayed open longer than
/// transaction.timeout.ms (exit code 4): streaming it again would take as long again.
/// </summary>
public sealed class KafkaTransactionTimeoutException(string message, Exception? inner = null)
    : ReplicatorException(ExitCodes.KafkaFailure, message, inner);

/// <summary>The exactly-once checkpoint could not be read to its end; the session is retried.</summary>
public sealed class CheckpointUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
