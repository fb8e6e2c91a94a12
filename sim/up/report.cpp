// report.html from report.json (see report.hpp): the page, its style and script, and the
// summary tables; the plots are in report_svg.cpp. Pure functions.
#include "sim/up/report.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <cstdio>
#include <sstream>
#include <vector>

#include "sim/up/internal/report_parts.hpp"
#include "sim/up/json_access.hpp"

namespace starling::up {
namespace internal {

using nlohmann::json;

std::string fixed(double value, int decimals) {
  if (!std::isfinite(value)) return "-";
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

std::size_t node_count(const json& report) {
  const json& nodes = member(report, "nodes");
  const std::size_t listed = nodes.is_array() ? nodes.size() : 0;
  const auto configured = count_of(member(report, "config"), "nodes").value_or(0);
  // Bounded: a report claiming a million nodes must not make a million rows.
  return std::min<std::size_t>(std::max<std::size_t>(listed, configured), 1000);
}

std::string node_name(const json& report, std::size_t i) {
  const json& nodes = member(report, "nodes");
  if (nodes.is_array() && i < nodes.size()) {
    const std::string name = text_of(nodes[i], "name");
    if (!name.empty()) return text_of(nodes[i], "byzantine").empty() ? name : name + " (Byzantine)";
  }
  return "node " + std::to_string(i);
}

std::string node_colour(std::size_t i) {
  static const char* const kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                         "#9467bd", "#8c564b", "#e377c2", "#17becf",
                                         "#bcbd22", "#7f7f7f"};
  return kPalette[i % 10];
}

double time_axis_end(const json& report) {
  double end = number_of(report, "scenario_s").value_or(0);
  for (const char* section : {"membership", "chaos", "accuracy"}) {
    const json& list = member(report, section);
    if (!list.is_array()) continue;
    for (const json& item : list) end = std::max(end, number_of(item, "t").value_or(0));
  }
  const json& failovers = member(report, "failovers");
  if (failovers.is_array()) {
    for (const json& f : failovers) end = std::max(end, number_of(f, "end_s").value_or(0));
  }
  return std::isfinite(end) ? std::max(end, 1.0) : 1.0;
}

}  // namespace internal

namespace {

using nlohmann::json;
using internal::fixed;
using internal::node_name;

constexpr std::string_view kStyle = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;
max-width:960px;color:#1b1b1b;padding:0 16px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
.outcome{font-weight:600}.outcome.failed,.outcome.interrupted{color:#b3261e}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}th{background:#f4f4f4}
td.num{text-align:right;font-variant-numeric:tabular-nums}
svg.plot{width:100%;height:auto;font-size:12px;display:block}
svg .grid{stroke:#e3e3e3}svg text{fill:#333}
.legend-item{cursor:pointer}.legend-item.off{opacity:.35}
.marker-label{font-size:10px;font-weight:700;fill:#111;paint-order:stroke;stroke:#fff;
stroke-width:3px}
.empty,.note{color:#666;font-style:italic}
code{background:#f4f4f4;padding:1px 4px}
)";

// Legend items toggle their series; then the page says it is ready (for the browser test).
constexpr std::string_view kScript = R"(
(function () {
  function toggle(item) {
    var key = item.getAttribute('data-toggle');
    var off = item.classList.toggle('off');
    document.querySelectorAll('[data-series="' + key + '"]').forEach(function (e) {
      e.style.display = off ? 'none' : '';
    });
  }
  document.querySelectorAll('.legend-item').forEach(function (item) {
    item.addEventListener('click', function () { toggle(item); });
    item.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); toggle(item); }
    });
  });
  document.body.dataset.ready = '1';
})();
)";

std::string cell(const json& v) {
  if (v.is_string()) return html_escape(v.get<std::string>());
  if (v.is_number_float()) {
    const double d = v.get<double>();
    return fixed(d, std::isfinite(d) && d == std::floor(d) && std::abs(d) < 1e15 ? 0 : 4);
  }
  if (v.is_null()) return "-";
  return html_escape(v.dump(-1, ' ', false, json::error_handler_t::replace));
}

std::string optional_fixed(const json& j, const char* key, int decimals,
                           const std::string& suffix = "") {
  const auto v = number_of(j, key);
  return v ? fixed(*v, decimals) + suffix : "-";
}

std::string node_ref(const json& report, const json& j, const char* key) {
  const auto i = count_of(j, key);
  return i ? html_escape(node_name(report, *i)) : "-";
}

std::string config_table(const json& report) {
  const json& config = member(report, "config");
  std::ostringstream out;
  out << "<table id=\"config-table\"><tbody>";
  if (config.is_object()) {
    for (const auto& [key, value] : config.items()) {
      out << "<tr><th>" << html_escape(key) << "</th><td>" << cell(value) << "</td></tr>";
    }
  }
  out << "<tr><th>wall time</th><td>" << optional_fixed(report, "wall_s", 1, " s")
      << "</td></tr><tr><th>healthy after</th><td>"
      << optional_fixed(report, "healthy_after_s", 1, " s") << "</td></tr></tbody></table>";
  return out.str();
}

