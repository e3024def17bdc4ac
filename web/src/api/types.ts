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

export type AccessLogEntry = S['AccessLogResponse'];
export type AccessLogPage = S['AccessLogPage'];
export type MetricsSummary = S['MetricsResponse'];

/** A WebSocket event: {type, timestamp, data}. */
export interface FeedEvent {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

export const canEdit = (role: Role | undefined) => role === 'editor' || role === 'admin' || role === 'owner';
export const canAdmin = (role: Role | undefined) => role === 'admin' || role === 'owner';
