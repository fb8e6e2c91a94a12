// IDX reading through zlib's gz* interface (which reads plain files through unchanged), with
// every declared size checked before allocating and the buffer grown with the actual data.
#include "federated/data/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <system_error>

namespace starling::federated {

namespace fs = std::filesystem;

namespace {

// Deflate cannot expand data by more than about 1032:1, so a gzip file of F bytes holds at
// most F * 1032 bytes; a header declaring more is lying about its size.
constexpr std::uint64_t kMaxDeflateRatio = 1032;
// The first buffer for gzip'd data; it doubles (up to the declared size) as data arrives.
constexpr std::size_t kFirstChunk = std::size_t{4} << 20;
// zlib's gzread takes an unsigned length and returns an int.
constexpr std::size_t kMaxRead = std::size_t{1} << 30;

struct GzCloser {
  void operator()(gzFile file) const noexcept { gzclose(file); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

std::string hex32(std::uint32_t value) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", static_cast<unsigned>(value));
  return buf;
}

std::string dims_text(const std::vector<std::uint32_t>& dims) {
  std::string text;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) text += "x";
    text += std::to_string(dims[i]);
  }
  return text;
}

Status file_error(StatusCode code, const fs::path& path, const std::string& what) {
  return error(code, path.string() + ": " + what);
}

// The error zlib recorded on `file`, or ok.
Status gz_status(gzFile file, const fs::path& path) {
  int errnum = Z_OK;
  const char* message = gzerror(file, &errnum);
  std::string detail = message != nullptr ? message : "";
  const std::string prefix = path.string() + ": ";  // zlib names the file itself; we do too
  if (detail.starts_with(prefix)) detail.erase(0, prefix.size());
  switch (errnum) {
    case Z_OK:
      return Status::ok();
    case Z_ERRNO:
      return file_error(StatusCode::kIoError, path, std::string("read failed: ") +
                                                        std::strerror(errno));
    case Z_BUF_ERROR:
      return file_error(StatusCode::kCorrupt, path,
                        "truncated: the gzip stream ends early (zlib: " + detail + ")");
    case Z_MEM_ERROR:
      return file_error(StatusCode::kInternal, path, "zlib is out of memory");
    default:
      return file_error(StatusCode::kCorrupt, path, "corrupt gzip data (zlib: " + detail + ")");
  }
}

// Reads up to `n` bytes; fewer only at the end of the data. An error zlib or the OS reports,
// even after some bytes were read, is returned as a Status.
Result<std::size_t> read_some(gzFile file, const fs::path& path, std::uint8_t* out,
                              std::size_t n) {
  std::size_t total = 0;
  while (total < n) {
    const auto ask = static_cast<unsigned>(std::min(n - total, kMaxRead));
    const int got = gzread(file, out + total, ask);
    if (got <= 0) break;
    total += static_cast<std::size_t>(got);
  }
  if (total < n) STARLING_RETURN_IF_ERROR(gz_status(file, path));
  return total;
}

}  // namespace

