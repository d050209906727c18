// vLLM KV cache events (vllm/distributed/kv_events.py): what a server's ZeroMQ publisher sends.
// A message is three frames [topic, seq (8-byte big-endian), payload]; the payload is a
// msgpack KVEventBatch. Older vLLM encodes the structs array-like, [ts, [events...], dp_rank?]
// with each event a tagged array [tag, fields in declaration order...]; newer vLLM encodes maps
// ({"ts", "events", ...}, each event {"type": tag, field: value}). Both decode here.
//   BlockStored:      block_hashes, parent_block_hash, token_ids, block_size, lora_id, medium, ...
//   BlockRemoved:     block_hashes, medium, ...
//   AllBlocksCleared: (no fields)
// A block hash is an int or bytes on the wire (ExternalBlockHash); both map to a 64-bit key.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace infergate::kv {

using BlockKey = std::uint64_t;

struct KvEvent {
  enum class Type { Stored, Removed, AllCleared };
  Type type = Type::Stored;
  std::vector<BlockKey> block_hashes;
  std::optional<BlockKey> parent;      // Stored only
  std::vector<std::int64_t> token_ids; // Stored only
  std::int64_t block_size = 0;         // Stored only
  std::optional<std::int64_t> lora_id; // Stored only
  std::string medium;                  // "" when absent
};

struct KvEventBatch {
  double ts = 0;
  std::vector<KvEvent> events;
  std::optional<std::int64_t> dp_rank;
};

// Decodes a payload frame; nullopt when it is not a KVEventBatch. Unknown event tags are skipped
// (forward compatibility), malformed known events fail the batch.
std::optional<KvEventBatch> decode_batch(std::span<const std::uint8_t> payload);

// The sequence frame: 8 bytes big-endian, signed (-1 ends a replay).
std::optional<std::int64_t> decode_seq(std::span<const std::uint8_t> frame);

// Encodes a batch array-like, as vLLM's msgspec structs with array_like=True do (simulator, tests).
std::string encode_batch(const KvEventBatch& batch);

}  // namespace infergate::kv
