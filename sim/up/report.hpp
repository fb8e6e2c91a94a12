// The report of `starling-sim up`: report.json (what run_up observed) rendered as ONE
// self-contained HTML page, report.html: no external resources, SVG plots drawn here (test
// accuracy per round per node with the baselines dashed, the membership timeline with the
// injected faults, workload failovers with their durations) and summary tables. A small inline
// script toggles series from the legend and sets document.body.dataset.ready = "1" once it
// ran, so that a browser test can tell the page's script worked.
// Pure functions: JSON in, text out. Missing or mistyped fields are shown as absent, never
// trusted; every string from the document is HTML-escaped. Thread-safe (no shared state).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace starling::up {

// The page for `report`, a document with the fields run_up writes (local_up.hpp describes
// them). Any JSON value is accepted: a section that is missing is rendered as "no data".
std::string render_report_html(const nlohmann::json& report);

// Text made safe for HTML element content and attribute values (& < > " ').
std::string html_escape(std::string_view text);

}  // namespace starling::up
