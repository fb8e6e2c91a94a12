// The workload table (consensus/workloads.hpp): the command codec and its hostile input, the
// rules W1-W4 and W7-W8 of consensus/DESIGN.md ("The workload table"), snapshots, limits and
// queries. Commands are applied through their real encoding, as a node applies committed
// entries.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "base/rng.hpp"
#include "consensus/workloads.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/common/test_support.hpp"
#include "tests/consensus/workload_helpers.hpp"

using namespace starling;
using namespace starling::consensus;
using namespace starling::consensus::testing;
using namespace std::chrono_literals;

namespace {

// One command of each type with every field set.
std::vector<Command> samples() {
  return {
      AddWorkload{spec_of("line-3.temps_v2", 3, {{"site", "plant-a"}, {"arch", "arm64"}},
                          {{"window", "250"}, {"source", "tcp://10.0.0.7:5555"}})},
      RemoveWorkload{"line-3.temps_v2"},
      assign_of("line-3.temps_v2", 2, node(7), 42, 1500ms, 1200ms),
      checkpoint_of("line-3.temps_v2", 2, 42, 123456789, "offset=123456789;sum=17.5"),
      Release{"line-3.temps_v2", 2, 42},
      Renew{node(7), 0x0123456789abcdefULL},
  };
}

Bytes with_byte(Bytes bytes, std::size_t at, std::uint8_t value) {
  bytes.at(at) = value;
  return bytes;
}

// A table with two workloads, assignments, a release and checkpoints.
WorkloadTable sample_table() {
  WorkloadTable t;
  accept(t, AddWorkload{spec_of("a", 2, {{"site", "x"}})});
  accept(t, AddWorkload{spec_of("b", 3, {}, {{"k", "v"}})});
  accept(t, assign_of("a", 0, node(1), 1));
  accept(t, assign_of("a", 1, node(2), 2));
  accept(t, assign_of("b", 0, node(2), 3, 2s, 500ms));
  accept(t, checkpoint_of("a", 0, 1, 10, "ten"));
  accept(t, checkpoint_of("b", 0, 3, 7, ""));
  accept(t, Release{"b", 0, 3});
  return t;
}

// A random command over a few names, nodes and epochs: mostly well-formed, often rejected.
Command random_command(Rng& rng) {
  const std::string name = std::string(1, static_cast<char>('a' + rng.uniform(3)));
  const auto replica = static_cast<std::uint32_t>(rng.uniform(4));
  const std::uint64_t epoch = 1 + rng.uniform(12);
  switch (rng.uniform(6)) {
    case 0: return AddWorkload{spec_of(name, 1 + static_cast<std::uint32_t>(rng.uniform(3)))};
    case 1: return RemoveWorkload{name};
    case 2: return assign_of(name, replica, node(1 + rng.uniform(4)), epoch);
    case 3:
      return checkpoint_of(name, replica, epoch, rng.uniform(100),
                           std::string(rng.uniform(20), 's'));
    case 4: return Release{name, replica, epoch};
    default: return Renew{node(1 + rng.uniform(4)), rng.next_u64()};
  }
}

}  // namespace

// --- Codec (W7).

TEST_CASE("W7: every command type round-trips through the codec exactly") {
  for (const Command& command : samples()) {
    INFO(command_type_name(command_type(command)));
    REQUIRE_OK(validate_command(command));
    const Bytes bytes = encode_command(command);
    auto back = decode_command(bytes);
    REQUIRE_OK(back);
    CHECK(*back == command);
    CHECK(encode_command(*back) == bytes);
  }
}

TEST_CASE("W7: the layout of a Renew and of a Release is the documented one") {
  const Bytes renew = encode_command(Renew{node(7), 0x0102030405060708ULL});
  REQUIRE(renew.size() == 2 + 16 + 8);
  CHECK(renew[0] == 1);       // version
  CHECK(renew[1] == 6);       // type
  CHECK(renew[2 + 15] == 7);  // node id, its last byte
  CHECK(renew[18] == 0x08);   // nonce, little-endian
  CHECK(renew[25] == 0x01);
  const Bytes release = encode_command(Release{"ab", 3, 9});
  REQUIRE(release.size() == 2 + 2 + 2 + 1 + 8);
  CHECK(release[1] == 5);
  CHECK(release[2] == 2);  // str16 length
  CHECK(release[4] == 'a');
  CHECK(release[6] == 3);  // replica
  CHECK(release[7] == 9);  // epoch
}

