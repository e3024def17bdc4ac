using NxMesh.Nginx.Validation;
using Xunit;

namespace NxMesh.Nginx.Tests.Validation;

public sealed class NginxValidationTests
{
    [Theory]
    [InlineData("example.com")]
    [InlineData("example.com www.example.com")]
    [InlineData("*.example.com")]
    [InlineData("example.*")]
    [InlineData("xn--bcher-kva.example")]
    [InlineData("localhost")]
    [InlineData("192.168.1.10")]
    [InlineData("API.Example.COM")]
    public void Server_name_accepts_hostnames_wildcards_and_lists(string value) =>
        Assert.Empty(NginxValidation.ServerName(value));

    [Theory]
    [InlineData("", ValidationCodes.Required)]
    [InlineData("example.com;", ValidationCodes.InvalidFormat)]
    [InlineData("example.com; return 200", ValidationCodes.InvalidFormat)]
    [InlineData("$host", ValidationCodes.InvalidFormat)]
    [InlineData("\"example.com\"", ValidationCodes.InvalidFormat)]
    [InlineData("ex{ample}.com", ValidationCodes.InvalidFormat)]
    [InlineData("~^www\\.", ValidationCodes.InvalidFormat)]
    [InlineData(".example.com", ValidationCodes.InvalidFormat)]
    [InlineData("_", ValidationCodes.InvalidFormat)]
    [InlineData("a..b", ValidationCodes.InvalidFormat)]
    [InlineData("-a.com", ValidationCodes.InvalidFormat)]
    [InlineData("*.*.com", ValidationCodes.InvalidFormat)]
    [InlineData("example.com  www.example.com", ValidationCodes.InvalidFormat)]
    [InlineData(" example.com", ValidationCodes.InvalidFormat)]
    [InlineData("example.com\nwww", ValidationCodes.InvalidFormat)]
    [InlineData("example.com\0", ValidationCodes.InvalidFormat)]
    [InlineData("a.com A.com", ValidationCodes.InvalidFormat)]
    [InlineData("1.2.3", ValidationCodes.InvalidFormat)]
    [InlineData("exa#mple.com", ValidationCodes.InvalidFormat)]
    [InlineData("it's.com", ValidationCodes.InvalidFormat)]
    public void Server_name_refuses_everything_else(string value, string code)
    {
        var issue = Assert.Single(NginxValidation.ServerName(value, "virtual_hosts[0].server_name"));
        Assert.Equal(code, issue.Code);
        Assert.Equal("virtual_hosts[0].server_name", issue.Field);
    }

    [Fact]
    public void Server_name_refuses_overlong_values_and_labels()
    {
        Assert.Equal(ValidationCodes.OutOfRange, Assert.Single(NginxValidation.ServerName(new string('a', 3000))).Code);
        Assert.NotEmpty(NginxValidation.ServerName(new string('a', 64) + ".com"));
        Assert.Empty(NginxValidation.ServerName(new string('a', 63) + ".com"));
        Assert.Equal(ValidationCodes.OutOfRange, Assert.Single(NginxValidation.ServerName(string.Join(' ', Enumerable.Range(0, 33).Select(i => $"h{i}.com")))).Code);
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(80, true)]
    [InlineData(65535, true)]
    [InlineData(0, false)]
    [InlineData(65536, false)]
    [InlineData(-1, false)]
    public void Listen_port_is_1_to_65535(long port, bool valid) =>
        Assert.Equal(valid, NginxValidation.ListenPort(port).Count == 0);

    [Theory]
    [InlineData("/")]
    [InlineData("/api/v1")]
    [InlineData("= /exact")]
    [InlineData("^~ /static/")]
    [InlineData("~ \\.php$")]
    [InlineData("~* ^/images/.*\\.(png|jpe?g)$")]
    [InlineData("~ ^/a(?:b|c)(?<name>d)(?i)e$")]
    [InlineData("/a;b{c}\"d'e#f\\g")]
    [InlineData("~ ^/x{2,3}$")]
    public void Location_path_accepts_prefix_exact_and_regex(string value) =>
        Assert.Empty(NginxValidation.LocationPath(value));

    [Theory]
    [InlineData("")]
    [InlineData("api")]
    [InlineData("/a b")]
    [InlineData("/a$uri")]
    [InlineData("= exact")]
    [InlineData("~")]
    [InlineData("~ ")]
    [InlineData("~  ^/a")]
    [InlineData("~ ^/(unclosed")]
    [InlineData("~ [z-a]")]
    [InlineData("~ ^/(?P<name>x)")]
    [InlineData("~ ^/(?<a-b>x)")]
    [InlineData("~ ^/(?(1)a|b)")]
    [InlineData("@named")]
    [InlineData("/a\r\n}")]
    [InlineData("/a\0")]
    [InlineData("~ a\tb")]
    public void Location_path_refuses_bad_shapes(string value) =>
        Assert.NotEmpty(NginxValidation.LocationPath(value));

