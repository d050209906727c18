// A small deterministic tokenizer: not a real BPE, but stable, cheap and good enough to count
// usage and to cut prompts into KV blocks whose hashes repeat when the text repeats.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace infergate::sim {

// Token rules (byte-oriented, locale-free):
//  - a run of ASCII letters/digits is cut into tokens of at most 6 bytes; one space right before
//    the run belongs to its first token (as GPT-style tokenizers do);
//  - every other byte, or UTF-8 code point, is a token of its own (punctuation, newline, extra spaces).
// Token ids are 32-bit hashes of the token bytes, so equal text gives equal ids.
void tokenize(std::string_view text, std::vector<std::uint32_t>& out);

// Number of tokens `tokenize` would produce, without building the ids.
std::size_t count_tokens(std::string_view text);

}  // namespace infergate::sim
