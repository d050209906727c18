// A small MessagePack reader and writer for the KV event wire format (vLLM's msgspec encoding).
// Hand-written because Debian 12's libmsgpack-cxx-dev depends on libboost-dev (1.74), which
// conflicts with the libboost1.81-dev the project builds against; the subset events need (nil,
// bool, ints, floats, str, bin, array, map) is small. Values decode into a tree: events are a
// few hundred bytes, decoded off the hot path.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace infergate::msgpack {

struct Value {
  enum class Kind { Nil, Bool, Int, Float, Str, Bin, Array, Map };
  Kind kind = Kind::Nil;
  bool boolean = false;
  std::int64_t integer = 0;   // Int (uint64 above INT64_MAX kept as its bit pattern)
  bool is_unsigned = false;
  double real = 0;
  std::string bytes;          // Str and Bin
  std::vector<Value> items;   // Array; Map as key, value, key, value, ...

  bool is_nil() const { return kind == Kind::Nil; }
  // Map lookup by string key; nullptr when absent or not a map.
  const Value* find(std::string_view key) const;
};

// Decodes one complete value spanning all of `data`; nullopt on malformed or trailing input, or
// nesting deeper than 32.
std::optional<Value> decode(std::span<const std::uint8_t> data);

// Appends MessagePack encodings to a byte string (used by the simulator's publisher and tests).
class Writer {
 public:
  void nil();
  void boolean(bool b);
  void integer(std::int64_t v);
  void uinteger(std::uint64_t v);
  void real(double v);
  void str(std::string_view s);
  void bin(std::string_view b);
  void array(std::uint32_t n);
  void map(std::uint32_t n);
  const std::string& data() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void be(std::uint64_t v, int bytes);
  std::string out_;
};

}  // namespace infergate::msgpack