std::string nodes_table(const json& report) {
  const json& nodes = member(report, "nodes");
  if (!nodes.is_array() || nodes.empty()) return "<p class=\"empty\">No agent data.</p>";
  std::ostringstream out;
  out << "<table id=\"nodes-table\"><thead><tr><th>agent</th><th>node id</th><th>pids</th>"
      << "<th>seen as</th><th>round</th><th>accuracy</th><th>loss</th><th>learning</th>"
      << "<th>updates accepted</th><th>updates rejected</th><th>bytes sent</th><th>bytes received</th></tr></thead><tbody>";
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const json& n = nodes[i];
    std::string pids;
    for (const json& p : member(n, "pids").is_array() ? member(n, "pids") : json::array()) {
      pids += (pids.empty() ? "" : ", ") + cell(p);
    }
    std::string rejected;
    if (const json& r = member(n, "updates_rejected"); r.is_object()) {
      for (const auto& [reason, count] : r.items()) {
        rejected += (rejected.empty() ? "" : ", ") + cell(count) + " " + html_escape(reason);
      }
    }
    const std::string id = text_of(n, "id");
    out << "<tr><td>" << html_escape(node_name(report, i)) << "</td><td><code title=\""
        << html_escape(id) << "\">" << html_escape(id.substr(0, 12)) << "</code></td><td>"
        << pids << "</td><td>" << html_escape(text_of(n, "status", "-"))
        << "</td><td class=\"num\">"
        << cell(member(n, "round")) << "</td><td class=\"num\">"
        << optional_fixed(n, "accuracy", 4) << "</td><td class=\"num\">"
        << optional_fixed(n, "loss", 4) << "</td><td>" << html_escape(text_of(n, "state", "-"))
        << "</td><td class=\"num\">" << cell(member(n, "updates_accepted")) << "</td><td>"
        << (rejected.empty() ? "-" : rejected)
        << "</td><td class=\"num\">" << cell(member(n, "bytes_sent")) << "</td><td class=\"num\">"
        << cell(member(n, "bytes_received")) << "</td></tr>";
  }
  out << "</tbody></table>";
  return out.str();
}

std::string chaos_table(const json& report) {
  const json& chaos = member(report, "chaos");
  if (!chaos.is_array() || chaos.empty()) return "<p class=\"empty\">No fault was injected.</p>";
  std::ostringstream out;
  out << "<table id=\"chaos-table\"><thead><tr><th>time</th><th>event</th><th>agent</th>"
      << "<th>planned</th><th>problem</th></tr></thead><tbody>";
  for (const json& c : chaos) {
    out << "<tr><td class=\"num\">" << optional_fixed(c, "t", 2, " s") << "</td><td>"
        << html_escape(text_of(c, "kind", "?")) << "</td><td>" << node_ref(report, c, "node")
        << "</td><td>" << html_escape(text_of(c, "spec", "-")) << "</td><td>"
        << html_escape(text_of(c, "error", "")) << "</td></tr>";
  }
  out << "</tbody></table>";
  return out.str();
}

std::string failover_table(const json& report) {
  const json& failovers = member(report, "failovers");
  if (!failovers.is_array() || failovers.empty()) return "";
  std::ostringstream out;
  out << "<table id=\"failover-table\"><thead><tr><th>workload</th><th>from</th><th>to</th>"
      << "<th>cause</th><th>fault at</th><th>running again at</th><th>duration</th></tr>"
      << "</thead><tbody>";
  for (const json& f : failovers) {
    out << "<tr><td>" << html_escape(text_of(f, "workload", "?")) << "</td><td>"
        << node_ref(report, f, "from") << "</td><td>" << node_ref(report, f, "to") << "</td><td>"
        << html_escape(text_of(f, "cause")) << "</td><td class=\"num\">"
        << optional_fixed(f, "start_s", 2, " s") << "</td><td class=\"num\">"
        << optional_fixed(f, "end_s", 2, " s") << "</td><td class=\"num\">"
        << optional_fixed(f, "duration_s", 2, " s") << "</td></tr>";
  }
  out << "</tbody></table>";
  return out.str();
}

