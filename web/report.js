// ctscope's HTML report: builds the figures (Vega-Lite specs) and tables from
// the results embedded in the page (<script id="ctscope-data">). The same
// figures() runs in Node for `ctscope report --svg` (web/svg_export.js), so a
// figure file is the figure on the page. The numbers are those of the JSON
// results, unchanged; their definitions are in docs/ct-analysis.md.
(function (root) {
  'use strict';

  const BASES = ['gaussian', 'dct', 'random', 'svd', 'universal'];
  const ROLES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj', 'embed_tokens', 'lm_head'];
  // Paper 68's weight PR ranges by depth (TinyLlama-1.1B), drawn as bands.
  const PAPER_PR_BANDS = [
    {from: 0, to: 5, lo: 70, hi: 120, label: 'paper L0–L5: 70–120'},
    {from: 6, to: 15, lo: 150, hi: 250, label: 'paper L6–L15: 150–250'},
    {from: 16, to: 21, lo: 300, hi: 347, label: 'paper L16–L21: 300–347'},
  ];
  const PANEL = {width: 280, height: 200};

  // ---- the data -------------------------------------------------------------

  const baseName = (p) => String(p || '?').replace(/\/+$/, '').split('/').pop();
  // analyze and eval-compression write "model": {"path": ...}; finetune and finetune-compare "model": "path".
  const modelPath = (r) => (typeof r.result.model === 'string' ? r.result.model : r.result.model && r.result.model.path) || r.file;

  // One label per model path, unique even when two paths share a file name.
  function modelLabels(results) {
    const labels = new Map();
    const used = new Map();
    for (const r of results) {
      const path = modelPath(r);
      if (labels.has(path)) continue;
      let label = baseName(path);
      const n = (used.get(label) || 0) + 1;
      used.set(label, n);
      if (n > 1) label += ` (${n})`;
      labels.set(path, label);
    }
    return (r) => labels.get(modelPath(r));
  }

  function prepare(payload) {
    const label = modelLabels(payload.results);
    const runs = payload.results.map((r) => ({...r, model: label(r)}));
    return {
      payload,
      runs,
      analyses: runs.filter((r) => r.kind === 'analysis'),
      compressions: runs.filter((r) => r.kind === 'compression'),
      finetunes: runs.filter((r) => r.kind === 'finetune'),
      ftCompares: runs.filter((r) => r.kind === 'finetune-compare'),
      models: [...new Set(runs.map((r) => r.model))],
    };
  }

  // TinyLlama-1.1B's shapes: 22 blocks with 2048 x 2048 q_proj. Only then are
  // the paper's numbers drawn beside the measurements.
  function tinyllamaShaped(analysis) {
    const m = analysis.result.matrices || [];
    const layers = new Set(m.filter((x) => x.layer !== null).map((x) => x.layer));
    return layers.size === 22 && m.some((x) => x.role === 'q_proj' && x.shape && x.shape[0] === 2048 && x.shape[1] === 2048);
  }

  const sortedKs = (rows) => [...new Set(rows.map((r) => r.K))].sort((a, b) => a - b);
  const basesOf = (rows) => BASES.filter((b) => rows.some((r) => r.basis === b));
  const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;

  // ---- the figures ----------------------------------------------------------

  // Fixed colors per basis and role across figures; the legend lists those present.
  const colorBasis = (rows) => ({field: 'basis', type: 'nominal', title: 'basis', scale: {domain: BASES},
                                 legend: {values: basesOf(rows)}});
  const colorRole = (rows) => ({field: 'role', type: 'nominal', title: 'role', scale: {domain: ROLES},
                                legend: {values: ROLES.filter((r) => rows.some((x) => x.role === r))}});
  const facetModel = (models) => ({column: {field: 'model', type: 'nominal', title: null, sort: models}});

  function faceted(data, models, layers, extra) {
    return Object.assign({
      data: {values: data},
      facet: facetModel(models),
      spec: {width: PANEL.width, height: PANEL.height, layer: layers},
      resolve: {scale: {y: 'independent'}},
    }, extra || {});
  }

  const only = (series, mark, encoding) => ({transform: [{filter: {field: 'series', equal: series}}], mark, encoding});

  function r2Figure(d) {
    const rows = [];
    for (const a of d.analyses) {
      const groups = [['all matrices', (a.result.summary && a.result.summary.fits) || []]];
      for (const g of a.result.roles || []) groups.push([g.role, g.fits || []]);
      for (const [group, fits] of groups) {
        for (const f of fits) {
          rows.push({series: 'fit', model: a.model, group, basis: f.basis, K: f.K, r2: f.pooled_r2,
                     bound: f.pooled_r2_bound, null_r2: f.pooled_r2_null});
        }
        // The envelope: from the random-directions null up to the highest bound.
        for (const K of sortedKs(fits)) {
          const atK = fits.filter((f) => f.K === K);
          const bounds = atK.map((f) => f.pooled_r2_bound).filter((v) => v !== null && v !== undefined);
          rows.push({series: 'envelope', model: a.model, group, K, lo: atK[0].pooled_r2_null,
                     hi: bounds.length ? Math.max(...bounds) : atK[0].pooled_r2_null});
        }
      }
      if (tinyllamaShaped(a))
        for (const K of [8, 64]) rows.push({series: 'paper', model: a.model, group: '*', K, label: `paper K=${K}`});
    }
    if (!rows.length) return null;
    const groups = ['all matrices', ...ROLES.filter((r) => rows.some((x) => x.group === r))];
    const x = {field: 'K', type: 'quantitative', scale: {type: 'log', nice: false}, title: 'K (basis functions per row)'};
    const inGroup = {filter: "datum.group === role || datum.group === '*'"};
    const spec = faceted(rows, d.models, [
      {transform: [inGroup, {filter: {field: 'series', equal: 'envelope'}}], mark: {type: 'area', opacity: 0.15, color: '#888'},
       encoding: {x, y: {field: 'lo', type: 'quantitative', title: 'pooled R²'}, y2: {field: 'hi'}}},
      {transform: [inGroup, {filter: {field: 'series', equal: 'fit'}}], mark: {type: 'line', strokeDash: [4, 3], opacity: 0.8},
       encoding: {x, y: {field: 'bound', type: 'quantitative'}, color: colorBasis(rows),
                  tooltip: [{field: 'basis'}, {field: 'K'}, {field: 'bound', format: '.4f', title: 'bound'}]}},
      {transform: [inGroup, {filter: {field: 'series', equal: 'envelope'}}], mark: {type: 'line', color: 'black', strokeDash: [1, 2]},
       encoding: {x, y: {field: 'lo', type: 'quantitative'}, tooltip: [{field: 'K'}, {field: 'lo', format: '.4f', title: 'null (K/d)'}]}},
      {transform: [inGroup, {filter: {field: 'series', equal: 'fit'}}], mark: {type: 'line', point: true},
       encoding: {x, y: {field: 'r2', type: 'quantitative'}, color: colorBasis(rows),
                  tooltip: [{field: 'model'}, {field: 'group'}, {field: 'basis'}, {field: 'K'},
                            {field: 'r2', format: '.4f', title: 'R²'}, {field: 'bound', format: '.4f'}, {field: 'null_r2', format: '.4f', title: 'null'}]}},
      {transform: [{filter: {field: 'series', equal: 'paper'}}], mark: {type: 'rule', color: '#b22', strokeDash: [6, 3]},
       encoding: {x}},
      {transform: [{filter: {field: 'series', equal: 'paper'}}], mark: {type: 'text', color: '#b22', align: 'left', dx: 3, dy: -90, angle: 0},
       encoding: {x, text: {field: 'label'}}},
    ], {params: [{name: 'role', value: 'all matrices', bind: {input: 'select', options: groups, name: 'matrices: '}}]});
    return {id: 'r2-vs-k', title: 'R² against K',
            caption: 'Each basis\'s pooled R² (solid) should be read against its bound (dashed, the best its class can do) and the random-directions null (dotted): a curve hugging the dotted line found nothing, one near the dashed line found what there is; the grey band is the envelope between them.',
            spec};
  }

  function weightPrFigure(d) {
    const rows = [];
    for (const a of d.analyses) {
      for (const m of a.result.matrices || [])
        if (m.layer !== null && m.layer !== undefined) rows.push({series: 'role', model: a.model, layer: m.layer, role: m.role, weight_pr: m.weight_pr, name: m.name});
      for (const l of a.result.layers || []) rows.push({series: 'mean', model: a.model, layer: l.layer, weight_pr: l.weight_pr});
      if (tinyllamaShaped(a))
        for (const b of PAPER_PR_BANDS) rows.push({series: 'band', model: a.model, layer: b.from - 0.4, layer2: b.to + 0.4, lo: b.lo, hi: b.hi, label: b.label});
    }
    if (!rows.length) return null;
    const x = {field: 'layer', type: 'quantitative', title: 'layer', axis: {tickMinStep: 1, format: 'd'}};
    const spec = faceted(rows, d.models, [
      only('band', {type: 'rect', color: '#e8a', opacity: 0.25}, {x, x2: {field: 'layer2'}, y: {field: 'lo', type: 'quantitative'}, y2: {field: 'hi'}, tooltip: [{field: 'label', title: 'paper'}]}),
      only('role', {type: 'line', point: {size: 20}, strokeWidth: 1.2},
           {x, y: {field: 'weight_pr', type: 'quantitative', title: 'weight PR (centered)'}, color: colorRole(rows),
            tooltip: [{field: 'name'}, {field: 'weight_pr', format: '.1f', title: 'weight PR'}]}),
      only('mean', {type: 'line', color: 'black', strokeWidth: 2.5},
           {x, y: {field: 'weight_pr', type: 'quantitative'}, tooltip: [{field: 'layer'}, {field: 'weight_pr', format: '.1f', title: 'layer mean'}]}),
    ]);
    return {id: 'weight-pr', title: 'Weight PR against layer',
            caption: 'Whether the effective dimension of the weights grows with depth: one line per role, the layer mean in black, and for TinyLlama-shaped models the paper\'s reported ranges as pink bands the black line should pass through.',
            spec};
  }

  // Per (model, basis, K): the mean, min and max n95 over the matrices fitted.
  function n95Stats(a) {
    const acc = new Map();
    for (const m of a.result.matrices || [])
      for (const f of m.fits || []) {
        const key = `${f.basis}|${f.K}`;
        if (!acc.has(key)) acc.set(key, {basis: f.basis, K: f.K, v: []});
        acc.get(key).v.push(f.amplitude_n95);
      }
    return [...acc.values()].map((s) => ({basis: s.basis, K: s.K, n95: mean(s.v), n95_min: Math.min(...s.v), n95_max: Math.max(...s.v)}));
  }

  function amplitudeFigure(d) {
    const rows = [];
    for (const a of d.analyses) {
      const fits = (a.result.summary && a.result.summary.fits) || [];
      for (const f of fits) {
        rows.push({series: 'pr', quantity: 'amplitude PR', model: a.model, basis: f.basis, K: f.K, value: f.mean_amplitude_pr});
        rows.push({series: 'pr', quantity: 'null amplitude PR', model: a.model, basis: f.basis, K: f.K, value: f.mean_amplitude_pr_null});
      }
      for (const s of n95Stats(a)) rows.push({series: 'n95', quantity: 'n95 (mean over matrices)', model: a.model, ...s, value: s.n95});
      for (const K of sortedKs(fits)) rows.push({series: 'sqrtK', model: a.model, K, value: Math.sqrt(K)});
      if (tinyllamaShaped(a)) rows.push({series: 'paper', model: a.model, K: 64, lo: 21, hi: 24, label: 'paper n95 21–24 at K=64'});
    }
    if (!rows.length) return null;
    const x = {field: 'K', type: 'quantitative', scale: {type: 'log', nice: false}, title: 'K'};
    const y = {field: 'value', type: 'quantitative', scale: {type: 'log'}, title: 'directions'};
    const dash = {field: 'quantity', type: 'nominal', title: 'quantity', legend: {symbolStrokeColor: '#333'},
                  scale: {domain: ['amplitude PR', 'null amplitude PR', 'n95 (mean over matrices)'], range: [[1, 0], [5, 3], [1, 2]]}};
    const spec = faceted(rows, d.models, [
      only('pr', {type: 'line'}, {x, y, color: colorBasis(rows), strokeDash: dash,
                                              tooltip: [{field: 'basis'}, {field: 'K'}, {field: 'quantity'}, {field: 'value', format: '.2f'}]}),
      only('n95', {type: 'line'}, {x, y, color: colorBasis(rows), strokeDash: dash,
                                   tooltip: [{field: 'basis'}, {field: 'K'}, {field: 'n95', format: '.1f', title: 'mean n95'}, {field: 'n95_min'}, {field: 'n95_max'}]}),
      only('sqrtK', {type: 'line', color: '#555', strokeDash: [8, 4], strokeWidth: 1}, {x, y, tooltip: [{field: 'K'}, {field: 'value', format: '.2f', title: '√K'}]}),
      only('paper', {type: 'rule', color: '#b22', strokeWidth: 3}, {x, y: {field: 'lo', type: 'quantitative'}, y2: {field: 'hi'}, tooltip: [{field: 'label'}]}),
    ], {resolve: {scale: {y: 'shared'}}});
    return {id: 'amplitude-pr', title: 'Amplitude PR and n95 against K',
            caption: 'How many amplitude directions carry the variance: a basis\'s amplitude PR (solid) means something only where it falls well below the null PR of the same basis (dashed, white noise); dotted is the mean n95 (min and max in its tooltip), the long-dashed grey line the paper\'s "≈ √K".',
            spec};
  }

  // The (basis, K) a figure or table starts at: the first basis and the
  // largest K that every model has, so each model shows from the start.
  function commonChoice(rows, models) {
    const has = (basis, K) => models.every((m) => rows.some((r) => r.model === m && r.basis === basis && r.K === K));
    const Ks = sortedKs(rows).reverse();
    for (const basis of basesOf(rows)) for (const K of Ks) if (has(basis, K)) return {basis, K};
    return {basis: basesOf(rows)[0], K: Ks[0]};
  }

  function heatmapFigure(d, id) {
    const r2 = id === 'heatmap-r2';
    const rows = [];
    for (const a of d.analyses)
      for (const m of a.result.matrices || []) {
        if (m.layer === null || m.layer === undefined) continue;
        if (r2) {
          for (const f of m.fits || []) rows.push({model: a.model, layer: m.layer, role: m.role, basis: f.basis, K: f.K, value: f.r2, name: m.name});
        } else {
          rows.push({model: a.model, layer: m.layer, role: m.role, value: m.weight_pr, name: m.name});
        }
      }
    if (!rows.length) return null;
    const spec = {
      data: {values: rows},
      facet: facetModel(d.models),
      spec: {width: PANEL.width, height: 150, mark: {type: 'rect'},
             encoding: {x: {field: 'layer', type: 'ordinal', title: 'layer'},
                        y: {field: 'role', type: 'nominal', sort: ROLES, title: null},
                        color: {field: 'value', type: 'quantitative', title: r2 ? 'R²' : 'weight PR', scale: {scheme: 'viridis'}},
                        tooltip: [{field: 'name'}, {field: 'value', format: r2 ? '.4f' : '.1f', title: r2 ? 'R²' : 'weight PR'}]}},
      resolve: {scale: {x: 'independent'}},
    };
    if (r2) {
      const bases = basesOf(rows);
      const Ks = sortedKs(rows);
      const shared = commonChoice(rows, d.analyses.map((a) => a.model));
      spec.params = [
        {name: 'basis_sel', value: shared.basis, bind: {input: 'select', options: bases, name: 'basis: '}},
        {name: 'k_sel', value: shared.K, bind: {input: 'select', options: Ks, name: ' K: '}},
      ];
      spec.transform = [{filter: 'datum.basis === basis_sel && datum.K === k_sel'}];
      return {id, title: 'R² by layer and role', spec,
              caption: 'Where in the network a basis fits best: each cell is one matrix\'s R² at the chosen basis and K (embeddings and lm_head, outside the blocks, are in the per-matrix table).'};
    }
    return {id, title: 'Weight PR by layer and role', spec,
            caption: 'Which roles and depths have high-dimensional weights: each cell is one matrix\'s centered weight PR.'};
  }

  // A spectrum thinned to about n log-spaced indices (a 7B matrix has thousands).
  function thinned(eigs, n) {
    const out = [];
    let last = -1;
    for (let i = 0; i < n; ++i) {
      const j = Math.min(eigs.length - 1, Math.round(Math.exp((i / (n - 1)) * Math.log(eigs.length)) - 1));
      if (j !== last) out.push(j);
      last = j;
    }
    return out;
  }

  // The matrices a scree shows: per role, the one in the middle block (or the one outside the blocks).
  function screeChoice(matrices) {
    const withSpectrum = matrices.filter((m) => m.spectrum && m.spectrum.eigenvalues && m.spectrum.eigenvalues.length);
    const layers = [...new Set(withSpectrum.map((m) => m.layer).filter((l) => l !== null))].sort((a, b) => a - b);
    const mid = layers.length ? layers[Math.floor(layers.length / 2)] : null;
    const chosen = [];
    for (const role of ROLES) {
      const ofRole = withSpectrum.filter((m) => m.role === role);
      const pick = ofRole.find((m) => m.layer === mid) || ofRole[0];
      if (pick) chosen.push(pick);
    }
    return chosen;
  }

  function screeFigure(d) {
    const rows = [];
    for (const a of d.analyses)
      for (const m of screeChoice(a.result.matrices || [])) {
        const eigs = m.spectrum.eigenvalues;
        const total = eigs.reduce((s, v) => s + Math.max(v, 0), 0);
        if (!(total > 0)) continue;
        const floor = 1e-10 * Math.max(...eigs);  // below: round-off of a rank-deficient matrix
        for (const i of thinned(eigs, 200))
          if (eigs[i] > floor) rows.push({model: a.model, matrix: m.name, role: m.role, index: i + 1, share: eigs[i] / total});
      }
    if (!rows.length) return null;
    const spec = {
      data: {values: rows},
      facet: facetModel(d.models),
      spec: {width: PANEL.width, height: PANEL.height, mark: {type: 'line', strokeWidth: 1.3},
             encoding: {x: {field: 'index', type: 'quantitative', scale: {type: 'log', nice: false}, title: 'component'},
                        y: {field: 'share', type: 'quantitative', scale: {type: 'log'}, title: 'eigenvalue / trace'},
                        color: colorRole(rows), detail: {field: 'matrix'},
                        tooltip: [{field: 'matrix'}, {field: 'index'}, {field: 'share', format: '.2e'}]}},
      resolve: {scale: {x: 'independent'}},
    };
    return {id: 'scree', title: 'Eigenvalue spectrum (scree)', spec,
            caption: 'How fast the variance of a matrix falls off across components (one matrix per role, from the middle block): a straight steep line is low-rank structure, a flat one is noise-like.'};
  }

  // The variants no other is both smaller and better than, by stored size.
  function paretoFront(variants, size = 'stored_bytes') {
    const sorted = [...variants].sort((a, b) => a[size] - b[size] || a.ppl - b.ppl);
    const front = [];
    let best = Infinity;
    for (const v of sorted)
      if (v.ppl < best) {
        front.push(v);
        best = v.ppl;
      }
    return front;
  }

  // The perplexity floors of a result ("floors": eval-compression, finetune-compare) as rules across a panel.
  function floorRows(r) {
    const f = r.result.floors || {};
    const rows = [];
    if (f.uniform_ppl) rows.push({series: 'floor', model: r.model, ppl: f.uniform_ppl, label: 'uniform guess'});
    if (f.unigram_ppl) rows.push({series: 'floor', model: r.model, ppl: f.unigram_ppl, label: 'unigram'});
    return rows;
  }
  const floorLayers = (y) => [
    only('floor', {type: 'rule', color: '#999', strokeDash: [4, 4]}, {y, tooltip: [{field: 'label'}, {field: 'ppl', format: '.1f'}]}),
    only('floor', {type: 'text', color: '#777', align: 'left', baseline: 'bottom', x: 2}, {y, text: {field: 'label'}}),
  ];

  function paretoFigure(d) {
    const rows = [];
    for (const c of d.compressions) {
      const variants = (c.result.variants || []).filter((v) => v.ppl > 0 && v.stored_bytes > 0);
      for (const v of variants)
        rows.push({series: 'variant', model: c.model, variant: v.variant, method: v.kind === 'ct' ? v.basis : v.kind,
                   stored_bytes: v.stored_bytes, ppl: v.ppl, ppl_stderr: v.ppl_stderr, storage_ratio: v.storage_ratio});
      for (const v of paretoFront(variants)) rows.push({series: 'front', model: c.model, variant: v.variant, stored_bytes: v.stored_bytes, ppl: v.ppl});
      rows.push(...floorRows(c));
    }
    if (!rows.length) return null;
    const x = {field: 'stored_bytes', type: 'quantitative', scale: {type: 'log', nice: false, padding: 12}, title: 'stored bytes'};
    const y = {field: 'ppl', type: 'quantitative', scale: {type: 'log'}, title: 'perplexity'};
    const models = d.models.filter((m) => d.compressions.some((c) => c.model === m));
    const spec = faceted(rows, models, [
      ...floorLayers(y),
      only('front', {type: 'line', color: '#333', interpolate: 'step-after', strokeWidth: 1}, {x, y}),
      only('variant', {type: 'point', filled: true, size: 70},
           {x, y, color: {field: 'method', type: 'nominal', title: 'method', scale: {domain: [...BASES, 'original', 'int8']}},
            tooltip: [{field: 'variant'}, {field: 'stored_bytes', format: ','}, {field: 'storage_ratio', format: '.2f', title: 'storage ratio'},
                      {field: 'ppl', format: '.3f'}, {field: 'ppl_stderr', format: '.3f'}]}),
      only('front', {type: 'text', align: 'left', dx: 6, dy: -6, fontSize: 9}, {x, y, text: {field: 'variant'}}),
    ]);
    return {id: 'pareto', title: 'Compression: stored size against perplexity', spec,
            caption: 'What each compression costs: points further left store less and points lower predict better, the step line joins the variants nothing beats on both, and the dashed lines are the perplexity of a uniform guess and of unigram frequencies.'};
  }

  // ---- fine-tuning (finetune, finetune-compare) -----------------------------

  const FT_KINDS = ['original', 'int8', 'amplitudes', 'lora', 'full'];
  const ftKinds = (rows) => [...FT_KINDS, ...new Set(rows.map((r) => r.kind).filter((k) => k && !FT_KINDS.includes(k)))];

  // A label per training run that stays unique within its model.
  function uniqueLabels() {
    const used = new Map();
    return (model, label) => {
      const n = (used.get(`${model}|${label}`) || 0) + 1;
      used.set(`${model}|${label}`, n);
      return n > 1 ? `${label} (${n})` : label;
    };
  }

  // Every training run of the results, one curve each: a finetune result
  // (labelled by its file and settings) or a trained row of finetune-compare
  // (by its variant).
  function trainingRuns(d) {
    const label = uniqueLabels();
    const runs = [];
    for (const f of d.finetunes) {
      const s = f.result.settings || {};
      runs.push({model: f.model, run: label(f.model, `${baseName(f.file).replace(/\.json$/, '')}: ${s.trainable} ${s.basis} K=${s.K}`),
                 before: f.result.before, after: f.result.after, log: f.result.training_log || []});
    }
    for (const c of d.ftCompares)
      for (const row of c.result.finetune_rows || [])
        if ((row.training_log || []).length)
          runs.push({model: c.model, run: label(c.model, row.variant), before: row.before, after: row.after, log: row.training_log});
    return runs;
  }

  const colorRun = (rows) => ({field: 'run', type: 'nominal', title: 'run', sort: [...new Set(rows.map((r) => r.run).filter((x) => x !== undefined))],
                               legend: {labelLimit: 360}});
  // x: optimizer updates done. A train loss is measured before its step's update (step updates done),
  // a validation after it (step + 1); the perplexity before training sits at 0.
  const stepAxis = {field: 'step', type: 'quantitative', title: 'optimizer updates done'};

  function lossFigure(d, runs) {
    const rows = [];
    for (const r of runs)
      for (const e of r.log)
        if (typeof e.train_loss === 'number')
          rows.push({model: r.model, run: r.run, step: e.step, loss: e.train_loss, lr: e.lr, grad_norm: e.grad_norm, seconds: e.seconds});
    if (!rows.length) return null;
    const spec = faceted(rows, d.models.filter((m) => rows.some((r) => r.model === m)), [
      {mark: {type: 'line', strokeWidth: 1.3},
       encoding: {x: stepAxis, y: {field: 'loss', type: 'quantitative', scale: {zero: false}, title: 'train loss (nats/token)'},
                  color: colorRun(rows),
                  tooltip: [{field: 'run'}, {field: 'step'}, {field: 'loss', format: '.4f', title: 'train loss'},
                            {field: 'lr', format: '.2e'}, {field: 'grad_norm', format: '.3f', title: 'grad norm'}, {field: 'seconds', format: '.1f'}]}},
    ]);
    return {id: 'finetune-loss', title: 'Fine-tuning: train loss against step', spec,
            caption: 'How training went: the training loss each step logged (nats per token), one line per run; a line still falling at the end had more steps to use, a jagged or rising one points to a learning rate too high.'};
  }

  function validFigure(d, runs) {
    const rows = [];
    for (const r of runs) {
      const point = (step, e, at) => rows.push({series: 'eval', model: r.model, run: r.run, step, ppl: e.ppl, at,
                                                kl_mean: e.kl_mean, top1_agreement: e.top1_agreement});
      if (r.before && r.before.ppl > 0) point(0, r.before, 'before training');
      for (const e of r.log)
        // A log line's step is 0-based and its validation follows that step's update: step + 1 updates done.
        if (e.valid_ppl > 0) point(e.step + 1, {ppl: e.valid_ppl, kl_mean: e.kl_mean, top1_agreement: e.top1_agreement}, 'evaluation step');
    }
    if (!rows.length) return null;
    // The original model's perplexity, where a finetune-compare result has it: what training tries to return to.
    for (const c of d.ftCompares)
      for (const row of c.result.finetune_rows || [])
        if (row.kind === 'original' && row.before && row.before.ppl > 0 && rows.some((r) => r.model === c.model))
          rows.push({series: 'reference', model: c.model, ppl: row.before.ppl, label: `original ${row.before.ppl.toFixed(3)}`});
    const y = {field: 'ppl', type: 'quantitative', scale: {type: 'log'}, title: 'valid perplexity'};
    const spec = faceted(rows, d.models.filter((m) => rows.some((r) => r.model === m)), [
      only('reference', {type: 'rule', color: '#b22', strokeDash: [6, 3]}, {y, tooltip: [{field: 'label', title: 'the original model'}]}),
      only('reference', {type: 'text', color: '#b22', align: 'left', baseline: 'bottom', x: 2}, {y, text: {field: 'label'}}),
      only('eval', {type: 'line', point: true, strokeWidth: 1.3},
           {x: stepAxis, y, color: colorRun(rows),
            tooltip: [{field: 'run'}, {field: 'step'}, {field: 'at'}, {field: 'ppl', format: '.3f', title: 'valid ppl'},
                      {field: 'kl_mean', format: '.4f', title: 'KL mean'}, {field: 'top1_agreement', format: '.3f', title: 'top-1'}]}),
    ]);
    return {id: 'finetune-valid-ppl', title: 'Fine-tuning: validation perplexity against step', spec,
            caption: 'How much of the model training brings back: the perplexity on the validation text at step 0 (before training) and at each evaluation step, log scale; the red dashed line, where a finetune-compare result has it, is the original model\'s perplexity, the level a perfect recovery would reach.'};
  }

  function finetuneParetoFigure(d) {
    const rows = [];
    for (const c of d.ftCompares) {
      const usable = [];
      for (const row of c.result.finetune_rows || []) {
        const res = row.after || row.before;  // untrained rows (original, int8) have only "before"
        if (!res || !(res.ppl > 0) || !(row.stored_params > 0)) continue;
        const v = {series: 'row', model: c.model, variant: row.variant, kind: row.kind, stored_params: row.stored_params,
                   trainable_params: row.trainable_params, ppl: res.ppl, ppl_before: row.before && row.before.ppl,
                   ppl_after: row.after && row.after.ppl, kl_mean: res.kl_mean, top1_agreement: res.top1_agreement};
        usable.push(v);
        rows.push(v);
        if (row.after && row.before && row.before.ppl > 0)
          rows.push({series: 'gain', model: c.model, variant: row.variant, stored_params: row.stored_params, ppl: row.before.ppl, ppl2: row.after.ppl});
      }
      for (const v of paretoFront(usable, 'stored_params'))
        rows.push({series: 'front', model: c.model, variant: v.variant, stored_params: v.stored_params, ppl: v.ppl});
      if (usable.length) rows.push(...floorRows(c));
    }
    if (!rows.some((r) => r.series === 'row')) return null;
    const x = {field: 'stored_params', type: 'quantitative', scale: {type: 'log', nice: false, padding: 12}, title: 'stored parameters'};
    const y = {field: 'ppl', type: 'quantitative', scale: {type: 'log'}, title: 'valid perplexity (after training)'};
    const spec = faceted(rows, d.models.filter((m) => rows.some((r) => r.model === m)), [
      ...floorLayers(y),
      only('gain', {type: 'rule', color: '#bbb', strokeWidth: 2}, {x, y, y2: {field: 'ppl2'},
                                                                  tooltip: [{field: 'variant'}, {field: 'ppl', format: '.3f', title: 'before'}, {field: 'ppl2', format: '.3f', title: 'after'}]}),
      only('front', {type: 'line', color: '#333', interpolate: 'step-after', strokeWidth: 1}, {x, y}),
      only('row', {type: 'point', filled: true, size: 70},
           {x, y, color: {field: 'kind', type: 'nominal', title: 'kind', scale: {domain: ftKinds(rows)}},
            tooltip: [{field: 'variant'}, {field: 'kind'}, {field: 'trainable_params', format: ',', title: 'trainable params'},
                      {field: 'stored_params', format: ',', title: 'stored params'}, {field: 'ppl_before', format: '.3f', title: 'ppl before'},
                      {field: 'ppl_after', format: '.3f', title: 'ppl after'}, {field: 'kl_mean', format: '.4f', title: 'KL mean'},
                      {field: 'top1_agreement', format: '.3f', title: 'top-1'}]}),
      only('front', {type: 'text', align: 'left', dx: 6, dy: -6, fontSize: 9}, {x, y, text: {field: 'variant'}}),
    ]);
    return {id: 'finetune-pareto', title: 'Fine-tuning: stored parameters against perplexity', spec,
            caption: 'What training buys at each size: each trained variant sits at its perplexity after training (the grey bar reaches up to where it started, the least-squares fit), the original and int8 at their own; further left stores less, lower predicts better, the step line joins the variants nothing beats on both, and the dashed lines are the uniform and unigram floors.'};
  }

  // Every figure the results allow, in page order (a figure without data is left out).
  function figures(payload) {
    const d = prepare(payload);
    const runs = trainingRuns(d);
    return [r2Figure(d), weightPrFigure(d), amplitudeFigure(d), heatmapFigure(d, 'heatmap-r2'),
            heatmapFigure(d, 'heatmap-weight-pr'), screeFigure(d), paretoFigure(d), finetuneParetoFigure(d),
            lossFigure(d, runs), validFigure(d, runs)]
      .filter((f) => f)
      .map((f) => Object.assign(f, {models: [...new Set(f.spec.data.values.map((r) => r.model))]}));
  }

  root.ctscopeReport = {figures, prepare, paretoFront};

  // ---- the page (browser only) ----------------------------------------------

  if (typeof document === 'undefined') return;

  const el = (tag, attrs, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    return e;
  };
  const fmt = (v, digits) => (typeof v === 'number' ? (Number.isInteger(v) && digits === undefined ? v.toLocaleString('en-US') : v.toFixed(digits === undefined ? 4 : digits)) : v === null || v === undefined ? '–' : String(v));

  function table(headers, rows) {
    return el('table', {}, el('thead', {}, el('tr', {}, headers.map((h) => el('th', {}, h)))),
              el('tbody', {}, rows.map((r) => el('tr', {}, r.map((c) => el('td', {}, c))))));
  }

  const COMMANDS = {analysis: 'analyze', compression: 'eval-compression', finetune: 'finetune', 'finetune-compare': 'finetune-compare'};
  const list = (v) => [].concat(v === undefined || v === null ? [] : v).join(', ');

  // A run's settings in one line: what was fitted, and for training how.
  function settingsText(r) {
    const res = r.result;
    const s = res.settings || {};
    const settings = [s.trainable, `K ${list(s.K)}`, `${s.bases ? 'bases' : 'basis'} ${list(s.bases || s.basis)}`, s.selection, `seed ${s.seed}`];
    if (res.ctx) settings.push(`ctx ${res.ctx}`);
    if (r.kind === 'finetune' || r.kind === 'finetune-compare') {
      settings.push(`${s.steps} steps × batch ${s.batch}${s.accumulate > 1 ? ` × ${s.accumulate}` : ''} × ctx ${s.ctx}`,
                    `${s.optimizer} lr ${s.lr} → ${s.min_lr}, warmup ${s.warmup}`, `train ${s.train || res.train}`,
                    `valid ${s.valid || res.valid}`);
      if (res.teacher) settings.push(`teacher ${baseName(res.teacher)}${s.distill_weight ? ` (distill weight ${s.distill_weight})` : ''}`);
    }
    return settings.filter((x) => x).join('; ');
  }

  function runTable(d) {
    const rows = d.runs.map((r) => {
      const res = r.result;
      const tool = res.tool || {};
      const size = res.model && typeof res.model === 'object' ? `${res.model.format || ''} ${fmt(res.model.total_params)} params`
        : res.params ? `${fmt(res.params.total)} params` : '';
      return [r.model, COMMANDS[r.kind] || r.kind, el('code', {}, r.file), size, settingsText(r),
              `ctscope ${tool.version || '?'}${tool.git_commit ? ` (${tool.git_commit})` : ''}`, tool.run_utc || 'not recorded'];
    });
    return table(['model', 'result of', 'file', 'model format, size', 'settings', 'tool', 'date (UTC)'], rows);
  }

  function accountingTable(d) {
    const rows = [];
    for (const a of d.analyses)
      for (const f of (a.result.summary && a.result.summary.fits) || [])
        rows.push([a.model, f.basis, f.K, fmt(f.rows), fmt(f.amplitude_params), fmt(f.basis_params),
                   fmt(f.compression_paper, 1) + '×', fmt(f.compression_analyzed, 1) + '×', fmt(f.compression_storage, 2) + '×']);
    return rows.length ? table(['model', 'basis', 'K', 'rows', 'amplitudes', 'basis numbers', 'paper ratio', 'analyzed ratio', 'storage ratio'], rows) : null;
  }

  function compressionTable(d) {
    const rows = [];
    for (const c of d.compressions)
      for (const v of c.result.variants || [])
        rows.push([c.model, v.variant, fmt(v.stored_bytes), fmt(v.storage_ratio, 2) + '×', fmt(v.pooled_r2), `${fmt(v.ppl, 3)} ± ${fmt(v.ppl_stderr, 3)}`,
                   fmt(v.kl_mean), fmt(v.top1_agreement, 3), v.vs_floors || '']);
    return rows.length ? table(['model', 'variant', 'stored bytes', 'storage', 'R²', 'perplexity', 'KL mean', 'top-1', 'against the floors'], rows) : null;
  }

  // "a → b" for a quantity before and after training ("–" where absent).
  const beforeAfter = (before, after, key, digits) => `${fmt(before && before[key], digits)} → ${fmt(after && after[key], digits)}`;

  // One row per finetune result: what was trained and what it returned.
  function finetuneTable(d) {
    const rows = d.finetunes.map((f) => {
      const res = f.result;
      const s = res.settings || {};
      const p = res.params || {};
      return [f.model, el('code', {}, f.file), s.trainable, s.K, s.basis, fmt(p.trainable), fmt(p.stored),
              beforeAfter(res.before, res.after, 'ppl', 3), beforeAfter(res.before, res.after, 'kl_mean', 4),
              beforeAfter(res.before, res.after, 'top1_agreement', 3), fmt(s.steps),
              fmt(res.timing && res.timing.tokens_per_s, 0)];
    });
    return rows.length ? table(['model', 'file', 'trainable', 'K', 'basis', 'trainable params', 'stored params', 'valid ppl before → after',
                                'KL before → after', 'top-1 before → after', 'steps', 'tokens/s'], rows) : null;
  }

  // finetune-compare's table: every variant, same data, steps, schedule and seed.
  function finetuneCompareTable(d) {
    const rows = [];
    for (const c of d.ftCompares)
      for (const row of c.result.finetune_rows || []) {
        const last = row.after || row.before || {};
        rows.push([c.model, row.variant, row.kind, fmt(row.trainable_params), fmt(row.stored_params), fmt(row.before && row.before.ppl, 3),
                   fmt(row.after && row.after.ppl, 3), fmt(last.kl_mean), fmt(last.top1_agreement, 3)]);
      }
    return rows.length ? table(['model', 'variant', 'kind', 'trainable params', 'stored params', 'valid ppl before', 'valid ppl after',
                                'KL to the original', 'top-1'], rows) : null;
  }

  // The per-matrix table: every matrix of every analysis, one (basis, K) at a
  // time; a click on a header sorts, the box filters by name, role or model.
  function matrixTable(d) {
    const all = [];
    for (const a of d.analyses) for (const m of a.result.matrices || []) all.push({model: a.model, m});
    if (!all.length) return null;
    const fitsAll = all.flatMap((x) => (x.m.fits || []).map((f) => ({model: x.model, basis: f.basis, K: f.K})));
    const bases = basesOf(fitsAll);
    const Ks = sortedKs(fitsAll);
    const start = commonChoice(fitsAll, d.analyses.map((a) => a.model));
    const state = {basis: start.basis, K: start.K, filter: '', sortCol: -1, asc: true};
    const cols = [
      ['model', (x) => x.model], ['matrix', (x) => x.m.name], ['layer', (x) => x.m.layer], ['role', (x) => x.m.role],
      ['shape', (x) => (x.m.shape || []).join(' × ')], ['weight PR', (x) => x.m.weight_pr, 1], ['stable rank', (x) => x.m.stable_rank, 2],
      ['R²', (x) => fit(x, 'r2')], ['bound', (x) => fit(x, 'r2_bound')], ['null', (x) => fit(x, 'r2_null')],
      ['amp. PR', (x) => fit(x, 'amplitude_pr'), 2], ['null amp. PR', (x) => fit(x, 'amplitude_pr_null'), 2], ['n95', (x) => fit(x, 'amplitude_n95')],
    ];
    function fit(x, key) {
      const f = (x.m.fits || []).find((g) => g.basis === state.basis && g.K === state.K);
      return f ? f[key] : null;
    }
    const tbody = el('tbody');
    const heads = cols.map(([name], i) => el('th', {class: 'sortable', title: 'sort', onclick: () => {
      state.asc = state.sortCol === i ? !state.asc : true;
      state.sortCol = i;
      draw();
    }}, name));
    const count = el('span', {class: 'count'});
    function draw() {
      const q = state.filter.toLowerCase();
      let rows = all.filter((x) => !q || `${x.model} ${x.m.name} ${x.m.role}`.toLowerCase().includes(q));
      if (state.sortCol >= 0) {
        const get = cols[state.sortCol][1];
        const sign = state.asc ? 1 : -1;
        rows = rows.slice().sort((p, r) => {
          const a = get(p), b = get(r);
          if (a === b) return 0;
          if (a === null || a === undefined) return 1;
          if (b === null || b === undefined) return -1;
          return (typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b))) * sign;
        });
      }
      heads.forEach((h, i) => h.setAttribute('aria-sort', i === state.sortCol ? (state.asc ? 'ascending' : 'descending') : 'none'));
      tbody.replaceChildren(...rows.map((x) => el('tr', {}, cols.map(([, get, digits]) => {
        const v = get(x);
        return el('td', {}, typeof v === 'number' && !Number.isInteger(v) ? fmt(v, digits === undefined ? 4 : digits) : fmt(v));
      }))));
      count.textContent = `${rows.length} of ${all.length} matrices`;
    }
    const select = (options, key) => el('select', {onchange: (e) => {
      state[key] = key === 'K' ? Number(e.target.value) : e.target.value;
      draw();
    }}, options.map((o) => {
      const opt = el('option', {value: o}, o);
      if (o === state[key]) opt.selected = true;
      return opt;
    }));
    const controls = el('div', {class: 'controls'},
      el('label', {}, 'filter ', el('input', {type: 'search', placeholder: 'name, role or model', oninput: (e) => {
        state.filter = e.target.value;
        draw();
      }})),
      el('label', {}, ' basis ', select(bases, 'basis')), el('label', {}, ' K ', select(Ks, 'K')), ' ', count);
    draw();
    return el('div', {}, controls, el('div', {class: 'scroll'}, el('table', {id: 'matrix-table'}, el('thead', {}, el('tr', {}, heads)), tbody)));
  }

  const GLOSSARY = [
    ['R²', 'the fraction of a matrix\'s centered sum of squares the K-function fit explains, 1 − SSE/SST; pooled over matrices as 1 − ΣSSE/ΣSST.'],
    ['bound', 'the best R² any fit of the basis\'s class can reach at that K: the top-K SVD (linear bases) or centered SVD (universal, affine).'],
    ['null (R²)', 'what K random directions capture, K/d: a fit near it has found nothing.'],
    ['amplitude PR', '(Σλ)²/Σλ² of the centered amplitudes\' covariance, between 1 and K: how many amplitude directions carry the variance.'],
    ['null amplitude PR', 'the amplitude PR of white noise through the same basis, (tr M)²/tr(M²) with M = (BBᵀ)⁻¹; far below K for overlapping Gaussians.'],
    ['n95', 'the fewest amplitude directions that hold 95% of the amplitude variance.'],
    ['weight PR', '(tr C)²/tr(C²) of the column-centered Gram C = WcᵀWc: the effective dimension of a matrix\'s rows; per layer, the mean over its matrices.'],
    ['stable rank', 'tr C / λmax(C).'],
    ['paper ratio', 'total parameters / amplitudes (Paper 68\'s 40.3×); analyzed ratio: analyzed parameters / amplitudes; storage ratio: total parameters / what a compressed file must hold (unfitted tensors stay dense).'],
    ['perplexity', 'exp of the mean negative log-likelihood per scored token, by llama.cpp\'s chunking rule.'],
    ['trainable / stored params', 'fine-tuning: the numbers training updates (the amplitudes; with norms; the LoRA factors; every weight for full), and the numbers the result file holds to rebuild the model (amplitudes, basis numbers, the tensors left dense).'],
    ['valid ppl before → after', 'the perplexity on the validation text at step 0 (the least-squares amplitudes, or --init) and after the last step.'],
    ['KL mean, top-1', 'KL(teacher ‖ model) per scored token, averaged, and the fraction of positions where both predict the same next token.'],
  ];

  async function render() {
    const payload = JSON.parse(document.getElementById('ctscope-data').textContent);
    const d = prepare(payload);
    const main = document.getElementById('report');
    const section = (title, ...body) => el('section', {}, el('h2', {}, title), ...body);
    const gen = payload.generated || {};
    main.append(
      el('h1', {}, `ctscope report: ${d.models.join(', ')}`),
      el('p', {class: 'meta'}, `Written by ctscope ${gen.version || ''} on ${gen.date_utc || ''} from ${payload.results.length} result file${payload.results.length === 1 ? '' : 's'}; charts by ${payload.charting || 'Vega-Lite'}. The results are embedded in this page (view its source, element ctscope-data).`),
      section('Runs', runTable(d)));
    const figs = figures(payload);
    const pending = [];
    const figSection = el('section', {}, el('h2', {}, 'Figures'));
    if (!d.analyses.some((a) => (a.result.matrices || []).some((m) => m.spectrum)) && d.analyses.length)
      figSection.append(el('p', {class: 'note'}, 'No eigenvalue spectrum in these results: `ctscope analyze --spectrum` adds the scree plot.'));
    for (const f of figs) {
      const chart = el('div', {class: 'chart'});
      figSection.append(el('figure', {id: `fig-${f.id}`, 'data-models': JSON.stringify(f.models)},
                           el('h3', {}, f.title), chart, el('figcaption', {}, f.caption)));
      pending.push(vegaEmbed(chart, f.spec, {mode: 'vega-lite', renderer: 'svg', actions: {export: true, source: false, compiled: false, editor: false}}));
    }
    main.append(figSection);
    const acc = accountingTable(d);
    if (acc) main.append(section('Accounting', el('p', {class: 'note'}, 'What the amplitudes replace, per basis and K (rows and amplitudes count the matrices fitted at that K).'), el('div', {class: 'scroll'}, acc)));
    const comp = compressionTable(d);
    if (comp) main.append(section('Compression variants', comp));
    const ft = finetuneTable(d);
    if (ft) main.append(section('Fine-tuning runs', el('div', {class: 'scroll'}, ft)));
    const ftc = finetuneCompareTable(d);
    if (ftc) main.append(section('Fine-tuning compared', el('p', {class: 'note'}, 'KL and top-1 are against the teacher (the original) after training, or before it for the rows not trained; “–” where the run had no teacher.'), el('div', {class: 'scroll'}, ftc)));
    const mt = matrixTable(d);
    if (mt) main.append(section('Every matrix', mt));
    main.append(section('Glossary', el('dl', {}, GLOSSARY.map(([t, def]) => [el('dt', {}, t), el('dd', {}, def)])),
                        el('p', {class: 'note'}, 'Every number is defined exactly in docs/ct-analysis.md of ctscope.')));
    try {
      await Promise.all(pending);
      document.body.dataset.rendered = 'ok';
    } catch (e) {
      document.body.dataset.rendered = 'error';
      console.error(e);
    }
  }

  document.addEventListener('DOMContentLoaded', () => render().catch((e) => {
    document.body.dataset.rendered = 'error';
    console.error(e);
  }));
})(typeof globalThis !== 'undefined' ? globalThis : this);
