using Google.Protobuf;
using Microsoft.Extensions.Options;
using NxMesh.Agent.Apply;
using NxMesh.Agent.Health;
using NxMesh.Agent.Master;
using NxMesh.Agent.Nginx;
using NxMesh.Protocol.V1;

namespace NxMesh.Agent.Commands;

/// <summary>
/// The five master commands, each answered with a CommandResult: reload (graceful, or the old generation stopped at
/// once), restart (graceful or forced), stop (graceful with a timeout; a supervised nginx then stays stopped),
/// get_status (a health report) and validate_config (render the candidate ConfigUpdate, `nginx -t` in a scratch
/// prefix, apply nothing).
/// </summary>
internal sealed partial class CommandHandler
{
    private readonly AgentOptions _options;
    private readonly INginxControl _control;
    private readonly NginxReloader _reloader;
    private readonly NginxGate _gate;
    private readonly HealthCollector _health;
    private readonly IConfigRenderer _renderer;
    private readonly ConfigChecker _checker;
    private readonly TimeProvider _time;
    private readonly ILogger<CommandHandler> _logger;

    public CommandHandler(
        IOptions<AgentOptions> options, INginxControl control, NginxReloader reloader, NginxGate gate, HealthCollector health,
        IConfigRenderer renderer, ConfigChecker checker, TimeProvider time, ILogger<CommandHandler> logger)
    {
        _options = options.Value;
        _control = control;
        _reloader = reloader;
        _gate = gate;
        _health = health;
        _renderer = renderer;
        _checker = checker;
        _time = time;
        _logger = logger;
    }

    public async Task<CommandResult> HandleAsync(Command command, CancellationToken cancellationToken)
    {
        using var activity = AgentTracing.Start("agent command " + command.CommandCase, command.Traceparent);
        activity?.SetTag("nxmesh.command_id", command.CommandId);
        var result = new CommandResult { CommandId = command.CommandId };
        try
        {
            switch (command.CommandCase)
            {
                case Command.CommandOneofCase.Reload:
                    await ReloadAsync(command.Reload, result, cancellationToken);
                    break;
                case Command.CommandOneofCase.Restart:
                    await RestartAsync(command.Restart, result, cancellationToken);
                    break;
                case Command.CommandOneofCase.Stop:
                    await StopAsync(command.Stop, result, cancellationToken);
                    break;
                case Command.CommandOneofCase.GetStatus:
                    result.Status = await _health.CollectAsync(cancellationToken);
                    result.Success = true;
                    result.Message = result.Status.Nginx.IsRunning ? "nginx is running" : "nginx is not running";
                    break;
                case Command.CommandOneofCase.ValidateConfig:
                    await ValidateAsync(command.ValidateConfig, result, cancellationToken);
                    break;
                default:
                    result.Message = "unknown command";
                    break;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Every command gets an answer, whatever went wrong.
            result.Success = false;
            result.Message = ex.Message;
        }
        result.CompletedAt = _time.GetUtcNow().ToUnixTimeMilliseconds();
        LogCommand(command.CommandId, command.CommandCase, result.Success, result.Message);
        return result;
    }

    private async Task ReloadAsync(ReloadCommand reload, CommandResult result, CancellationToken cancellationToken)
    {
        using var _ = await _gate.EnterAsync(cancellationToken);
        var outcome = await _reloader.ReloadAsync(reload.Graceful, cancellationToken);
        result.Success = outcome.Success;
        result.Message = outcome.Success ? (reload.Graceful ? "nginx reloaded gracefully" : "nginx reloaded; old workers stopped") : outcome.Message;
    }

    private async Task RestartAsync(RestartCommand restart, CommandResult result, CancellationToken cancellationToken)
    {
        using var _ = await _gate.EnterAsync(cancellationToken);
        await _control.RestartAsync(restart.Force, cancellationToken);
        result.Success = true;
        result.Message = $"nginx restarted (master {_control.MasterPid})";
    }

    private async Task StopAsync(StopCommand stop, CommandResult result, CancellationToken cancellationToken)
    {
        using var _ = await _gate.EnterAsync(cancellationToken);
        var timeout = TimeSpan.FromSeconds(stop.TimeoutSeconds > 0 ? stop.TimeoutSeconds : _options.StopTimeoutSeconds);
        await _control.StopAsync(stop.Graceful, timeout, cancellationToken);
        result.Success = _control.MasterPid is null;
        result.Message = result.Success ? "nginx stopped" : "nginx is still running";
    }

    private async Task ValidateAsync(ValidateConfigCommand validate, CommandResult result, CancellationToken cancellationToken)
    {
        ConfigUpdate candidate;
        try
        {
            candidate = JsonParser.Default.Parse<ConfigUpdate>(validate.ConfigContent);
        }
        catch (InvalidJsonException ex)
        {
            result.Message = "config_content is not a ConfigUpdate in proto JSON: " + ex.Message;
            return;
        }
        catch (InvalidProtocolBufferException ex)
        {
            result.Message = "config_content is not a ConfigUpdate in proto JSON: " + ex.Message;
            return;
        }
        var scratch = _checker.CreateScratch();
        try
        {
            var rendered = _renderer.Render(candidate);
            var config = Path.Combine(scratch, "conf", "nginx.conf");
            await File.WriteAllTextAsync(config, rendered.MainConfig, cancellationToken);
            foreach (var (path, file) in rendered.Files)
            {
                var target = Path.GetFullPath(Path.Combine(scratch, path));
                if (!target.StartsWith(Path.Combine(scratch, "conf") + "/", StringComparison.Ordinal))
                {
                    throw new ConfigRenderingException($"Rendered file '{path}' is not a plain path under conf/.");
                }
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                await File.WriteAllTextAsync(target, file.Content, cancellationToken);
                if (file.Secret)
                {
                    File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                }
            }
            var (valid, output) = await NginxCommands.TestConfigAsync(_options.NginxBinary, scratch + "/", config, cancellationToken);
            result.Success = valid;
            result.Output = output;
            result.Message = valid ? "nginx accepts the candidate config" : "nginx rejects the candidate config";
            if (rendered.Warnings.Count > 0)
            {
                result.Message += "; warnings: " + string.Join("; ", rendered.Warnings);
            }
        }
        catch (ConfigRenderingException ex)
        {
            result.Message = "the candidate cannot be rendered: " + ex.Message;
        }
        finally
        {
            ConfigChecker.TryDelete(scratch);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "command {CommandId} ({Kind}): success={Success} {Message}")]
    private partial void LogCommand(string commandId, Command.CommandOneofCase kind, bool success, string message);
}
