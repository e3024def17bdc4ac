namespace NxMesh.Nginx.Rendering;

/// <summary>
/// A complete nginx configuration ready to be written under an nginx prefix: the main file (conf/nginx.conf)
/// and every other file it references, by path relative to the prefix (e.g. <c>conf/certs/&lt;id&gt;.key</c>).
/// </summary>
/// <param name="MainConfig">The text of conf/nginx.conf.</param>
/// <param name="Files">Other files by prefix-relative path ('/' separated).</param>
/// <param name="Warnings">Fields left out because the local nginx cannot serve them, and similar notes.</param>
public sealed record RenderedConfig(
    string MainConfig,
    IReadOnlyDictionary<string, RenderedFile> Files,
    IReadOnlyList<string> Warnings)
{
    public const string MainConfigPath = "conf/nginx.conf";

    /// <summary>A config with no files beside the main one.</summary>
    public static RenderedConfig FromMain(string mainConfig) =>
        new(mainConfig, new Dictionary<string, RenderedFile>(), []);
}

/// <summary>One rendered file; secret files (private keys) are written with mode 0600 and never logged.</summary>
public sealed record RenderedFile(string Content, bool Secret);
