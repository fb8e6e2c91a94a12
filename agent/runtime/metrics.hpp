// Prometheus metrics in the text exposition format, version 0.0.4 (what the scrape endpoint
// serves). The agent uses a pull model: there is no global registry; on each scrape the daemon
// builds a MetricsText from the counters its components already keep (TransportCounters,
// ControlServerCounters, ...) and from the Histograms it owns, and serves str().
// Threading contract: none of these types is thread-safe; each belongs to one thread (the
// daemon's loop). Nothing here throws except std::bad_alloc.
//
// Names are code, not data: metric names, label names and help texts are constants chosen by
// the programmer, and a bad one (an invalid name, a family re-added with another type or help)
// fails a STARLING_ASSERT. Label values may come from the network (a peer's name, a metadata
// value): they are escaped, and bytes that are not valid UTF-8 are replaced with U+FFFD, so that
// no value can break the exposition or make Prometheus reject the scrape.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace starling::runtime {

// One label of a sample: `name` matches [a-zA-Z_][a-zA-Z0-9_]* and does not start with "__"
// (reserved by Prometheus); `value` is any text.
struct MetricLabel {
  std::string name;
  std::string value;
};
// The labels of one sample, rendered in this order: `{{"reason", "queue_full"}}`.
using MetricLabels = std::vector<MetricLabel>;

// Whether `name` is a valid metric name: [a-zA-Z_:][a-zA-Z0-9_:]*.
bool is_valid_metric_name(std::string_view name) noexcept;
// Whether `name` is a valid label name for a sample: [a-zA-Z_][a-zA-Z0-9_]*, not starting
// with "__".
bool is_valid_label_name(std::string_view name) noexcept;

// A sample's value: any integer (rendered exactly, so a 64-bit counter loses nothing) or
// floating-point number (shortest text that reads back to the same double; NaN, +Inf and -Inf
// as Prometheus spells them). Implicit, so that callers pass counters and doubles as they are.
class MetricValue {
 public:
  template <std::signed_integral T>
  MetricValue(T value) : kind_(Kind::kSigned), signed_(value) {}  // NOLINT: implicit
  template <std::unsigned_integral T>
  MetricValue(T value) : kind_(Kind::kUnsigned), unsigned_(value) {}  // NOLINT: implicit
  template <std::floating_point T>
  MetricValue(T value) : kind_(Kind::kDouble), double_(static_cast<double>(value)) {}  // NOLINT

  // "42", "-7", "0.25", "1e+21", "NaN", "+Inf".
  std::string str() const;

 private:
  enum class Kind : std::uint8_t { kSigned, kUnsigned, kDouble };
  Kind kind_;
  std::int64_t signed_ = 0;
  std::uint64_t unsigned_ = 0;
  double double_ = 0;
};

// A distribution of observations over fixed buckets, Prometheus style: bucket i counts the
// observations <= upper_bounds[i] (and above the previous bound); an implicit last bucket,
// le="+Inf", counts those above every bound. Owned by whoever observes (a component measuring a
// latency, say) and handed to MetricsText::histogram on each scrape.
class Histogram {
 public:
  // REQUIRES: the bounds are finite and strictly increasing (the +Inf bucket is implicit). An
  // empty list is allowed: the histogram then has only the +Inf bucket (a count and a sum).
  explicit Histogram(std::vector<double> upper_bounds);

  // `count` bounds start, start*factor, start*factor^2, ...
  // REQUIRES: start > 0, factor > 1, count >= 1, and the last bound finite.
  static std::vector<double> exponential_bounds(double start, double factor, std::size_t count);

  // Counts `value` in its bucket and adds it to the sum. A NaN is ignored: it would turn the
  // sum into NaN for the rest of the process's life.
  void observe(double value);

  const std::vector<double>& upper_bounds() const { return upper_bounds_; }
  // Observations per bucket, NOT cumulative: upper_bounds().size() + 1 entries, the last one
  // for the +Inf bucket. MetricsText renders the cumulative counts Prometheus expects.
  const std::vector<std::uint64_t>& bucket_counts() const { return bucket_counts_; }
  std::uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> upper_bounds_;
  std::vector<std::uint64_t> bucket_counts_;
  std::uint64_t count_ = 0;
  double sum_ = 0;
};

// Builds one exposition document. Samples are grouped by family (metric name): the first
// sample of a family fixes its place in the output, its type and its help, and the family's
// "# HELP" and "# TYPE" lines appear once, followed by all of its samples in the order they were
// added, even when samples of other families were added in between. Example:
//
//   MetricsText text;
//   text.counter("starling_transport_messages_in_total", "Messages received.", c.messages_in);
//   text.counter("starling_transport_dropped_total", "Messages dropped, by reason.",
//                c.dropped_for(DropReason::kQueueFull), {{"reason", "queue_full"}});
//   text.histogram("starling_probe_rtt_seconds", "Probe round-trip time.", rtt);
//   return text.str();
//
// By convention counter names end in "_total" and carry their unit ("_seconds", "_bytes").
class MetricsText {
 public:
  // Adds a sample of a counter (a value that only goes up, reset only by a restart).
  // REQUIRES: valid names (is_valid_metric_name, is_valid_label_name), no label name twice,
  // and `help` equal to the help of earlier samples of this family, which must be counters.
  void counter(std::string_view name, std::string_view help, MetricValue value,
               const MetricLabels& labels = {});
  // Adds a sample of a gauge (a value that goes up and down). REQUIRES: as counter().
  void gauge(std::string_view name, std::string_view help, MetricValue value,
             const MetricLabels& labels = {});
  // Adds the series of a histogram: NAME_bucket{...,le="B"} with cumulative counts for each
  // bound and for le="+Inf", then NAME_sum and NAME_count. REQUIRES: as counter(), no label
  // named "le", and no other family named NAME_bucket, NAME_sum or NAME_count.
  void histogram(std::string_view name, std::string_view help, const Histogram& histogram,
                 const MetricLabels& labels = {});

  // Samples skipped because their family already had a sample with the same label set (in any
  // order): Prometheus would reject them. A label value from the network can cause this (two
  // peers with the same name), so it is counted rather than asserted.
  std::size_t duplicates_skipped() const { return duplicates_skipped_; }

  // The document: every family's HELP and TYPE lines and its samples, each line ending in "\n".
  // Empty when nothing was added.
  std::string str() const;

 private:
  struct Family {
    std::string name;
    std::string type;  // "counter", "gauge" or "histogram"
    std::string help;
    std::string samples;              // rendered sample lines
    std::set<std::string> label_sets;  // canonical label sets seen, to skip duplicates
  };
  // The family `name`, created at the end of the document when new. Asserts the rules above.
  Family& family(std::string_view name, std::string_view type, std::string_view help);
  // Adds the canonical form of `labels` to `f`; false when `f` already had it.
  bool claim_label_set(Family& f, const MetricLabels& labels);

  std::vector<Family> families_;
  std::map<std::string, std::size_t, std::less<>> index_;  // name -> position in families_
  std::size_t duplicates_skipped_ = 0;
};

}  // namespace starling::runtime
