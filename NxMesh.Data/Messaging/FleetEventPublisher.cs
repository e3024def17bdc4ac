using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using StackExchange.Redis;

namespace NxMesh.Data.Messaging;

/// <summary>Publishes spec-shaped events (<c>{type, timestamp, data}</c>) on <see cref="HubChannels.Events"/>.</summary>
public sealed class FleetEventPublisher(IConnectionMultiplexer redis)
{
    public Task PublishAsync(string type, Guid workspaceId, JsonObject data, DateTimeOffset? timestamp = null)
    {
        data["workspace_id"] = workspaceId.ToString("D");
        var message = new JsonObject
        {
            ["type"] = type,
            ["timestamp"] = (timestamp ?? DateTimeOffset.UtcNow).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            ["data"] = data,
        };
        return redis.GetSubscriber().PublishAsync(RedisChannel.Literal(HubChannels.Events), message.ToJsonString());
    }

    public static JsonObject Parse(string message) =>
        JsonNode.Parse(message) as JsonObject ?? throw new JsonException("An event is a JSON object.");
}
