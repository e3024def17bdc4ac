using System.Text.Json;
using Microsoft.Extensions.Options;
using NxMesh.Agent.State;

namespace NxMesh.Agent.Master;

/// <summary>The agent's id and credential from enrollment.</summary>
public sealed record AgentIdentity(string AgentId, string Credential);

/// <summary>identity.json in the state folder, mode 0600; the credential is never logged.</summary>
public sealed class AgentIdentityStore(IOptions<AgentOptions> options)
{
    public string FilePath { get; } = Path.Combine(Path.GetFullPath(options.Value.StateDirectory), "identity.json");

    public AgentIdentity? Load()
    {
        if (!File.Exists(FilePath))
        {
            return null;
        }
        var identity = JsonSerializer.Deserialize<AgentIdentity>(File.ReadAllText(FilePath));
        return identity is { AgentId.Length: > 0, Credential.Length: > 0 } ? identity : null;
    }

    public void Save(AgentIdentity identity)
    {
        PrivateFile.WriteJson(FilePath, identity);
    }
}
