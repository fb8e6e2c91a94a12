// fuzz_make_corpus: writes the seed corpus of the libFuzzer targets, one directory per target
// (certificate/, revocation_list/, signed_record/, armor/) under the directory given on the
// command line, normally tests/fuzz/corpus. The seeds are small valid documents made with the
// deterministic simulation keys the targets verify against (Ed25519 signatures are
// deterministic too, so the output is byte-for-byte reproducible), plus a few edge cases:
// truncated, wrong fleet, bad signature, length fields that disagree. Existing files with the
// same names are overwritten; nothing else is removed. Single-threaded.
//
// Usage: fuzz_make_corpus OUT_DIR      (scripts/fuzz.sh --make-corpus runs it for the repo)
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/armor.hpp"
#include "crypto/fleet.hpp"
#include "agent/wire/envelope.hpp"
#include "agent/wire/membership_codec.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace starling::fuzz {
namespace {

namespace fs = std::filesystem;
constexpr std::int64_t kDay_s = 24 * 3600;

class CorpusWriter {
 public:
  explicit CorpusWriter(fs::path root) : root_(std::move(root)) {}

  // Writes `bytes` to ROOT/target/name; false (after saying why) when it cannot.
  bool write(std::string_view target, std::string_view name, ByteSpan bytes) {
    const fs::path dir = root_ / target;
    std::error_code ec;
    fs::create_directories(dir, ec);
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      std::fprintf(stderr, "fuzz_make_corpus: cannot write %s\n", (dir / name).c_str());
      ok_ = false;
      return false;
    }
    std::printf("%6zu  %s/%.*s\n", bytes.size(), std::string(target).c_str(),
                static_cast<int>(name.size()), name.data());
    return true;
  }
  bool write(std::string_view target, std::string_view name, std::string_view text) {
    return write(target, name, as_bytes(text));
  }
  bool ok() const { return ok_; }

 private:
  fs::path root_;
  bool ok_ = true;
};

Bytes truncated(const Bytes& bytes, std::size_t size) {
  return Bytes(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(size));
}

Bytes with_flipped_byte(Bytes bytes, std::size_t at) {
  bytes.at(at) ^= 0x01;
  return bytes;
}

crypto::CertificateBody body(std::string name, std::uint64_t serial) {
  crypto::CertificateBody out;
  out.device_key = author(0).public_key();
  out.name = std::move(name);
  out.issued_at = kNow_s - kDay_s;
  out.not_after = kNow_s + 365 * kDay_s;
  out.serial = serial;
  return out;
}

Bytes issued(const crypto::SigningKey& root, const crypto::CertificateBody& certificate_body) {
  auto cert = crypto::issue_certificate(root, certificate_body);
  FUZZ_CHECK(cert.is_ok());
  return cert->encoded;
}

Bytes revocation_list(const crypto::SigningKey& root, std::uint64_t version,
                      std::vector<std::uint64_t> serials) {
  auto list = crypto::RevocationList::sign(root, version, kNow_s - kDay_s, std::move(serials));
  FUZZ_CHECK(list.is_ok());
  return list->encoded();
}

