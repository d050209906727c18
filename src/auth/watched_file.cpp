#include "auth/watched_file.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <openssl/crypto.h>

namespace infergate::auth {
namespace {

FileIdentity identity_of(const struct stat& st) noexcept {
  return {std::uint64_t(st.st_dev), std::uint64_t(st.st_ino), std::uint64_t(st.st_size),
          std::int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
          std::int64_t(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec};
}

// Closes the descriptor on every path out of read_regular_file.
struct Descriptor {
  int fd;
  ~Descriptor() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::optional<FileIdentity> regular_file_identity(const std::string& path) noexcept {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return identity_of(st);
}

bool read_regular_file(const std::string& path, std::size_t max_bytes, std::string& content,
                       FileIdentity& identity, std::string& error) {
  const Descriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)};
  if (file.fd < 0) {
    error = fmt::format("cannot open: {}", std::strerror(errno));
    return false;
  }
  struct stat st {};
  if (::fstat(file.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    error = "not a regular file";
    return false;
  }
  if (std::uint64_t(st.st_size) > max_bytes) {
    error = fmt::format("larger than {} bytes", max_bytes);
    return false;
  }
  content.assign(std::size_t(st.st_size), '\0');
  std::size_t done = 0;
  // Bounded: a regular file does not grow under us past its size (a file that does is read
  // again at the next poll, since its identity changed).
  while (done < content.size()) {
    const ssize_t n = ::read(file.fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = fmt::format("cannot read: {}", std::strerror(errno));
      return false;
    }
    if (n == 0) break;  // truncated meanwhile: what is there is what we have
    done += std::size_t(n);
  }
  content.resize(done);
  identity = identity_of(st);
  return true;
}

void wipe(std::string& secret) noexcept {
  if (!secret.empty()) OPENSSL_cleanse(secret.data(), secret.size());
  secret.clear();
}

}  // namespace infergate::auth
