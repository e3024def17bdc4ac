using NxMesh.AgentSim.Scenarios;
using Xunit;

namespace NxMesh.Bench.Tests;

public sealed class ApplyStageLogTests
{
    [Fact]
    public void The_agents_stage_line_of_the_applied_config_gives_the_time_up_to_the_HUP_and_the_confirmation()
    {
        var log = Path.GetTempFileName();
        try
        {
            File.WriteAllText(log, """
                info: NxMesh.Agent.Apply.ConfigApplier[0]
                      config aaaa v1 stages in ms: total=99.0 render=9.0 write=9.0 validate=9.0 swap=9.0 new_workers=9.0 old_stopped=9.0 commit=9.0
                info: NxMesh.Agent.Apply.ConfigApplier[0]
                      config bbbb v2: Success in 30 ms
                info: NxMesh.Agent.Apply.ConfigApplier[0]
                      config bbbb v2 stages in ms: total=30.5 render=0.2 write=0.4 validate=10.4 swap=0.2 new_workers=12.9 old_stopped=2.4 commit=0.1

                """);

            var stages = ApplyScenario.AgentStages(log, "bbbb");

            Assert.NotNull(stages);
            Assert.Equal(30.5, stages.TotalMilliseconds);
            Assert.Equal(7, stages.Stages.Count);
            Assert.Equal(11.2, stages.UntilHupMilliseconds, 6);
            Assert.Equal(15.3, stages.ConfirmationMilliseconds, 6);
            Assert.Null(ApplyScenario.AgentStages(log, "cccc"));
        }
        finally
        {
            File.Delete(log);
        }
    }
}