    [Fact]
    public void Location_regex_with_escaped_paren_and_class_is_not_mistaken_for_a_group()
    {
        Assert.Empty(NginxValidation.LocationPath("~ ^/a\\(?b"));
        Assert.Empty(NginxValidation.LocationPath("~ ^/a[(?]b"));
    }

    [Theory]
    [InlineData("X-Frame-Options", true)]
    [InlineData("x-custom_header.v2", true)]
    [InlineData("A!#%&'*+-.^_`|~9", true)]
    [InlineData("", false)]
    [InlineData("X Header", false)]
    [InlineData("X:Header", false)]
    [InlineData("X-$host", false)]
    [InlineData("X;", false)]
    [InlineData("X{", false)]
    [InlineData("X\"", false)]
    [InlineData("X\r\nY", false)]
    [InlineData("Ä", false)]
    public void Header_name_is_an_RFC_9110_token(string value, bool valid) =>
        Assert.Equal(valid, NginxValidation.HeaderName(value).Count == 0);

    [Theory]
    [InlineData("max-age=31536000; includeSubDomains")]
    [InlineData("default-src 'self'; script-src 'self' https://cdn.example")]
    [InlineData("$scheme")]
    [InlineData("${host}:${server_port}")]
    [InlineData("$http_x_request_id")]
    [InlineData("$1-$2")]
    [InlineData("a\"; return 200 \"pwned")]
    [InlineData("{ } # \\ '")]
    [InlineData("tab\tseparated")]
    public void Header_value_carries_anything_quoting_can(string value) =>
        Assert.Empty(NginxValidation.HeaderValue(value));

    [Theory]
    [InlineData("")]
    [InlineData("a\rb")]
    [InlineData("a\nb")]
    [InlineData("a\0b")]
    [InlineData("a\u0001b")]
    [InlineData("$")]
    [InlineData("cost $ 5")]
    [InlineData("100$")]
    [InlineData("$unknown_var")]
    [InlineData("$document_root")]
    [InlineData("${host")]
    [InlineData("${}")]
    [InlineData("$0")]
    [InlineData("$http_")]
    [InlineData("${1}")]
    public void Header_value_refuses_control_characters_and_unknown_variables(string value) =>
        Assert.NotEmpty(NginxValidation.HeaderValue(value));

    [Fact]
    public void Header_value_refuses_overlong() =>
        Assert.Equal(ValidationCodes.OutOfRange, Assert.Single(NginxValidation.HeaderValue(new string('a', 5000))).Code);

    [Theory]
    [InlineData("http://localhost:8080/health")]
    [InlineData("http://backend")]
    [InlineData("https://api.example.com/v1/")]
    [InlineData("http://10.0.0.1:8080")]
    [InlineData("http://[::1]:8080/")]
    [InlineData("http://127.0.0.1:8080$request_uri")]
    [InlineData("HTTP://Example.com/")]
    [InlineData("http://a.b/x;y{z}\"q")]
    public void Proxy_pass_accepts_http_urls(string value) =>
        Assert.Empty(NginxValidation.ProxyPass(value));

    [Theory]
    [InlineData("")]
    [InlineData("ftp://example.com")]
    [InlineData("unix:/tmp/sock")]
    [InlineData("http://unix:/tmp/sock:")]
    [InlineData("http://")]
    [InlineData("http://upstream_name")]
    [InlineData("http://$host")]
    [InlineData("http://example.com:0")]
    [InlineData("http://example.com:70000")]
    [InlineData("http://example.com/$unknown")]
    [InlineData("http://example.com$request_uri")]
    [InlineData("http://example.com/a b")]
    [InlineData("http://example.com/\r\n")]
    [InlineData("http://user@example.com")]
    [InlineData("http://[zz]:80")]
    [InlineData("example.com")]
    public void Proxy_pass_refuses_other_urls(string value) =>
        Assert.NotEmpty(NginxValidation.ProxyPass(value));

