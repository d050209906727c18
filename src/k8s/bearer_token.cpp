#include "k8s/bearer_token.hpp"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "k8s/log.hpp"

namespace infergate::k8s::detail {

namespace {
std::string trim(std::string text) {
  auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}
}  // namespace

BearerToken::BearerToken(std::string token, std::string file)
    : token_(std::move(token)), file_(std::move(file)) {}

const std::string& BearerToken::current() {
  refresh(false);
  return token_;
}

bool BearerToken::reload() {
  std::string before = token_;
  refresh(true);
  return token_ != before;
}

void BearerToken::refresh(bool force) {
  if (file_.empty()) return;
  struct stat st {};
  if (::stat(file_.c_str(), &st) != 0) return;  // mid-rotation or gone: keep the last token
  Identity now{std::uint64_t(st.st_dev), std::uint64_t(st.st_ino), std::uint64_t(st.st_size),
               std::int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
  if ((force || !loaded_ || !(now == identity_)) && read_file()) identity_ = now;
}

bool BearerToken::read_file() {
  std::ifstream in(file_, std::ios::binary);
  if (!in) {
    log().warn("cannot read token file={}", file_);
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string token = trim(text.str());
  if (loaded_ && token != token_)
    log().info("bearer token changed file={}", file_);
  if (loaded_) reloads_.fetch_add(1, std::memory_order_relaxed);
  token_ = std::move(token);
  loaded_ = true;
  return true;
}

}  // namespace infergate::k8s::detail
