// The trust commands of the CLI: fleet init, keygen, enroll, revoke, cert show, cert verify.
// They run on the operator's machine (fleet commands) or a device (keygen) and need no agent.
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/cli/commands.hpp"
#include "agent/cli/output.hpp"
#include "crypto/armor.hpp"
#include "crypto/certificate.hpp"
#include "crypto/files.hpp"
#include "crypto/fleet.hpp"
#include "crypto/identity.hpp"
#include "crypto/revocation.hpp"

namespace starling::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Splits "k=v" labels into a map; kInvalidArgument for a missing '=' or a repeated key.
Result<std::map<std::string, std::string>> parse_labels(const std::vector<std::string>& items) {
  std::map<std::string, std::string> labels;
  for (const auto& item : items) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return error(StatusCode::kInvalidArgument, "label '" + item + "' must look like key=value");
    }
    if (!labels.emplace(item.substr(0, eq), item.substr(eq + 1)).second) {
      return error(StatusCode::kInvalidArgument, "label '" + item.substr(0, eq) + "' given twice");
    }
  }
  return labels;
}

json certificate_json(const crypto::Certificate& cert) {
  json labels = json::object();
  for (const auto& [key, value] : cert.body.labels) labels[key] = value;
  return json{{"name", cert.body.name},
              {"node_id", cert.node_id().to_hex()},
              {"device_public_key", cert.body.device_key.to_hex()},
              {"fleet_id", cert.fleet.to_hex()},
              {"serial", cert.body.serial},
              {"labels", labels},
              {"issued_at", cert.body.issued_at},
              {"not_after", cert.body.not_after},
              {"issued_at_utc", format_utc(cert.body.issued_at)},
              {"not_after_utc", format_utc(cert.body.not_after)}};
}

void print_certificate_text(const crypto::Certificate& cert) {
  std::cout << "name:        " << cert.body.name << "\n"
            << "node id:     " << cert.node_id().to_hex() << "\n"
            << "device key:  " << cert.body.device_key.to_hex() << "\n"
            << "fleet id:    " << cert.fleet.to_hex() << "\n"
            << "serial:      " << cert.body.serial << "\n"
            << "labels:     ";
  if (cert.body.labels.empty()) std::cout << " (none)";
  for (const auto& [key, value] : cert.body.labels) std::cout << " " << key << "=" << value;
  std::cout << "\n"
            << "valid from:  " << format_utc(cert.body.issued_at) << "\n"
            << "valid until: " << format_utc(cert.body.not_after) << "\n";
}

struct FleetInitOptions {
  std::string out;
};

int run_fleet_init(const FleetInitOptions& o) {
  auto fleet = crypto::init_fleet(o.out, now_unix_s());
  if (!fleet) return report_failure(fleet.status());
  std::cout << "created fleet " << fleet->id().to_hex() << " in " << o.out << "\n"
            << "  " << (fs::path(o.out) / "fleet.pub").string()
            << "  give this to every agent (--fleet-pub)\n"
            << "  " << (fs::path(o.out) / "fleet.key").string()
            << "  the fleet root key: keep it offline and backed up\n";
  return kExitOk;
}

struct KeygenOptions {
  std::string data_dir;
  bool json = false;
};

int run_keygen(const KeygenOptions& o) {
  bool created = false;
  auto identity = crypto::Identity::load_or_create(o.data_dir, &created);
  if (!identity) return report_failure(identity.status());
  const fs::path pub = fs::path(o.data_dir) / crypto::Identity::kPublicFile;
  if (o.json) {
    print_json({{"node_id", identity->node_id().to_hex()},
                {"public_key", identity->public_key().to_hex()},
                {"public_key_file", pub.string()},
                {"created", created}});
  } else {
    std::cout << identity->node_id().to_hex() << "\n";
    std::cerr << (created ? "created a new identity in " : "existing identity in ") << o.data_dir
              << "\npublic key: " << identity->public_key().to_hex() << " (also in "
              << pub.string() << "; peers join through this agent with --join KEY@tcp://HOST:PORT)\n";
  }
  return kExitOk;
}

struct EnrollOptions {
  std::string fleet_dir;
  std::string data_dir;
  std::string device_pub;
  std::string name;
  std::vector<std::string> labels;
  int valid_days = 365;
  std::string out;
  bool force = false;
};

