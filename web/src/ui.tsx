import { useCallback, useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { ApiError, describe } from './api/client';

/** Loads with `load` whenever `deps` change; `reload` re-runs it keeping the current data on screen. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const run = useCallback(async () => {
    const mine = ++generation.current;
    setLoading(true);
    try {
      const result = await load();
      if (mine === generation.current) {
        setData(result);
        setError(null);
      }
    } catch (e) {
      if (mine === generation.current) setError(e);
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, deps);
  useEffect(() => {
    setData(undefined);
    run();
  }, [run]);
  return { data, setData, error, loading, reload: run };
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p className="muted loading" role="status" aria-live="polite">
      {what}…
    </p>
  );
}

export function ErrorBox({ error, retry }: { error: unknown; retry?: () => void }) {
  return (
    <div className="error-box" role="alert">
      <strong>{error instanceof ApiError ? error.code.replaceAll('_', ' ').toLowerCase() : 'error'}:</strong> {describe(error)}
      {retry && (
        <button type="button" className="link" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      {children && <div className="muted">{children}</div>}
    </div>
  );
}

/** Loading / error / data in one place, so every screen shows the same three states. */
export function Loaded<T>({ state, children }: { state: { data: T | undefined; error: unknown; loading: boolean; reload: () => void }; children: (data: T) => ReactNode }) {
  if (state.data === undefined) {
    if (state.error) return <ErrorBox error={state.error} retry={state.reload} />;
    return <Loading />;
  }
  return (
    <>
      {state.error ? <ErrorBox error={state.error} retry={state.reload} /> : null}
      {children(state.data)}
    </>
  );
}

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="page-header">
      <h1>{title}</h1>
      <div className="actions">{children}</div>
    </div>
  );
}

/** A labelled input with the API's validation message for this field right under it. */
export function Field({ label, error, hint, children }: { label: string; error?: string; hint?: ReactNode; children: (id: string, describedBy?: string) => ReactNode }) {
  const id = useId();
  const errorId = `${id}-error`;
  return (
    <div className={error ? 'field invalid' : 'field'}>
      <label htmlFor={id}>{label}</label>
      {children(id, error ? errorId : undefined)}
      {hint && !error && <div className="hint">{hint}</div>}
      {error && (
        <div className="field-error" id={errorId} role="alert">
          {error}
        </div>
      )}
    </div>
  );
}

/** Asks before a destructive action; Escape or Cancel keeps everything. */
export function ConfirmButton({ label, question, onConfirm, className = 'danger', disabled }: { label: string; question: string; onConfirm: () => Promise<unknown> | void; className?: string; disabled?: boolean }) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    if (open) dialog.current?.showModal();
    else dialog.current?.close();
  }, [open]);
  return (
    <>
      <button type="button" className={className} disabled={disabled} onClick={() => setOpen(true)}>
        {label}
      </button>
      {open && (
        <dialog ref={dialog} className="confirm" onClose={() => setOpen(false)} aria-label={question}>
          <p>{question}</p>
          {error ? <ErrorBox error={error} /> : null}
          <div className="dialog-actions">
            <button type="button" onClick={() => setOpen(false)} autoFocus>
              Cancel
            </button>
            <button
              type="button"
              className="danger"
              disabled={busy}
              onClick={async () => {
                setBusy(true);
                setError(null);
                try {
                  await onConfirm();
                  setOpen(false);
                } catch (e) {
                  setError(e);
                } finally {
                  setBusy(false);
                }
              }}
            >
              {busy ? 'Working…' : `Yes, ${label.toLowerCase()}`}
            </button>
          </div>
        </dialog>
      )}
    </>
  );
}

export function Copyable({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="copyable">
      <pre aria-label={label}>{text}</pre>
      <button
        type="button"
        onClick={async () => {
          try {
            await navigator.clipboard.writeText(text);
            setCopied(true);
            window.setTimeout(() => setCopied(false), 2000);
          } catch {
            setCopied(false);
          }
        }}
      >
        {copied ? 'Copied' : 'Copy'}
      </button>
    </div>
  );
}

export function StateBadge({ state }: { state: string }) {
  return <span className={`badge state-${state}`}>{state}</span>;
}

export function Labels({ labels }: { labels: Record<string, string> }) {
  const entries = Object.entries(labels);
  if (entries.length === 0) return <span className="muted">—</span>;
  return (
    <span className="labels">
      {entries.map(([k, v]) => (
        <span key={k} className="label">
          {k}={v}
        </span>
      ))}
    </span>
  );
}

export function Pager({ page, perPage, total, onPage }: { page: number; perPage: number; total: number; onPage: (page: number) => void }) {
  const pages = Math.max(1, Math.ceil(total / perPage));
  if (pages <= 1) return null;
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" disabled={page <= 1} onClick={() => onPage(page - 1)}>
        Previous
      </button>
      <span>
        Page {page} of {pages} ({total})
      </span>
      <button type="button" disabled={page >= pages} onClick={() => onPage(page + 1)}>
        Next
      </button>
    </nav>
  );
}

export function when(value: unknown): string {
  if (value === null || value === undefined || value === '') return '—';
  const date = new Date(String(value));
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleString();
}

export function ago(value: unknown): string {
  if (value === null || value === undefined) return 'never';
  const ms = Date.now() - new Date(String(value)).getTime();
  if (Number.isNaN(ms)) return String(value);
  const s = Math.round(ms / 1000);
  if (s < 5) return 'just now';
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export const shortId = (id: string | null | undefined) => (id ? id.slice(0, 12) : '—');

/** "env=prod, tier=web" ⇄ {env: "prod", tier: "web"} for label inputs. */
export function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const part of text.split(',')) {
    const trimmed = part.trim();
    if (!trimmed) continue;
    const eq = trimmed.indexOf('=');
    if (eq < 0) labels[trimmed] = '';
    else labels[trimmed.slice(0, eq).trim()] = trimmed.slice(eq + 1).trim();
  }
  return labels;
}
export const formatLabels = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');

/**
 * Field errors of a form: `fe(path)` gives the API's message for a field the form renders (and remembers it);
 * `Rest` then shows the error itself and every detail no field displayed, so nothing the API said is lost.
 */
export function fieldErrors(error: unknown) {
  const shown = new Set<string>();
  const apiError = error instanceof ApiError ? error : null;
  return {
    fe(path: string) {
      shown.add(path);
      return apiError?.field(path);
    },
    Rest() {
      if (!error) return null;
      const rest = apiError?.details.filter((d) => !shown.has(d.field)) ?? [];
      if (apiError && apiError.details.length > 0 && rest.length === 0) {
        return <p className="field-error" role="alert">Correct the highlighted fields.</p>;
      }
      return (
        <div className="error-box" role="alert">
          {describe(error)}
          {rest.length > 0 && (
            <ul>
              {rest.map((d) => (
                <li key={d.field + d.message}>
                  <code>{d.field}</code>: {d.message}
                </li>
              ))}
            </ul>
          )}
        </div>
      );
    },
  };
}
