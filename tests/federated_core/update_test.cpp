// Tests for model layouts, the rejection reasons and check_update.
#include <doctest/doctest.h>

#include <cctype>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "federated/core/update.hpp"
#include "tests/common/status_doctest.hpp"

namespace starling::federated {
namespace {

const ModelLayout kMlp{{100352, 128, 1280, 10}};

TEST_CASE("model layout total sums the tensors and validate rejects degenerate layouts") {
  CHECK(kMlp.total() == 101770);
  CHECK_OK(kMlp.validate());
  CHECK(ModelLayout{}.total() == 0);
  CHECK_CODE(ModelLayout{}.validate(), StatusCode::kInvalidArgument);
  CHECK_CODE((ModelLayout{{3, 0, 2}}.validate()), StatusCode::kInvalidArgument);
  CHECK_OK((ModelLayout{{std::numeric_limits<std::uint32_t>::max()}}.validate()));
  CHECK_CODE((ModelLayout{{std::numeric_limits<std::uint32_t>::max(), 1}}.validate()),
             StatusCode::kInvalidArgument);
}

TEST_CASE("rejection reasons have unique stable lower_snake_case names") {
  const std::vector<std::pair<UpdateRejection, std::string>> expected = {
      {UpdateRejection::kUnsigned, "unsigned"},     {UpdateRejection::kForged, "forged"},
      {UpdateRejection::kUnenrolled, "unenrolled"}, {UpdateRejection::kRevoked, "revoked"},
      {UpdateRejection::kReplayed, "replayed"},     {UpdateRejection::kStale, "stale"},
      {UpdateRejection::kFuture, "future"},         {UpdateRejection::kWrongModel, "wrong_model"},
      {UpdateRejection::kShape, "shape"},           {UpdateRejection::kNonFinite, "non_finite"},
      {UpdateRejection::kNormBound, "norm_bound"},  {UpdateRejection::kDuplicate, "duplicate"},
  };
  REQUIRE(expected.size() == kUpdateRejectionCount);
  std::set<std::string> names;
  for (std::size_t i = 0; i < kUpdateRejectionCount; ++i) {
    const auto reason = static_cast<UpdateRejection>(i);
    const std::string name(reject_reason_name(reason));
    CAPTURE(i);
    CHECK(name == expected[i].second);
    CHECK(static_cast<std::size_t>(expected[i].first) == i);
    for (char c : name) CHECK((std::islower(static_cast<unsigned char>(c)) || c == '_'));
    names.insert(name);
  }
  CHECK(names.size() == kUpdateRejectionCount);
  CHECK(reject_reason_name(static_cast<UpdateRejection>(kUpdateRejectionCount)) ==
        "unknown_reason");
}

TEST_CASE("rejection reasons map to status codes and prefix the message") {
  CHECK(update_rejection_code(UpdateRejection::kForged) == StatusCode::kBadSignature);
  CHECK(update_rejection_code(UpdateRejection::kUnsigned) == StatusCode::kBadSignature);
  CHECK(update_rejection_code(UpdateRejection::kUnenrolled) == StatusCode::kPermissionDenied);
  CHECK(update_rejection_code(UpdateRejection::kRevoked) == StatusCode::kRevoked);
  CHECK(update_rejection_code(UpdateRejection::kReplayed) == StatusCode::kReplay);
  CHECK(update_rejection_code(UpdateRejection::kStale) == StatusCode::kStale);
  CHECK(update_rejection_code(UpdateRejection::kDuplicate) == StatusCode::kAlreadyExists);
  CHECK(update_rejection_code(UpdateRejection::kNormBound) == StatusCode::kInvalidArgument);
  const Status s = reject_update(UpdateRejection::kWrongModel, "model mlp v2, round has v3");
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message() == "wrong_model: model mlp v2, round has v3");
}

TEST_CASE("check_update accepts a finite update of the right shape within the bound") {
  const ModelLayout layout{{2, 2}};
  const std::vector<float> delta = {3.0f, 0.0f, 0.0f, 4.0f};  // L2 norm 5
  UpdateRejection why = UpdateRejection::kDuplicate;
  CHECK_OK(check_update(delta, layout, 5.0, &why));
  CHECK(why == UpdateRejection::kDuplicate);  // untouched on success
  CHECK_OK(check_update(delta, layout, 0.0));   // no bound
  CHECK_OK(check_update(delta, layout, -1.0));  // no bound
  CHECK_OK(check_update(delta, layout, std::numeric_limits<double>::infinity()));
  CHECK(l2_norm(delta) == 5.0);
}

TEST_CASE("check_update rejects shape then non-finite then norm bound") {
  const ModelLayout layout{{2, 2}};
  UpdateRejection why{};
  const std::vector<float> short_delta = {1.0f, 2.0f, 3.0f};
  CHECK_CODE(check_update(short_delta, layout, 0.0, &why), StatusCode::kInvalidArgument);
  CHECK(why == UpdateRejection::kShape);
  // A wrong shape is reported before the NaN it contains.
  const std::vector<float> short_nan = {std::nanf(""), 2.0f, 3.0f};
  CHECK(check_update(short_nan, layout, 0.0, &why).message().rfind("shape: ", 0) == 0);

  std::vector<float> nan = {1.0f, 2.0f, std::nanf(""), 4.0f};
  Status s = check_update(nan, layout, 1.0, &why);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(why == UpdateRejection::kNonFinite);
  CHECK(s.message() == "non_finite: value 2 is NaN");
  std::vector<float> inf = {1.0f, -std::numeric_limits<float>::infinity(), 3.0f, 4.0f};
  s = check_update(inf, layout, 0.0, &why);
  CHECK(why == UpdateRejection::kNonFinite);
  CHECK(s.message() == "non_finite: value 1 is infinite");

  const std::vector<float> big = {3.0f, 0.0f, 0.0f, 4.0f};
  s = check_update(big, layout, 4.99, &why);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(why == UpdateRejection::kNormBound);
  CHECK(s.message().rfind("norm_bound: ", 0) == 0);
}

TEST_CASE("check_update norm does not overflow for the largest finite floats") {
  const ModelLayout layout{{1000}};
  const std::vector<float> huge(1000, std::numeric_limits<float>::max());
  UpdateRejection why{};
  CHECK_OK(check_update(huge, layout, 0.0, &why));
  CHECK_CODE(check_update(huge, layout, 1e30, &why), StatusCode::kInvalidArgument);
  CHECK(why == UpdateRejection::kNormBound);
}

}  // namespace
}  // namespace starling::federated
