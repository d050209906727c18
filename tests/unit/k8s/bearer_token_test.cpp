// The bearer token follows kubelet's rotation (a new directory behind the `..data` symlink).
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "k8s/bearer_token.hpp"

using infergate::k8s::detail::BearerToken;
namespace fs = std::filesystem;

namespace {

// kubelet's atomic writer, reduced to the token: dir/..N/token, dir/..data -> ..N, dir/token ->
// ..data/token; a rotation renames a new symlink over ..data.
struct ProjectedDir {
  explicit ProjectedDir(const fs::path& d) : dir(d) {
    fs::create_directories(dir);
    fs::create_directory_symlink("..data/token", dir / "token");
  }
  void write(const std::string& token) {
    std::string name = "..v" + std::to_string(++version);
    fs::create_directory(dir / name);
    std::ofstream(dir / name / "token") << token;
    fs::create_directory_symlink(name, dir / "..data_tmp");
    fs::rename(dir / "..data_tmp", dir / "..data");
  }
  fs::path dir;
  int version = 0;
};

}  // namespace

TEST_CASE("a fixed token") {
  BearerToken token("abc", "");
  CHECK(token.current() == "abc");
  CHECK_FALSE(token.from_file());
  CHECK_FALSE(token.reload());
}

TEST_CASE("a token file is re-read when kubelet swaps ..data") {
  std::string pattern = (fs::temp_directory_path() / "k8s-token-XXXXXX").string();
  fs::path root = mkdtemp(pattern.data());
  ProjectedDir projected(root / "sa");
  projected.write("first\n");
  BearerToken token("", (projected.dir / "token").string());
  CHECK(token.current() == "first");  // trailing newline trimmed
  CHECK(token.current() == "first");
  CHECK(token.reloads() == 0);
  projected.write("second");
  CHECK(token.current() == "second");
  CHECK(token.reloads() == 1);
  CHECK_FALSE(token.reload());  // forced read, same content
  fs::remove(projected.dir / "..data");  // mid-rotation: the last token stays
  CHECK(token.current() == "second");
  fs::remove_all(root);
}