TEST_CASE("W7: every truncation and every extension of a command is refused with kCorrupt") {
  for (const Command& command : samples()) {
    const Bytes bytes = encode_command(command);
    for (std::size_t k = 0; k < bytes.size(); ++k) {
      INFO(command_type_name(command_type(command)) << " cut at " << k);
      CHECK_CODE(decode_command(ByteSpan(bytes.data(), k)), StatusCode::kCorrupt);
    }
    Bytes longer = bytes;
    longer.push_back(0);
    CHECK_CODE(decode_command(longer), StatusCode::kCorrupt);
  }
}

TEST_CASE("W7: random and mutated command bytes never crash and decode only canonically") {
  const std::uint64_t seed = starling::testing::test_seed();
  INFO("seed " << seed);
  Rng rng(seed);
  const auto all = samples();
  WorkloadTable table = sample_table();
  std::size_t accepted = 0, refused = 0;
  for (int round = 0; round < 20000; ++round) {
    Bytes bytes = encode_command(all[rng.uniform(all.size())]);
    const int flips = 1 + static_cast<int>(rng.uniform(3));
    for (int f = 0; f < flips; ++f) {
      bytes[rng.uniform(bytes.size())] = static_cast<std::uint8_t>(rng.next_u64());
    }
    if (rng.chance(0.2)) bytes.resize(rng.uniform(bytes.size() + 1));
    auto decoded = decode_command(bytes);
    if (decoded) {
      ++accepted;
      CHECK_OK(validate_command(*decoded));
      CHECK(encode_command(*decoded) == bytes);  // exactly one encoding per command
    } else {
      ++refused;
      CHECK(decoded.status().code() == StatusCode::kCorrupt);
    }
    // Applying hostile bytes either applies a valid command or changes nothing.
    const Bytes before = table.snapshot();
    auto applied = table.apply(bytes);
    if (!applied) CHECK(table.snapshot() == before);
  }
  CHECK(accepted > 0);
  CHECK(refused > 0);
  CHECK_OK(table.check_invariants());
  CHECK(table.stats().corrupt == refused);
  for (int round = 0; round < 5000; ++round) {
    Bytes noise(rng.uniform(300));
    for (auto& b : noise) b = static_cast<std::uint8_t>(rng.next_u64());
    if (rng.chance(0.5) && noise.size() >= 2) {
      noise[0] = 1;  // a valid version and type, so that the fields are reached
      noise[1] = static_cast<std::uint8_t>(1 + rng.uniform(kCommandTypeMax));
    }
    auto decoded = decode_command(noise);
    if (!decoded) CHECK(decoded.status().code() == StatusCode::kCorrupt);
  }
}

