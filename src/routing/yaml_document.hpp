// YAML text -> the one document node of a config, or a located ConfigError. Wraps yaml-cpp 0.7's
// Load(), which drops what follows the first document without a word and returns an empty
// document for some malformed starts; its LoadAll() never returns on some input.
#pragma once

#include <string>

#include <yaml-cpp/node/node.h>

namespace infergate {

// Throws ConfigError (file `name`, located) on a syntax error, on content yaml-cpp would read as
// an empty document, and on content after the first document ("---", a '%' line, an indent).
YAML::Node parse_yaml_document(const std::string& yaml, const std::string& name);

}  // namespace infergate
