// Tests of SignedUpdateSigner: the round protocol's sealed updates are crypto signed records of
// the federated kind; forged, unenrolled and foreign bytes are refused with the right reason.
#include <doctest/doctest.h>

#include "agent/wire/map_key_directory.hpp"
#include "agent/wire/record_kinds.hpp"
#include "agent/wire/update_signer.hpp"
#include "tests/common/status_doctest.hpp"
#include "tests/wire/wire_test_support.hpp"

namespace starling::wire {
namespace {

using federated::UpdateRejection;
using testing::node;

TEST_CASE("update signer seals and opens federated records") {
  MapKeyDirectory keys;
  keys.add(node(0));
  keys.add(node(1));
  SignedUpdateSigner alice(node(0), keys);
  SignedUpdateSigner bob(node(1), keys);
  const Bytes body = {1, 2, 3, 4};
  const Bytes sealed = alice.seal(body);
  UpdateRejection why = UpdateRejection::kShape;
  auto opened = bob.open(sealed, &why);
  REQUIRE_OK(opened);
  CHECK(opened->author == node(0).node_id());
  CHECK(Bytes(opened->body.begin(), opened->body.end()) == body);

  SUBCASE("a flipped byte is forged") {
    Bytes forged = sealed;
    forged[crypto::kRecordHeaderSize] ^= 1;  // the first byte of the body
    CHECK_FALSE(bob.open(forged, &why));
    CHECK(why == UpdateRejection::kForged);
  }
  SUBCASE("an author without a key is unenrolled") {
    MapKeyDirectory only_bob;
    only_bob.add(node(1));
    SignedUpdateSigner strict(node(1), only_bob);
    CHECK_FALSE(strict.open(sealed, &why));
    CHECK(why == UpdateRejection::kUnenrolled);
  }
  SUBCASE("a membership record or garbage is unsigned") {
    const Bytes membership = crypto::seal_record(node(0), kMembershipRecordKind, 1, body);
    CHECK_FALSE(bob.open(membership, &why));
    CHECK(why == UpdateRejection::kUnsigned);
    const Bytes garbage = {9, 9, 9};
    CHECK_FALSE(bob.open(garbage, &why));
    CHECK(why == UpdateRejection::kUnsigned);
  }
}

}  // namespace
}  // namespace starling::wire
