// /debug/log-level on the admin listener: the log level read back (GET) or changed at run time
// (PUT or POST with ?level=trace|debug|info|warn|error|critical|off), for every logger. In a
// release build the debug and trace lines of the data path are compiled out; the level still
// governs everything else.
#pragma once

#include <string>
#include <string_view>

namespace infergate::proxy {

// Fills `status` and a JSON `body`: 200 {"level":...}, 400 for an unknown level, 405 for
// another method.
void answer_log_level(bool read, bool write, std::string_view query, unsigned& status, std::string& body);

}  // namespace infergate::proxy
