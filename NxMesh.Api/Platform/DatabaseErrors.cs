using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace NxMesh.Api.Platform;

internal static class DatabaseErrors
{
    public static bool IsUniqueViolation(this DbUpdateException ex) =>
        ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };
}