int run_enroll(const EnrollOptions& o) {
  crypto::EnrollRequest request;
  if (!o.data_dir.empty()) {
    auto identity = crypto::Identity::load(o.data_dir);
    if (!identity) return report_failure(identity.status());
    request.device_key = identity->public_key();
  } else {
    auto key = crypto::read_public_key_file(o.device_pub, "device");
    if (!key) return report_failure(key.status());
    request.device_key = *key;
  }
  auto labels = parse_labels(o.labels);
  if (!labels) return report_failure(labels.status());
  request.name = o.name;
  request.labels = std::move(labels).value();
  request.valid_seconds = std::int64_t{o.valid_days} * 24 * 3600;
  // Check the request fully before a serial is spent on it.
  crypto::CertificateBody probe{request.device_key, request.name, request.labels, 0, 1, 1};
  if (Status valid = crypto::validate_certificate_body(probe); !valid) return report_failure(valid);
  std::error_code ec;
  if (!o.force && fs::exists(o.out, ec)) {
    return report_failure(error(StatusCode::kAlreadyExists,
                                o.out + " already exists (use --force to replace it)"));
  }
  auto cert = crypto::enroll_device(o.fleet_dir, request, now_unix_s());
  if (!cert) return report_failure(cert.status());
  Status written = crypto::write_file_atomic(
      o.out, crypto::armor(crypto::kCertificateLabel, cert->encoded), 0644, /*overwrite=*/true);
  if (!written) return report_failure(written);
  std::cout << "enrolled " << cert->body.name << " (node " << cert->node_id().short_hex()
            << ", serial " << cert->body.serial << ") until "
            << format_utc(cert->body.not_after) << ": " << o.out << "\n";
  return kExitOk;
}

struct RevokeOptions {
  std::string fleet_dir;
  std::uint64_t serial = 0;
};

int run_revoke(const RevokeOptions& o) {
  auto list = crypto::revoke_serial(o.fleet_dir, o.serial, now_unix_s());
  if (!list) return report_failure(list.status());
  std::cout << "revoked serial " << o.serial << ": revocation list version " << list->version()
            << " (" << list->serials().size() << " revoked in all) written to "
            << (fs::path(o.fleet_dir) / "revocations.list").string()
            << "\ndistribute that file to the agents\n";
  return kExitOk;
}

struct CertShowOptions {
  std::string file;
  bool json = false;
};

int run_cert_show(const CertShowOptions& o) {
  auto bytes = crypto::read_certificate_file(o.file);
  if (!bytes) return report_failure(bytes.status());
  auto cert = crypto::decode_certificate_unverified(*bytes);
  if (!cert) return report_failure(cert.status().with_context(o.file));
  if (o.json) {
    json document = certificate_json(*cert);
    document["verified"] = false;
    print_json(document);
  } else {
    print_certificate_text(*cert);
    std::cout << "(contents only: the signature is not checked; use 'starling cert verify')\n";
  }
  return kExitOk;
}

struct CertVerifyOptions {
  std::string file;
  std::string fleet_pub;
  std::string revocations;
  bool json = false;
};

int run_cert_verify(const CertVerifyOptions& o) {
  auto fleet = crypto::load_fleet_public(o.fleet_pub);
  if (!fleet) return report_failure(fleet.status());
  std::unique_ptr<crypto::RevocationList> revocations;
  if (!o.revocations.empty()) {
    auto list = crypto::read_revocation_file(o.revocations, *fleet);
    if (!list) return report_failure(list.status());
    revocations = std::make_unique<crypto::RevocationList>(std::move(list).value());
  }
  auto bytes = crypto::read_certificate_file(o.file);
  if (!bytes) return report_failure(bytes.status());
  auto cert = crypto::verify_certificate(*bytes, *fleet, now_unix_s(), revocations.get());
  if (!cert) {
    if (o.json) {
      print_json({{"valid", false},
                  {"reason", status_code_name(cert.status().code())},
                  {"message", cert.status().message()}});
    }
    return report_failure(cert.status().with_context(o.file));
  }
  if (o.json) {
    json document = certificate_json(*cert);
    document["valid"] = true;
    document["revocation_list_version"] = revocations ? revocations->version() : 0;
    print_json(document);
  } else {
    std::cout << "valid: " << cert->body.name << " (node " << cert->node_id().short_hex()
              << ", serial " << cert->body.serial << ") in fleet " << cert->fleet.to_hex()
              << ", until " << format_utc(cert->body.not_after)
              << (revocations ? ", not revoked (list version " +
                                    std::to_string(revocations->version()) + ")"
                              : ", revocation not checked (no --revocations)")
              << "\n";
  }
  return kExitOk;
}

}  // namespace