TEST_CASE("W7: forged lengths counts and non-canonical encodings are refused") {
  // A checkpoint whose state length claims 4 GiB: refused before allocating.
  Bytes checkpoint = encode_command(checkpoint_of("w", 0, 1, 5, "abc"));
  const std::size_t length_at = 2 + 3 + 1 + 8 + 8;
  for (std::size_t i = 0; i < 4; ++i) checkpoint[length_at + i] = 0xff;
  CHECK_CODE(decode_command(checkpoint), StatusCode::kCorrupt);
  // A state of 64 KiB + 1 bytes, present in full: over the limit.
  Bytes big = encode_command(checkpoint_of("w", 0, 1, 5, std::string(kCheckpointStateMaxBytes, 'x')));
  big[length_at] = 0x01;  // 0x00010001
  big.push_back('x');
  CHECK_CODE(decode_command(big), StatusCode::kCorrupt);
  // Label count above the limit, and labels out of order.
  const Bytes add = encode_command(AddWorkload{spec_of("w", 1, {{"a", "1"}, {"b", "2"}})});
  const std::size_t labels_at = 2 + 3 + 8 + 1;  // after name "w" and kind "stream"
  CHECK(add[labels_at] == 2);
  CHECK_CODE(decode_command(with_byte(add, labels_at, 33)), StatusCode::kCorrupt);
  CHECK_CODE(decode_command(with_byte(add, labels_at + 3, 'c')), StatusCode::kCorrupt);  // c, b
  CHECK_CODE(decode_command(with_byte(add, labels_at + 3 + 5, 'a')), StatusCode::kCorrupt);  // a, a
  // Replicas out of range, an unknown type or version, a bad name character.
  CHECK_CODE(decode_command(with_byte(add, labels_at - 1, 0)), StatusCode::kCorrupt);
  CHECK_CODE(decode_command(with_byte(add, labels_at - 1, 17)), StatusCode::kCorrupt);
  CHECK_CODE(decode_command(with_byte(add, 1, 7)), StatusCode::kCorrupt);
  CHECK_CODE(decode_command(with_byte(add, 0, 2)), StatusCode::kCorrupt);
  CHECK_CODE(decode_command(with_byte(add, 4, '/')), StatusCode::kCorrupt);
  // Assign: a zero node, epoch 0, a lease below the minimum, a start delay above the maximum.
  const Bytes a = encode_command(assign_of("w", 0, node(1), 1));
  const std::size_t node_at = 2 + 3 + 1, epoch_at = node_at + 16, lease_at = epoch_at + 8;
  Bytes zero_node = a;
  std::fill(zero_node.begin() + node_at, zero_node.begin() + node_at + 16, 0);
  CHECK_CODE(decode_command(zero_node), StatusCode::kCorrupt);
  CHECK_CODE(decode_command(with_byte(a, epoch_at, 0)), StatusCode::kCorrupt);
  Bytes short_lease = a;
  std::fill(short_lease.begin() + lease_at, short_lease.begin() + lease_at + 8, 0);
  short_lease[lease_at] = 1;
  CHECK_CODE(decode_command(short_lease), StatusCode::kCorrupt);
  CHECK_CODE(decode_command(with_byte(a, lease_at + 8 + 7, 0x80)), StatusCode::kCorrupt);
  CHECK_CODE(decode_command(with_byte(a, lease_at + 7, 0x80)), StatusCode::kCorrupt);
}

TEST_CASE("W7: validation refuses specs and commands outside the limits") {
  CHECK_OK(validate_spec(spec_of(std::string(64, 'n'))));
  CHECK_CODE(validate_spec(spec_of(std::string(65, 'n'))), StatusCode::kInvalidArgument);
  CHECK_CODE(validate_spec(spec_of("")), StatusCode::kInvalidArgument);
  CHECK_CODE(validate_spec(spec_of("a b")), StatusCode::kInvalidArgument);
  CHECK_CODE(validate_spec(spec_of("a/b")), StatusCode::kInvalidArgument);
  CHECK_CODE(validate_spec(spec_of("w", 0)), StatusCode::kInvalidArgument);
  CHECK_OK(validate_spec(spec_of("w", kReplicasMax)));
  CHECK_CODE(validate_spec(spec_of("w", kReplicasMax + 1)), StatusCode::kInvalidArgument);
  WorkloadSpec no_kind = spec_of("w");
  no_kind.kind = "";
  CHECK_CODE(validate_spec(no_kind), StatusCode::kInvalidArgument);
  CHECK_CODE(validate_spec(spec_of("w", 1, {{"Site", "a"}})), StatusCode::kInvalidArgument);
  CHECK_CODE(validate_spec(spec_of("w", 1, {{"site", "a\n"}})), StatusCode::kInvalidArgument);
  CHECK_CODE(validate_spec(spec_of("w", 1, {{"site", std::string(256, 'v')}})),
             StatusCode::kInvalidArgument);
  CHECK_OK(validate_spec(spec_of("w", 1, {}, {{"path", std::string(1024, 'v')}})));
  CHECK_CODE(validate_spec(spec_of("w", 1, {}, {{"path", std::string(1025, 'v')}})),
             StatusCode::kInvalidArgument);
  Labels many;
  for (int i = 0; i < 33; ++i) many["k" + std::to_string(i)] = "v";
  CHECK_CODE(validate_spec(spec_of("w", 1, many)), StatusCode::kInvalidArgument);
  // 32 params of 1 KiB pass field by field but not the 16 KiB total.
  Labels heavy;
  for (int i = 0; i < 32; ++i) heavy["k" + std::to_string(i)] = std::string(1000, 'v');
  CHECK_CODE(validate_spec(spec_of("w", 1, {}, heavy)), StatusCode::kInvalidArgument);

  CHECK_CODE(validate_command(assign_of("w", kReplicasMax, node(1), 1)),
             StatusCode::kInvalidArgument);
  CHECK_CODE(validate_command(assign_of("w", 0, NodeId{}, 1)), StatusCode::kInvalidArgument);
  CHECK_CODE(validate_command(assign_of("w", 0, node(1), 0)), StatusCode::kInvalidArgument);
  CHECK_CODE(validate_command(assign_of("w", 0, node(1), kEpochMax + 1)),
             StatusCode::kInvalidArgument);
  CHECK_CODE(validate_command(assign_of("w", 0, node(1), 1, 9ms)), StatusCode::kInvalidArgument);
  CHECK_CODE(validate_command(assign_of("w", 0, node(1), 1, 61s)), StatusCode::kInvalidArgument);
  CHECK_CODE(validate_command(assign_of("w", 0, node(1), 1, 1s, -1us)),
             StatusCode::kInvalidArgument);
  CHECK_CODE(validate_command(checkpoint_of("w", 0, 1, 0, std::string(kCheckpointStateMaxBytes + 1, 'x'))),
             StatusCode::kInvalidArgument);
  CHECK_CODE(validate_command(Renew{NodeId{}, 1}), StatusCode::kInvalidArgument);
  CHECK_CODE(validate_command(Release{"w", 0, 0}), StatusCode::kInvalidArgument);
}

