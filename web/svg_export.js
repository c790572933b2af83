// `ctscope report --svg DIR`: draws each figure of the report as an SVG file
// with Vega's headless renderer (no browser). ctscope writes this script, the
// Vega bundles and report.js into a temporary folder and runs
//   node svg_export.js DATA.json OUTDIR
// The bundles are loaded into one sandboxed global (as a browser's <script>s
// would be), so the figures are those of the page.
'use strict';
const fs = require('fs');
const path = require('path');
const vm = require('vm');

async function main() {
  const [dataFile, outDir] = process.argv.slice(2);
  const sandbox = {console, setTimeout, clearTimeout, setInterval, clearInterval, TextEncoder, TextDecoder, URL, structuredClone};
  sandbox.globalThis = sandbox;
  sandbox.self = sandbox;
  vm.createContext(sandbox);
  for (const f of ['vega.min.js', 'vega-lite.min.js', 'report.js'])
    vm.runInContext(fs.readFileSync(path.join(__dirname, f), 'utf8'), sandbox, {filename: f});
  const {vega, vegaLite, ctscopeReport} = sandbox;
  const payload = JSON.parse(fs.readFileSync(dataFile, 'utf8'));
  for (const fig of ctscopeReport.figures(payload)) {
    // Errors only: Vega-Lite's notes on its own optimizer are not the user's concern.
    const logger = vega.logger(vega.Error);
    const view = new vega.View(vega.parse(vegaLite.compile(fig.spec, {logger}).spec), {renderer: 'none', logLevel: vega.Error});
    const svg = await view.toSVG();
    view.finalize();
    fs.writeFileSync(path.join(outDir, `${fig.id}.svg`), svg);
  }
}

main().catch((e) => {
  console.error(e && e.message ? e.message : String(e));
  process.exit(1);
});
