namespace PgReplicateKafka;

/// <summary>
/// Runs a call that blocks its thread (Kafka's admin and consumer calls are synchronous) on a thread
/// of its own. On the thread pool, two such calls at start-up took both of a two-core machine's
/// threads, and the pool adds threads slowly: a start-up of 0.8 s took 3.4 s once.
/// </summary>
internal static class Blocking
{
    public static Task Run(Action call) =>
        Task.Factory.StartNew(call, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    public static Task<T> Run<T>(Func<T> call) =>
        Task.Factory.StartNew(call, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>The part of <paramref name="call"/> before its first await runs on its own thread; the rest on the pool.</summary>
    public static Task Run(Func<Task> call) =>
        Task.Factory.StartNew(call, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
}
