using Microsoft.EntityFrameworkCore;
using Npgsql;
using NxMesh.Data;

namespace NxMesh.Api.Platform;

internal static class DatabaseErrors
{
    public static bool IsUniqueViolation(this DbUpdateException ex) =>
        ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    public static bool IsForeignKeyViolation(this DbUpdateException ex) =>
        ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.ForeignKeyViolation };

    /// <summary>
    /// Saves the deletion of a resource other rows may reference. The caller checked for referrers first; if one
    /// appeared between that check and the delete, the foreign key refuses it and the check runs again so the 409
    /// names the new referrer (else <paramref name="conflictMessage"/>).
    /// </summary>
    public static async Task SaveDeletionAsync(this NxMeshDbContext db, Func<Task> ensureUnreferenced, string conflictMessage, CancellationToken cancellationToken)
    {
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.IsForeignKeyViolation())
        {
            db.ChangeTracker.Clear();
            await ensureUnreferenced();
            throw ApiException.Conflict(conflictMessage);
        }
    }
}
