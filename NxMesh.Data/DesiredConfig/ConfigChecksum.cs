using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using NxMesh.Protocol.V1;

namespace NxMesh.Data.DesiredConfig;

/// <summary>
/// <c>config_id</c>: lowercase hex SHA-256 of the canonical form of a ConfigUpdate — its proto JSON without
/// <c>config_id</c>, <c>version</c> and <c>traceparent</c>, every object's keys (fields and map entries) sorted ordinally, default
/// values omitted. Lists keep their order (the builder orders them deterministically), so the checksum changes
/// exactly when the content does.
/// </summary>
public static class ConfigChecksum
{
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(false));

    public static string Compute(ConfigUpdate update) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Canonicalize(update))));

    /// <summary>The exact text the checksum is computed over (contains private keys: never log it).</summary>
    public static string Canonicalize(ConfigUpdate update)
    {
        var content = update.Clone();
        content.ConfigId = "";
        content.Version = 0;
        // Trace context says why a push happened, not what the config is.
        content.Traceparent = "";
        var node = JsonNode.Parse(Formatter.Format(content));
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteSorted(writer, node);
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteSorted(Utf8JsonWriter writer, JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                writer.WriteStartObject();
                foreach (var (key, value) in obj.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(key);
                    WriteSorted(writer, value);
                }
                writer.WriteEndObject();
                break;
            case JsonArray array:
                writer.WriteStartArray();
                foreach (var item in array)
                {
                    WriteSorted(writer, item);
                }
                writer.WriteEndArray();
                break;
            case null:
                writer.WriteNullValue();
                break;
            default:
                node.WriteTo(writer);
                break;
        }
    }
}
