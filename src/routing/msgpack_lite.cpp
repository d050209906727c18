#include "routing/msgpack_lite.hpp"

#include <bit>
#include <cstring>

namespace infergate::msgpack {

const Value* Value::find(std::string_view key) const {
  if (kind != Kind::Map) return nullptr;
  for (std::size_t i = 0; i + 1 < items.size(); i += 2)
    if (items[i].kind == Kind::Str && items[i].bytes == key) return &items[i + 1];
  return nullptr;
}

namespace {

struct Reader {
  const std::uint8_t* p;
  const std::uint8_t* end;

  bool need(std::size_t n) const { return static_cast<std::size_t>(end - p) >= n; }
  std::uint64_t be(int n) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | *p++;
    return v;
  }
  bool sized(std::size_t n, int width, Value& v, Value::Kind kind) {
    (void)width;
    if (!need(n)) return false;
    v.kind = kind;
    v.bytes.assign(reinterpret_cast<const char*>(p), n);
    p += n;
    return true;
  }
  bool container(std::uint64_t n, bool is_map, Value& v, int depth) {
    v.kind = is_map ? Value::Kind::Map : Value::Kind::Array;
    const std::uint64_t total = is_map ? n * 2 : n;
    if (total > static_cast<std::uint64_t>(end - p)) return false;  // each item is >= 1 byte
    v.items.resize(total);
    for (auto& item : v.items)
      if (!read(item, depth + 1)) return false;
    return true;
  }
  bool read(Value& v, int depth) {
    if (depth > 32 || !need(1)) return false;
    const std::uint8_t b = *p++;
    if (b <= 0x7f) { v.kind = Value::Kind::Int; v.integer = b; return true; }
    if (b >= 0xe0) { v.kind = Value::Kind::Int; v.integer = static_cast<std::int8_t>(b); return true; }
    if ((b & 0xf0) == 0x80) return container(b & 0x0f, true, v, depth);
    if ((b & 0xf0) == 0x90) return container(b & 0x0f, false, v, depth);
    if ((b & 0xe0) == 0xa0) return sized(b & 0x1f, 0, v, Value::Kind::Str);
    switch (b) {
      case 0xc0: v.kind = Value::Kind::Nil; return true;
      case 0xc2: case 0xc3: v.kind = Value::Kind::Bool; v.boolean = b == 0xc3; return true;
      case 0xc4: case 0xc5: case 0xc6: {
        const int w = 1 << (b - 0xc4);
        if (!need(w)) return false;
        return sized(be(w), w, v, Value::Kind::Bin);
      }
      case 0xca: {
        if (!need(4)) return false;
        v.kind = Value::Kind::Float;
        v.real = std::bit_cast<float>(static_cast<std::uint32_t>(be(4)));
        return true;
      }
      case 0xcb: {
        if (!need(8)) return false;
        v.kind = Value::Kind::Float;
        v.real = std::bit_cast<double>(be(8));
        return true;
      }
      case 0xcc: case 0xcd: case 0xce: case 0xcf: {
        const int w = 1 << (b - 0xcc);
        if (!need(w)) return false;
        v.kind = Value::Kind::Int;
        v.is_unsigned = true;
        v.integer = static_cast<std::int64_t>(be(w));
        return true;
      }
      case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
        const int w = 1 << (b - 0xd0);
        if (!need(w)) return false;
        const std::uint64_t raw = be(w);
        const int shift = 64 - 8 * w;
        v.kind = Value::Kind::Int;
        v.integer = static_cast<std::int64_t>(raw << shift) >> shift;
        return true;
      }
      case 0xd9: case 0xda: case 0xdb: {
        const int w = 1 << (b - 0xd9);
        if (!need(w)) return false;
        return sized(be(w), w, v, Value::Kind::Str);
      }
      case 0xdc: case 0xdd: {
        const int w = b == 0xdc ? 2 : 4;
        if (!need(w)) return false;
        return container(be(w), false, v, depth);
      }
      case 0xde: case 0xdf: {
        const int w = b == 0xde ? 2 : 4;
        if (!need(w)) return false;
        return container(be(w), true, v, depth);
      }
      default: return false;  // ext types: not used by KV events
    }
  }
};

}  // namespace

std::optional<Value> decode(std::span<const std::uint8_t> data) {
  Reader r{data.data(), data.data() + data.size()};
  Value v;
  if (!r.read(v, 0) || r.p != r.end) return std::nullopt;
  return v;
}

void Writer::be(std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void Writer::nil() { out_.push_back(static_cast<char>(0xc0)); }
void Writer::boolean(bool b) { out_.push_back(static_cast<char>(b ? 0xc3 : 0xc2)); }
void Writer::uinteger(std::uint64_t v) {
  if (v <= 0x7f) { out_.push_back(static_cast<char>(v)); return; }
  if (v <= 0xff) { out_.push_back(static_cast<char>(0xcc)); be(v, 1); return; }
  if (v <= 0xffff) { out_.push_back(static_cast<char>(0xcd)); be(v, 2); return; }
  if (v <= 0xffffffffu) { out_.push_back(static_cast<char>(0xce)); be(v, 4); return; }
  out_.push_back(static_cast<char>(0xcf));
  be(v, 8);
}
void Writer::integer(std::int64_t v) {
  if (v >= 0) { uinteger(static_cast<std::uint64_t>(v)); return; }
  if (v >= -32) { out_.push_back(static_cast<char>(v)); return; }
  out_.push_back(static_cast<char>(0xd3));
  be(static_cast<std::uint64_t>(v), 8);
}
void Writer::real(double v) {
  out_.push_back(static_cast<char>(0xcb));
  be(std::bit_cast<std::uint64_t>(v), 8);
}
void Writer::str(std::string_view s) {
  if (s.size() < 32) out_.push_back(static_cast<char>(0xa0 | s.size()));
  else { out_.push_back(static_cast<char>(0xdb)); be(s.size(), 4); }
  out_.append(s);
}
void Writer::bin(std::string_view b) {
  out_.push_back(static_cast<char>(0xc6));
  be(b.size(), 4);
  out_.append(b);
}
void Writer::array(std::uint32_t n) {
  if (n < 16) out_.push_back(static_cast<char>(0x90 | n));
  else { out_.push_back(static_cast<char>(0xdd)); be(n, 4); }
}
void Writer::map(std::uint32_t n) {
  if (n < 16) out_.push_back(static_cast<char>(0x80 | n));
  else { out_.push_back(static_cast<char>(0xdf)); be(n, 4); }
}

}  // namespace infergate::msgpack