Result<IdxArray> read_idx_file(const fs::path& path, const IdxLimits& limits) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) {
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return file_error(StatusCode::kIoError, path, "cannot stat: " + ec.message());
    }
    return file_error(StatusCode::kNotFound, path, "no such file");
  }
  if (!fs::is_regular_file(status)) {
    return file_error(StatusCode::kInvalidArgument, path, "not a regular file");
  }
  const std::uint64_t file_size = fs::file_size(path, ec);
  if (ec) return file_error(StatusCode::kIoError, path, "cannot stat: " + ec.message());

  errno = 0;
  GzFile file(gzopen(path.c_str(), "rb"));
  if (!file) {
    return file_error(StatusCode::kIoError, path,
                      std::string("cannot open: ") +
                          (errno != 0 ? std::strerror(errno) : "zlib could not allocate"));
  }
  gzbuffer(file.get(), 256 * 1024);  // before the first read; the default 8 KiB is slow
  const bool plain = gzdirect(file.get()) == 1;

  // Header: magic, then one u32 per dimension, all big-endian.
  std::array<std::uint8_t, 4> magic{};
  STARLING_ASSIGN_OR_RETURN(std::size_t got, read_some(file.get(), path, magic.data(), 4));
  if (got < 4) {
    return file_error(StatusCode::kCorrupt, path,
                      "truncated: " + std::to_string(got) +
                          " byte(s), shorter than the 4-byte IDX magic");
  }
  const std::uint32_t magic_value = (std::uint32_t{magic[0]} << 24) |
                                    (std::uint32_t{magic[1]} << 16) |
                                    (std::uint32_t{magic[2]} << 8) | std::uint32_t{magic[3]};
  if (magic[0] != 0 || magic[1] != 0) {
    return file_error(StatusCode::kCorrupt, path,
                      "not an IDX file: magic " + hex32(magic_value) +
                          " (IDX files start with two zero bytes)");
  }
  if (magic[2] != 0x08) {
    char type[8];
    std::snprintf(type, sizeof type, "0x%02x", static_cast<unsigned>(magic[2]));
    return file_error(StatusCode::kCorrupt, path,
                      "IDX element type " + std::string(type) +
                          " is not supported (only unsigned bytes, type 0x08)");
  }
  const std::uint32_t ndims = magic[3];
  if (ndims == 0 || ndims > limits.max_dimensions) {
    return file_error(StatusCode::kCorrupt, path,
                      "IDX header declares " + std::to_string(ndims) + " dimensions (1 to " +
                          std::to_string(limits.max_dimensions) + " supported)");
  }
  std::array<std::uint8_t, 4 * 255> raw_dims{};
  STARLING_ASSIGN_OR_RETURN(got, read_some(file.get(), path, raw_dims.data(), 4 * ndims));
  if (got < 4 * ndims) {
    return file_error(StatusCode::kCorrupt, path,
                      "truncated: the file ends inside the IDX header (" +
                          std::to_string(ndims) + " dimensions need " +
                          std::to_string(4 + 4 * ndims) + " bytes)");
  }
  IdxArray array;
  array.dims.resize(ndims);
  bool any_zero = false;
  for (std::uint32_t i = 0; i < ndims; ++i) {
    const std::uint8_t* b = raw_dims.data() + 4 * i;
    array.dims[i] = (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) |
                    (std::uint32_t{b[2]} << 8) | std::uint32_t{b[3]};
    any_zero = any_zero || array.dims[i] == 0;
  }
  std::uint64_t elements = 0;
  if (!any_zero) {
    elements = 1;
    for (const std::uint32_t dim : array.dims) {
      if (elements > limits.max_elements / dim) {
        return file_error(StatusCode::kTooLarge, path,
                          "IDX header declares dimensions " + dims_text(array.dims) +
                              ", more than the limit of " +
                              std::to_string(limits.max_elements) + " elements");
      }
      elements *= dim;
    }
  }
  const std::uint64_t header_bytes = 4 + 4 * std::uint64_t{ndims};

  // The declared size against what the file can hold, before allocating anything.
  const std::string declared = "the header declares " + dims_text(array.dims) + " = " +
                               std::to_string(elements) + " data bytes";
  if (plain) {
    const std::uint64_t body = file_size - std::min(file_size, header_bytes);
    if (body < elements) {
      return file_error(StatusCode::kCorrupt, path,
                        "truncated: " + declared + " but the file holds " +
                            std::to_string(body) + " after the header");
    }
    if (body > elements) {
      return file_error(StatusCode::kCorrupt, path,
                        std::to_string(body - elements) + " byte(s) of trailing data: " +
                            declared + " and the file holds " + std::to_string(body));
    }
  } else if (elements / kMaxDeflateRatio > file_size) {
    return file_error(StatusCode::kCorrupt, path,
                      declared + ", more than a gzip file of " + std::to_string(file_size) +
                          " bytes can hold");
  }
  if (elements > std::numeric_limits<std::size_t>::max()) {
    return file_error(StatusCode::kTooLarge, path, declared + ", too many for this machine");
  }
  const auto want = static_cast<std::size_t>(elements);

  // Data: read at once when plain (its size matched); grown as it arrives when gzip'd.
  std::size_t have = 0;
  std::size_t capacity = plain ? want : std::min(want, kFirstChunk);
  while (true) {
    array.data.resize(capacity);
    STARLING_ASSIGN_OR_RETURN(got, read_some(file.get(), path, array.data.data() + have,
                                             capacity - have));
    have += got;
    if (have < capacity || have == want) break;
    capacity = capacity > want / 2 ? want : capacity * 2;
  }
  if (have < want) {
    array.data.clear();
    array.data.shrink_to_fit();
    return file_error(StatusCode::kCorrupt, path,
                      "truncated: " + declared + " but the file holds " + std::to_string(have));
  }
  // The end: no byte may follow, and reading past the data makes zlib check the gzip trailer.
  std::uint8_t extra = 0;
  STARLING_ASSIGN_OR_RETURN(got, read_some(file.get(), path, &extra, 1));
  if (got != 0) {
    return file_error(StatusCode::kCorrupt, path, "trailing data: " + declared +
                                                      " and more follow");
  }
  return array;
}

