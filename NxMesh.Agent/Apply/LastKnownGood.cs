using System.Text.Json;
using Google.Protobuf;
using Microsoft.Extensions.Options;
using NxMesh.Agent.State;
using NxMesh.Nginx.Rendering;
using NxMesh.Protocol.V1;

namespace NxMesh.Agent.Apply;

/// <summary>A config nginx serves: what was rendered, and the update (upstreams, health checks) it came from.</summary>
/// <param name="ConfigId">The checksum from the master; empty for the agent's base config.</param>
/// <param name="Version">The master's version of the config.</param>
/// <param name="Rendered">The files nginx reads.</param>
/// <param name="Update">The update it was rendered from (null for the base config).</param>
/// <param name="AppliedAt">When it became active.</param>
public sealed record AppliedConfig(string ConfigId, long Version, RenderedConfig Rendered, ConfigUpdate? Update, DateTimeOffset AppliedAt)
{
    public bool IsBase => ConfigId.Length == 0;
}

/// <summary>
/// The last known good config in the state folder (last-known-good.json, 0600: it holds private keys), written
/// atomically, so after an agent restart nginx serves it before any master is reachable.
/// </summary>
internal sealed class LastKnownGoodStore(IOptions<AgentOptions> options)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = false };

    public string FilePath { get; } = Path.Combine(Path.GetFullPath(options.Value.StateDirectory), "last-known-good.json");

    public AppliedConfig? Load()
    {
        if (!File.Exists(FilePath))
        {
            return null;
        }
        var stored = JsonSerializer.Deserialize<Stored>(File.ReadAllText(FilePath), Json)
            ?? throw new InvalidDataException($"{FilePath} is empty.");
        var rendered = new RenderedConfig(
            stored.MainConfig,
            stored.Files.ToDictionary(f => f.Key, f => new RenderedFile(f.Value.Content, f.Value.Secret)),
            stored.Warnings);
        var update = stored.Update is { Length: > 0 } json ? JsonParser.Default.Parse<ConfigUpdate>(json) : null;
        return new AppliedConfig(stored.ConfigId, stored.Version, rendered, update, stored.AppliedAt);
    }

    public void Save(AppliedConfig applied)
    {
        var stored = new Stored(
            applied.ConfigId,
            applied.Version,
            applied.AppliedAt,
            applied.Update is null ? null : JsonFormatter.Default.Format(applied.Update),
            applied.Rendered.MainConfig,
            applied.Rendered.Files.ToDictionary(f => f.Key, f => new StoredFile(f.Value.Content, f.Value.Secret)),
            [.. applied.Rendered.Warnings]);
        PrivateFile.WriteJson(FilePath, stored, Json);
    }

    private sealed record Stored(
        string ConfigId,
        long Version,
        DateTimeOffset AppliedAt,
        string? Update,
        string MainConfig,
        Dictionary<string, StoredFile> Files,
        List<string> Warnings);

    private sealed record StoredFile(string Content, bool Secret);
}
