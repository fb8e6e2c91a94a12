// The SVG plots of report.html (see internal/report_parts.hpp): accuracy per round per node,
// the membership timeline with fault markers, and workload failovers. Pure functions of the
// report document; every string that reaches the SVG goes through html_escape.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>
#include <tuple>
#include <vector>

#include "sim/up/internal/report_parts.hpp"
#include "sim/up/json_access.hpp"
#include "sim/up/report.hpp"

namespace starling::up::internal {
namespace {

using nlohmann::json;

constexpr int kWidth = 800;

// A round step of about span / target: 1, 2 or 5 times a power of ten.
double nice_step(double span, int target) {
  const double raw = std::max(span, 1e-9) / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / magnitude;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * magnitude;
}

std::string seconds_label(double s) {
  return s >= 100 ? fixed(s, 0) + " s" : fixed(s, s >= 10 ? 1 : 2) + " s";
}

std::string status_colour(const std::string& status) {
  if (status == "alive") return "#2e9e44";
  if (status == "suspect") return "#f0a020";
  if (status == "dead") return "#d63a3a";
  if (status == "left") return "#8c8c8c";
  return "#e6e6e6";
}

// The time axis under a plot: ticks from 0 to `end` at y, for x = left + t / end * width.
std::string time_axis(double end, double left, double width, double y) {
  std::ostringstream out;
  const double step = nice_step(end, 8);
  out << "<g class=\"axis\">";
  out << "<line x1=\"" << left << "\" x2=\"" << left + width << "\" y1=\"" << y << "\" y2=\""
      << y << "\" stroke=\"#444\"/>";
  for (double t = 0; t <= end + step * 1e-6; t += step) {
    const double x = left + t / end * width;
    out << "<line x1=\"" << x << "\" x2=\"" << x << "\" y1=\"" << y << "\" y2=\"" << y + 5
        << "\" stroke=\"#444\"/><text x=\"" << x << "\" y=\"" << y + 18
        << "\" text-anchor=\"middle\">" << fixed(t, step < 1 ? 1 : 0) << "</text>";
  }
  out << "<text x=\"" << left + width / 2 << "\" y=\"" << y + 34
      << "\" text-anchor=\"middle\">seconds since the swarm was healthy</text></g>";
  return out.str();
}

struct Point {
  std::uint64_t round;
  double accuracy;
  std::optional<double> loss;
};

std::map<std::size_t, std::vector<Point>> accuracy_series(const json& report) {
  std::map<std::size_t, std::vector<Point>> series;
  const json& points = member(report, "accuracy");
  if (!points.is_array()) return series;
  for (const json& p : points) {
    const auto node = count_of(p, "node");
    const auto round = count_of(p, "round");
    const auto accuracy = number_of(p, "accuracy");
    if (!node || !round || !accuracy || !std::isfinite(*accuracy)) continue;
    series[*node].push_back({*round, std::clamp(*accuracy, 0.0, 1.0), number_of(p, "loss")});
  }
  for (auto& [node, points_of_node] : series) {
    std::sort(points_of_node.begin(), points_of_node.end(),
              [](const Point& a, const Point& b) { return a.round < b.round; });
  }
  return series;
}

std::string legend_entry(double x, double y, const std::string& key, const std::string& colour,
                         const std::string& label, bool dashed) {
  std::ostringstream out;
  out << "<g class=\"legend-item\" data-toggle=\"" << key
      << "\" role=\"button\" tabindex=\"0\"><title>click to show or hide</title><line x1=\"" << x
      << "\" x2=\"" << x + 22 << "\" y1=\"" << y - 4 << "\" y2=\"" << y - 4 << "\" stroke=\""
      << colour << "\" stroke-width=\"3\"" << (dashed ? " stroke-dasharray=\"6 4\"" : "")
      << "/><text x=\"" << x + 28 << "\" y=\"" << y << "\">" << html_escape(label)
      << "</text></g>";
  return out.str();
}

}  // namespace

std::string accuracy_svg(const json& report) {
  const auto series = accuracy_series(report);
  const json& baselines = member(report, "baselines");
  const auto centralized = number_of(baselines, "centralized");
  const auto isolated = number_of(baselines, "isolated_mean");
  if (series.empty() && !centralized && !isolated) {
    return "<p class=\"empty\">No accuracy was recorded (no model, or no round finished).</p>";
  }
  std::uint64_t rounds = count_of(member(report, "config"), "rounds").value_or(1);
  double lowest = 1.0;
  for (const auto& [node, points] : series) {
    for (const Point& p : points) {
      rounds = std::max(rounds, p.round);
      lowest = std::min(lowest, p.accuracy);
    }
  }
  if (centralized) lowest = std::min(lowest, *centralized);
  if (isolated) lowest = std::min(lowest, *isolated);
  const double y0 = std::clamp(std::floor(lowest * 10) / 10, 0.0, 0.9);
  const double left = 60, top = 16, width = kWidth - left - 190, height = 290;
  auto x_of = [&](double round) {
    return rounds <= 1 ? left + width / 2 : left + (round - 1) / double(rounds - 1) * width;
  };
  auto y_of = [&](double a) { return top + (1.0 - (a - y0) / (1.0 - y0)) * height; };
  std::ostringstream out;
  out << "<svg id=\"accuracy-plot\" class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" "
      << "viewBox=\"0 0 " << kWidth << " " << top + height + 48 << "\" role=\"img\" "
      << "aria-label=\"test accuracy per round per node\">";
  const double y_step = (1.0 - y0) > 0.35 ? 0.1 : 0.05;
  for (double a = y0; a <= 1.0 + 1e-9; a += y_step) {
    out << "<line class=\"grid\" x1=\"" << left << "\" x2=\"" << left + width << "\" y1=\""
        << y_of(a) << "\" y2=\"" << y_of(a) << "\"/><text x=\"" << left - 8 << "\" y=\""
        << y_of(a) + 4 << "\" text-anchor=\"end\">" << fixed(a, 2) << "</text>";
  }
  const auto x_step = static_cast<std::uint64_t>(std::max(1.0, nice_step(double(rounds), 10)));
  for (std::uint64_t r = 1; r <= rounds; r += x_step) {
    out << "<text x=\"" << x_of(double(r)) << "\" y=\"" << top + height + 18
        << "\" text-anchor=\"middle\">" << r << "</text>";
  }
  out << "<text x=\"" << left + width / 2 << "\" y=\"" << top + height + 38
      << "\" text-anchor=\"middle\">round</text>"
      << "<text transform=\"rotate(-90)\" x=\"" << -(top + height / 2) << "\" y=\"14\" "
      << "text-anchor=\"middle\">test accuracy</text>";
  double legend_y = top + 10;
  const double legend_x = left + width + 20;
  for (const auto& [node, points] : series) {
    const std::string key = "node-" + std::to_string(node);
    const std::string name = node_name(report, node);
    // Byzantine agents' own models are drawn dotted: they are not what the swarm is judged by.
    const json& nodes = member(report, "nodes");
    const bool byzantine = nodes.is_array() && node < nodes.size() &&
                           !text_of(nodes[node], "byzantine").empty();
    out << "<g class=\"series\" data-series=\"" << key << "\"><polyline fill=\"none\" stroke=\""
        << node_colour(node) << "\" stroke-width=\"2\""
        << (byzantine ? " stroke-dasharray=\"2 3\"" : "") << " points=\"";
    for (const Point& p : points) out << x_of(double(p.round)) << "," << y_of(p.accuracy) << " ";
    out << "\"/>";
    for (const Point& p : points) {
      out << "<circle cx=\"" << x_of(double(p.round)) << "\" cy=\"" << y_of(p.accuracy)
          << "\" r=\"3.5\" fill=\"" << node_colour(node) << "\"><title>" << html_escape(name)
          << ", round " << p.round << ": accuracy " << fixed(p.accuracy, 4)
          << (p.loss ? ", loss " + fixed(*p.loss, 4) : std::string()) << "</title></circle>";
    }
    out << "</g>" << legend_entry(legend_x, legend_y, key, node_colour(node), name, false);
    legend_y += 20;
  }
  auto baseline = [&](const char* key, const std::optional<double>& value, const char* colour,
                      const std::string& label) {
    if (!value) return;
    out << "<g class=\"series baseline\" data-series=\"" << key << "\"><line x1=\"" << left
        << "\" x2=\"" << left + width << "\" y1=\"" << y_of(*value) << "\" y2=\"" << y_of(*value)
        << "\" stroke=\"" << colour << "\" stroke-width=\"2\" stroke-dasharray=\"6 4\"><title>"
        << html_escape(label) << ": " << fixed(*value, 4) << "</title></line></g>"
        << legend_entry(legend_x, legend_y, key, colour, label, true);
    legend_y += 20;
  };
  baseline("centralized", centralized, "#222222", "centralized");
  baseline("isolated", isolated, "#999999", "isolated (mean)");
  out << "</svg>";
  return out.str();
}

std::string membership_svg(const json& report) {
  const std::size_t nodes = node_count(report);
  if (nodes == 0) return "<p class=\"empty\">No agents in this report.</p>";
  const double end = time_axis_end(report);
  const double left = 110, top = 10, row = 28, bar = 18, width = kWidth - left - 20;
  const double height = top + double(nodes) * row;
  auto x_of = [&](double t) { return left + std::clamp(t / end, 0.0, 1.0) * width; };
  // Each node's status changes, in time order.
  std::vector<std::vector<std::pair<double, std::string>>> changes(nodes);
  const json& membership = member(report, "membership");
  if (membership.is_array()) {
    for (const json& c : membership) {
      const auto node = count_of(c, "node");
      const auto t = number_of(c, "t");
      if (node && t && *node < nodes) changes[*node].emplace_back(*t, text_of(c, "status"));
    }
  }
  std::ostringstream out;
  out << "<svg id=\"membership-plot\" class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" "
      << "viewBox=\"0 0 " << kWidth << " " << height + 70 << "\" role=\"img\" "
      << "aria-label=\"membership timeline\">";
  for (std::size_t i = 0; i < nodes; ++i) {
    const double y = top + double(i) * row;
    const std::string name = node_name(report, i);
    out << "<text x=\"" << left - 8 << "\" y=\"" << y + bar - 4 << "\" text-anchor=\"end\">"
        << html_escape(name) << "</text><rect class=\"unknown\" x=\"" << left << "\" y=\"" << y
        << "\" width=\"" << width << "\" height=\"" << bar << "\" fill=\""
        << status_colour("") << "\"/>";
    auto& list = changes[i];
    std::stable_sort(list.begin(), list.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (std::size_t k = 0; k < list.size(); ++k) {
      const double from = list[k].first;
      const double to = k + 1 < list.size() ? list[k + 1].first : end;
      out << "<rect class=\"segment status-" << html_escape(list[k].second) << "\" x=\""
          << x_of(from) << "\" y=\"" << y << "\" width=\"" << std::max(0.5, x_of(to) - x_of(from))
          << "\" height=\"" << bar << "\" fill=\"" << status_colour(list[k].second)
          << "\"><title>" << html_escape(name) << ": " << html_escape(list[k].second)
          << " from " << seconds_label(from) << " to " << seconds_label(to)
          << "</title></rect>";
    }
  }
  const json& chaos = member(report, "chaos");
  if (chaos.is_array()) {
    for (const json& c : chaos) {
      const auto node = count_of(c, "node");
      const auto t = number_of(c, "t");
      if (!node || !t || *node >= nodes) continue;
      const std::string kind = text_of(c, "kind", "event");
      const double x = x_of(*t), y = top + double(*node) * row;
      out << "<g class=\"chaos-marker\"><line x1=\"" << x << "\" x2=\"" << x << "\" y1=\""
          << y - 3 << "\" y2=\"" << y + bar + 3 << "\" stroke=\"#111\" stroke-width=\"2\"/>"
          << "<text class=\"marker-label\" x=\"" << x + 3 << "\" y=\"" << y + bar - 5 << "\">"
          << html_escape(kind) << "</text><title>" << html_escape(kind) << " "
          << html_escape(node_name(report, *node)) << " at " << seconds_label(*t)
          << "</title></g>";
    }
  }
  out << time_axis(end, left, width, height + 2);
  double x = left;
  for (const char* status : {"alive", "suspect", "dead", "left", ""}) {
    out << "<rect x=\"" << x << "\" y=\"" << height + 46 << "\" width=\"12\" height=\"12\" "
        << "fill=\"" << status_colour(status) << "\"/><text x=\"" << x + 16 << "\" y=\""
        << height + 56 << "\">" << (*status ? status : "unknown") << "</text>";
    x += 90;
  }
  out << "<line x1=\"" << x + 6 << "\" x2=\"" << x + 6 << "\" y1=\"" << height + 44
      << "\" y2=\"" << height + 60 << "\" stroke=\"#111\" stroke-width=\"2\"/><text x=\""
      << x + 14 << "\" y=\"" << height + 56 << "\">fault injected</text></svg>";
  return out.str();
}

std::string failover_svg(const json& report) {
  const json& failovers = member(report, "failovers");
  if (!failovers.is_array() || failovers.empty()) {
    const std::string note = text_of(report, "workloads_note");
    return "<p class=\"empty\">No failover was recorded" +
           (note.empty() ? std::string(".") : ": " + html_escape(note)) + "</p>";
  }
  const std::size_t shown = std::min<std::size_t>(failovers.size(), 60);
  const double end = time_axis_end(report);
  const double left = 130, top = 24, row = 22, width = kWidth - left - 170;
  const double height = top + double(shown) * row;
  auto x_of = [&](double t) { return left + std::clamp(t / end, 0.0, 1.0) * width; };
  std::ostringstream out;
  out << "<svg id=\"failover-plot\" class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" "
      << "viewBox=\"0 0 " << kWidth << " " << height + 44 << "\" role=\"img\" "
      << "aria-label=\"workload failovers\">";
  // The faults, as dashed lines across the bars.
  const json& chaos = member(report, "chaos");
  for (const json& c : chaos.is_array() ? chaos : json::array()) {
    const auto t = number_of(c, "t");
    const auto node = count_of(c, "node");
    if (!t || !node) continue;
    const std::string label = text_of(c, "kind", "event") + " " + node_name(report, *node);
    out << "<g class=\"chaos-line\"><line x1=\"" << x_of(*t) << "\" x2=\"" << x_of(*t)
        << "\" y1=\"" << top - 6 << "\" y2=\"" << height << "\" stroke=\"#111\" "
        << "stroke-dasharray=\"3 3\"/><text x=\"" << x_of(*t) << "\" y=\"" << top - 10
        << "\" text-anchor=\"middle\">" << html_escape(label) << "</text></g>";
  }
  for (std::size_t k = 0; k < shown; ++k) {
    const json& f = failovers[k];
    const double y = top + double(k) * row;
    const double start = number_of(f, "start_s").value_or(0);
    const auto stop = number_of(f, "end_s");
    const auto from = count_of(f, "from");
    const auto to = count_of(f, "to");
    const std::string source = from ? node_name(report, *from) : "?";
    const std::string who =
        stop ? source + " \u2192 " + (to ? node_name(report, *to) : "?") + " " +
                   seconds_label(*stop - start)
             : source + ": not running elsewhere by the end";
    out << "<g class=\"failover\"><text x=\"" << left - 8 << "\" y=\"" << y + 13
        << "\" text-anchor=\"end\">" << html_escape(text_of(f, "workload", "?")) << "</text>"
        << "<rect x=\"" << x_of(start) << "\" y=\"" << y << "\" width=\""
        << std::max(2.0, x_of(stop.value_or(end)) - x_of(start)) << "\" height=\"16\" fill=\""
        << (stop ? "#3b7dd8" : "#c8c8c8") << "\"" << (stop ? "" : " stroke-dasharray=\"4 3\"")
        << " stroke=\"#3b7dd8\"><title>" << html_escape(text_of(f, "workload")) << " after the "
        << html_escape(text_of(f, "cause")) << ": " << html_escape(who)
        << "</title></rect><text x=\"" << x_of(stop.value_or(end)) + 6 << "\" y=\"" << y + 13
        << "\">" << html_escape(who) << "</text></g>";
  }
  out << time_axis(end, left, width, height + 2) << "</svg>";
  if (shown < failovers.size()) {
    out << "<p class=\"note\">The first " << shown << " of " << failovers.size()
        << " failovers are drawn; the table lists them all.</p>";
  }
  return out.str();
}

}  // namespace starling::up::internal
