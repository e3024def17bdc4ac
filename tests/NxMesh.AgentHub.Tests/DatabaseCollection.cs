using NxMesh.Testing;
using Xunit;

namespace NxMesh.AgentHub.Tests;

[CollectionDefinition(Name)]
public sealed class DatabaseCollection : ICollectionFixture<DatabaseFixture>
{
    public const string Name = "database";
}
