using System.Globalization;
using System.Text;

namespace NxMesh.Nginx;

/// <summary>Writes nginx configuration with consistent indentation; every argument is quoted.</summary>
public sealed class NginxConfigBuilder
{
    private readonly StringBuilder _text = new();
    private int _depth;

    /// <summary>A directive whose arguments are all quoted.</summary>
    public NginxConfigBuilder Directive(string name, params ReadOnlySpan<string> arguments)
    {
        Indent();
        _text.Append(name);
        foreach (var argument in arguments)
        {
            _text.Append(' ').Append(NginxQuoting.Quote(argument));
        }
        _text.Append(";\n");
        return this;
    }

    public NginxConfigBuilder Directive(string name, int argument) =>
        Directive(name, argument.ToString(CultureInfo.InvariantCulture));

    public NginxConfigBuilder Block(string name, Action<NginxConfigBuilder> body, params ReadOnlySpan<string> arguments)
    {
        Indent();
        _text.Append(name);
        foreach (var argument in arguments)
        {
            _text.Append(' ').Append(NginxQuoting.Quote(argument));
        }
        _text.Append(" {\n");
        _depth++;
        body(this);
        _depth--;
        Indent();
        _text.Append("}\n");
        return this;
    }

    public NginxConfigBuilder Comment(string comment)
    {
        Indent();
        _text.Append("# ").Append(comment.ReplaceLineEndings(" ")).Append('\n');
        return this;
    }

    public override string ToString() => _text.ToString();

    private void Indent() => _text.Append(' ', _depth * 4);
}
