import type { ErrorDetail, TokenPair } from './types';

/** A non-2xx answer in the API's envelope {error: {code, message, request_id, details[]}}. */
export class ApiError extends Error {
  constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
    public readonly details: ErrorDetail[],
    public readonly requestId?: string,
  ) {
    super(message);
  }

  /** The API's message for one field, by its JSON path ("servers[0].address"). */
  field(name: string): string | undefined {
    return this.details.find((d) => d.field === name)?.message;
  }
}

const refreshKey = 'nxmesh.refresh_token';
let accessToken: string | null = null;
let refreshing: Promise<boolean> | null = null;
let onSessionEnd: () => void = () => {};

export const session = {
  get accessToken() {
    return accessToken;
  },
  get hasRefreshToken() {
    return localStorage.getItem(refreshKey) !== null;
  },
  set(tokens: TokenPair) {
    accessToken = tokens.access_token;
    localStorage.setItem(refreshKey, tokens.refresh_token);
  },
  clear() {
    accessToken = null;
    localStorage.removeItem(refreshKey);
  },
  onEnd(callback: () => void) {
    onSessionEnd = callback;
  },
  /** Trades the stored refresh token for a new pair (rotation); one refresh at a time for concurrent 401s. */
  refresh(): Promise<boolean> {
    refreshing ??= (async () => {
      const refreshToken = localStorage.getItem(refreshKey);
      if (!refreshToken) return false;
      const response = await fetch('/v1/auth/refresh', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ refresh_token: refreshToken }),
      });
      if (!response.ok) {
        session.clear();
        return false;
      }
      session.set((await response.json()) as TokenPair);
      return true;
    })().finally(() => {
      refreshing = null;
    });
    return refreshing;
  },
};

async function toError(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as { error?: { code: string; message: string; details?: ErrorDetail[]; request_id?: string } };
    if (body.error) {
      return new ApiError(response.status, body.error.code, body.error.message, body.error.details ?? [], body.error.request_id);
    }
  } catch {
    // not JSON: fall through
  }
  return new ApiError(response.status, 'HTTP_' + response.status, `${response.status} ${response.statusText}`, []);
}

type Query = Record<string, string | number | boolean | undefined | null>;

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** Calls /v1{path}; on 401 refreshes once and retries; a failed refresh ends the session. */
export async function api<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
  const send = () =>
    fetch('/v1' + withQuery(path, query), {
      method,
      headers: {
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...(accessToken ? { Authorization: `Bearer ${accessToken}` } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  let response = await send();
  if (response.status === 401 && !path.startsWith('/auth/login')) {
    if (await session.refresh()) {
      response = await send();
    } else {
      onSessionEnd();
    }
  }
  if (!response.ok) throw await toError(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export const get = <T>(path: string, query?: Query) => api<T>('GET', path, undefined, query);
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, body ?? {});
export const patch = <T>(path: string, body: unknown) => api<T>('PATCH', path, body);
export const del = (path: string) => api<void>('DELETE', path);

export function describe(error: unknown): string {
  if (error instanceof ApiError) return error.message + (error.requestId ? ` (request ${error.requestId})` : '');
  if (error instanceof Error) return error.message;
  return String(error);
}
