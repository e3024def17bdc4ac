/** A small dependency-free SVG line chart for one series over time. */
export function LineChart({ title, points, unit = '' }: { title: string; points: { t: number; v: number }[]; unit?: string }) {
  const width = 320;
  const height = 100;
  if (points.length === 0) {
    return (
      <figure className="chart">
        <figcaption>{title}</figcaption>
        <p className="muted small">No samples in this range.</p>
      </figure>
    );
  }
  const t0 = Math.min(...points.map((p) => p.t));
  const t1 = Math.max(...points.map((p) => p.t));
  const max = Math.max(...points.map((p) => p.v), 0) || 1;
  const x = (t: number) => (t1 === t0 ? width / 2 : ((t - t0) / (t1 - t0)) * width);
  const y = (v: number) => height - (v / max) * (height - 6) - 3;
  const path = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
  const last = points[points.length - 1];
  return (
    <figure className="chart">
      <figcaption>
        {title} <span className="muted">now {format(last.v)}{unit} · max {format(max)}{unit}</span>
      </figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`${title} over time`} preserveAspectRatio="none">
        <path d={path} fill="none" stroke="currentColor" strokeWidth="1.5" vectorEffect="non-scaling-stroke" />
      </svg>
      <div className="chart-axis muted small">
        <span>{new Date(t0).toLocaleTimeString()}</span>
        <span>{new Date(t1).toLocaleTimeString()}</span>
      </div>
    </figure>
  );
}

const format = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2).replace(/\.?0+$/, ''));
