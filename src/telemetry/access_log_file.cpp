// LogFile: open(2) with O_APPEND (several writers, or a copytruncate rotation, never overwrite
// each other's lines), write(2) without buffering of its own, stat(2) against fstat(2) to see a
// rotation.
#include "telemetry/access_log_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace infergate::telemetry {
namespace {

int open_append(const std::string& path) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

}  // namespace

LogFile::LogFile(std::string path) : path_(std::move(path)) {
  if (is_stdout()) {
    fd_ = STDOUT_FILENO;
    return;
  }
  fd_ = open_append(path_);
  if (fd_ < 0) {
    throw std::runtime_error("access log: cannot open '" + path_ + "': " + std::strerror(errno));
  }
}

LogFile::~LogFile() {
  if (fd_ >= 0 && !is_stdout()) ::close(fd_);
}

bool LogFile::write_all(std::string_view bytes) noexcept {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool LogFile::moved() const noexcept {
  if (is_stdout()) return false;
  struct stat named {}, open {};
  if (::fstat(fd_, &open) != 0) return true;
  if (::stat(path_.c_str(), &named) != 0) return true;  // deleted, or moved and not yet recreated
  return named.st_ino != open.st_ino || named.st_dev != open.st_dev;
}

bool LogFile::reopen() noexcept {
  if (is_stdout()) return true;
  const int fd = open_append(path_);
  if (fd < 0) return false;
  ::close(fd_);
  fd_ = fd;
  return true;
}

}  // namespace infergate::telemetry
