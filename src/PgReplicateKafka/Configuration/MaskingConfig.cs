namespace PgReplicateKafka.Configuration;

/// <summary>The <c>[masking]</c> section: the secret that salts the hashes of <c>mask_columns</c>.</summary>
public sealed class MaskingConfig
{
    /// <summary>Shorter salts make hashes of guessable values (emails, phone numbers) easy to reverse by trying them all.</summary>
    public const int MinimumSaltLength = 16;

    /// <summary>Never logged or shown; null when no rule hashes.</summary>
    public string? Salt { get; init; }

    public override string ToString() => $"MaskingConfig {{ Salt = {(Salt is null ? "unset" : "***")} }}";

    internal static MaskingConfig Build(ConfigValues v)
    {
        var salt = v.String(ConfigSchema.MaskSalt);
        if (salt is not null && salt.Length < MinimumSaltLength)
        {
            throw v.Error(ConfigSchema.MaskSalt,
                $"must be at least {MinimumSaltLength} characters, so that hashed values cannot be found by hashing guesses; " +
                "use a long random string (e.g. openssl rand -hex 32)");
        }

        return new MaskingConfig { Salt = salt };
    }
}
