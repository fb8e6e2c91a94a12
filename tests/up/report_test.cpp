// report.html from a report document built here: the three SVG plots with their elements
// (polylines per node, dashed baselines, status segments, fault markers, failover bars), the
// tables, HTML escaping of every name, a page that loads nothing from outside, and documents
// with missing or mistyped sections rendered as "no data" rather than failing.
#include <doctest/doctest.h>

#include <string>

#include "sim/up/report.hpp"

namespace starling::up {
namespace {

using nlohmann::json;

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t count = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
  return count;
}

json sample_report() {
  json nodes = json::array();
  for (int i = 0; i < 3; ++i) {
    nodes.push_back({{"index", i}, {"name", "n" + std::to_string(i)},
                     {"id", std::string(32, static_cast<char>('a' + i))},
                     {"pids", {100 + i}}, {"bytes_sent", 1000 * (i + 1)}, {"round", 2},
                     {"accuracy", 0.8}, {"loss", 0.5}, {"state", "finished"}, {"status", "alive"}});
  }
  json accuracy = json::array();
  for (int i = 0; i < 3; ++i) {
    for (int r = 1; r <= 2; ++r) {
      accuracy.push_back({{"node", i}, {"round", r}, {"accuracy", 0.6 + 0.1 * r}, {"loss", 1.0 / r},
                          {"t", 2.0 * r}});
    }
  }
  return {
      {"format", "starling-up-report"},
      {"version", 1},
      {"outcome", "completed"},
      {"config", {{"nodes", 3}, {"model", "mlp"}, {"rounds", 2}, {"chaos", "kill:2@8s"}}},
      {"scenario_s", 20.0},
      {"wall_s", 25.0},
      {"nodes", nodes},
      {"accuracy", accuracy},
      {"membership", json::array({{{"t", 0.0}, {"node", 0}, {"status", "alive"}},
                                  {{"t", 0.0}, {"node", 1}, {"status", "alive"}},
                                  {{"t", 0.0}, {"node", 2}, {"status", "alive"}},
                                  {{"t", 9.0}, {"node", 2}, {"status", "suspect"}},
                                  {{"t", 10.5}, {"node", 2}, {"status", "dead"}}})},
      {"chaos", json::array({{{"t", 8.0}, {"kind", "kill"}, {"node", 2}, {"spec", "kill:2@8s"}}})},
      {"failovers", json::array({{{"workload", "stream-00"}, {"from", 2}, {"to", 0},
                                  {"cause", "kill"}, {"start_s", 8.0}, {"end_s", 10.2},
                                  {"duration_s", 2.2}},
                                 {{"workload", "stream-01"}, {"from", 2}, {"to", nullptr},
                                  {"cause", "kill"}, {"start_s", 8.0}, {"end_s", nullptr},
                                  {"duration_s", nullptr}}})},
      {"workloads", json::array({{{"name", "stream-00"}, {"kind", "stream"}, {"replica", 0},
                                  {"owner_name", "n0"}, {"epoch", 2}, {"state", "running"},
                                  {"progress", 1200}, {"total", 20000},
                                  {"counters", {{"bad", 0}}}}})},
      {"baselines", {{"centralized", 0.85}, {"isolated_mean", 0.55}}},
  };
}

TEST_CASE("the page has the three plots with one series per node and the baselines dashed") {
  const std::string html = render_report_html(sample_report());
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("</html>") != std::string::npos);
  CHECK(html.find("<svg id=\"accuracy-plot\"") != std::string::npos);
  CHECK(html.find("<svg id=\"membership-plot\"") != std::string::npos);
  CHECK(html.find("<svg id=\"failover-plot\"") != std::string::npos);
  CHECK(occurrences(html, "<polyline") == 3);
  CHECK(occurrences(html, "<circle") == 6);
  CHECK(occurrences(html, "data-series=\"node-") == 3);
  CHECK(html.find("data-series=\"centralized\"") != std::string::npos);
  CHECK(html.find("data-series=\"isolated\"") != std::string::npos);
  CHECK(occurrences(html, "stroke-dasharray=\"6 4\"") >= 2);
  CHECK(occurrences(html, "class=\"legend-item\"") == 5);
  // Timeline: n2 alive, suspect, dead; one fault marker.
  CHECK(occurrences(html, "class=\"segment status-alive\"") == 3);
  CHECK(occurrences(html, "class=\"segment status-suspect\"") == 1);
  CHECK(occurrences(html, "class=\"segment status-dead\"") == 1);
  CHECK(occurrences(html, "class=\"chaos-marker\"") == 1);
  // Failovers: a bar each, the open one marked as not done.
  CHECK(occurrences(html, "class=\"failover\"") == 2);
  CHECK(occurrences(html, "class=\"chaos-line\"") == 1);
  CHECK(html.find("n2 \u2192 n0 2.20 s") != std::string::npos);
  CHECK(html.find("n2: not running elsewhere by the end") != std::string::npos);
  // Tables.
  for (const char* id : {"config-table", "accuracy-table", "failover-table", "nodes-table",
                         "chaos-table", "workloads-table"}) {
    INFO(id);
    CHECK(html.find(std::string("id=\"") + id + "\"") != std::string::npos);
  }
  CHECK(html.find("<td>20000</td>") != std::string::npos);  // "total" read as the records
  CHECK(html.find("centralized 0.8500, isolated (mean) 0.5500") != std::string::npos);
  CHECK(html.find("document.body.dataset.ready = '1'") != std::string::npos);
}

