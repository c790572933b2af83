// The HTML report in a real browser (ctest report.browser): Debian's headless
// Chromium, driven by playwright-core (tests/package.json), opens a two-model
// report (stories260K and a `ctscope synth` model: analyze + eval-compression
// of each, and fine-tuning results of each built here from the agreed schema)
// from file:// with every other request aborted, and checks: no console error,
// every figure drew marks (SVG renderer: marks are DOM elements), both models
// in every comparative figure, the per-matrix table sorts on a click, the
// fine-tuning tables and the original's perplexity line are there; and --svg
// wrote the same figures. A second page holds one lone finetune result (no
// original to draw). The screenshots stay in OUT (report.png, finetune.png).
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

// Fine-tuning results of the model at `modelPath`, as `ctscope finetune --json`
// and `ctscope finetune-compare --json` write them (the schema agreed for issue
// 11): two finetune runs (K = 8 and 16) and one comparison, with made-up
// numbers on smooth curves. Returns the files written.
function finetuneFixtures(out, name, modelPath) {
  const tool = {name: 'ctscope', version: '0.1.0', git_commit: '', schema_version: 1, run_utc: '2026-01-01T00:00:00Z'};
  const evalResult = (ppl, kl, top1) => ({ppl, ppl_stderr: 0.02 * ppl, scored_tokens: 1890, chunks: 30, ctx: 64,
                                         kl_mean: kl, kl_p99: 4 * kl, top1_agreement: top1});
  const settings = {trainable: 'amplitudes', K: 8, basis: 'gaussian', steps: 40, batch: 8, accumulate: 1, ctx: 64, lr: 0.001,
                    min_lr: 0.0001, warmup: 4, optimizer: 'adamw', weight_decay: 0, clip: 1, seed: 0, distill_weight: 1,
                    train: 'teacher:20000', valid: 'valid.txt', train_tokens: 20000, valid_tokens: 1984, eval_every: 10};
  // Loss falling from `from` toward `to`; validation perplexity every 10 steps and at the last.
  const log = (from, to, pplFrom, pplTo) => Array.from({length: settings.steps}, (_, step) => {
    const t = (step + 1) / settings.steps;
    const e = {step, train_loss: to + (from - to) * Math.exp(-4 * t) + 0.03 * Math.sin(step), lr: 0.001 * Math.min(1, (step + 1) / 4),
               grad_norm: 0.5 + 0.3 * Math.exp(-3 * t), seconds: 0.1 * (step + 1)};
    if ((step + 1) % settings.eval_every === 0)
      Object.assign(e, {valid_ppl: pplTo + (pplFrom - pplTo) * Math.exp(-4 * t), kl_mean: 2 * Math.exp(-3 * t), top1_agreement: 0.9 - 0.6 * Math.exp(-3 * t)});
    return e;
  });
  const files = [];
  const write = (file, result) => {
    const f = path.join(out, file);
    fs.writeFileSync(f, JSON.stringify({tool, run: {}, model: modelPath, ...result}));
    files.push(f);
  };
  for (const K of [8, 16]) {
    const l = log(6, 2.5 - 0.05 * K, 1600 / K, 12 - 0.2 * K);
    write(`${name}.finetune-K${K}.json`, {
      output: `${name}-K${K}.ct.safetensors`, teacher: modelPath, settings: {...settings, K},
      params: {trainable: 2000 * K, stored: 2600 * K, total: 260000}, before: evalResult(1600 / K, 4, 0.2),
      after: evalResult(l[l.length - 1].valid_ppl, l[l.length - 1].kl_mean, l[l.length - 1].top1_agreement), training_log: l,
      timing: {seconds: 4, tokens_per_s: 5120}});
  }
  const row = (variant, kind, K, rank, trainable, stored, before, after, trained) => ({
    variant, kind, basis: K ? 'gaussian' : null, K, lora_rank: rank, trainable_params: trainable, stored_params: stored,
    before, after, training_log: trained || []});
  const rows = [row('original', 'original', null, null, 0, 260000, evalResult(3.6, 0, 1), null),
                row('int8 row-absmax', 'int8', null, null, 0, 70000, evalResult(3.7, 0.01, 0.97), null)];
  for (const K of [8, 16]) {
    rows.push(row(`gaussian K=${K} amplitudes`, 'amplitudes', K, null, 2000 * K, 2600 * K, evalResult(1600 / K, 4, 0.2),
                  evalResult(12 - 0.2 * K, 0.5, 0.7), log(6, 2.5 - 0.05 * K, 1600 / K, 12 - 0.2 * K)));
    rows.push(row(`K=${K} LoRA r=${K / 4}`, 'lora', K, K / 4, 2000 * K, 2600 * K + 2000 * K, evalResult(1600 / K, 4, 0.2),
                  evalResult(20 - 0.3 * K, 0.8, 0.6), log(6, 2.9 - 0.05 * K, 1600 / K, 20 - 0.3 * K)));
    rows.push(row(`K=${K} full`, 'full', K, null, 260000, 260000, evalResult(1600 / K, 4, 0.2), evalResult(4.5, 0.1, 0.9),
                  log(6, 1.4, 1600 / K, 4.5)));
  }
  write(`${name}.finetune-compare.json`, {
    teacher: modelPath, valid: 'valid.txt', train: 'teacher:20000', settings: {...settings, K: [8, 16], bases: ['gaussian']},
    floors: {uniform_ppl: 512, unigram_ppl: 180, unigram_ppl_stderr: 3, unigram_from: 'frequencies of the scored target tokens'},
    finetune_rows: rows});
  return files;
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
    // The fine-tuning results name the model as analyze recorded it (one model, one label on the page).
    results.push(a, c, ...finetuneFixtures(out, name, JSON.parse(fs.readFileSync(a, 'utf8')).model.path));
  }
  const page = path.join(out, 'report.html');
  const svgs = path.join(out, 'svg');
  fs.rmSync(svgs, {recursive: true, force: true});
  run('report', ...results, '-o', page, '--svg', svgs, '-q');
  // One finetune result alone: its curves, no table of matrices, no original to draw.
  const lone = path.join(out, 'finetune.html');
  run('report', path.join(out, 'stories.finetune-K8.json'), '-o', lone, '-q');
  return [{page, svgs, models: ['stories260K.bin', 'synthetic-tiny'], screenshot: 'report.png',
           figures: ['r2-vs-k', 'weight-pr', 'amplitude-pr', 'heatmap-r2', 'heatmap-weight-pr', 'scree', 'pareto',
                     'finetune-pareto', 'finetune-loss', 'finetune-valid-ppl'],
           texts: {'finetune-valid-ppl': 'original 3.600'}, tables: ['K=8 LoRA r=2', 'gaussian K=16 amplitudes', 'stories.finetune-K16.json']},
          {page: lone, models: ['stories260K.bin'], screenshot: 'finetune.png', figures: ['finetune-loss', 'finetune-valid-ppl'],
           absent: {'finetune-valid-ppl': 'original'}, tables: ['stories.finetune-K8.json']}];
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

