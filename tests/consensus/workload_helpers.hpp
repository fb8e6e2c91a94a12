// Helpers for the workload table and scheduler tests: specs and commands built in one line,
// commands applied through their real encoding, members with labels and capacity.
// Header-only; single-threaded.
#pragma once

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/rng.hpp"
#include "consensus/scheduler.hpp"
#include "consensus/workloads.hpp"

namespace starling::consensus::testing {

using Labels = std::map<std::string, std::string>;

inline NodeId node(std::uint64_t i) { return NodeId::from_u64(i); }

// A node id with 16 random bytes, as real ids (hashes of public keys) are.
inline NodeId random_node(Rng& rng) {
  NodeId::Raw raw{};
  for (auto& b : raw) b = static_cast<std::uint8_t>(rng.next_u64());
  return NodeId(raw);
}

inline WorkloadSpec spec_of(const std::string& name, std::uint32_t replicas = 1,
                            Labels required = {}, Labels params = {}) {
  return WorkloadSpec{name, "stream", replicas, std::move(required), std::move(params)};
}

inline Assignment assign_of(const std::string& workload, std::uint32_t replica,
                            const NodeId& owner, std::uint64_t epoch,
                            Duration lease = std::chrono::seconds(1),
                            Duration start_delay = Duration{0}) {
  return Assignment{workload, replica, owner, epoch, lease, start_delay};
}

inline Checkpoint checkpoint_of(const std::string& workload, std::uint32_t replica,
                                std::uint64_t epoch, std::uint64_t position,
                                const std::string& state = "") {
  return Checkpoint{workload, replica, epoch, position, Bytes(state.begin(), state.end())};
}

// Applies `command` through its encoding, as a node applies a committed entry.
inline ApplyResult apply_encoded(WorkloadTable& table, const Command& command) {
  auto result = table.apply(encode_command(command));
  REQUIRE(result.is_ok());
  return *result;
}

// Applies `command` and requires it to be accepted.
inline void accept(WorkloadTable& table, const Command& command) {
  const ApplyResult result = apply_encoded(table, command);
  INFO(command_type_name(command_type(command)) << " rejected: "
                                                << rejection_name(result.rejection));
  REQUIRE(result.accepted());
}

// Applies every Assign of `schedule`, requiring each to be accepted.
inline void apply_schedule(WorkloadTable& table, const Schedule& schedule) {
  for (const Assignment& a : schedule.assigns) accept(table, a);
}

inline Member member_of(const NodeId& id, std::uint32_t capacity = 1, Labels labels = {}) {
  return Member{id, std::move(labels), capacity};
}

inline SchedulerInput input_of(std::vector<Member> members, bool rebalance = true) {
  SchedulerInput input;
  input.members = std::move(members);
  input.options.rebalance = rebalance;
  return input;
}

}  // namespace starling::consensus::testing
