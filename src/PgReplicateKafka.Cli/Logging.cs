using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace PgReplicateKafka.Cli;

internal static class Logging
{
    /// <summary>Console logging to stderr (stdout stays free for output such as the demo's messages).</summary>
    public static ILoggerFactory Create(string format, LogLevel level) => LoggerFactory.Create(builder =>
    {
        builder.SetMinimumLevel(level);
        builder.AddConsole(options => options.LogToStandardErrorThreshold = LogLevel.Trace);
        if (format == "json")
        {
            builder.AddJsonConsole(options =>
            {
                options.UseUtcTimestamp = true;
                options.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
        }
        else
        {
            builder.AddSimpleConsole(options =>
            {
                options.SingleLine = true;
                options.UseUtcTimestamp = true;
                options.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            });
        }
    });
}