Status write_idx_file(const fs::path& path, const IdxArray& array, bool gzip) {
  if (array.dims.empty() || array.dims.size() > 255) {
    return error(StatusCode::kInvalidArgument, "an IDX array needs 1 to 255 dimensions");
  }
  std::uint64_t elements = 1;
  for (const std::uint32_t dim : array.dims) elements *= dim;
  if (elements != array.data.size()) {
    return error(StatusCode::kInvalidArgument,
                 "IDX dimensions " + dims_text(array.dims) + " do not match " +
                     std::to_string(array.data.size()) + " data bytes");
  }
  errno = 0;
  GzFile file(gzopen(path.c_str(), gzip ? "wb6" : "wbT"));
  if (!file) {
    return file_error(StatusCode::kIoError, path,
                      std::string("cannot create: ") +
                          (errno != 0 ? std::strerror(errno) : "zlib could not allocate"));
  }
  std::vector<std::uint8_t> header{0, 0, 0x08, static_cast<std::uint8_t>(array.dims.size())};
  for (const std::uint32_t dim : array.dims) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      header.push_back(static_cast<std::uint8_t>(dim >> shift));
    }
  }
  auto write_all = [&](const std::uint8_t* data, std::size_t n) -> bool {
    while (n > 0) {
      const auto chunk = static_cast<unsigned>(std::min(n, kMaxRead));
      if (gzwrite(file.get(), data, chunk) != static_cast<int>(chunk)) return false;
      data += chunk;
      n -= chunk;
    }
    return true;
  };
  if (!write_all(header.data(), header.size()) ||
      !write_all(array.data.data(), array.data.size())) {
    return file_error(StatusCode::kIoError, path, "write failed");
  }
  if (gzclose(file.release()) != Z_OK) {
    return file_error(StatusCode::kIoError, path, "write failed on close");
  }
  return Status::ok();
}

