// The Prometheus text exposition format, version 0.0.4 (see metrics.hpp). The rules this file
// follows, from the format's specification:
//   - "# HELP name text" escapes backslash as \\ and line feed as \n;
//   - "# TYPE name counter|gauge|histogram" comes before the family's first sample, once;
//   - a sample is `name{label="value",...} value`; label values escape backslash, double quote
//     and line feed; values are Go-style floats ("NaN", "+Inf", "-Inf", "1e+21");
//   - a histogram NAME has NAME_bucket samples with cumulative counts and an "le" label,
//     the last one le="+Inf" (equal to NAME_count), then NAME_sum and NAME_count.
// Prometheus also rejects a scrape with invalid UTF-8, hence the replacement of bad bytes.
#include "agent/runtime/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

#include "base/assert.hpp"

namespace starling::runtime {
namespace {

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD in UTF-8
constexpr std::string_view kHistogramSuffixes[] = {"_bucket", "_sum", "_count"};

bool is_letter_or_underscore(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Aborts with a message naming `name` unless `valid` holds (names are programmer errors).
void require(bool valid, std::string_view what, std::string_view name) {
  if (valid) return;
  const std::string message = std::string(what) + ": \"" + std::string(name) + "\"";
  STARLING_ASSERT(valid, message.c_str());
}

// The length of the well-formed UTF-8 sequence at the start of `text` (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or 0 when it is not one.
std::size_t utf8_sequence_length(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_min = 0xA0;  // overlong
    if (lead == 0xED) second_max = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_min = 0x90;  // overlong
    if (lead == 0xF4) second_max = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  if (byte(1) < second_min || byte(1) > second_max) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return length;
}

// Appends `text` to `out` with backslash and line feed escaped, and double quote too when
// `quote` is set; each byte that does not start a well-formed UTF-8 sequence becomes U+FFFD.
void append_escaped(std::string& out, std::string_view text, bool quote) {
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      const std::size_t length = utf8_sequence_length(text.substr(i));
      if (length == 0) {
        out += kReplacementCharacter;
        ++i;
        continue;
      }
      out.append(text.substr(i, length));
      i += length;
      continue;
    }
    ++i;
  }
}

std::string format_double(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[32];  // the shortest round-trip form of a double is at most 24 characters
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

template <typename Integer>
std::string format_integer(Integer value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

// `name="value"`, escaped.
void append_label(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out += "=\"";
  append_escaped(out, value, /*quote=*/true);
  out += '"';
}

// One sample line: `name{labels[,extra]} value\n`; the braces are left out with no labels.
void append_sample(std::string& out, std::string_view name, const MetricLabels& labels,
                   const MetricLabel* extra, const std::string& value) {
  out.append(name);
  if (!labels.empty() || extra != nullptr) {
    out += '{';
    bool first = true;
    for (const MetricLabel& label : labels) {
      if (!first) out += ',';
      first = false;
      append_label(out, label.name, label.value);
    }
    if (extra != nullptr) {
      if (!first) out += ',';
      append_label(out, extra->name, extra->value);
    }
    out += '}';
  }
  out += ' ';
  out += value;
  out += '\n';
}

void check_labels(const MetricLabels& labels, bool histogram) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    require(is_valid_label_name(labels[i].name), "metrics: invalid label name", labels[i].name);
    require(!histogram || labels[i].name != "le",
            "metrics: a histogram's labels must not include", labels[i].name);
    for (std::size_t j = 0; j < i; ++j) {
      require(labels[j].name != labels[i].name, "metrics: label given twice", labels[i].name);
    }
  }
}

}  // namespace

bool is_valid_metric_name(std::string_view name) noexcept {
  if (name.empty() || !(is_letter_or_underscore(name[0]) || name[0] == ':')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return is_letter_or_underscore(c) || is_digit(c) || c == ':';
  });
}

bool is_valid_label_name(std::string_view name) noexcept {
  if (name.empty() || !is_letter_or_underscore(name[0]) || name.starts_with("__")) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return is_letter_or_underscore(c) || is_digit(c); });
}

std::string MetricValue::str() const {
  switch (kind_) {
    case Kind::kSigned: return format_integer(signed_);
    case Kind::kUnsigned: return format_integer(unsigned_);
    case Kind::kDouble: return format_double(double_);
  }
  return "NaN";
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)), bucket_counts_(upper_bounds_.size() + 1, 0) {
  for (std::size_t i = 0; i < upper_bounds_.size(); ++i) {
    STARLING_ASSERT(std::isfinite(upper_bounds_[i]), "histogram bounds must be finite");
    STARLING_ASSERT(i == 0 || upper_bounds_[i - 1] < upper_bounds_[i],
                    "histogram bounds must be strictly increasing");
  }
}

