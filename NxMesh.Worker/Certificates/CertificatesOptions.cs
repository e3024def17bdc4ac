namespace NxMesh.Worker.Certificates;

/// <summary>Certificate jobs (section "Certificates").</summary>
public sealed class CertificatesOptions
{
    public const string Section = "Certificates";
    public const string LetsEncryptProduction = "https://acme-v02.api.letsencrypt.org/directory";
    public const string LetsEncryptStaging = "https://acme-staging-v02.api.letsencrypt.org/directory";

    /// <summary>The ACME directory; Let's Encrypt production by default (<see cref="LetsEncryptStaging"/> for trials).</summary>
    public string AcmeDirectoryUrl { get; set; } = LetsEncryptProduction;
    /// <summary>
    /// Optional PEM file of the root CA that signs the ACME server's own TLS certificate (a private ACME server such as
    /// Pebble). When set, the server is validated against this root only; verification is never switched off.
    /// </summary>
    public string? AcmeRootCertificatePath { get; set; }
    /// <summary>Optional account contact (mailto).</summary>
    public string? AcmeContactEmail { get; set; }
    /// <summary>Renew auto_renew certificates this many days before they expire.</summary>
    public double RenewBeforeDays { get; set; } = 30;
    public double CheckIntervalSeconds { get; set; } = 60;
    /// <summary>How long the serving agents get to apply (SUCCESS) the config carrying the challenge.</summary>
    public double ChallengePublishTimeoutSeconds { get; set; } = 90;
    /// <summary>Bound of each ACME wait (authorization valid, order valid).</summary>
    public double ValidationTimeoutSeconds { get; set; } = 120;
    /// <summary>Poll interval when the ACME server sends no Retry-After, and the cap of any Retry-After.</summary>
    public double PollIntervalSeconds { get; set; } = 2;
    public double MaxRetryAfterSeconds { get; set; } = 30;
    /// <summary>Failed attempts are retried after base × 2^(failures−1), capped at the maximum.</summary>
    public double RetryBaseSeconds { get; set; } = 60;
    public double RetryMaxSeconds { get; set; } = 6 * 3600;

    public TimeSpan RetryDelay(int failures) =>
        TimeSpan.FromSeconds(Math.Min(RetryMaxSeconds, RetryBaseSeconds * Math.Pow(2, Math.Clamp(failures - 1, 0, 30))));
}
