using System.Runtime.CompilerServices;
using NxMesh.Nginx.Validation;
using Xunit;

namespace NxMesh.Nginx.Tests.Validation;

/// <summary>The allowlist and variable list are documented in NxMesh.Nginx/README.md; this keeps them in step.</summary>
public sealed class ReadmeTests
{
    private static readonly string Readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "NxMesh.Nginx", "README.md"));

    [Fact]
    public void Every_allowlisted_directive_is_documented() =>
        Assert.All(CustomDirectives.Allowlist.Keys, name => Assert.Contains($"| `{name}` |", Readme, StringComparison.Ordinal));

    [Fact]
    public void Every_known_variable_and_family_is_documented()
    {
        Assert.All(NginxVariables.KnownVariables, name => Assert.Contains($"`{name}`", Readme, StringComparison.Ordinal));
        Assert.All(NginxVariables.KnownPrefixes, prefix => Assert.Contains($"`{prefix}*`", Readme, StringComparison.Ordinal));
    }

    private static string RepositoryRoot([CallerFilePath] string path = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, "..", "..", ".."));
}
