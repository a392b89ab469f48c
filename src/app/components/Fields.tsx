import { useEffect, useId, useState, type ReactNode } from 'react';

interface FieldShell {
  label: string;
  hint?: ReactNode;
  error?: string;
}

function Shell({ id, label, hint, error, children }: FieldShell & { id: string; children: ReactNode }) {
  return (
    <div className={`field${error ? ' invalid' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children}
      {error ? (
        <p className="field-error" id={`${id}-error`} role="alert">
          {error}
        </p>
      ) : hint ? (
        <p className="field-hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
    </div>
  );
}

interface NumberFieldProps extends FieldShell {
  value: number | null;
  /** null: the field may be left empty (meaning "none"). */
  onChange: (value: number | null) => void;
  /** Reports text that is not a number, so the form can refuse to train. */
  onParseError: (message: string | null) => void;
  allowEmpty?: boolean;
  integer?: boolean;
  step?: string;
  disabled?: boolean;
  placeholder?: string;
}

/** The number a field's text means: null for an allowed empty field, undefined when it is not one. */
function parseNumber(t: string, allowEmpty: boolean | undefined, integer: boolean | undefined): number | null | undefined {
  if (t.trim() === '') return allowEmpty ? null : undefined;
  const n = Number(t);
  if (!Number.isFinite(n)) return undefined;
  if (integer && !Number.isInteger(n)) return undefined;
  return n;
}

/**
 * A number input that keeps what the person typed ("1e-", "0.") while it is not yet a number,
 * says why next to the field, and hands on only numbers.
 */
export function NumberField({
  label,
  hint,
  error,
  value,
  onChange,
  onParseError,
  allowEmpty,
  integer,
  step,
  disabled,
  placeholder,
}: NumberFieldProps) {
  const id = useId();
  const [text, setText] = useState(value === null ? '' : String(value));
  const [parseError, setParseError] = useState<string | null>(null);
  useEffect(() => {
    // Follow outside changes (a duplicated run's settings) unless the text already means this value.
    setText((t) => (parseNumber(t, allowEmpty, integer) === value ? t : value === null ? '' : String(value)));
  }, [value, allowEmpty, integer]);

  const parse = (t: string) => parseNumber(t, allowEmpty, integer);

  function change(t: string) {
    setText(t);
    const n = parse(t);
    if (n === undefined) {
      const message =
        t.trim() === '' ? `${label} needs a value` : integer ? `${label} must be a whole number` : `${label} must be a number`;
      setParseError(message);
      onParseError(message);
    } else {
      setParseError(null);
      onParseError(null);
      onChange(n);
    }
  }

  const shown = parseError ?? error;
  return (
    <Shell id={id} label={label} hint={hint} error={shown}>
      <input
        id={id}
        type="text"
        inputMode={integer ? 'numeric' : 'decimal'}
        value={text}
        step={step}
        disabled={disabled}
        placeholder={placeholder}
        aria-invalid={shown ? true : undefined}
        aria-describedby={shown ? `${id}-error` : hint ? `${id}-hint` : undefined}
        onChange={(e) => change(e.target.value)}
        spellCheck={false}
        autoComplete="off"
      />
    </Shell>
  );
}

interface SelectFieldProps<T extends string> extends FieldShell {
  value: T;
  options: { value: T; label: string }[];
  onChange: (value: T) => void;
  disabled?: boolean;
}

export function SelectField<T extends string>({ label, hint, error, value, options, onChange, disabled }: SelectFieldProps<T>) {
  const id = useId();
  return (
    <Shell id={id} label={label} hint={hint} error={error}>
      <select
        id={id}
        value={value}
        disabled={disabled}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : hint ? `${id}-hint` : undefined}
        onChange={(e) => onChange(e.target.value as T)}
      >
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </Shell>
  );
}

interface CheckFieldProps {
  label: string;
  hint?: ReactNode;
  checked: boolean;
  onChange: (checked: boolean) => void;
  disabled?: boolean;
}

export function CheckField({ label, hint, checked, onChange, disabled }: CheckFieldProps) {
  const id = useId();
  return (
    <div className="field check">
      <label htmlFor={id} className="check-label">
        <input id={id} type="checkbox" checked={checked} disabled={disabled} onChange={(e) => onChange(e.target.checked)} />
        <span>{label}</span>
      </label>
      {hint && <p className="field-hint">{hint}</p>}
    </div>
  );
}
