using System.Globalization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using NxMesh.Nginx.Validation;

namespace NxMesh.Api.Platform;

/// <summary>A list answer: <c>data</c> + <c>meta{page, per_page, total}</c>.</summary>
public sealed record Paged<T>(IReadOnlyList<T> Data, PageMeta Meta);

public sealed record PageMeta(int Page, int PerPage, int Total);

/// <summary><c>?page=&amp;per_page=</c>, bound as strings so a bad value answers 422 with details.</summary>
public readonly record struct PageQuery(
    [property: FromQuery(Name = "page")] string? Page,
    [property: FromQuery(Name = "per_page")] string? PerPage)
{
    public const int DefaultPerPage = 20;
    public const int MaxPerPage = 100;

    public (int Page, int PerPage) Resolve(Validator? validator = null)
    {
        var v = validator ?? new Validator();
        var page = 1;
        var perPage = DefaultPerPage;
        if (Page is not null && (!int.TryParse(Page, NumberStyles.None, CultureInfo.InvariantCulture, out page) || page < 1))
        {
            v.Add("page", ValidationCodes.OutOfRange, "page must be an integer ≥ 1");
        }
        if (PerPage is not null && (!int.TryParse(PerPage, NumberStyles.None, CultureInfo.InvariantCulture, out perPage) || perPage is < 1 or > MaxPerPage))
        {
            v.Add("per_page", ValidationCodes.OutOfRange, $"per_page must be an integer from 1 to {MaxPerPage}");
        }
        if (validator is null)
        {
            v.ThrowIfInvalid();
        }
        return (page, perPage);
    }
}

internal static class PagingExtensions
{
    /// <summary>One count and one page query; <paramref name="query"/> must already be ordered.</summary>
    public static async Task<Paged<TOut>> ToPagedAsync<TIn, TOut>(this IQueryable<TIn> query, (int Page, int PerPage) paging, Func<TIn, TOut> map, CancellationToken cancellationToken)
    {
        var total = await query.CountAsync(cancellationToken);
        var items = await query.Skip((paging.Page - 1) * paging.PerPage).Take(paging.PerPage).ToListAsync(cancellationToken);
        return new Paged<TOut>(items.Select(map).ToList(), new PageMeta(paging.Page, paging.PerPage, total));
    }
}
