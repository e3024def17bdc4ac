using Microsoft.Extensions.Options;
using NxMesh.Nginx.Rendering;

namespace NxMesh.Agent.Nginx;

/// <summary>What the local nginx binary can serve, from `nginx -V` (read once, on first use).</summary>
internal sealed class NginxBuild(IOptions<AgentOptions> options)
{
    private readonly Lazy<NginxCapabilities> _capabilities = new(() =>
    {
        try
        {
            var (_, output) = NginxCommands.RunAsync(options.Value.NginxBinary, ["-V"], CancellationToken.None).GetAwaiter().GetResult();
            return NginxCapabilities.Parse(output);
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException or OperationCanceledException)
        {
            return new NginxCapabilities();
        }
    });

    public NginxCapabilities Capabilities => _capabilities.Value;
}
