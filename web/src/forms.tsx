import { useState, type FormEvent, type InputHTMLAttributes, type ReactNode } from 'react';
import { Field, fieldErrors } from './ui';

/**
 * The shape every create form shares: a card with a title, the fields, the API's errors that no field showed, and one
 * submit button that says when it is busy. `onSubmit` throws to show an error; `children` gets `fe(path)`, the API's
 * message for a field (by JSON path), so each error lands under its input.
 */
export function CardForm({ title, label, submitLabel, busyLabel, onSubmit, children }: {
  title: string;
  label: string;
  submitLabel: string;
  busyLabel: string;
  onSubmit: () => Promise<void>;
  children: (fe: (path: string) => string | undefined) => ReactNode;
}) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const { fe, Rest } = fieldErrors(error);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onSubmit();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  // children first: the fields claim their errors before Rest shows the others
  const fields = children(fe);
  return (
    <form className="card" onSubmit={submit} aria-label={label}>
      <h2>{title}</h2>
      {fields}
      <Rest />
      <button type="submit" className="primary" disabled={busy}>
        {busy ? busyLabel : submitLabel}
      </button>
    </form>
  );
}

/** A row of filters above a list, applied together by one button. */
export function FilterForm({ label, submitLabel = 'Apply filters', onApply, children }: { label: string; submitLabel?: string; onApply: () => void; children: ReactNode }) {
  return (
    <form
      className="filters"
      aria-label={label}
      onSubmit={(e) => {
        e.preventDefault();
        onApply();
      }}
    >
      {children}
      <button type="submit">{submitLabel}</button>
    </form>
  );
}

/** A labelled text input bound to a string, with its error (or hint) under it. */
export function TextField({ label, value, onChange, error, hint, ...input }: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  error?: string;
  hint?: ReactNode;
} & Omit<InputHTMLAttributes<HTMLInputElement>, 'id' | 'value' | 'onChange' | 'aria-describedby'>) {
  return (
    <Field label={label} error={error} hint={hint}>
      {(id, describedBy) => <input id={id} aria-describedby={describedBy} value={value} onChange={(e) => onChange(e.target.value)} {...input} />}
    </Field>
  );
}
