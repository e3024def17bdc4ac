using NxMesh.Nginx.Validation;
using Xunit;

namespace NxMesh.Nginx.Tests.Validation;

public sealed class CustomDirectivesTests
{
    [Theory]
    [InlineData(DirectiveContext.Http, "client_max_body_size", "10m")]
    [InlineData(DirectiveContext.Location, "client_max_body_size", "0")]
    [InlineData(DirectiveContext.Server, "keepalive_timeout", "65s 60s")]
    [InlineData(DirectiveContext.Http, "gzip", "on")]
    [InlineData(DirectiveContext.Http, "gzip_types", "text/plain application/json")]
    [InlineData(DirectiveContext.Http, "gzip_proxied", "expired no-cache any")]
    [InlineData(DirectiveContext.Location, "expires", "30d")]
    [InlineData(DirectiveContext.Location, "expires", "modified +24h")]
    [InlineData(DirectiveContext.Location, "expires", "@15h30m")]
    [InlineData(DirectiveContext.Location, "expires", "-1")]
    [InlineData(DirectiveContext.Location, "expires", "epoch")]
    [InlineData(DirectiveContext.Location, "proxy_read_timeout", "1m30s")]
    [InlineData(DirectiveContext.Location, "proxy_buffers", "8 16k")]
    [InlineData(DirectiveContext.Location, "proxy_set_header", "X-Tenant acme corp; $host")]
    [InlineData(DirectiveContext.Location, "proxy_hide_header", "X-Powered-By")]
    [InlineData(DirectiveContext.Server, "return", "301 https://$host$request_uri")]
    [InlineData(DirectiveContext.Location, "return", "200 \"quoted\"; { }")]
    [InlineData(DirectiveContext.Location, "return", "204")]
    [InlineData(DirectiveContext.Location, "try_files", "$uri $uri/ /index.html")]
    [InlineData(DirectiveContext.Location, "allow", "10.0.0.0/8 192.168.1.1 ::1 2001:db8::/32")]
    [InlineData(DirectiveContext.Location, "deny", "all")]
    [InlineData(DirectiveContext.Server, "ssl_protocols", "TLSv1.2 TLSv1.3")]
    [InlineData(DirectiveContext.Http, "server_names_hash_bucket_size", "128")]
    public void Allowlisted_directives_with_valid_values_pass(DirectiveContext context, string name, string value) =>
        Assert.Empty(CustomDirectives.Validate(context, name, value));

    [Theory]
    [InlineData("include")]
    [InlineData("load_module")]
    [InlineData("access_log")]
    [InlineData("error_log")]
    [InlineData("lua_package_path")]
    [InlineData("content_by_lua_block")]
    [InlineData("perl_modules")]
    [InlineData("perl")]
    [InlineData("root")]
    [InlineData("alias")]
    [InlineData("ssl_certificate")]
    [InlineData("ssl_certificate_key")]
    [InlineData("listen")]
    [InlineData("server_name")]
    [InlineData("proxy_pass")]
    [InlineData("client_body_temp_path")]
    [InlineData("js_import")]
    [InlineData("Gzip")]
    [InlineData("gzip;")]
    [InlineData("gzip on; include")]
    public void Dangerous_or_unknown_names_are_not_allowed(string name) =>
        Assert.Equal(ValidationCodes.NotAllowed, Assert.Single(CustomDirectives.Validate(DirectiveContext.Location, name, "x")).Code);

    [Fact]
    public void Never_allowed_names_are_absent_from_the_allowlist() =>
        Assert.DoesNotContain(CustomDirectives.Allowlist.Keys, CustomDirectives.IsNeverAllowed);

    [Theory]
    [InlineData(DirectiveContext.Http, "return", "200")]
    [InlineData(DirectiveContext.Http, "autoindex", "on")]
    [InlineData(DirectiveContext.Location, "server_names_hash_bucket_size", "64")]
    [InlineData(DirectiveContext.Location, "ssl_protocols", "TLSv1.3")]
    public void Directives_are_refused_outside_their_contexts(DirectiveContext context, string name, string value) =>
        Assert.Equal(ValidationCodes.NotAllowed, Assert.Single(CustomDirectives.Validate(context, name, value)).Code);

    [Theory]
    [InlineData("gzip", "yes")]
    [InlineData("gzip", "on off")]
    [InlineData("gzip", "on; include /etc/passwd")]
    [InlineData("client_max_body_size", "10 m")]
    [InlineData("client_max_body_size", "lots")]
    [InlineData("proxy_read_timeout", "forever")]
    [InlineData("proxy_buffers", "8")]
    [InlineData("proxy_set_header", "X-A")]
    [InlineData("proxy_set_header", "X;A value")]
    [InlineData("proxy_set_header", "X-A $unknown")]
    [InlineData("return", "999")]
    [InlineData("return", "abc")]
    [InlineData("return", "200 $nope")]
    [InlineData("try_files", "$uri")]
    [InlineData("try_files", "$document_root =404")]
    [InlineData("allow", "10.0.0.0/33")]
    [InlineData("allow", "example.com")]
    [InlineData("allow", "fe80::1%eth0")]
    [InlineData("gzip_comp_level", "10")]
    [InlineData("gzip", "")]
    [InlineData("gzip", "on\n")]
    [InlineData("expires", "1d\0")]
    [InlineData("charset", "$")]
    [InlineData("expires", "soon")]
    [InlineData("expires", "1h modified")]
    [InlineData("expires", "modified @1h")]
    [InlineData("expires", "1h 2h")]
    public void Bad_values_are_refused(string name, string value) =>
        Assert.NotEmpty(CustomDirectives.Validate(DirectiveContext.Location, name, value));

    [Fact]
    public void Overlong_values_are_refused() =>
        Assert.Equal(ValidationCodes.OutOfRange, Assert.Single(CustomDirectives.Validate(DirectiveContext.Location, "gzip_types", new string('a', 2000))).Code);

    [Fact]
    public void Issues_name_the_map_entry() =>
        Assert.Equal("locations[0].custom_directives.gzip", Assert.Single(CustomDirectives.Validate(DirectiveContext.Location, "gzip", "maybe", "locations[0].custom_directives")).Field);

    [Fact]
    public void Values_render_to_arguments()
    {
        Assert.Equal([["8", "16k"]], CustomDirectives.Render("proxy_buffers", " 8   16k "));
        Assert.Equal([["X-Tenant", "acme corp; $host"]], CustomDirectives.Render("proxy_set_header", "X-Tenant acme corp; $host"));
        Assert.Equal([["301", "https://$host$request_uri"]], CustomDirectives.Render("return", "301 https://$host$request_uri"));
        Assert.Equal([["10.0.0.0/8"], ["::1"]], CustomDirectives.Render("allow", "10.0.0.0/8 ::1"));
        Assert.Throws<ArgumentException>(() => CustomDirectives.Render("include", "x"));
        Assert.Throws<ArgumentException>(() => CustomDirectives.Render("gzip", "maybe"));
    }
}