Result<Dataset> load_idx_pair(const fs::path& images_path, const fs::path& labels_path,
                              std::size_t classes, const IdxLimits& limits) {
  if (classes > kMaxClasses) {
    return error(StatusCode::kInvalidArgument, "class count " + std::to_string(classes) +
                                                   " is above the limit of " +
                                                   std::to_string(kMaxClasses));
  }
  STARLING_ASSIGN_OR_RETURN(IdxArray labels, read_idx_file(labels_path, limits));
  if (labels.dims.size() != 1) {
    return file_error(StatusCode::kCorrupt, labels_path,
                      "not an IDX labels file: magic " +
                          hex32(idx_u8_magic(static_cast<std::uint32_t>(labels.dims.size()))) +
                          ", expected " + hex32(idx_u8_magic(1)) + " ([n] labels)");
  }
  STARLING_ASSIGN_OR_RETURN(IdxArray images, read_idx_file(images_path, limits));
  if (images.dims.size() != 3) {
    return file_error(StatusCode::kCorrupt, images_path,
                      "not an IDX images file: magic " +
                          hex32(idx_u8_magic(static_cast<std::uint32_t>(images.dims.size()))) +
                          ", expected " + hex32(idx_u8_magic(3)) + " ([n][rows][cols] images)");
  }
  const std::size_t n = images.dims[0];
  if (labels.dims[0] != n) {
    return error(StatusCode::kCorrupt, images_path.string() + " holds " + std::to_string(n) +
                                           " images but " + labels_path.string() + " holds " +
                                           std::to_string(labels.dims[0]) + " labels");
  }
  if (n == 0) return file_error(StatusCode::kCorrupt, images_path, "holds no images");
  if (images.dims[1] == 0 || images.dims[2] == 0) {
    return file_error(StatusCode::kCorrupt, images_path,
                      "zero-sized images (" + dims_text(images.dims) + ")");
  }
  std::size_t max_label = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t label = labels.data[i];
    if (classes > 0 && label >= classes) {
      return file_error(StatusCode::kCorrupt, labels_path,
                        "label " + std::to_string(label) + " at index " + std::to_string(i) +
                            " is not below the class count " + std::to_string(classes));
    }
    max_label = std::max(max_label, label);
  }

  Dataset data;
  data.sample_shape = {1, images.dims[1], images.dims[2]};
  data.classes = classes > 0 ? classes : max_label + 1;
  data.y.assign(labels.data.begin(), labels.data.end());
  labels = {};
  std::array<float, 256> scale{};
  for (std::size_t v = 0; v < scale.size(); ++v) scale[v] = static_cast<float>(v) / 255.0f;
  data.x.resize(images.data.size());
  std::transform(images.data.begin(), images.data.end(), data.x.begin(),
                 [&scale](std::uint8_t v) { return scale[v]; });
  return data;
}

namespace {

// `dir`/`name`.gz, else `dir`/`name`; kNotFound naming the .gz file when neither exists.
Result<fs::path> find_fashion_file(const fs::path& dir, const std::string& name) {
  std::error_code ec;
  const fs::path gz = dir / (name + ".gz");
  if (fs::exists(gz, ec)) return gz;
  const fs::path plain = dir / name;
  if (fs::exists(plain, ec)) return plain;
  return error(StatusCode::kNotFound,
               "Fashion-MNIST not found: " + gz.string() +
                   " is missing; install the Debian package dataset-fashion-mnist "
                   "(scripts/install-deps.sh installs it)");
}

}  // namespace

Result<FashionMnist> load_fashion_mnist(const fs::path& dir) {
  STARLING_ASSIGN_OR_RETURN(fs::path train_images,
                            find_fashion_file(dir, "train-images-idx3-ubyte"));
  STARLING_ASSIGN_OR_RETURN(fs::path train_labels,
                            find_fashion_file(dir, "train-labels-idx1-ubyte"));
  STARLING_ASSIGN_OR_RETURN(fs::path test_images, find_fashion_file(dir, "t10k-images-idx3-ubyte"));
  STARLING_ASSIGN_OR_RETURN(fs::path test_labels, find_fashion_file(dir, "t10k-labels-idx1-ubyte"));
  constexpr std::size_t kClasses = 10;
  FashionMnist out;
  STARLING_ASSIGN_OR_RETURN(out.train, load_idx_pair(train_images, train_labels, kClasses));
  STARLING_ASSIGN_OR_RETURN(out.test, load_idx_pair(test_images, test_labels, kClasses));
  return out;
}

}  // namespace starling::federated
