using Microsoft.Extensions.FileProviders;
using Microsoft.Net.Http.Headers;

namespace NxMesh.Api.Spa;

/// <summary>
/// Serves the web console (web/, built into <c>spa/</c> beside the assembly) at <c>/</c>: its files, and index.html
/// for every other GET so client-side routes survive a reload. The fallback route never matches under /v1/ or
/// /openapi/, so unknown API paths keep their 404/405 error envelopes.
/// </summary>
internal static class SpaHosting
{
    public const string FolderName = "spa";

    // Catch-all value has no leading slash: "v1/x", "openapi/v1.json". nonfile leaves /assets/x.js to static files
    // (a missing asset is a 404, not index.html).
    private const string FallbackPattern = "{*path:nonfile:regex(^(?!(v1|openapi)(/|$)).*$)}";

    public static void MapNxMeshSpa(this WebApplication app)
    {
        var root = app.Configuration["Spa:Root"] is { Length: > 0 } configured
            ? Path.GetFullPath(configured)
            : Path.Combine(AppContext.BaseDirectory, FolderName);
        if (!File.Exists(Path.Combine(root, "index.html")))
        {
            // Built without the console (-p:NxMeshSkipWeb=true): the API works, / answers 404.
            app.Logger.LogWarning("Web console not found at {SpaRoot}; / is not served", root);
            return;
        }
        var files = new PhysicalFileProvider(root);
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            OnPrepareResponse = context =>
            {
                // Vite fingerprints everything under assets/; index.html must be revalidated to pick up a new build.
                context.Context.Response.Headers[HeaderNames.CacheControl] =
                    context.Context.Request.Path.StartsWithSegments("/assets") ? "public, max-age=31536000, immutable" : "no-cache";
            },
        });
        var index = files.GetFileInfo("index.html");
        RequestDelegate shell = async context =>
        {
            context.Response.ContentType = "text/html; charset=utf-8";
            context.Response.Headers[HeaderNames.CacheControl] = "no-cache";
            await context.Response.SendFileAsync(index, context.RequestAborted);
        };
        // "/" separately: a regex constraint refuses the catch-all's empty value.
        app.MapMethods("/", [HttpMethods.Get, HttpMethods.Head], shell).ExcludeFromDescription().AllowAnonymous();
        app.MapMethods(FallbackPattern, [HttpMethods.Get, HttpMethods.Head], shell).WithOrder(int.MaxValue).ExcludeFromDescription().AllowAnonymous();
    }
}
