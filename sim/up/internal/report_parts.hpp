// The pieces of report.html (private to sim/up): number formatting, node names and colours,
// and the three SVG plots (report_svg.cpp). Pure functions of the report document.
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

namespace starling::up::internal {

// `value` with `decimals` digits after the point ("-" for NaN or infinity).
std::string fixed(double value, int decimals);
// Node i's name from the report's nodes section, or "node I" when it has none.
std::string node_name(const nlohmann::json& report, std::size_t i);
// A distinct colour per node index (a 10-colour palette, repeated).
std::string node_colour(std::size_t i);
// How many nodes the report covers: config.nodes, or the length of the nodes section.
std::size_t node_count(const nlohmann::json& report);
// The end of the time axis in seconds: scenario_s, or the latest time recorded, at least 1.
double time_axis_end(const nlohmann::json& report);

std::string accuracy_svg(const nlohmann::json& report);
std::string membership_svg(const nlohmann::json& report);
std::string failover_svg(const nlohmann::json& report);

}  // namespace starling::up::internal
