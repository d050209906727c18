// One file of `auth.keys_dir` -> its keys. Two formats, told apart by name and content:
//  - a list: a name ending in .yaml, .yml or .json, or content (after leading whitespace) that
//    starts with `keys:`, `{`, `[` or `- `, or that has more than one line. Entries have the
//    schema of `auth.keys[]`; unnamed ones are called "<file name>-<index>".
//  - otherwise one key (in clear or "sha256:<hex>") on one line, surrounding whitespace and the
//    final newline ignored: a key named after the file, team "default", every model, no limits
//    (what `kubectl create secret generic --from-literal=alice=KEY` makes).
// Keys come back as "sha256:<hex>" text: the clear text is wiped once hashed.
#pragma once

#include <string>
#include <vector>

#include "infergate/config.hpp"

namespace infergate::auth {

struct KeyFileResult {
  bool ok = false;
  std::vector<ApiKeyConfig> keys;
  std::string error;  // when !ok: "PATH:LINE:COL: FIELD: why" (several joined by "; ")
};

// `name` is the file's name in the directory, `path` its full path (for messages); `content` is
// wiped before returning.
KeyFileResult parse_key_file(const std::string& name, const std::string& path, std::string& content);

}  // namespace infergate::auth