std::string workloads_table(const json& report) {
  const json& table = member(report, "workloads");
  if (!table.is_array() || table.empty()) {
    const std::string note = text_of(report, "workloads_note");
    return "<p class=\"empty\">No workload table" +
           (note.empty() ? std::string(".") : ": " + html_escape(note)) + "</p>";
  }
  static const char* const kColumns[] = {"name",  "kind",     "replica", "owner_name", "epoch",
                                         "state", "progress", "records", "bad"};
  std::ostringstream out;
  out << "<table id=\"workloads-table\"><thead><tr>";
  for (const char* c : kColumns) {
    out << "<th>" << (std::string(c) == "owner_name" ? "owner" : c) << "</th>";
  }
  out << "</tr></thead><tbody>";
  for (const json& w : table) {
    out << "<tr>";
    for (const char* c : kColumns) {
      const std::string column = c;
      json value = member(w, c);
      // Agents may name the total "total" and put "bad" among per-kind "counters".
      if (column == "records" && value.is_null()) value = member(w, "total");
      if (column == "bad" && value.is_null()) value = member(member(w, "counters"), "bad");
      out << "<td>" << cell(value) << "</td>";
    }
    out << "</tr>";
  }
  out << "</tbody></table>";
  return out.str();
}

std::string baselines_text(const json& report) {
  const json& b = member(report, "baselines");
  if (!b.is_object()) return "";
  std::ostringstream out;
  out << "<p id=\"baselines\">Baselines on the same data, partition, seed and total epochs: ";
  out << "centralized " << optional_fixed(b, "centralized", 4) << ", isolated (mean) "
      << optional_fixed(b, "isolated_mean", 4);
  if (const std::string note = text_of(b, "note"); !note.empty()) {
    out << " (" << html_escape(note) << ")";
  }
  out << ".</p>";
  return out.str();
}

std::string accuracy_table(const json& report) {
  const json& points = member(report, "accuracy");
  if (!points.is_array() || points.empty()) return "";
  std::map<std::uint64_t, std::map<std::size_t, double>> by_round;
  for (const json& p : points) {
    const auto node = count_of(p, "node");
    const auto round = count_of(p, "round");
    const auto accuracy = number_of(p, "accuracy");
    if (node && round && accuracy) by_round[*round][*node] = *accuracy;
  }
  const std::size_t nodes = internal::node_count(report);
  std::ostringstream out;
  out << "<table id=\"accuracy-table\"><thead><tr><th>round</th>";
  for (std::size_t i = 0; i < nodes; ++i) {
    out << "<th>" << html_escape(node_name(report, i)) << "</th>";
  }
  out << "</tr></thead><tbody>";
  for (const auto& [round, values] : by_round) {
    out << "<tr><td class=\"num\">" << round << "</td>";
    for (std::size_t i = 0; i < nodes; ++i) {
      const auto it = values.find(i);
      out << "<td class=\"num\">" << (it == values.end() ? "-" : fixed(it->second, 4)) << "</td>";
    }
    out << "</tr>";
  }
  out << "</tbody></table>";
  return out.str();
}

std::string summary_line(const json& report) {
  const std::string outcome = text_of(report, "outcome", "unknown");
  std::ostringstream out;
  out << "<p>Outcome: <span class=\"outcome " << html_escape(outcome) << "\">"
      << html_escape(outcome) << "</span>";
  if (const std::string why = text_of(report, "error"); !why.empty()) {
    out << " (" << html_escape(why) << ")";
  }
  out << ". " << internal::node_count(report) << " real <code>starlingd</code> agents on "
      << "127.0.0.1";
  const json& config = member(report, "config");
  if (const std::string model = text_of(config, "model"); !model.empty()) {
    out << ", model " << html_escape(model);
    if (const std::string aggregator = text_of(config, "aggregator"); !aggregator.empty()) {
      out << ", aggregator " << html_escape(aggregator);
    }
  }
  if (const auto byzantine = count_of(config, "byzantine"); byzantine && *byzantine > 0) {
    out << "; " << *byzantine << " of them Byzantine ("
        << html_escape(text_of(config, "byzantine_kind", "?"))
        << ": they send corrupted updates; mean and minimum accuracy count only the honest "
           "agents)";
  }
  out << ".</p>";
  return out.str();
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_report_html(const json& report) {
  std::ostringstream out;
  out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      << "<title>Starling swarm report</title><style>" << kStyle << "</style></head>\n<body>"
      << "<h1>Starling swarm report</h1>" << summary_line(report)
      << "<h2>Scenario</h2>" << config_table(report)
      << "<h2>Test accuracy per round</h2>" << internal::accuracy_svg(report)
      << "<p class=\"note\">Agents that aggregated the same updates hold the same model: their "
      << "lines coincide (the table lists every value). Click a legend entry to hide a "
      << "line.</p>"
      << baselines_text(report) << accuracy_table(report)
      << "<h2>Membership timeline</h2><p class=\"note\">Each agent as most of the other "
      << "answering agents saw it.</p>" << internal::membership_svg(report)
      << "<h2>Workload failovers</h2>" << internal::failover_svg(report) << failover_table(report)
      << "<h2>Agents</h2>" << nodes_table(report)
      << "<h2>Faults injected</h2>" << chaos_table(report)
      << "<h2>Workloads at the end</h2>" << workloads_table(report)
      << "\n<script>" << kScript << "</script>\n</body></html>\n";
  return out.str();
}

}  // namespace starling::up