// --- The rules.

TEST_CASE("W1: epochs strictly increase per replica and a re-added workload reuses none") {
  WorkloadTable t;
  accept(t, AddWorkload{spec_of("w", 2)});
  CHECK(t.find("w")->base_epoch == 0);
  accept(t, assign_of("w", 0, node(1), 1));
  accept(t, assign_of("w", 0, node(2), 2));  // reassignment: a new, higher epoch
  accept(t, assign_of("w", 1, node(1), 1));  // epochs are per replica
  for (std::uint64_t epoch : {1, 2}) {
    const ApplyResult result = apply_encoded(t, assign_of("w", 0, node(3), epoch));
    CHECK(result.rejection == Rejection::kEpochNotNewer);
  }
  CHECK(t.assignment("w", 0)->node == node(2));
  CHECK(t.assignment("w", 0)->epoch == 2);
  accept(t, assign_of("w", 0, node(3), 9));  // gaps are allowed
  CHECK(t.max_epoch() == 9);
  // A release keeps the epoch: the next owner needs a higher one.
  accept(t, Release{"w", 0, 9});
  CHECK(apply_encoded(t, assign_of("w", 0, node(4), 9)).rejection == Rejection::kEpochNotNewer);
  accept(t, assign_of("w", 0, node(4), 10));
  // Removed and added again under the same name: its replicas start at the highest epoch ever
  // issued, so no epoch of the old workload is issued again.
  accept(t, RemoveWorkload{"w"});
  accept(t, AddWorkload{spec_of("w", 2)});
  CHECK(t.find("w")->base_epoch == 10);
  for (std::uint64_t epoch : {1, 2, 9, 10}) {
    CHECK(apply_encoded(t, assign_of("w", 1, node(5), epoch)).rejection ==
          Rejection::kEpochNotNewer);
  }
  accept(t, assign_of("w", 1, node(5), 11));
  CHECK(t.stats().rejected_by_reason.at("epoch_not_newer") == 7);
}

