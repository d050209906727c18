#include "routing/kv_events.hpp"

#include <xxhash.h>

#include "routing/msgpack_lite.hpp"

namespace infergate::kv {

namespace {

using msgpack::Value;
using Kind = Value::Kind;

std::optional<BlockKey> block_key(const Value& v) {
  if (v.kind == Kind::Int) return static_cast<BlockKey>(v.integer);
  if (v.kind == Kind::Bin || v.kind == Kind::Str) return XXH3_64bits(v.bytes.data(), v.bytes.size());
  return std::nullopt;
}

bool keys(const Value* v, std::vector<BlockKey>& out) {
  if (v == nullptr || v->kind != Kind::Array) return false;
  out.reserve(v->items.size());
  for (const auto& item : v->items) {
    auto k = block_key(item);
    if (!k) return false;
    out.push_back(*k);
  }
  return true;
}

std::optional<std::int64_t> opt_int(const Value* v) {
  if (v == nullptr || v->kind != Kind::Int) return std::nullopt;
  return v->integer;
}

std::string opt_str(const Value* v) {
  return v != nullptr && v->kind == Kind::Str ? v->bytes : std::string{};
}

// Field `pos` of an event: by position after the tag (array form) or by name (map form).
struct Fields {
  const Value& v;
  const Value* get(std::size_t pos, std::string_view name) const {
    if (v.kind == Kind::Array) return pos + 1 < v.items.size() ? &v.items[pos + 1] : nullptr;
    return v.find(name);
  }
};

enum class Parse { Ok, Skip, Bad };

Parse parse_event(const Value& v, KvEvent& e) {
  std::string tag;
  if (v.kind == Kind::Array && !v.items.empty() && v.items[0].kind == Kind::Str) tag = v.items[0].bytes;
  else if (const Value* t = v.find("type"); t != nullptr && t->kind == Kind::Str) tag = t->bytes;
  else return Parse::Bad;
  const Fields f{v};
  if (tag == "BlockStored") {
    e.type = KvEvent::Type::Stored;
    if (!keys(f.get(0, "block_hashes"), e.block_hashes)) return Parse::Bad;
    if (const Value* p = f.get(1, "parent_block_hash"); p != nullptr && !p->is_nil()) {
      e.parent = block_key(*p);
      if (!e.parent) return Parse::Bad;
    }
    const Value* toks = f.get(2, "token_ids");
    if (toks == nullptr || toks->kind != Kind::Array) return Parse::Bad;
    for (const auto& t : toks->items) {
      if (t.kind != Kind::Int) return Parse::Bad;
      e.token_ids.push_back(t.integer);
    }
    auto bs = opt_int(f.get(3, "block_size"));
    if (!bs || *bs <= 0) return Parse::Bad;
    e.block_size = *bs;
    e.lora_id = opt_int(f.get(4, "lora_id"));
    e.medium = opt_str(f.get(5, "medium"));
    return Parse::Ok;
  }
  if (tag == "BlockRemoved") {
    e.type = KvEvent::Type::Removed;
    if (!keys(f.get(0, "block_hashes"), e.block_hashes)) return Parse::Bad;
    e.medium = opt_str(f.get(1, "medium"));
    return Parse::Ok;
  }
  if (tag == "AllBlocksCleared") {
    e.type = KvEvent::Type::AllCleared;
    return Parse::Ok;
  }
  return Parse::Skip;
}

void write_hashes(msgpack::Writer& w, const std::vector<BlockKey>& hs) {
  w.array(static_cast<std::uint32_t>(hs.size()));
  for (auto h : hs) w.uinteger(h);
}

}  // namespace

std::optional<KvEventBatch> decode_batch(std::span<const std::uint8_t> payload) {
  auto root = msgpack::decode(payload);
  if (!root) return std::nullopt;
  const Value* ts = nullptr;
  const Value* events = nullptr;
  const Value* rank = nullptr;
  if (root->kind == Kind::Array) {
    if (root->items.size() < 2) return std::nullopt;
    ts = &root->items[0];
    events = &root->items[1];
    if (root->items.size() > 2) rank = &root->items[2];
  } else if (root->kind == Kind::Map) {
    ts = root->find("ts");
    events = root->find("events");
    rank = root->find("data_parallel_rank");
  }
  if (ts == nullptr || events == nullptr || events->kind != Kind::Array) return std::nullopt;
  KvEventBatch batch;
  if (ts->kind == Kind::Float) batch.ts = ts->real;
  else if (ts->kind == Kind::Int) batch.ts = static_cast<double>(ts->integer);
  else return std::nullopt;
  batch.dp_rank = opt_int(rank);
  for (const auto& ev : events->items) {
    KvEvent e;
    switch (parse_event(ev, e)) {
      case Parse::Ok: batch.events.push_back(std::move(e)); break;
      case Parse::Skip: break;
      case Parse::Bad: return std::nullopt;
    }
  }
  return batch;
}

std::optional<std::int64_t> decode_seq(std::span<const std::uint8_t> frame) {
  if (frame.size() != 8) return std::nullopt;
  std::uint64_t v = 0;
  for (auto b : frame) v = (v << 8) | b;
  return static_cast<std::int64_t>(v);
}

std::string encode_batch(const KvEventBatch& batch) {
  msgpack::Writer w;
  w.array(batch.dp_rank ? 3 : 2);
  w.real(batch.ts);
  w.array(static_cast<std::uint32_t>(batch.events.size()));
  for (const auto& e : batch.events) {
    switch (e.type) {
      case KvEvent::Type::Stored:
        w.array(7);
        w.str("BlockStored");
        write_hashes(w, e.block_hashes);
        if (e.parent) w.uinteger(*e.parent); else w.nil();
        w.array(static_cast<std::uint32_t>(e.token_ids.size()));
        for (auto t : e.token_ids) w.integer(t);
        w.integer(e.block_size);
        if (e.lora_id) w.integer(*e.lora_id); else w.nil();
        if (e.medium.empty()) w.nil(); else w.str(e.medium);
        break;
      case KvEvent::Type::Removed:
        w.array(3);
        w.str("BlockRemoved");
        write_hashes(w, e.block_hashes);
        if (e.medium.empty()) w.nil(); else w.str(e.medium);
        break;
      case KvEvent::Type::AllCleared:
        w.array(1);
        w.str("AllBlocksCleared");
        break;
    }
  }
  if (batch.dp_rank) w.integer(*batch.dp_rank);
  return w.take();
}

}  // namespace infergate::kv
