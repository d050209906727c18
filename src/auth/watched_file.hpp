// What the watchers of key files compare from one poll to the next, and how they read a file.
// A file's identity is what stat() says after following symlinks: Kubernetes updates a mounted
// Secret by swapping the `..data` symlink to a new directory, so the path stays and the inode
// changes; an in-place edit changes the size or the modification time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace infergate::auth {

struct FileIdentity {
  std::uint64_t device = 0, inode = 0, size = 0;
  std::int64_t mtime_ns = 0, ctime_ns = 0;
  bool operator==(const FileIdentity&) const = default;
};

// The identity of the regular file at `path` (symlinks followed), or nullopt when there is none
// (absent, a dangling symlink, a directory, a device).
std::optional<FileIdentity> regular_file_identity(const std::string& path) noexcept;

// Reads the whole regular file at `path` into `content` (at most `max_bytes`) and sets the
// identity of what was read (fstat of the opened file, so identity and content agree). On
// failure returns false with a reason in `error` ("cannot open: Permission denied", "larger than
// 1048576 bytes", ...).
bool read_regular_file(const std::string& path, std::size_t max_bytes, std::string& content,
                       FileIdentity& identity, std::string& error);

// Overwrites a string holding a secret before it is freed (best effort: copies made by a parser
// are out of reach).
void wipe(std::string& secret) noexcept;

}  // namespace infergate::auth
