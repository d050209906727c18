// The status page served at the admin listener's "/": one self-contained HTML document (its CSS
// and script inline), generated at build time from src/proxy/status/ by embed_page.py.
#pragma once

#include <string_view>

namespace infergate::proxy {

extern const std::string_view kStatusPage;
// The Content-Security-Policy to send with it: the inline style and script allowed by hash.
extern const std::string_view kStatusPageCsp;

}  // namespace infergate::proxy