TEST_CASE("W2: a checkpoint or release of an older epoch is rejected and counted") {
  WorkloadTable t;
  accept(t, AddWorkload{spec_of("w", 1)});
  accept(t, assign_of("w", 0, node(1), 1));
  accept(t, checkpoint_of("w", 0, 1, 100, "a"));
  accept(t, assign_of("w", 0, node(2), 2));  // node 1 lost the replica (it may not know yet)
  const Bytes before = t.snapshot();
  const ApplyResult late = apply_encoded(t, checkpoint_of("w", 0, 1, 150, "late"));
  CHECK_FALSE(late.accepted());
  CHECK(late.rejection == Rejection::kStaleEpoch);
  CHECK(apply_encoded(t, Release{"w", 0, 1}).rejection == Rejection::kStaleEpoch);
  CHECK(t.snapshot() == before);  // nothing of the old owner's got in
  CHECK(t.checkpoint("w", 0)->position == 100);
  CHECK(t.checkpoint("w", 0)->epoch == 1);
  CHECK(t.stats().rejected_by_reason.at("stale_epoch") == 2);
  CHECK(t.stats().rejected == 2);
  // An epoch never issued is refused too, and so is the current epoch once released.
  CHECK(apply_encoded(t, checkpoint_of("w", 0, 3, 150)).rejection == Rejection::kFutureEpoch);
  accept(t, checkpoint_of("w", 0, 2, 150, "b"));
  accept(t, Release{"w", 0, 2});
  CHECK(apply_encoded(t, checkpoint_of("w", 0, 2, 160)).rejection == Rejection::kNotAssigned);
  CHECK(apply_encoded(t, Release{"w", 0, 2}).rejection == Rejection::kNotAssigned);
  CHECK(t.checkpoint("w", 0)->position == 150);  // the last checkpoint survives the release
  // The token of a removed workload is refused by the one re-added under its name.
  accept(t, RemoveWorkload{"w"});
  accept(t, AddWorkload{spec_of("w", 1)});
  CHECK(apply_encoded(t, checkpoint_of("w", 0, 2, 999)).rejection == Rejection::kNotAssigned);
  accept(t, assign_of("w", 0, node(3), 3));
  CHECK(apply_encoded(t, checkpoint_of("w", 0, 2, 999)).rejection == Rejection::kStaleEpoch);
  CHECK(t.checkpoint("w", 0) == nullptr);
}

TEST_CASE("W3: checkpoint positions never go backwards across epochs") {
  WorkloadTable t;
  accept(t, AddWorkload{spec_of("w", 1)});
  accept(t, assign_of("w", 0, node(1), 1));
  accept(t, checkpoint_of("w", 0, 1, 10, "ten"));
  CHECK(apply_encoded(t, checkpoint_of("w", 0, 1, 9, "nine")).rejection ==
        Rejection::kPositionBackwards);
  accept(t, checkpoint_of("w", 0, 1, 10, "ten again"));  // equal is allowed (state replaced)
  CHECK(t.checkpoint("w", 0)->state == Bytes{'t', 'e', 'n', ' ', 'a', 'g', 'a', 'i', 'n'});
  // The next owner resumes from 10 and may not commit below it either.
  accept(t, assign_of("w", 0, node(2), 2));
  CHECK(apply_encoded(t, checkpoint_of("w", 0, 2, 0)).rejection == Rejection::kPositionBackwards);
  accept(t, checkpoint_of("w", 0, 2, 12));
  CHECK(t.checkpoint("w", 0)->epoch == 2);
  CHECK(t.stats().rejected_by_reason.at("position_backwards") == 2);
  // Over random histories, the committed position of every replica is monotone.
  const std::uint64_t seed = starling::testing::test_seed();
  INFO("seed " << seed);
  Rng rng(seed);
  WorkloadTable r;
  std::map<std::pair<std::string, std::uint32_t>, std::uint64_t> last;
  for (int i = 0; i < 20000; ++i) {
    const Command command = random_command(rng);
    if (std::holds_alternative<RemoveWorkload>(command)) continue;  // a new workload restarts
    (void)apply_encoded(r, command);
    for (const auto& [name, workload] : r.workloads()) {
      for (std::uint32_t k = 0; k < workload.replicas.size(); ++k) {
        const Checkpoint* c = r.checkpoint(name, k);
        if (c == nullptr) continue;
        auto& seen = last[{name, k}];
        CHECK(c->position >= seen);
        seen = c->position;
      }
    }
  }
}

TEST_CASE("W4: the table refuses a node for a second replica of a workload") {
  WorkloadTable t;
  accept(t, AddWorkload{spec_of("w", 3)});
  accept(t, AddWorkload{spec_of("v", 1)});
  accept(t, assign_of("w", 0, node(1), 1));
  CHECK(apply_encoded(t, assign_of("w", 1, node(1), 1)).rejection == Rejection::kNodeHoldsReplica);
  accept(t, assign_of("w", 0, node(1), 2));  // the same replica to the same node: allowed
  accept(t, assign_of("v", 0, node(1), 1));  // another workload: allowed
  accept(t, Release{"w", 0, 2});
  accept(t, assign_of("w", 1, node(1), 1));  // free again once released
  CHECK(t.owned_by(node(1)).size() == 2);
  CHECK_OK(t.check_invariants());
}

