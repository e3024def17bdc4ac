import { useState, type FormEvent } from 'react';
import { useLocation, useNavigate } from 'react-router-dom';
import { ApiError } from '../api/client';
import { useAuth } from '../auth';
import { ErrorBox, Field } from '../ui';

export function LoginPage() {
  const { login } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(email, password);
      const from = (location.state as { from?: string } | null)?.from;
      navigate(from && from !== '/login' ? from : '/', { replace: true });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const apiError = error instanceof ApiError ? error : null;
  return (
    <div className="centered">
      <form className="card narrow" onSubmit={submit} aria-label="Log in">
        <h1>NxMesh</h1>
        <p className="muted">Sign in to manage your nginx fleet.</p>
        <Field label="Email" error={apiError?.field('email')}>
          {(id, d) => <input id={id} aria-describedby={d} type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} autoFocus />}
        </Field>
        <Field label="Password" error={apiError?.field('password')}>
          {(id, d) => <input id={id} aria-describedby={d} type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />}
        </Field>
        {error && !(apiError?.field('email') || apiError?.field('password')) ? <ErrorBox error={error} /> : null}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </div>
  );
}

export function ChangePasswordPage({ firstLogin = false }: { firstLogin?: boolean }) {
  const { changePassword, logout } = useAuth();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const mismatch = repeat.length > 0 && next !== repeat;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (mismatch) return;
    setBusy(true);
    setError(null);
    try {
      await changePassword(current, next);
      setDone(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const apiError = error instanceof ApiError ? error : null;
  const form = (
    <form className="card narrow" onSubmit={submit} aria-label="Change password">
      <h1>{firstLogin ? 'Choose your password' : 'Change password'}</h1>
      {firstLogin && <p className="muted">You signed in with a one-time password. Choose your own before you continue.</p>}
      <Field label={firstLogin ? 'One-time password' : 'Current password'} error={apiError?.field('current_password')}>
        {(id, d) => <input id={id} aria-describedby={d} type="password" autoComplete="current-password" required value={current} onChange={(e) => setCurrent(e.target.value)} />}
      </Field>
      <Field label="New password" error={apiError?.field('new_password')} hint="At least 8 characters.">
        {(id, d) => <input id={id} aria-describedby={d} type="password" autoComplete="new-password" required value={next} onChange={(e) => setNext(e.target.value)} />}
      </Field>
      <Field label="Repeat new password" error={mismatch ? 'The two passwords differ.' : undefined}>
        {(id, d) => <input id={id} aria-describedby={d} type="password" autoComplete="new-password" required value={repeat} onChange={(e) => setRepeat(e.target.value)} />}
      </Field>
      {error && !(apiError?.field('current_password') || apiError?.field('new_password')) ? <ErrorBox error={error} /> : null}
      {done && !firstLogin && <p role="status">Password changed. Your other sessions were signed out.</p>}
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy || mismatch}>
          {busy ? 'Saving…' : 'Set password'}
        </button>
        {firstLogin && (
          <button type="button" onClick={() => logout()}>
            Log out
          </button>
        )}
      </div>
    </form>
  );
  return firstLogin ? <div className="centered">{form}</div> : form;
}