void add_identity_commands(CLI::App& app, Handler& run) {
  auto* fleet = app.add_subcommand("fleet", "Create and manage a fleet's root of trust");
  fleet->require_subcommand(1);
  {
    auto o = std::make_shared<FleetInitOptions>();
    auto* cmd = fleet->add_subcommand("init", "Create a fleet root key in a new directory");
    cmd->add_option("--out", o->out, "Directory for fleet.key, fleet.pub, revocations.list")
        ->required();
    cmd->callback([o, &run] { run = [o] { return run_fleet_init(*o); }; });
  }
  {
    auto o = std::make_shared<KeygenOptions>();
    auto* cmd = app.add_subcommand(
        "keygen", "Create this device's identity in a data directory (or show the existing one) "
                  "and print its node id");
    cmd->add_option("--data-dir", o->data_dir, "The agent's data directory")->required();
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->callback([o, &run] { run = [o] { return run_keygen(*o); }; });
  }
  {
    auto o = std::make_shared<EnrollOptions>();
    auto* cmd = app.add_subcommand("enroll", "Issue a device certificate signed by the fleet key");
    cmd->add_option("--fleet", o->fleet_dir, "Fleet directory (from 'fleet init')")->required();
    auto* data_dir = cmd->add_option("--data-dir", o->data_dir,
                                     "Device data directory holding identity.key");
    auto* device_pub = cmd->add_option("--device-pub", o->device_pub,
                                       "Device public key file (identity.pub from the device)");
    data_dir->excludes(device_pub);
    cmd->add_option("--name", o->name, "Device name: 1-64 of A-Z a-z 0-9 . _ -")->required();
    cmd->add_option("--label", o->labels, "Label key=value (repeatable)");
    cmd->add_option("--valid-days", o->valid_days, "Validity in days")
        ->check(CLI::Range(1, 36500))
        ->capture_default_str();
    cmd->add_option("--out", o->out, "Certificate file to write")->required();
    cmd->add_flag("--force", o->force, "Replace --out if it exists");
    cmd->callback([o, &run, data_dir, device_pub] {
      if (data_dir->count() + device_pub->count() != 1) {
        throw CLI::ValidationError("enroll", "give exactly one of --data-dir or --device-pub");
      }
      run = [o] { return run_enroll(*o); };
    });
  }
  {
    auto o = std::make_shared<RevokeOptions>();
    auto* cmd = app.add_subcommand("revoke", "Revoke a certificate by serial (signs a new list)");
    cmd->add_option("--fleet", o->fleet_dir, "Fleet directory")->required();
    cmd->add_option("--serial", o->serial, "Serial of the certificate to revoke")
        ->required()
        ->check(CLI::PositiveNumber);
    cmd->callback([o, &run] { run = [o] { return run_revoke(*o); }; });
  }
  auto* cert = app.add_subcommand("cert", "Inspect and verify device certificates");
  cert->require_subcommand(1);
  {
    auto o = std::make_shared<CertShowOptions>();
    auto* cmd = cert->add_subcommand("show", "Print a certificate's contents (not verified)");
    cmd->add_option("file", o->file, "Certificate file")->required();
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->callback([o, &run] { run = [o] { return run_cert_show(*o); }; });
  }
  {
    auto o = std::make_shared<CertVerifyOptions>();
    auto* cmd = cert->add_subcommand(
        "verify", "Verify a certificate: fleet, signature, validity window, revocation");
    cmd->add_option("file", o->file, "Certificate file")->required();
    cmd->add_option("--fleet-pub", o->fleet_pub, "Fleet public key file (or fleet directory)")
        ->required();
    cmd->add_option("--revocations", o->revocations, "Signed revocation list file");
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->callback([o, &run] { run = [o] { return run_cert_verify(*o); }; });
  }
}

}  // namespace starling::cli
