// check_ledgers(): the outside checker of a stream's ledgers (exactly once by key).
#include "workloads/ledger.hpp"

#include <algorithm>
#include <string>

#include "base/assert.hpp"
#include "workloads/stream.hpp"

namespace starling::workloads {

namespace {

void note(std::vector<std::uint64_t>& examples, std::uint64_t seq) {
  if (examples.size() < LedgerReport::kExamplesMax &&
      (examples.empty() || examples.back() != seq)) {
    examples.push_back(seq);
  }
}

std::string list(const std::vector<std::uint64_t>& examples) {
  std::string out;
  for (std::uint64_t seq : examples) {
    if (!out.empty()) out += ", ";
    out += std::to_string(seq);
  }
  return out;
}

}  // namespace

std::string LedgerReport::summary() const {
  const std::string keys =
      std::to_string(present) + " of " + std::to_string(expected) + " keys present";
  if (complete()) {
    return "complete: " + keys + ", " + std::to_string(duplicates) + " duplicate rows";
  }
  std::string out = "incomplete: " + keys;
  if (missing > 0) out += "; " + std::to_string(missing) + " missing (" + list(first_missing) + ")";
  if (conflicting > 0) {
    out += "; " + std::to_string(conflicting) + " conflicting (" + list(first_conflicting) + ")";
  }
  if (unknown > 0) {
    out += "; " + std::to_string(unknown) + " unknown rows (" + list(first_unknown) + ")";
  }
  return out;
}

LedgerReport check_ledgers(const StreamParams& params, std::span<const LedgerRow> rows) {
  STARLING_ASSERT(validate_stream_params(params).is_ok(), "check_ledgers() with invalid params");
  std::vector<const LedgerRow*> sorted;
  sorted.reserve(rows.size());
  for (const LedgerRow& row : rows) sorted.push_back(&row);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const LedgerRow* a, const LedgerRow* b) { return a->seq < b->seq; });

  LedgerReport report;
  report.expected = params.records;
  report.rows = rows.size();
  std::size_t k = 0;
  // Merge the sorted rows with the stream's keys, which strictly increase with the index.
  for (std::uint64_t index = 0; index < params.records; ++index) {
    const std::uint64_t seq = stream_seq(params, index);
    for (; k < sorted.size() && sorted[k]->seq < seq; ++k) {
      ++report.unknown;
      note(report.first_unknown, sorted[k]->seq);
    }
    if (k == sorted.size() || sorted[k]->seq != seq) {
      ++report.missing;
      note(report.first_missing, seq);
      continue;
    }
    ++report.present;
    const LedgerRow expected = expected_output(params, index);
    bool conflict = false;
    for (bool first = true; k < sorted.size() && sorted[k]->seq == seq; ++k, first = false) {
      if (!first) ++report.duplicates;
      if (*sorted[k] != expected) conflict = true;
    }
    if (conflict) {
      ++report.conflicting;
      note(report.first_conflicting, seq);
    }
  }
  for (; k < sorted.size(); ++k) {
    ++report.unknown;
    note(report.first_unknown, sorted[k]->seq);
  }
  return report;
}

}  // namespace starling::workloads
