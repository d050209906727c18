// The bearer token a request carries: a fixed string, or a file that kubelet rotates (it swaps a
// `..data` symlink, so the path stays and the inode changes). The file is stat()ed before each
// request and read again only when its identity (device, inode, size, mtime) changed; a 401 forces
// a read too.
#pragma once

#include <atomic>
#include <cstdint>
#include <ctime>
#include <string>

namespace infergate::k8s::detail {

class BearerToken {
 public:
  BearerToken(std::string token, std::string file);

  // The token to send (empty: send no Authorization header). Never throws: an unreadable file
  // keeps the last token read.
  const std::string& current();
  // Reads the file again whatever its identity; true when the token changed.
  bool reload();
  bool from_file() const { return !file_.empty(); }
  const std::string& file() const { return file_; }
  std::uint64_t reloads() const { return reloads_.load(std::memory_order_relaxed); }

 private:
  struct Identity {
    std::uint64_t device = 0, inode = 0, size = 0;
    std::int64_t mtime_ns = 0;
    bool operator==(const Identity&) const = default;
  };
  void refresh(bool force);
  bool read_file();

  std::string token_;
  std::string file_;
  Identity identity_;
  bool loaded_ = false;
  std::atomic<std::uint64_t> reloads_{0};
};

}  // namespace infergate::k8s::detail