// One page: `want` = {page, models (each in every figure; null: not checked),
// figures (ids expected, in order; null: not checked), texts / absent ({figure
// id: text it shows / must not show}), tables (texts the tables show), svgs,
// screenshot}.
async function checkPage(context, want, out) {
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
  const page = want.page;
  const t0 = Date.now();
  await tab.goto('file://' + path.resolve(page));
  await tab.waitForSelector('body[data-rendered]', {timeout: 60000});
  const ms = Date.now() - t0;
  if ((await tab.getAttribute('body', 'data-rendered')) !== 'ok') fail(`${page}: the page says its figures failed to render`);
  for (const e of errors) fail(`${page}: console error: ${e}`);
  for (const u of blocked) fail(`${page}: the page requested ${u}`);

  const figures = await tab.$$eval('figure', (figs) => figs.map((f) => ({
    id: f.id,
    models: JSON.parse(f.dataset.models || '[]'),
    marks: f.querySelectorAll('svg g.role-mark path, svg g.role-mark text, svg g.role-mark line').length,
    text: [...f.querySelectorAll('svg text')].map((t) => t.textContent),
  })));
  const ids = figures.map((f) => f.id.replace(/^fig-/, ''));
  if (want.figures && JSON.stringify(ids) !== JSON.stringify(want.figures))
    fail(`${page}: figures ${ids.join(', ')}; expected ${want.figures.join(', ')}`);
  for (const f of figures) {
    if (f.marks === 0) fail(`${page}: ${f.id} drew no marks`);
    for (const m of want.models || []) {
      if (!f.models.includes(m)) fail(`${page}: ${f.id} has no data of ${m}`);
      if (!f.text.includes(m)) fail(`${page}: ${f.id} does not show ${m}`);
    }
  }
  const textOf = (id) => (figures.find((f) => f.id === `fig-${id}`) || {text: []}).text;
  for (const [id, t] of Object.entries(want.texts || {}))
    if (!textOf(id).some((x) => x.includes(t))) fail(`${page}: ${id} does not show "${t}"`);
  for (const [id, t] of Object.entries(want.absent || {}))
    if (textOf(id).some((x) => x.includes(t))) fail(`${page}: ${id} shows "${t}" and should not`);
  const tables = (await tab.$$eval('table', (ts) => ts.map((t) => t.textContent))).join('\n');
  for (const t of want.tables || []) if (!tables.includes(t)) fail(`${page}: no table shows "${t}"`);

  let sortedRows = 0;
  if (await tab.$('#matrix-table')) {
    // Sorting: weight PR (column 6) ascending on the first click, descending on the second.
    const column = async () => tab.$$eval('#matrix-table tbody tr td:nth-child(6)', (tds) => tds.map((td) => parseFloat(td.textContent)));
    const header = tab.locator('#matrix-table th', {hasText: 'weight PR'});
    await header.click();
    const up = await column();
    await header.click();
    const down = await column();
    const sorted = (v, s) => v.every((x, i) => i === 0 || s * (x - v[i - 1]) >= 0);
    if (up.length < 2 || !sorted(up, 1) || !sorted(down, -1)) fail(`${page}: the per-matrix table does not sort by weight PR on a click`);
    sortedRows = up.length;
  }

  if (want.svgs) checkSvgs(want.svgs, figures.map((f) => f.id), want.models);
  const shot = path.join(out, want.screenshot || 'report.png');
  await tab.screenshot({path: shot, fullPage: true});
  await tab.close();
  console.log(`${page}: ${figures.length} figures (${figures.map((f) => `${f.id} ${f.marks} marks`).join(', ')}), ` +
              `rendered in ${ms} ms; ${sortedRows} table rows sorted; screenshot ${shot}`);
}

async function check(pages, out) {
  // A fresh profile each run (launchPersistentContext is how Playwright takes --user-data-dir).
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ctscope-chromium-'));
  const context = await playwright.chromium.launchPersistentContext(profile, {
    executablePath: chromium,
    viewport: {width: 1400, height: 900},
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  try {
    for (const want of pages) await checkPage(context, want, out);
  } finally {
    await context.close();
    fs.rmSync(profile, {recursive: true, force: true});
  }
}

(async () => {
  const out = path.resolve(args.out || '.');
  fs.mkdirSync(out, {recursive: true});
  await check(args.page ? [{page: args.page, models: null, figures: null}] : makeReport(out), out);
})().catch((e) => {
  console.error(`FAIL: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