void write_certificates(CorpusWriter& out) {
  const Bytes minimal = issued(fleet_root(), body("sensor-1", 1));
  out.write("certificate", "valid-minimal.bin", minimal);
  auto labelled = body("gateway.lab-3", 2);
  labelled.labels = {{"rack", "b4"}, {"role", "gateway"}, {"site/region", "eu-west"}};
  out.write("certificate", "valid-labels.bin", issued(fleet_root(), labelled));
  auto large = body("camera_12", 3);
  for (char c = 'a'; c < 'a' + 12; ++c) {
    large.labels[std::string("zone.") + c] = std::string(200, static_cast<char>('A' + (c - 'a')));
  }
  out.write("certificate", "valid-large-labels.bin", issued(fleet_root(), large));
  out.write("certificate", "revoked-serial-42.bin", issued(fleet_root(), body("lost-unit", 42)));
  auto expired = body("retired", 4);
  expired.issued_at = kNow_s - 400 * kDay_s;
  expired.not_after = kNow_s;
  out.write("certificate", "expired.bin", issued(fleet_root(), expired));
  auto early = body("early", 5);
  early.issued_at = kNow_s + crypto::kClockSkewAllowance_s + 1;
  early.not_after = early.issued_at + kDay_s;
  out.write("certificate", "not-yet-valid.bin", issued(fleet_root(), early));
  const auto other_root = crypto::SigningKey::for_simulation(kKeySeed + 1, 0);
  out.write("certificate", "other-fleet.bin", issued(other_root, body("stranger", 1)));
  out.write("certificate", "truncated.bin", truncated(minimal, minimal.size() / 2));
  out.write("certificate", "bad-signature.bin", with_flipped_byte(minimal, minimal.size() - 1));
  Bytes trailing = minimal;
  trailing.push_back(0);
  out.write("certificate", "trailing-byte.bin", trailing);
}

void write_revocation_lists(CorpusWriter& out) {
  out.write("revocation_list", "valid-empty.bin", revocation_list(fleet_root(), 1, {}));
  const Bytes few = revocation_list(fleet_root(), 2, {3, 42, 99});
  out.write("revocation_list", "valid-three.bin", few);
  std::vector<std::uint64_t> many;
  for (std::uint64_t i = 0; i < 150; ++i) many.push_back(1 + i * i * 7);
  out.write("revocation_list", "valid-150.bin", revocation_list(fleet_root(), 5, many));
  const auto other_root = crypto::SigningKey::for_simulation(kKeySeed + 1, 0);
  out.write("revocation_list", "other-fleet.bin", revocation_list(other_root, 1, {1}));
  out.write("revocation_list", "truncated.bin", truncated(few, few.size() - 9));
  Bytes huge_count = few;
  const std::size_t count_at = kFleetIdOffset + crypto::FleetId::kSize + 8 + 8;
  for (std::size_t i = 0; i < 4; ++i) huge_count.at(count_at + i) = 0xff;
  out.write("revocation_list", "huge-count.bin", huge_count);
}

// A replay-window script for the signed_record target: 3-byte operations (selector, u16 value).
Bytes replay_script() {
  Bytes script;
  auto op = [&script](std::uint8_t selector, std::uint16_t value) {
    script.push_back(selector);
    script.push_back(static_cast<std::uint8_t>(value));
    script.push_back(static_cast<std::uint8_t>(value >> 8));
  };
  for (std::uint16_t v = 1; v <= 4; ++v) op(3, v);  // the author's next sequences
  op(3 | 4, 2);                                      // an old one, within the window
  op(3, 2);                                          // a replay
  op(3, 100);                                        // a jump ahead
  op(3 | 4, 0);                                      // now outside the window
  op(0 | 8, 7);                                      // another author, small absolute values
  op(0 | 8, 7);
  op(0 | 12, 0);                                     // UINT64_MAX
  op(0 | 8, 8);
  op(3 | 16, 1);                                     // forget the author, then accept again
  return script;
}

void write_records(CorpusWriter& out) {
  const std::string_view hello = "membership: alive incarnation=3";
  const Bytes small = crypto::seal_record(author(0), 1, 1, as_bytes(hello));
  out.write("signed_record", "valid-small.bin", small);
  Bytes kilobyte = replay_script();
  for (std::size_t i = kilobyte.size(); i < 1024; ++i) {
    kilobyte.push_back(static_cast<std::uint8_t>(i * 31));
  }
  out.write("signed_record", "valid-1k.bin", crypto::seal_record(author(0), 2, 17, kilobyte));
  out.write("signed_record", "valid-script-author1.bin",
            crypto::seal_record(author(1), 2, 1000, replay_script()));
  out.write("signed_record", "valid-empty-author2.bin", crypto::seal_record(author(2), 7, 0, {}));
  out.write("signed_record", "valid-max-sequence.bin",
            crypto::seal_record(author(0), 1, UINT64_MAX, as_bytes(hello)));
  out.write("signed_record", "unknown-author.bin",
            crypto::seal_record(unknown_author(), 1, 1, as_bytes(hello)));
  out.write("signed_record", "truncated.bin", truncated(small, small.size() - 1));
  Bytes long_length = small;
  long_length.at(1 + 2 + NodeId::kSize + 8 + 1) ^= 0x01;  // payload_length + 256
  out.write("signed_record", "length-mismatch.bin", long_length);
  out.write("signed_record", "bad-format.bin", with_flipped_byte(small, 0));
}

