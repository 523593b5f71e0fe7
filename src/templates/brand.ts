// The operator's brand on every page and mail: a product name, a logo and a primary colour.
// The colour is checked against WCAG 2.2's contrast ratio (success criteria 1.4.3 and 1.4.11):
// text on a button of that colour is white or near-black, whichever reads better (one of them
// always reaches 4.5:1), and where the colour itself is text (links) on the card of each scheme
// it is darkened or lightened until it reaches 4.5:1, with a warning at start saying so.

export interface BrandOptions {
  name: string;
  logoUrl?: string | undefined;
  /** `#rrggbb`; unset: Portcullis's own colours. */
  color?: string | undefined;
}

export interface Brand {
  name: string;
  logoUrl: string | undefined;
  /** Custom properties for /assets/brand.css, or none when no colour was configured. */
  css: string;
  /** A filled button's colour and the contrast-checked colour of its text (mail, which has no style sheet). */
  colors: { fill: string; onFill: string };
  /** What the operator should know about their colour. */
  warnings: string[];
}

/** The card colours of the light and dark schemes (views/assets/portcullis.css). */
export const CARD = { light: '#ffffff', dark: '#242429' } as const;
const INK = { light: '#ffffff', dark: '#15161a' } as const;
const TEXT_CONTRAST = 4.5;
/** Portcullis's own button colours without BRAND_COLOR: the light scheme's --accent and --on-fill (portcullis.css). */
const DEFAULT_COLORS = { fill: '#3451b2', onFill: '#ffffff' } as const;

type Rgb = [number, number, number];

export function parseHex(color: string): Rgb | undefined {
  const match = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
  return match ? [parseInt(match[1]!, 16), parseInt(match[2]!, 16), parseInt(match[3]!, 16)] : undefined;
}

const toHex = (rgb: Rgb) => `#${rgb.map((c) => Math.round(c).toString(16).padStart(2, '0')).join('')}`;

/** WCAG 2.2 relative luminance. */
function luminance([r, g, b]: Rgb): number {
  const linear = (c: number) => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
}

/** WCAG 2.2 contrast ratio of two `#rrggbb` colours (1 to 21). */
export function contrastRatio(a: string, b: string): number {
  const [la, lb] = [luminance(parseHex(a)!), luminance(parseHex(b)!)];
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/** The colour moved towards `target` in small steps until it reaches the ratio against `background`. */
function untilReadable(color: string, background: string, target: string): string {
  const from = parseHex(color)!;
  const to = parseHex(target)!;
  for (let step = 0; step <= 20; step += 1) {
    const mixed = toHex(from.map((c, i) => c + ((to[i]! - c) * step) / 20) as Rgb);
    if (contrastRatio(mixed, background) >= TEXT_CONTRAST) return mixed;
  }
  return target;
}

export function createBrand({ name, logoUrl, color }: BrandOptions): Brand {
  if (!color) return { name, logoUrl, css: '', colors: { ...DEFAULT_COLORS }, warnings: [] };
  const warnings: string[] = [];
  const onFill = contrastRatio(color, INK.light) >= contrastRatio(color, INK.dark) ? INK.light : INK.dark;
  const linkLight = untilReadable(color, CARD.light, '#000000');
  const linkDark = untilReadable(color, CARD.dark, '#ffffff');
  if (linkLight !== color.toLowerCase())
    warnings.push(
      `BRAND_COLOR ${color} has ${contrastRatio(color, CARD.light).toFixed(1)}:1 against white, below WCAG's 4.5:1 for text: links use ${linkLight} instead`,
    );
  const css = [
    `:root { --accent: ${color}; --on-fill: ${onFill}; --link: ${linkLight}; }`,
    `@media (prefers-color-scheme: dark) { :root { --accent: ${color}; --on-fill: ${onFill}; --link: ${linkDark}; } }`,
    '',
  ].join('\n');
  return { name, logoUrl, css, colors: { fill: color.toLowerCase(), onFill }, warnings };
}