TEST_CASE("Byzantine agents are named as such and drawn dotted and the summary says who counts") {
  json report = sample_report();
  report["config"]["byzantine"] = 1;
  report["config"]["byzantine_kind"] = "signflip";
  report["config"]["aggregator"] = "median";
  report["nodes"][2]["byzantine"] = "signflip";
  const std::string html = render_report_html(report);
  CHECK(html.find("n2 (Byzantine)") != std::string::npos);
  CHECK(html.find("n1 (Byzantine)") == std::string::npos);
  CHECK(occurrences(html, "stroke-dasharray=\"2 3\"") == 1);
  CHECK(html.find("1 of them Byzantine (signflip") != std::string::npos);
  CHECK(html.find("aggregator median") != std::string::npos);
  // A nodes section shorter than the accuracy series is no reason to fail.
  report["nodes"].erase(2);
  CHECK(render_report_html(report).find("accuracy-plot") != std::string::npos);
}

TEST_CASE("the page is self-contained: no scripts, styles, images or fonts from elsewhere") {
  const std::string html = render_report_html(sample_report());
  CHECK(html.find(" src=") == std::string::npos);
  CHECK(html.find("<link") == std::string::npos);
  CHECK(html.find("href=") == std::string::npos);
  CHECK(html.find("url(") == std::string::npos);
  CHECK(html.find("@import") == std::string::npos);
  // The only URL is the SVG namespace name, which browsers never fetch.
  CHECK(occurrences(html, "http") == occurrences(html, "http://www.w3.org/2000/svg"));
}

TEST_CASE("names and messages from the document are escaped everywhere") {
  json report = sample_report();
  report["nodes"][1]["name"] = "<b>evil</b>&\"x'";
  report["error"] = "<script>alert(1)</script>";
  report["outcome"] = "failed";
  report["failovers"][0]["workload"] = "<img onerror=x>";
  report["config"]["chaos"] = "<i>";
  const std::string html = render_report_html(report);
  CHECK(html.find("<b>evil") == std::string::npos);
  CHECK(html.find("&lt;b&gt;evil&lt;/b&gt;&amp;&quot;x&#39;") != std::string::npos);
  CHECK(html.find("<script>alert") == std::string::npos);
  CHECK(html.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  CHECK(html.find("<img") == std::string::npos);
  CHECK(html.find("<i>") == std::string::npos);
  CHECK(occurrences(html, "<script>") == 1);  // the page's own
  CHECK(html_escape("a<b>&'\"") == "a&lt;b&gt;&amp;&#39;&quot;");
}

TEST_CASE("missing or mistyped sections are shown as no data") {
  for (const json& report :
       {json(nullptr), json::object(), json::array(), json("text"), json(42),
        json{{"nodes", "none"}, {"accuracy", {{"node", "x"}}}, {"membership", 3},
             {"chaos", json::array({1, "kill", {{"node", -1}, {"t", "soon"}}})},
             {"failovers", json::array({json::object()})}, {"scenario_s", "long"},
             {"config", {{"nodes", 2}, {"rounds", "ten"}}}, {"baselines", 0.5}},
        json{{"accuracy", json::array({{{"node", 0}, {"round", 1}, {"accuracy", 0.5}}})}}}) {
    INFO(report.dump());
    std::string html;
    CHECK_NOTHROW(html = render_report_html(report));
    CHECK(html.find("</html>") != std::string::npos);
    CHECK(html.find("dataset.ready") != std::string::npos);
  }
  const std::string empty = render_report_html(json::object());
  CHECK(empty.find("No accuracy was recorded") != std::string::npos);
  CHECK(empty.find("No agents in this report") != std::string::npos);
  CHECK(empty.find("No failover was recorded") != std::string::npos);
  CHECK(empty.find("No fault was injected") != std::string::npos);
  CHECK(empty.find("<polyline") == std::string::npos);
  // Accuracy without a nodes section still plots, under a made-up name.
  const std::string lone = render_report_html(
      json{{"accuracy", json::array({{{"node", 0}, {"round", 1}, {"accuracy", 0.5}}})}});
  CHECK(occurrences(lone, "<polyline") == 1);
  CHECK(lone.find("node 0") != std::string::npos);
}

TEST_CASE("the workloads note explains an empty failover section") {
  json report = sample_report();
  report.erase("failovers");
  report.erase("workloads");
  report["workloads_note"] = "this starlingd does not support workloads yet";
  const std::string html = render_report_html(report);
  CHECK(html.find("No failover was recorded: this starlingd does not support workloads yet") !=
        std::string::npos);
  CHECK(html.find("<svg id=\"failover-plot\"") == std::string::npos);
}

}  // namespace
}  // namespace starling::up