void write_wire_messages(CorpusWriter& out) {
  const FixedKeyDirectory keys;
  wire::SignedRecordCodec codec(author(0), keys);
  membership::MemberRecord alive;
  alive.type = membership::RecordType::kAlive;
  alive.subject = author(0).node_id();
  alive.signer = author(0).node_id();
  alive.incarnation = 3;
  alive.address = "tcp://127.0.0.1:7946";
  alive.meta = {{"accuracy", "0.87"}, {"round", "12"}};
  membership::MemberRecord suspect;
  suspect.type = membership::RecordType::kSuspect;
  suspect.subject = author(1).node_id();
  suspect.signer = author(0).node_id();
  suspect.incarnation = 1;
  membership::Message ping;
  ping.type = membership::MessageType::kPing;
  ping.sender = author(0).node_id();
  ping.sender_address = alive.address;
  ping.sequence = 7;
  ping.target = author(1).node_id();
  out.write("wire_message", "ping-empty.bin", wire::encode_message(ping, 1));
  ping.records = {codec.seal(alive), codec.seal(suspect)};
  out.write("wire_message", "ping-two-records.bin", wire::encode_message(ping, 2));
  membership::Message push = ping;
  push.type = membership::MessageType::kPushPull;
  push.join = true;
  out.write("wire_message", "push-pull-join.bin", wire::encode_message(push, 3));
  const Bytes encoded = wire::encode_message(push, 4);
  out.write("wire_message", "truncated.bin", truncated(encoded, encoded.size() - 5));
  out.write("wire_message", "record-alone.bin", codec.seal(alive));
}

void write_armor(CorpusWriter& out) {
  const Bytes certificate = issued(fleet_root(), body("sensor-1", 1));
  const std::string armoured = crypto::armor(crypto::kCertificateLabel, certificate);
  out.write("armor", "certificate.txt", armoured);
  out.write("armor", "revocation-list.txt",
            crypto::armor(crypto::kRevocationLabel, revocation_list(fleet_root(), 2, {3, 42})));
  std::string crlf = "\n  \t";
  for (char c : armoured) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  out.write("armor", "certificate-crlf-padded.txt", crlf + "\n\n");
  out.write("armor", "small.txt", crypto::armor(crypto::kCertificateLabel, as_bytes("abcd")));
  out.write("armor", "empty.txt", crypto::armor(crypto::kCertificateLabel, {}));
  out.write("armor", "truncated.txt", armoured.substr(0, armoured.size() / 2));
  std::string bad = armoured;
  bad[bad.find('\n') + 10] = '*';
  out.write("armor", "bad-base64.txt", bad);
}

}  // namespace
}  // namespace starling::fuzz

int main(int argc, char** argv) {
  if (argc != 2 || std::string_view(argv[1]) == "--help") {
    std::fprintf(stderr, "usage: fuzz_make_corpus OUT_DIR   (e.g. tests/fuzz/corpus)\n");
    return argc == 2 ? 0 : 2;
  }
  starling::fuzz::CorpusWriter out{std::filesystem::path(argv[1])};
  starling::fuzz::write_certificates(out);
  starling::fuzz::write_revocation_lists(out);
  starling::fuzz::write_records(out);
  starling::fuzz::write_armor(out);
  starling::fuzz::write_wire_messages(out);
  return out.ok() ? 0 : 1;
}