TEST_CASE("W7: snapshot and restore give an equal table and equal bytes") {
  const WorkloadTable sample = sample_table();
  const Bytes bytes = sample.snapshot();
  auto back = WorkloadTable::restore(bytes);
  REQUIRE_OK(back);
  CHECK(*back == sample);
  CHECK(back->snapshot() == bytes);
  CHECK(back->checkpoint_state_bytes() == sample.checkpoint_state_bytes());
  // The empty table and the bootstrap snapshot's empty data.
  auto empty = WorkloadTable::restore({});
  REQUIRE_OK(empty);
  CHECK(*empty == WorkloadTable{});
  auto empty_again = WorkloadTable::restore(WorkloadTable{}.snapshot());
  REQUIRE_OK(empty_again);
  CHECK(*empty_again == WorkloadTable{});

  // Random histories: two tables fed the same commands stay equal, and a table restored from a
  // snapshot taken midway ends equal to one that applied everything.
  const std::uint64_t seed = starling::testing::test_seed();
  INFO("seed " << seed);
  Rng rng(seed);
  for (int run = 0; run < 20; ++run) {
    std::vector<Command> commands;
    for (int i = 0; i < 400; ++i) commands.push_back(random_command(rng));
    const std::size_t cut = rng.uniform(commands.size());
    WorkloadTable a, b;
    std::optional<WorkloadTable> c;
    for (std::size_t i = 0; i < commands.size(); ++i) {
      if (i == cut) {
        auto restored = WorkloadTable::restore(b.snapshot());
        REQUIRE_OK(restored);
        c = std::move(*restored);
      }
      const ApplyResult ra = apply_encoded(a, commands[i]);
      const ApplyResult rb = apply_encoded(b, commands[i]);
      CHECK(ra.rejection == rb.rejection);
      if (c) CHECK(apply_encoded(*c, commands[i]).rejection == ra.rejection);
    }
    CHECK(a == b);
    REQUIRE(c.has_value());
    CHECK(*c == a);
    CHECK(c->snapshot() == a.snapshot());
    CHECK_OK(a.check_invariants());
  }
}

TEST_CASE("W7: every truncation and random mutation of a snapshot is refused without crashing") {
  const Bytes bytes = sample_table().snapshot();
  for (std::size_t k = 1; k < bytes.size(); ++k) {
    INFO("cut at " << k);
    CHECK_CODE(WorkloadTable::restore(ByteSpan(bytes.data(), k)), StatusCode::kCorrupt);
  }
  Bytes longer = bytes;
  longer.push_back(0);
  CHECK_CODE(WorkloadTable::restore(longer), StatusCode::kCorrupt);
  const std::uint64_t seed = starling::testing::test_seed();
  INFO("seed " << seed);
  Rng rng(seed);
  std::size_t accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    Bytes mutated = bytes;
    const int flips = 1 + static_cast<int>(rng.uniform(3));
    for (int f = 0; f < flips; ++f) {
      mutated[rng.uniform(mutated.size())] = static_cast<std::uint8_t>(rng.next_u64());
    }
    auto restored = WorkloadTable::restore(mutated);
    if (restored) {
      ++accepted;
      CHECK_OK(restored->check_invariants());
      CHECK(restored->snapshot() == mutated);  // one encoding per table
    } else {
      CHECK(restored.status().code() == StatusCode::kCorrupt);
    }
  }
  CHECK(accepted > 0);  // e.g. a changed checkpoint state byte or a node id
  for (int round = 0; round < 5000; ++round) {
    Bytes noise(rng.uniform(400));
    for (auto& b : noise) b = static_cast<std::uint8_t>(rng.next_u64());
    if (!noise.empty()) noise[0] = 1;
    auto restored = WorkloadTable::restore(noise);
    if (!restored) CHECK(restored.status().code() == StatusCode::kCorrupt);
  }
}

