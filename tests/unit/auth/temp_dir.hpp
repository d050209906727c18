// Test helper: a directory under /tmp made with mkdtemp, removed with its contents at the end,
// and the way kubelet updates a mounted Secret (files are symlinks through `..data`, which is
// swapped atomically to a new timestamped directory).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <doctest/doctest.h>

namespace infergate::test {

class TempDir {
 public:
  TempDir() {
    char path[] = "/tmp/infergate-auth-XXXXXX";
    REQUIRE(mkdtemp(path) != nullptr);
    path_ = path;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  // Replaces `name` atomically (write aside, then rename), so every write is a new inode.
  void write(const std::string& name, const std::string& content) const {
    const std::string aside = file("." + name + ".tmp");
    {
      std::ofstream out(aside, std::ios::binary | std::ios::trunc);
      out << content;
      REQUIRE(out.good());
    }
    std::filesystem::rename(aside, file(name));
  }
  void remove(const std::string& name) const { std::filesystem::remove(file(name)); }

 private:
  std::string path_;
};

// A Secret volume: set() publishes a whole new set of files the way kubelet does.
class SecretVolume {
 public:
  explicit SecretVolume(const TempDir& dir) : dir_(dir) {}

  void set(const std::map<std::string, std::string>& files) {
    namespace fs = std::filesystem;
    const std::string version = "..2026_12_07_10_00_00." + std::to_string(++generation_);
    fs::create_directory(dir_.file(version));
    for (const auto& [name, content] : files) {
      std::ofstream out(dir_.file(version + "/" + name), std::ios::binary);
      out << content;
      REQUIRE(out.good());
    }
    fs::create_directory_symlink(version, dir_.file("..data_tmp"));
    fs::rename(dir_.file("..data_tmp"), dir_.file("..data"));  // the atomic swap
    for (const auto& [name, content] : files) {
      if (!fs::is_symlink(fs::symlink_status(dir_.file(name)))) {
        fs::create_symlink("..data/" + name, dir_.file(name));
      }
    }
    for (const auto& name : names_) {
      if (!files.contains(name)) fs::remove(dir_.file(name));
    }
    if (!previous_.empty()) fs::remove_all(dir_.file(previous_));
    previous_ = version;
    names_.clear();
    for (const auto& [name, content] : files) names_.push_back(name);
  }

 private:
  const TempDir& dir_;
  int generation_ = 0;
  std::string previous_;
  std::vector<std::string> names_;
};

}  // namespace infergate::test