    [Theory]
    [InlineData("^/old/(.*)$", "/new/$1", "permanent")]
    [InlineData("^/a$", "/b", "")]
    [InlineData("^/a$", "/b?x=$arg_x", "last")]
    [InlineData("^", "https://$host$request_uri", "redirect")]
    [InlineData("^/(.*)$", "/$1", "break")]
    public void Rewrite_rules_accept_sane_rules(string pattern, string replacement, string flag) =>
        Assert.Empty(NginxValidation.RewriteRule(pattern, replacement, flag));

    [Theory]
    [InlineData("", "/b", "", "rewrite_rules[0].pattern")]
    [InlineData("^/(a", "/b", "", "rewrite_rules[0].pattern")]
    [InlineData("^/a", "", "", "rewrite_rules[0].replacement")]
    [InlineData("^/a", "/b c", "", "rewrite_rules[0].replacement")]
    [InlineData("^/a", "/$nope", "", "rewrite_rules[0].replacement")]
    [InlineData("^/a", "/b", "last; return 200", "rewrite_rules[0].flag")]
    [InlineData("^/a", "/b", "Last", "rewrite_rules[0].flag")]
    [InlineData("^/a\n", "/b", "", "rewrite_rules[0].pattern")]
    public void Rewrite_rules_refuse_bad_parts_by_field(string pattern, string replacement, string flag, string field) =>
        Assert.Equal(field, Assert.Single(NginxValidation.RewriteRule(pattern, replacement, flag)).Field);

    [Theory]
    [InlineData("10.0.1.20:8080")]
    [InlineData("[::1]:80")]
    [InlineData("[2001:db8::1]:443")]
    [InlineData("backend.internal:8080")]
    [InlineData("localhost:1")]
    public void Upstream_address_accepts_host_port(string value) =>
        Assert.Empty(NginxValidation.UpstreamServerAddress(value));

    [Theory]
    [InlineData("")]
    [InlineData("10.0.1.20")]
    [InlineData("10.0.1.20:")]
    [InlineData("10.0.1.20:0")]
    [InlineData("10.0.1.20:65536")]
    [InlineData("10.0.1.20:080")]
    [InlineData("::1:80")]
    [InlineData("[::1]")]
    [InlineData("$host:80")]
    [InlineData("unix:/tmp/a.sock")]
    [InlineData("a b:80")]
    [InlineData("a;b:80")]
    [InlineData("256.1.1.1:80")]
    [InlineData("host_name:80")]
    [InlineData("host:80 backup")]
    public void Upstream_address_refuses_the_rest(string value) =>
        Assert.NotEmpty(NginxValidation.UpstreamServerAddress(value));

    [Theory]
    [InlineData(1, true)]
    [InlineData(1000, true)]
    [InlineData(0, false)]
    [InlineData(1001, false)]
    public void Weight_is_1_to_1000(long weight, bool valid) =>
        Assert.Equal(valid, NginxValidation.Weight(weight).Count == 0);

    [Fact]
    public void Max_fails_fail_timeout_and_keepalive_ranges()
    {
        Assert.Empty(NginxValidation.MaxFails(0));
        Assert.NotEmpty(NginxValidation.MaxFails(-1));
        Assert.Empty(NginxValidation.FailTimeoutSeconds(30));
        Assert.NotEmpty(NginxValidation.FailTimeoutSeconds(86401));
        Assert.Empty(NginxValidation.Keepalive(0));
        Assert.Empty(NginxValidation.Keepalive(32));
        Assert.NotEmpty(NginxValidation.Keepalive(-1));
    }

    [Theory]
    [InlineData("10s", true)]
    [InlineData("500ms", true)]
    [InlineData("1m30s", true)]
    [InlineData("2h", true)]
    [InlineData("30", true)]
    [InlineData("", false)]
    [InlineData("10 s", false)]
    [InlineData("ten", false)]
    [InlineData("10s;", false)]
    [InlineData("$var", false)]
    public void Nginx_time(string value, bool valid) =>
        Assert.Equal(valid, NginxValidation.NginxTime(value, "fail_timeout").Count == 0);

    [Fact]
    public void Health_check_rules()
    {
        Assert.Empty(NginxValidation.HealthCheck(true, "/health", 10, 5, 2, 3));
        Assert.Empty(NginxValidation.HealthCheck(true, "/health", 10, 5, 0, 0));
        Assert.Empty(NginxValidation.HealthCheck(false, null, 0, 0, 0, 0));
        Assert.Equal("health_check.path", Assert.Single(NginxValidation.HealthCheck(true, "health", 10, 5, 2, 3)).Field);
        Assert.Equal("health_check.path", Assert.Single(NginxValidation.HealthCheck(true, "/a b", 10, 5, 2, 3)).Field);
        Assert.Equal("health_check.interval", Assert.Single(NginxValidation.HealthCheck(true, "/h", 0, 1, 2, 3)).Field);
        Assert.Equal("health_check.timeout", Assert.Single(NginxValidation.HealthCheck(true, "/h", 5, 10, 2, 3)).Field);
        Assert.Equal("health_check.unhealthy_threshold", Assert.Single(NginxValidation.HealthCheck(true, "/h", 5, 1, 2, 101)).Field);
    }

