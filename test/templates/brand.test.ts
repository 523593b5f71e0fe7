// The operator's brand (BRAND_NAME, BRAND_LOGO_URL, BRAND_COLOR): WCAG 2.2's contrast maths,
// what a colour too light for text becomes, and the name, logo and colour on the pages a real
// server answers.
import { CARD, contrastRatio, createBrand } from '../../src/templates/brand.ts';
import { createViews } from '../../src/templates/index.ts';
import { startServer, type RunningServer } from '../support/server.ts';

describe('contrast (WCAG 2.2 relative luminance)', () => {
  test('matches the known ratios', () => {
    expect(contrastRatio('#000000', '#ffffff')).toBeCloseTo(21, 5);
    expect(contrastRatio('#ffffff', '#ffffff')).toBeCloseTo(1, 5);
    // #767676 is the lightest grey that passes 4.5:1 on white; #777777 just fails.
    expect(contrastRatio('#767676', '#ffffff')).toBeCloseTo(4.54, 2);
    expect(contrastRatio('#777777', '#ffffff')).toBeLessThan(4.5);
    expect(contrastRatio('#ff0000', '#ffffff')).toBeCloseTo(4.0, 1);
    expect(contrastRatio('#0000ff', '#ffffff')).toBeCloseTo(8.59, 2);
    // Symmetric, and case does not matter.
    expect(contrastRatio('#FFFFFF', '#3451B2')).toBeCloseTo(contrastRatio('#3451b2', '#ffffff'), 10);
  });
});

describe('a brand colour', () => {
  test('too light for text: dark button text, a darkened link colour that reads on white, and a warning', () => {
    const brand = createBrand({ name: 'Acme', color: '#ffeb3b' });
    expect(brand.css).toContain('--accent: #ffeb3b');
    expect(brand.css).toContain('--on-fill: #15161a');
    expect(contrastRatio('#15161a', '#ffeb3b')).toBeGreaterThanOrEqual(4.5);
    const [light, dark] = [...brand.css.matchAll(/--link: (#[0-9a-f]{6})/g)].map((match) => match[1]!);
    expect(light).not.toBe('#ffeb3b');
    expect(contrastRatio(light!, CARD.light)).toBeGreaterThanOrEqual(4.5);
    expect(contrastRatio(dark!, CARD.dark)).toBeGreaterThanOrEqual(4.5);
    expect(brand.warnings).toHaveLength(1);
    expect(brand.warnings[0]).toMatch(/BRAND_COLOR #ffeb3b has 1\.\d:1 against white.*links use #[0-9a-f]{6} instead/);
  });

  test('dark enough: white button text, the colour itself for links, no warning', () => {
    const brand = createBrand({ name: 'Acme', color: '#3451b2' });
    expect(brand.css).toContain('--on-fill: #ffffff');
    expect(brand.css).toMatch(/^:root \{ --accent: #3451b2; --on-fill: #ffffff; --link: #3451b2; \}/);
    expect(brand.warnings).toEqual([]);
    // In the dark scheme the same colour is too dark for text on the dark card: lightened there.
    const dark = /prefers-color-scheme: dark.*--link: (#[0-9a-f]{6})/.exec(brand.css)![1]!;
    expect(contrastRatio(dark, CARD.dark)).toBeGreaterThanOrEqual(4.5);
  });

  test('unset: no stylesheet rules and no warning (the pages keep their own colours)', () => {
    expect(createBrand({ name: 'Portcullis' })).toEqual({
      name: 'Portcullis',
      logoUrl: undefined,
      css: '',
      warnings: [],
      colors: { fill: '#3451b2', onFill: '#ffffff' },
    });
  });
});

describe('on the pages', () => {
  let running: RunningServer;
  const logs: string[] = [];
  beforeAll(async () => {
    running = await startServer(
      { BRAND_NAME: 'Acme Login', BRAND_LOGO_URL: 'https://cdn.example.com/acme.svg', BRAND_COLOR: '#ffeb3b' },
      { logs },
    );
  }, 60_000);
  afterAll(() => running?.stop());

  const page = async (path: string, headers: Record<string, string> = {}) => {
    const response = await fetch(`${running.url}${path}`, { headers: { accept: 'text/html', ...headers } });
    return { status: response.status, headers: response.headers, body: await response.text() };
  };

  test.each([
    ['the home page', '/', 200],
    ['the error page', '/no-such-page', 404],
    ['the device page', '/device', 200],
  ])('%s carries the brand: title, name, logo and both stylesheets, in that order', async (_name, path, status) => {
    const answer = await page(path);
    expect(answer.status).toBe(status);
    expect(answer.body).toMatch(/<title>[^<]+ · Acme Login<\/title>/);
    expect(answer.body).toContain('<span class="brand-name">Acme Login</span>');
    expect(answer.body).toContain('<img class="logo" src="https://cdn.example.com/acme.svg" alt=""');
    expect(answer.body).not.toContain('Portcullis');
    const stylesheets = [...answer.body.matchAll(/<link rel="stylesheet" href="([^"]+)">/g)].map((match) => match[1]);
    expect(stylesheets).toEqual(['/assets/portcullis.css', '/assets/brand.css']);
    // The logo is on another host: the pages' Content-Security-Policy lets that origin's images in, and nothing more.
    expect(answer.headers.get('content-security-policy')).toContain("img-src 'self' https://cdn.example.com;");
  });

  test('the brand stylesheet carries the colour, and the start warned about it', async () => {
    const css = await page('/assets/brand.css');
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
    expect(css.body).toContain('--accent: #ffeb3b; --on-fill: #15161a;');
    expect(logs.some((line) => line.includes('BRAND_COLOR #ffeb3b has'))).toBe(true);
  });

  test('the sign-out pages name the brand, not Portcullis, in German too', () => {
    const views = createViews({ brand: createBrand({ name: 'Acme Login' }) });
    const asking = views.render('logout', { lang: 'de', form: '<form id="op.logoutForm"></form>', clientName: 'Notizen' });
    expect(asking).toContain('<html lang="de">');
    expect(asking).toContain('Notizen möchte Sie von Acme Login abmelden.');
    expect(asking).toContain('<title>Abmelden · Acme Login</title>');
    const done = views.render('logged-out', { lang: 'en' });
    expect(done).toContain('You have signed out of Acme Login.');
    expect(done + asking).not.toContain('Portcullis');
  });
});
