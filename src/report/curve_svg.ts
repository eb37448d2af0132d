// A metric's curve as a small self-contained SVG (the report's pictures: a Markdown
// viewer and the lab page show the same file). One series, step on x, the metric on y,
// min/max tick labels on both axes; no script, no external styles.

export interface CurveOptions {
  title: string;
  /** y axis label (the metric and its unit). */
  yLabel: string;
  width?: number;
  height?: number;
}

const fmt = (v: number) => (Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(2) : Number(v.toPrecision(4)).toString());

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);

/** The SVG text of points (x, y); non-finite points are left out. null when fewer than two remain. */
export function curveSvg(points: readonly [number, number][], opts: CurveOptions): string | null {
  const pts = points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (pts.length < 2) return null;
  const W = opts.width ?? 480, H = opts.height ?? 220;
  const left = 56, right = 12, top = 26, bottom = 34;
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs);
  let y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (y0 === y1) y0 -= 0.5, y1 += 0.5; // a flat curve still gets an axis
  const sx = (x: number) => left + ((x - x0) / (x1 - x0 || 1)) * (W - left - right);
  const sy = (y: number) => top + (1 - (y - y0) / (y1 - y0)) * (H - top - bottom);
  const path = pts.map(([x, y], i) => `${i ? "L" : "M"}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ");
  const text = (x: number, y: number, s: string, anchor = "start", extra = "") =>
    `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" text-anchor="${anchor}"${extra}>${escapeXml(s)}</text>`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeXml(opts.title)}</title>`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`,
    text(left, 16, opts.title, "start", ` font-size="12" font-weight="bold"`),
    `<rect x="${left}" y="${top}" width="${W - left - right}" height="${H - top - bottom}" fill="none" stroke="#999999"/>`,
    `<path d="${path}" fill="none" stroke="#1f6feb" stroke-width="1.5"/>`,
    text(left - 4, top + 9, fmt(y1), "end"),
    text(left - 4, H - bottom, fmt(y0), "end"),
    text(left, H - bottom + 14, fmt(x0), "start"),
    text(W - right, H - bottom + 14, fmt(x1), "end"),
    text((left + W - right) / 2, H - 6, "step", "middle"),
    text(12, (top + H - bottom) / 2, opts.yLabel, "middle", ` transform="rotate(-90 12 ${((top + H - bottom) / 2).toFixed(1)})"`),
    `</svg>`,
  ].join("\n") + "\n";
}
