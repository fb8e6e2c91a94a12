// Byzantine behaviours: what an enrolled device with a valid key does when it tries to harm the
// shared model. Fault injection for the simulator's FL scenario and for test fleets of real
// agents (starlingd's test-only `byzantine` setting, `starling-sim up --byzantine`), so that the
// robust aggregators and norm filters are exercised by the same behaviours in both. Pure
// functions on plain vectors: no libtorch, no I/O; the noise is drawn from a seeded Rng.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "base/status.hpp"
#include "federated/data/dataset.hpp"

namespace starling::federated {

enum class ByzantineKind {
  kSignFlip,   // sends -5x its honest update
  kScale,      // sends 10x its honest update
  kNoise,      // sends Gaussian noise (sigma 1 per parameter) instead of its update
  kLabelFlip,  // trains honestly on labels mapped y -> classes - 1 - y
};

// "signflip", "scale", "noise" (or "gaussian"), "labelflip"; kInvalidArgument otherwise.
Result<ByzantineKind> parse_byzantine_kind(std::string_view name);
std::string_view byzantine_kind_name(ByzantineKind kind) noexcept;

// Rewrites `trained` (the parameters after honest local training that started from `base`)
// into what a node of `kind` sends. kLabelFlip leaves it alone (it acts on the data).
// REQUIRES: base.size() == trained.size().
void corrupt_update(ByzantineKind kind, std::span<const float> base, std::vector<float>& trained,
                    std::uint64_t seed);

// The labels a kLabelFlip node trains on: y -> classes - 1 - y, in place.
void flip_labels(Dataset& data);

}  // namespace starling::federated
