namespace NxMesh.Data.Entities;

// Stored and serialized as lowercase snake_case strings ("docker_sidecar", "least_connections").

public enum OrganizationRole { Viewer, Editor, Admin, Owner }

public enum AgentState { Offline, Online, Degraded }

public enum DeploymentMode { Unspecified, DockerSidecar, KubernetesSidecar, Standalone }

public enum LoadBalanceAlgorithm { RoundRobin, LeastConnections, IpHash, WeightedRoundRobin }

public enum TargetAgentsType { All, Selector, Agents }

public enum CertificateProvider { Letsencrypt, SelfSigned, Custom }

public enum CertificateStatus { Pending, Active, Renewing, Failed, Expired }

public enum ConfigApplyStatus { Unspecified, Pending, Validating, Applying, Success, Failed, RolledBack }
