// The prompt as chained block hashes, for prefix-cache affinity (as the EPP's prefix plugin).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "infergate/request_facts.hpp"

namespace infergate {

// Renders `prompt` canonically (each part: role, 0x1F, text, 0x1E) and cuts it into blocks of
// `block_size` bytes; appends to `out` (cleared first) hash_i = XXH3_64(block_i, seed hash_{i-1}),
// hash_{-1} = XXH3_64(model): equal hashes mean the same model and the same prompt up to the end
// of that block. Only whole blocks count (a partial tail would never match a longer prompt);
// at most `max_blocks` (the cost of a 50 KB body stays bounded). Texts are the raw JSON string
// contents: the same text escaped differently hashes differently (rare in practice).
void prefix_block_hashes(std::span<const RequestFacts::PromptPart> prompt, std::string_view model,
                         std::size_t block_size, std::size_t max_blocks,
                         std::vector<std::uint64_t>& out);

// The size of that rendering (all of it, not only whole blocks): the prompt's size for the
// pending-prefill estimate, in the unit of the prefix index's blocks.
std::size_t canonical_prompt_bytes(std::span<const RequestFacts::PromptPart> prompt);

}  // namespace infergate
