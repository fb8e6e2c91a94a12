// Implementation of the Byzantine behaviours (byzantine.hpp).
#include "federated/data/byzantine.hpp"

#include <string>

#include "base/assert.hpp"
#include "base/rng.hpp"
#include "federated/data/partition.hpp"

namespace starling::federated {

Result<ByzantineKind> parse_byzantine_kind(std::string_view name) {
  if (name == "signflip") return ByzantineKind::kSignFlip;
  if (name == "scale") return ByzantineKind::kScale;
  if (name == "noise" || name == "gaussian") return ByzantineKind::kNoise;
  if (name == "labelflip") return ByzantineKind::kLabelFlip;
  return error(StatusCode::kInvalidArgument,
               "unknown Byzantine behaviour '" + std::string(name) +
                   "' (use signflip, scale, noise or labelflip)");
}

std::string_view byzantine_kind_name(ByzantineKind kind) noexcept {
  switch (kind) {
    case ByzantineKind::kSignFlip: return "signflip";
    case ByzantineKind::kScale: return "scale";
    case ByzantineKind::kNoise: return "noise";
    case ByzantineKind::kLabelFlip: return "labelflip";
  }
  return "?";
}

void corrupt_update(ByzantineKind kind, std::span<const float> base, std::vector<float>& trained,
                    std::uint64_t seed) {
  STARLING_ASSERT(base.size() == trained.size(), "corrupt_update: sizes differ");
  Rng rng(seed ^ 0xb12a);
  for (std::size_t i = 0; i < trained.size(); ++i) {
    const float delta = trained[i] - base[i];
    switch (kind) {
      case ByzantineKind::kSignFlip: trained[i] = base[i] - 5.0f * delta; break;
      case ByzantineKind::kScale: trained[i] = base[i] + 10.0f * delta; break;
      case ByzantineKind::kNoise:
        trained[i] = base[i] + static_cast<float>(sample_standard_normal(rng));
        break;
      case ByzantineKind::kLabelFlip: break;
    }
  }
}

void flip_labels(Dataset& data) {
  for (auto& y : data.y) y = static_cast<std::int64_t>(data.classes) - 1 - y;
}

}  // namespace starling::federated
