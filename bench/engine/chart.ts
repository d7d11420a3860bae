import { writeFileSync } from 'node:fs';
import { Resvg } from '@resvg/resvg-js';

export interface Bar {
  label: string;
  value: number;
  color: string;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** A plain horizontal bar chart as SVG; resvg turns it into the PNG. */
export function barChartSvg(title: string, unit: string, bars: Bar[]): string {
  const width = 900;
  const rowH = 44;
  const left = 200;
  const top = 60;
  const height = top + bars.length * rowH + 40;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const rows = bars.map((b, i) => {
    const y = top + i * rowH;
    const w = Math.max(1, ((width - left - 140) * b.value) / max);
    return [
      `<text x="${left - 10}" y="${y + 26}" text-anchor="end" font-size="16">${esc(b.label)}</text>`,
      `<rect x="${left}" y="${y + 8}" width="${w.toFixed(1)}" height="${rowH - 16}" fill="${b.color}"/>`,
      `<text x="${(left + w + 8).toFixed(1)}" y="${y + 26}" font-size="16">${b.value.toFixed(0)} ${esc(unit)}</text>`,
    ].join('');
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="34" text-anchor="middle" font-size="20" font-weight="bold">${esc(title)}</text>`,
    ...rows,
    `</svg>`,
  ].join('\n');
}

/**
 * Writes the chart as PNG (resvg, the system's fonts) and keeps the SVG beside it only
 * when rendering fails. Returns the PNG path, or undefined when only the SVG was written.
 */
export function writeChart(svgPath: string, pngPath: string, svg: string): string | undefined {
  try {
    const png = new Resvg(svg, { background: 'white', font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
    writeFileSync(pngPath, png);
    return pngPath;
  } catch {
    writeFileSync(svgPath, svg);
    return undefined;
  }
}
