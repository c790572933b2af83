// The HTML report's front end, compiled into the program so the page it writes
// carries everything it needs: the report's own page code (web/report.js,
// web/report.css), the Node script of --svg (web/svg_export.js), and the pinned
// Vega, Vega-Lite and vega-embed bundles with their licenses (web/package.json,
// installed by `npm ci`). The definitions are generated at build time by
// cmake/embed_web_assets.cmake.
#pragma once
#include <string>

namespace ctscope::report {

// False when the build found no web/node_modules: the bundles are then empty.
bool charting_available();
std::string charting_versions();  // "vega 5.33.1, vega-lite 5.23.0, vega-embed 6.29.0"
std::string vega_js();
std::string vega_lite_js();
std::string vega_embed_js();
std::string third_party_licenses();  // every package installed in web/node_modules, with its license text
std::string report_js();
std::string report_css();
std::string svg_export_js();

}  // namespace ctscope::report
