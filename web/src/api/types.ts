import type { components } from './schema';

type S = components['schemas'];
export type Agent = S['AgentResponse'];
export type AgentDetail = S['AgentDetailResponse'];
export type AgentConfig = S['AgentConfigResponse'];
export type Me = S['MeResponse'];
export type MyOrganization = S['MyOrganization'];
export type Organization = S['OrganizationResponse'];
export type Workspace = S['WorkspaceResponse'];
export type Role = S['OrganizationRole'];
export type VirtualHost = S['VirtualHostResponse'];
export type Upstream = S['UpstreamResponse'];
export type Certificate = S['CertificateResponse'];
export type Member = S['MemberResponse'];
export type AddedMember = S['AddedMemberResponse'];
export type AuditEntry = S['AuditEntryResponse'];
export type TokenPair = S['TokenResponse'];
export type RegistrationTokens = S['RegistrationTokensCreated'];
export type RegistrationToken = S['RegistrationTokenResponse'];
export type ReloadResult = S['ReloadResponse'];
export type CommandResult = S['AgentCommandResponse'];
export type ValidateResult = S['ValidateConfigResponse'];
export type ErrorDetail = S['ErrorDetail'];
export type PageMeta = S['PageMeta'];
export type Paged<T> = { data: T[]; meta: PageMeta };

// Telemetry (spec "Metrics" / "Access Logs"): typed here from the spec until the Api documents them; when the
// OpenAPI document gains them, these move to the generated schema.
export interface AccessLogEntry {
  id: string;
  agent_id: string;
  timestamp: string;
  remote_addr: string;
  method: string;
  uri: string;
  protocol: string;
  host: string;
  status: number;
  body_bytes_sent: number;
  response_time_ms: number;
  user_agent?: string | null;
  referer?: string | null;
  request_id?: string | null;
}
export interface AccessLogPage {
  data: AccessLogEntry[];
  /** next_cursor: pass as `cursor` for the next (older) page; null on the last page */
  meta: { total: number; total_capped?: boolean; limit: number; next_cursor?: string | null };
}
export interface MetricsSummary {
  requests_total?: number;
  requests_per_second?: number;
  error_rate?: number;
  active_connections?: number;
  bandwidth?: { in_bytes: number; out_bytes: number };
  status_codes?: Record<string, number>;
  /** with `step`: one point per window [timestamp, timestamp + step) */
  series?: { timestamp: string; requests_total: number; requests_per_second: number; error_rate: number; active_connections: number }[];
}

/** A WebSocket event: {type, timestamp, data}. */
export interface FeedEvent {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

export const canEdit = (role: Role | undefined) => role === 'editor' || role === 'admin' || role === 'owner';
export const canAdmin = (role: Role | undefined) => role === 'admin' || role === 'owner';
