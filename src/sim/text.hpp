// Deterministic output: seeded words and embedding vectors. Same seed and prompt, same text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace infergate::sim {

// Key of a generation: mixes the server seed with the prompt so that different prompts differ.
std::uint64_t text_key(std::uint64_t seed, std::string_view prompt);

// The `index`-th output token of generation `key`: a short word with a leading space, so that the
// tokenizer counts each word as exactly one token.
std::string_view word_at(std::uint64_t key, std::uint32_t index);

// Appends tokens [from, to) of generation `key` to `out`.
void append_words(std::string& out, std::uint64_t key, std::uint32_t from, std::uint32_t to);

// A unit-length vector of `dim` floats derived from `input`.
std::vector<float> embedding_for(std::uint64_t seed, std::string_view input, std::uint32_t dim);

// Appends `s` to `out` as the content of a JSON string (RFC 8259 escaping).
void append_json_escaped(std::string& out, std::string_view s);

}  // namespace infergate::sim
