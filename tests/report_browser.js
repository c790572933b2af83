// The HTML report in a real browser (ctest report.browser): Debian's headless
// Chromium, driven by playwright-core (tests/package.json), opens a two-model
// report (stories260K and a `ctscope synth` model: analyze + eval-compression
// of each) from file:// with every other request aborted, and checks: no
// console error, every figure drew marks (SVG renderer: marks are DOM
// elements), both models in every comparative figure, the per-matrix table
// sorts on a click; and --svg wrote the same figures. The screenshot stays in
// OUT (report.png).
//
//   node tests/report_browser.js --ctscope BIN --shared DIR --out DIR
//   node tests/report_browser.js --page report.html [--out DIR]   (check one page, print its render time)
//
// Exit 77 (ctest: skipped) with a line saying why when Chromium, the driver or
// the models are absent.
'use strict';
const {execFileSync} = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const SKIP = 77;
const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];

function skip(why) {
  console.log(`SKIP: ${why}`);
  process.exit(SKIP);
}
function fail(why) {
  console.error(`FAIL: ${why}`);
  process.exitCode = 1;
}

const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
if (!fs.existsSync(chromium)) skip(`no Chromium at ${chromium} (Debian: apt-get install chromium; scripts/install-deps.sh does it)`);
let playwright;
try {
  playwright = require('playwright-core');
} catch (e) {
  skip('playwright-core is not installed (npm ci in tests/; scripts/install-deps.sh does it)');
}

// Two models, each analyzed and evaluated under compression, in one report.
function makeReport(out) {
  const bin = args.ctscope;
  const models = path.join(args.shared, 'models');
  const stories = path.join(models, 'stories260K.bin');
  if (!fs.existsSync(stories)) skip(`no ${stories} (the shared test models)`);
  const run = (...a) => execFileSync(bin, a, {stdio: ['ignore', 'ignore', 'inherit'], env: {...process.env, OPENBLAS_NUM_THREADS: '1'}});
  fs.mkdirSync(out, {recursive: true});
  const syn = path.join(out, 'synthetic-tiny');
  run('synth', syn, '--preset', 'tiny', '-q');
  // Token ids valid in both vocabularies (stories260K: 512, tiny: 256), BOS first.
  const ids = [1];
  for (let i = 0; i < 260; ++i) ids.push(3 + ((i * 37) % 250));
  const idsFile = path.join(out, 'ids.json');
  fs.writeFileSync(idsFile, JSON.stringify(ids));
  const results = [];
  for (const [name, model] of [['stories', stories], ['synthetic', syn]]) {
    const a = path.join(out, `${name}.analysis.json`);
    run('analyze', model, '--K', '1,2,4,8', '--basis', 'gaussian,dct,svd', '--spectrum', '--json', a, '-q');
    const c = path.join(out, `${name}.compression.json`);
    run('eval-compression', model, '--text-ids', idsFile, '--ctx', '64', '--K', '2,8', '--basis', 'gaussian', '--json', c, '-q');
    results.push(a, c);
  }
  const page = path.join(out, 'report.html');
  const svgs = path.join(out, 'svg');
  fs.rmSync(svgs, {recursive: true, force: true});
  run('report', ...results, '-o', page, '--svg', svgs, '-q');
  return {page, svgs, models: ['stories260K.bin', 'synthetic-tiny']};
}

// --svg: one file per figure of the page, each an SVG that shows both models.
function checkSvgs(dir, figureIds, models) {
  const files = fs.readdirSync(dir).sort();
  const want = figureIds.map((id) => `${id.replace(/^fig-/, '')}.svg`).sort();
  if (JSON.stringify(files) !== JSON.stringify(want)) fail(`--svg wrote ${files.join(', ')}; the page has ${want.join(', ')}`);
  for (const f of files) {
    const svg = fs.readFileSync(path.join(dir, f), 'utf8');
    if (!svg.startsWith('<svg')) fail(`${f} is not an SVG`);
    for (const m of models) if (!svg.includes(`>${m}<`)) fail(`${f} does not show ${m}`);
  }
}

async function check(page, models, out, svgs) {
  // A fresh profile each run (launchPersistentContext is how Playwright takes --user-data-dir).
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ctscope-chromium-'));
  const context = await playwright.chromium.launchPersistentContext(profile, {
    executablePath: chromium,
    viewport: {width: 1400, height: 900},
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  try {
    const tab = await context.newPage();
    const errors = [];
    const blocked = [];
    tab.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    tab.on('pageerror', (e) => errors.push(String(e)));
    await tab.route('**/*', (r) => {
      if (r.request().url().startsWith('file:')) return r.continue();
      blocked.push(r.request().url());
      return r.abort();
    });
    const t0 = Date.now();
    await tab.goto('file://' + path.resolve(page));
    await tab.waitForSelector('body[data-rendered]', {timeout: 60000});
    const ms = Date.now() - t0;
    if ((await tab.getAttribute('body', 'data-rendered')) !== 'ok') fail('the page says its figures failed to render');
    for (const e of errors) fail(`console error: ${e}`);
    for (const u of blocked) fail(`the page requested ${u}`);

    const figures = await tab.$$eval('figure', (figs) => figs.map((f) => ({
      id: f.id,
      models: JSON.parse(f.dataset.models || '[]'),
      marks: f.querySelectorAll('svg g.role-mark path, svg g.role-mark text, svg g.role-mark line').length,
      text: [...f.querySelectorAll('svg text')].map((t) => t.textContent),
    })));
    if (models && figures.length < 7) fail(`only ${figures.length} figures (expected 7: the two-model report has spectra and compression)`);
    for (const f of figures) {
      if (f.marks === 0) fail(`${f.id} drew no marks`);
      for (const m of models || []) {
        if (!f.models.includes(m)) fail(`${f.id} has no data of ${m}`);
        if (!f.text.includes(m)) fail(`${f.id} does not show ${m}`);
      }
    }

    // Sorting: weight PR (column 6) ascending on the first click, descending on the second.
    const column = async () => tab.$$eval('#matrix-table tbody tr td:nth-child(6)', (tds) => tds.map((td) => parseFloat(td.textContent)));
    const header = tab.locator('#matrix-table th', {hasText: 'weight PR'});
    await header.click();
    const up = await column();
    await header.click();
    const down = await column();
    const sorted = (v, s) => v.every((x, i) => i === 0 || s * (x - v[i - 1]) >= 0);
    if (up.length < 2 || !sorted(up, 1) || !sorted(down, -1)) fail('the per-matrix table does not sort by weight PR on a click');

    if (svgs) checkSvgs(svgs, figures.map((f) => f.id), models);
    await tab.screenshot({path: path.join(out, 'report.png'), fullPage: true});
    console.log(`${page}: ${figures.length} figures (${figures.map((f) => `${f.id} ${f.marks} marks`).join(', ')}), ` +
                `rendered in ${ms} ms; ${up.length} table rows; screenshot ${path.join(out, 'report.png')}`);
  } finally {
    await context.close();
    fs.rmSync(profile, {recursive: true, force: true});
  }
}

(async () => {
  const out = path.resolve(args.out || '.');
  fs.mkdirSync(out, {recursive: true});
  const r = args.page ? {page: args.page, models: null} : makeReport(out);
  await check(r.page, r.models, out, r.svgs);
})().catch((e) => {
  console.error(`FAIL: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
