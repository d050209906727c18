// The access log's output: stdout ("-") or a file opened for appending, written with write(2)
// and reopened when asked (SIGUSR1) or when its path no longer names the open file (logrotate
// without copytruncate moved or deleted it). Writer thread only; nothing here is thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace infergate::telemetry {

class LogFile {
 public:
  // Throws std::runtime_error when the file cannot be opened.
  explicit LogFile(std::string path);
  ~LogFile();
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;

  // Writes all of `bytes` (retrying short writes and EINTR). False: an I/O error (errno kept);
  // what was not written is lost, never retried (a full disk must not grow our buffer).
  bool write_all(std::string_view bytes) noexcept;

  // True when the path was moved away, deleted or replaced by another file (never for stdout).
  bool moved() const noexcept;

  // Opens the path again; the old descriptor is closed only once the new one is open, so a
  // failed reopen keeps writing where it wrote before. False: it failed (errno kept).
  bool reopen() noexcept;

  bool is_stdout() const noexcept { return path_ == "-"; }
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace infergate::telemetry
