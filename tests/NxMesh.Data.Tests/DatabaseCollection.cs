using NxMesh.Testing;
using Xunit;

namespace NxMesh.Data.Tests;

[CollectionDefinition(Name)]
public sealed class DatabaseCollection : ICollectionFixture<DatabaseFixture>
{
    public const string Name = "database";
}