TEST_CASE("W7: restore refuses snapshots that break an invariant") {
  auto replace_all = [](Bytes bytes, const NodeId& from, const NodeId& to) {
    const auto& f = from.raw();
    for (auto it = bytes.begin();
         (it = std::search(it, bytes.end(), f.begin(), f.end())) != bytes.end();) {
      std::copy(to.raw().begin(), to.raw().end(), it);
    }
    return bytes;
  };
  WorkloadTable t;
  accept(t, AddWorkload{spec_of("w", 2)});
  accept(t, assign_of("w", 0, node(0x1111), 1));
  accept(t, assign_of("w", 1, node(0x2222), 2));
  accept(t, checkpoint_of("w", 1, 2, 5, "s"));
  const Bytes good = t.snapshot();
  REQUIRE_OK(WorkloadTable::restore(good));
  // W4: both replicas on one node.
  CHECK_CODE(WorkloadTable::restore(replace_all(good, node(0x2222), node(0x1111))),
             StatusCode::kCorrupt);
  // An epoch above the table's highest epoch (max_epoch is the u64 after the version).
  Bytes low_max = good;
  low_max[1] = 1;
  CHECK_CODE(WorkloadTable::restore(low_max), StatusCode::kCorrupt);
  // A checkpoint from an epoch the replica never had: the checkpoint's epoch is 8 + 8 + 4 + 1
  // bytes before the end (epoch, position, state length, state).
  Bytes future = good;
  future[future.size() - 21] = 3;
  CHECK_CODE(WorkloadTable::restore(future), StatusCode::kCorrupt);
  // A replica never assigned with an owner: replica 0's epoch (1) set to the base epoch (0).
  WorkloadTable u;
  accept(u, AddWorkload{spec_of("w", 1)});
  accept(u, assign_of("w", 0, node(0x3333), 1));
  Bytes unassigned = u.snapshot();
  const std::size_t epoch_at = unassigned.size() - (8 + 8 + 8 + 1);
  CHECK(unassigned[epoch_at] == 1);
  unassigned[epoch_at] = 0;
  CHECK_CODE(WorkloadTable::restore(unassigned), StatusCode::kCorrupt);
  // Workloads out of name order.
  WorkloadTable two;
  accept(two, AddWorkload{spec_of("a")});
  accept(two, AddWorkload{spec_of("b")});
  Bytes swapped = two.snapshot();
  auto first = std::find(swapped.begin() + 11, swapped.end(), 'a');
  REQUIRE(first != swapped.end());
  *first = 'c';
  CHECK_CODE(WorkloadTable::restore(swapped), StatusCode::kCorrupt);
}

// --- Commands, limits and queries.

TEST_CASE("workloads: add and remove and their rejections") {
  WorkloadTable t;
  const WorkloadSpec spec = spec_of("w", 2, {{"site", "a"}}, {{"window", "5"}});
  accept(t, AddWorkload{spec});
  CHECK(apply_encoded(t, AddWorkload{spec_of("w", 1)}).rejection == Rejection::kWorkloadExists);
  CHECK(t.find("w")->spec == spec);  // unchanged by the refused add
  CHECK(apply_encoded(t, RemoveWorkload{"x"}).rejection == Rejection::kUnknownWorkload);
  CHECK(apply_encoded(t, assign_of("x", 0, node(1), 1)).rejection == Rejection::kUnknownWorkload);
  CHECK(apply_encoded(t, assign_of("w", 2, node(1), 1)).rejection == Rejection::kBadReplica);
  CHECK(apply_encoded(t, checkpoint_of("w", 5, 1, 1)).rejection == Rejection::kBadReplica);
  accept(t, assign_of("w", 0, node(1), 1));
  accept(t, checkpoint_of("w", 0, 1, 3, "xyz"));
  CHECK(t.checkpoint_state_bytes() == 3);
  accept(t, RemoveWorkload{"w"});
  CHECK(t.find("w") == nullptr);
  CHECK(t.owned_by(node(1)).empty());
  CHECK(t.checkpoint_state_bytes() == 0);
  CHECK(t.stats().applied == 4);
  CHECK(t.stats().rejected == 5);
}

