using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace PgReplicateKafka.Bench;

/// <summary>
/// The second raw reader: the replication protocol spoken over a bare socket, reading in large
/// receives and parsing nothing but the CopyData framing and each XLogData's position. Unlike
/// pg_recvlogical, which wakes for every packet the walsender sends, it sleeps a millisecond when a
/// receive found little, so the walsender's sends pile up and arrive in few, large reads: a client
/// that is busy elsewhere (as the replicator is) batches the same way, which is how the replicator
/// could read faster than pg_recvlogical on one-change transactions (oltp). The faster of the two
/// is the ceiling; no client of the same stream does less than this one.
/// </summary>
/// <remarks>Hand-written because the bench needs a reader with no parsing at all; libpq's and Npgsql's read per message.</remarks>
internal static class SocketRawReader
{
    /// <summary>Logs in without a password (a trust line in pg_hba.conf, <see cref="BenchCluster"/>): a replication role and nothing else.</summary>
    public const string Role = "bench_raw";

    // A receive that found less than this was a trickle: wait for more to accumulate.
    private const int SmallRead = 16 * 1024;

    /// <summary>
    /// Streams <paramref name="slot"/> until the XLogData at <paramref name="lastCommitLsn"/> (the end of the
    /// workload's last commit, the message pg_recvlogical stops after). Returns when it arrived (UTC) and
    /// how many XLogData messages came, that one included: the server's decode of the same WAL must count as many.
    /// </summary>
    public static async Task<(DateTime Done, long Messages)> ReadAsync(BenchCluster cluster, string database, string slot, string lastCommitLsn, bool binary)
    {
        var end = ParseLsn(lastCommitLsn);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(cluster.Postgres.Host, cluster.Postgres.Port);
        var buffer = new byte[4 << 20];

        Send(socket, Startup(("user", Role), ("database", database), ("replication", "database")));
        var (filled, start) = (0, 0);
        (filled, start) = await ExpectAsync(socket, buffer, filled, start, 'Z');
        var options = $"proto_version '1', publication_names '{BenchCluster.Publication}'" + (binary ? ", binary 'true'" : "");
        Send(socket, Query($"START_REPLICATION SLOT \"{slot}\" LOGICAL 0/0 ({options})"));
        (filled, start) = await ExpectAsync(socket, buffer, filled, start, 'W');

        var messages = 0L;
        var done = await Task.Run(() =>
        {
            while (true)
            {
                // Complete messages in the buffer.
                while (filled - start >= 5)
                {
                    var length = BinaryPrimitives.ReadInt32BigEndian(buffer.AsSpan(start + 1));
                    if (filled - start < 1 + length)
                        break;
                    var type = (char)buffer[start];
                    if (type == 'E')
                        throw new InvalidOperationException("the walsender failed: " + ErrorText(buffer.AsSpan(start + 5, length - 4)));
                    // CopyData holding XLogData: 'w', then the position of its data.
                    if (type == 'd' && buffer[start + 5] == 'w')
                    {
                        messages++;
                        if (BinaryPrimitives.ReadUInt64BigEndian(buffer.AsSpan(start + 6)) >= end)
                            return DateTime.UtcNow;
                    }

                    start += 1 + length;
                }

                // Keep the partial message; make room behind it.
                if (start > 0)
                {
                    Buffer.BlockCopy(buffer, start, buffer, 0, filled - start);
                    filled -= start;
                    start = 0;
                }

                if (filled == buffer.Length)
                    Array.Resize(ref buffer, buffer.Length * 2);
                var read = socket.Receive(buffer, filled, buffer.Length - filled, SocketFlags.None);
                if (read == 0)
                    throw new InvalidOperationException("the walsender closed the connection before the last commit");
                filled += read;
                if (read < SmallRead)
                    Thread.Sleep(1);
            }
        });

        // Ends the stream the way pg_recvlogical does, so the slot is free once this returns.
        Send(socket, [(byte)'c', 0, 0, 0, 4]);
        (filled, start) = await ExpectAsync(socket, buffer, filled, start, 'Z');
        Send(socket, [(byte)'X', 0, 0, 0, 4]);
        return (done, messages);
    }

    private static async Task<(int Filled, int Start)> ExpectAsync(Socket socket, byte[] buffer, int filled, int start, char wanted)
    {
        while (true)
        {
            while (filled - start >= 5)
            {
                var length = BinaryPrimitives.ReadInt32BigEndian(buffer.AsSpan(start + 1));
                if (filled - start < 1 + length)
                    break;
                var type = (char)buffer[start];
                if (type == 'E')
                    throw new InvalidOperationException($"PostgreSQL refused the raw reader: {ErrorText(buffer.AsSpan(start + 5, length - 4))}");
                if (type == 'R' && BinaryPrimitives.ReadInt32BigEndian(buffer.AsSpan(start + 5)) != 0)
                    throw new InvalidOperationException($"PostgreSQL asked the raw reader for a password: pg_hba.conf lacks the trust line for {Role}");
                start += 1 + length;
                if (type == wanted)
                    return (filled, start);
            }

            var read = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None);
            if (read == 0)
                throw new InvalidOperationException("PostgreSQL closed the raw reader's connection");
            filled += read;
        }
    }

    private static byte[] Startup(params (string Name, string Value)[] parameters)
    {
        var body = new MemoryStream();
        body.Write([0, 3, 0, 0]);
        foreach (var (name, value) in parameters)
        {
            body.Write(Encoding.UTF8.GetBytes(name + "\0" + value + "\0"));
        }

        body.WriteByte(0);
        var message = new byte[4 + body.Length];
        BinaryPrimitives.WriteInt32BigEndian(message, message.Length);
        body.ToArray().CopyTo(message, 4);
        return message;
    }

    private static byte[] Query(string sql)
    {
        var text = Encoding.UTF8.GetBytes(sql + "\0");
        var message = new byte[5 + text.Length];
        message[0] = (byte)'Q';
        BinaryPrimitives.WriteInt32BigEndian(message.AsSpan(1), 4 + text.Length);
        text.CopyTo(message, 5);
        return message;
    }

    private static void Send(Socket socket, byte[] message)
    {
        for (var sent = 0; sent < message.Length;)
            sent += socket.Send(message, sent, message.Length - sent, SocketFlags.None);
    }

    // An ErrorResponse's fields: a code byte, then a string; 'M' is the message.
    private static string ErrorText(ReadOnlySpan<byte> fields)
    {
        var message = new StringBuilder();
        while (fields.Length > 1 && fields[0] != 0)
        {
            var code = (char)fields[0];
            var stop = fields[1..].IndexOf((byte)0);
            if (code == 'M')
                message.Append(Encoding.UTF8.GetString(fields.Slice(1, stop)));
            fields = fields[(stop + 2)..];
        }

        return message.ToString();
    }

    private static ulong ParseLsn(string lsn)
    {
        var slash = lsn.IndexOf('/');
        return (Convert.ToUInt64(lsn[..slash], 16) << 32) | Convert.ToUInt64(lsn[(slash + 1)..], 16);
    }
}