std::vector<double> Histogram::exponential_bounds(double start, double factor,
                                                  std::size_t count) {
  STARLING_ASSERT(start > 0 && factor > 1 && count >= 1,
                  "exponential_bounds needs start > 0, factor > 1 and count >= 1");
  std::vector<double> bounds;
  bounds.reserve(count);
  // A power rather than repeated multiplication: one rounding per bound, not an accumulation,
  // so that decimal bounds render as "0.01" rather than "0.010000000000000002".
  for (std::size_t i = 0; i < count; ++i) {
    bounds.push_back(start * std::pow(factor, static_cast<double>(i)));
  }
  STARLING_ASSERT(std::isfinite(bounds.back()), "exponential_bounds overflowed");
  return bounds;
}

void Histogram::observe(double value) {
  if (std::isnan(value)) return;
  // The first bound >= value: "le" means less than or equal.
  const auto it = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value);
  ++bucket_counts_[static_cast<std::size_t>(it - upper_bounds_.begin())];
  ++count_;
  sum_ += value;
}

MetricsText::Family& MetricsText::family(std::string_view name, std::string_view type,
                                         std::string_view help) {
  if (const auto it = index_.find(name); it != index_.end()) {
    Family& existing = families_[it->second];
    require(existing.type == type, "metrics: family re-added with another type", name);
    require(existing.help == help, "metrics: family re-added with another help", name);
    return existing;
  }
  require(is_valid_metric_name(name), "metrics: invalid metric name", name);
  // The series names of histograms must not clash with other families, in either direction.
  for (std::string_view suffix : kHistogramSuffixes) {
    if (type == "histogram") {
      require(!index_.contains(std::string(name) + std::string(suffix)),
              "metrics: a histogram's series clash with another family", name);
    } else if (name.ends_with(suffix)) {
      const auto base = index_.find(name.substr(0, name.size() - suffix.size()));
      require(base == index_.end() || families_[base->second].type != "histogram",
              "metrics: family clashes with a histogram's series", name);
    }
  }
  index_.emplace(std::string(name), families_.size());
  families_.push_back(Family{std::string(name), std::string(type), std::string(help), {}, {}});
  return families_.back();
}

bool MetricsText::claim_label_set(Family& f, const MetricLabels& labels) {
  std::vector<const MetricLabel*> sorted;
  sorted.reserve(labels.size());
  for (const MetricLabel& label : labels) sorted.push_back(&label);
  std::sort(sorted.begin(), sorted.end(),
            [](const MetricLabel* a, const MetricLabel* b) { return a->name < b->name; });
  // Escaped values contain no bare double quote, so this form is unambiguous.
  std::string key;
  for (const MetricLabel* label : sorted) {
    append_label(key, label->name, label->value);
    key += ',';
  }
  if (f.label_sets.insert(std::move(key)).second) return true;
  ++duplicates_skipped_;
  return false;
}

void MetricsText::counter(std::string_view name, std::string_view help, MetricValue value,
                          const MetricLabels& labels) {
  check_labels(labels, /*histogram=*/false);
  Family& f = family(name, "counter", help);
  if (!claim_label_set(f, labels)) return;
  append_sample(f.samples, name, labels, nullptr, value.str());
}

void MetricsText::gauge(std::string_view name, std::string_view help, MetricValue value,
                        const MetricLabels& labels) {
  check_labels(labels, /*histogram=*/false);
  Family& f = family(name, "gauge", help);
  if (!claim_label_set(f, labels)) return;
  append_sample(f.samples, name, labels, nullptr, value.str());
}

void MetricsText::histogram(std::string_view name, std::string_view help,
                            const Histogram& histogram, const MetricLabels& labels) {
  check_labels(labels, /*histogram=*/true);
  Family& f = family(name, "histogram", help);
  if (!claim_label_set(f, labels)) return;
  const std::string bucket_name = std::string(name) + "_bucket";
  const std::vector<double>& bounds = histogram.upper_bounds();
  const std::vector<std::uint64_t>& counts = histogram.bucket_counts();
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    const MetricLabel le{"le", i < bounds.size() ? format_double(bounds[i]) : "+Inf"};
    append_sample(f.samples, bucket_name, labels, &le, MetricValue(cumulative).str());
  }
  append_sample(f.samples, std::string(name) + "_sum", labels, nullptr,
                MetricValue(histogram.sum()).str());
  append_sample(f.samples, std::string(name) + "_count", labels, nullptr,
                MetricValue(histogram.count()).str());
}

std::string MetricsText::str() const {
  std::string out;
  for (const Family& f : families_) {
    out += "# HELP ";
    out += f.name;
    out += ' ';
    append_escaped(out, f.help, /*quote=*/false);
    out += "\n# TYPE ";
    out += f.name;
    out += ' ';
    out += f.type;
    out += '\n';
    out += f.samples;
  }
  return out;
}

}  // namespace starling::runtime