TEST_CASE("workloads: a Renew changes nothing and the result carries the command") {
  WorkloadTable t = sample_table();
  const Bytes before = t.snapshot();
  const ApplyResult result = apply_encoded(t, Renew{node(2), 77});
  CHECK(result.accepted());
  REQUIRE(std::holds_alternative<Renew>(result.command));
  CHECK(std::get<Renew>(result.command).nonce == 77);
  CHECK(t.snapshot() == before);
  CHECK_CODE(t.apply(Bytes{}), StatusCode::kCorrupt);
  CHECK(t.stats().corrupt == 1);
  CHECK(t.snapshot() == before);
}

TEST_CASE("workloads: the table bounds workloads and checkpoint state") {
  WorkloadTable t;
  for (std::size_t i = 0; i < kWorkloadsMax; ++i) {
    accept(t, AddWorkload{spec_of("w" + std::to_string(i), kReplicasMax)});
  }
  CHECK(apply_encoded(t, AddWorkload{spec_of("one-more")}).rejection == Rejection::kTableFull);
  // The state budget holds 256 full checkpoints; the 257th is refused, a replacement is not.
  const std::string full(kCheckpointStateMaxBytes, 's');
  const std::size_t fits = kCheckpointStateTotalMaxBytes / kCheckpointStateMaxBytes;
  for (std::size_t i = 0; i < fits + 1; ++i) {
    const std::string name = "w" + std::to_string(i / kReplicasMax);
    const auto replica = static_cast<std::uint32_t>(i % kReplicasMax);
    accept(t, assign_of(name, replica, node(100 + replica), 1));
    const ApplyResult result = apply_encoded(t, checkpoint_of(name, replica, 1, 1, full));
    CHECK(result.accepted() == (i < fits));
    if (i == fits) CHECK(result.rejection == Rejection::kTableFull);
  }
  CHECK(t.checkpoint_state_bytes() == kCheckpointStateTotalMaxBytes);
  accept(t, checkpoint_of("w0", 0, 1, 2, full));  // replaces its own bytes
  accept(t, checkpoint_of("w0", 1, 1, 2, "small"));
  CHECK(t.checkpoint_state_bytes() == kCheckpointStateTotalMaxBytes - full.size() + 5);
  // The largest table still snapshots under the consensus codec's 64 MiB limit and restores.
  const Bytes bytes = t.snapshot();
  CHECK(bytes.size() < 64u * 1024 * 1024);
  auto back = WorkloadTable::restore(bytes);
  REQUIRE_OK(back);
  CHECK(*back == t);
}

TEST_CASE("workloads: queries list specs assignments checkpoints and owners in order") {
  const WorkloadTable t = sample_table();
  const auto specs = t.specs();
  REQUIRE(specs.size() == 2);
  CHECK(specs[0].name == "a");
  CHECK(specs[1].name == "b");
  const auto all = t.assignments();  // b/0 was released
  REQUIRE(all.size() == 2);
  CHECK(all[0] == assign_of("a", 0, node(1), 1));
  CHECK(all[1] == assign_of("a", 1, node(2), 2));
  CHECK_FALSE(t.assignment("b", 0).has_value());
  CHECK(t.find("b")->replicas[0].epoch == 3);
  CHECK(t.find("b")->replicas[0].lease == 2s);
  CHECK(t.owned_by(node(2)) == std::vector<Assignment>{assign_of("a", 1, node(2), 2)});
  CHECK(t.owned_by(NodeId{}).empty());
  REQUIRE(t.checkpoint("a", 0) != nullptr);
  CHECK(*t.checkpoint("a", 0) == checkpoint_of("a", 0, 1, 10, "ten"));
  CHECK(t.checkpoint("a", 1) == nullptr);
  CHECK(t.checkpoint("b", 0)->position == 7);
  CHECK(t.checkpoint("zz", 0) == nullptr);
  CHECK(t.max_epoch() == 3);
}

TEST_CASE("W8: handoff_wait covers a lease under the clock rate error bound") {
  CHECK(handoff_wait(1s, 0.0) == 1s);
  CHECK(handoff_wait(1s, 0.05) == Duration{1105264});  // 1e6 * 1.05 / 0.95, rounded up
  CHECK(handoff_wait(Duration{0}, 0.1) == Duration{0});
  CHECK(handoff_wait(kLeaseMax, 0.49) < kStartDelayMax);
}