    [Theory]
    [InlineData("/var/www/site", true)]
    [InlineData("/srv/static/", true)]
    [InlineData("/", true)]
    [InlineData("", false)]
    [InlineData("var/www", false)]
    [InlineData("/var/www/../etc", false)]
    [InlineData("/var/./www", false)]
    [InlineData("/var//www", false)]
    [InlineData("/var/$host", false)]
    [InlineData("/var/\"www", false)]
    [InlineData("/var/'www", false)]
    [InlineData("/var/w w", false)]
    [InlineData("/var/www;", false)]
    [InlineData("/var/www\n", false)]
    [InlineData("/var/w\\w", false)]
    public void Root_is_a_plain_absolute_path(string value, bool valid) =>
        Assert.Equal(valid, NginxValidation.Root(value).Count == 0);

    [Theory]
    [InlineData("index.html", true)]
    [InlineData("index.html index.htm", true)]
    [InlineData("", false)]
    [InlineData("../secret", false)]
    [InlineData("..", false)]
    [InlineData("a/b.html", false)]
    [InlineData("$uri", false)]
    [InlineData("a;b", false)]
    [InlineData("a  b", false)]
    public void Index_lists_file_names(string value, bool valid) =>
        Assert.Equal(valid, NginxValidation.Index(value).Count == 0);

    [Fact]
    public void Location_target_is_exactly_one_of_upstream_proxy_pass_root()
    {
        Assert.Empty(NginxValidation.LocationTarget("/", "u1", "", "", "", false));
        Assert.Empty(NginxValidation.LocationTarget("/", "", "", "/srv/www", "index.html", false));
        Assert.Empty(NginxValidation.LocationTarget("/", "", "", "", "", hasReturnDirective: true));
        Assert.Equal(ValidationCodes.Required, Assert.Single(NginxValidation.LocationTarget("/", "", "", "", "", false)).Code);
        Assert.Equal("locations[0].proxy_pass", Assert.Single(NginxValidation.LocationTarget("/", "u1", "http://a", "", "", false, "locations[0]")).Field);
        Assert.Equal("index", Assert.Single(NginxValidation.LocationTarget("/", "u1", "", "", "index.html", false)).Field);
        Assert.Equal(ValidationCodes.NotAllowed, Assert.Single(NginxValidation.LocationTarget("~ ^/a", "", "http://a/x", "", "", false)).Code);
        Assert.Empty(NginxValidation.LocationTarget("~ ^/a", "", "http://a", "", "", false));
        Assert.Empty(NginxValidation.LocationTarget("~ ^/a", "", "http://127.0.0.1$request_uri", "", "", false));
    }

    [Theory]
    [InlineData("880e8400-e29b-41d4-a716-446655440004", true)]
    [InlineData("vh1", true)]
    [InlineData("", false)]
    [InlineData("-a", false)]
    [InlineData("../a", false)]
    [InlineData("a/b", false)]
    [InlineData("a.b", false)]
    public void Ids_are_file_and_upstream_name_safe(string value, bool valid) =>
        Assert.Equal(valid, NginxValidation.Id(value).Count == 0);

    [Fact]
    public void Env_vars_refuse_loader_and_nginx_variables()
    {
        Assert.Empty(NginxValidation.EnvVar("TZ", "UTC"));
        Assert.Equal(ValidationCodes.NotAllowed, Assert.Single(NginxValidation.EnvVar("LD_PRELOAD", "/x.so")).Code);
        Assert.Equal(ValidationCodes.NotAllowed, Assert.Single(NginxValidation.EnvVar("NGINX", "1")).Code);
        Assert.NotEmpty(NginxValidation.EnvVar("A=B", "1"));
        Assert.NotEmpty(NginxValidation.EnvVar("A", "x\ny"));
    }

    [Fact]
    public void Map_entry_fields_stay_readable_for_hostile_keys()
    {
        Assert.Equal("custom_directives.gzip", NginxValidation.MapEntryField("custom_directives", "gzip"));
        Assert.Equal("custom_directives[\"a;b\"]", NginxValidation.MapEntryField("custom_directives", "a;b"));
    }
}
