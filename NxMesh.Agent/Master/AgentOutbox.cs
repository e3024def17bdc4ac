using System.Threading.Channels;
using NxMesh.Protocol.V1;

namespace NxMesh.Agent.Master;

/// <summary>
/// Everything the agent tells the master (config statuses, events, health, command results) goes through here;
/// the master connection is its single reader. Bounded: while the master is away the oldest messages give way.
/// </summary>
public sealed class AgentOutbox(TimeProvider time)
{
    private readonly Channel<AgentMessage> _channel = Channel.CreateBounded<AgentMessage>(
        new BoundedChannelOptions(1024) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    public ChannelReader<AgentMessage> Reader => _channel.Reader;

    public void Post(AgentMessage message)
    {
        message.Timestamp = time.GetUtcNow().ToUnixTimeMilliseconds();
        _channel.Writer.TryWrite(message);
    }

    public void Post(ConfigStatus status) => Post(new AgentMessage { ConfigStatus = status });

    public void Post(Event @event) => Post(new AgentMessage { Event = @event });

    public void Post(CommandResult result) => Post(new AgentMessage { CommandResult = result });

    public void Post(HealthReport report) => Post(new AgentMessage { Health = report });
}
