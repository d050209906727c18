// The access log's value writers: JSON strings (escaped, UTF-8 checked), RFC 3339 times and
// millisecond durations, appended into the writer's buffer without allocating per value.
#include <charconv>
#include <cstring>

#include "telemetry/access_log_format.hpp"

namespace infergate::telemetry {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
constexpr std::string_view kEllipsis = "\xE2\x80\xA6";     // U+2026, marks a cut text

bool continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// The length of the valid UTF-8 sequence at s[0], 0 when it is invalid (overlong, surrogate,
// above U+10FFFF, stray continuation). `incomplete`: valid so far but cut by the end of the text.
std::size_t utf8_sequence(const unsigned char* s, std::size_t n, bool& incomplete) {
  incomplete = false;
  const unsigned char c = s[0];
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) len = 2;
  else if (c == 0xE0) len = 3, lo = 0xA0;
  else if (c == 0xED) len = 3, hi = 0x9F;
  else if (c >= 0xE1 && c <= 0xEF) len = 3;
  else if (c == 0xF0) len = 4, lo = 0x90;
  else if (c == 0xF4) len = 4, hi = 0x8F;
  else if (c >= 0xF1 && c <= 0xF3) len = 4;
  else return 0;
  for (std::size_t i = 1; i < len; ++i) {
    if (i >= n) {
      incomplete = true;
      return 0;
    }
    const bool ok = i == 1 ? s[i] >= lo && s[i] <= hi : continuation(s[i]);
    if (!ok) return 0;
  }
  return len;
}

char* put_escape(char* p, unsigned char c) {
  switch (c) {
    case '"': *p++ = '\\', *p++ = '"'; return p;
    case '\\': *p++ = '\\', *p++ = '\\'; return p;
    case '\n': *p++ = '\\', *p++ = 'n'; return p;
    case '\r': *p++ = '\\', *p++ = 'r'; return p;
    case '\t': *p++ = '\\', *p++ = 't'; return p;
    case '\b': *p++ = '\\', *p++ = 'b'; return p;
    case '\f': *p++ = '\\', *p++ = 'f'; return p;
    default: break;
  }
  static constexpr char hex[] = "0123456789abcdef";
  const char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
  std::memcpy(p, u, sizeof u);
  return p + sizeof u;
}

char* put(char* p, std::string_view text) {
  std::memcpy(p, text.data(), text.size());
  return p + text.size();
}

char* put_digits(char* p, unsigned value, int width) {
  for (int i = width - 1; i >= 0; --i, value /= 10) p[i] = static_cast<char>('0' + value % 10);
  return p + width;
}

// Whether any of the 8 bytes needs more than a copy: below 0x20, 0x7F and above, '"' or '\\'
// (the usual SWAR tests; exact for "any", which is all the scan asks).
bool any_special(std::uint64_t x) {
  constexpr std::uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  const auto zero_byte = [&](std::uint64_t v) { return (v - ones) & ~v & highs; };
  return ((x - ones * 0x20) & ~x & highs) | (x & highs) | zero_byte(x ^ (ones * '"')) |
         zero_byte(x ^ (ones * '\\')) | zero_byte(x ^ (ones * 0x7F));
}

bool plain(unsigned char c) { return c >= 0x20 && c < 0x7F && c != '"' && c != '\\'; }

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

struct CivilDate {
  std::int64_t year;
  unsigned month, day;
};

// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's civil_from_days): gmtime_r
// would take glibc's time zone lock on every line.
CivilDate civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = floor_div(z, 146097);
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned day = doy - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

}  // namespace

char* put_json_string(char* p, std::string_view text, bool truncated) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  *p++ = '"';
  std::size_t run = 0;  // start of the bytes that go out as they are
  std::size_t i = 0;
  while (i < n) {
    std::uint64_t word;
    if (i + 8 <= n && (std::memcpy(&word, s + i, 8), !any_special(word))) {
      i += 8;
      continue;
    }
    const unsigned char c = s[i];
    if (plain(c)) {
      ++i;
      continue;
    }
    p = put(p, text.substr(run, i - run));
    if (c < 0x80) {
      p = put_escape(p, c);
      ++i;
    } else {
      bool incomplete = false;
      const std::size_t len = utf8_sequence(s + i, n - i, incomplete);
      if (len > 0) {
        p = put(p, text.substr(i, len));
        i += len;
      } else if (incomplete && truncated) {
        i = n;  // the cut fell inside a character: drop its start, the "…" says it was cut
      } else {
        p = put(p, kReplacement);
        ++i;
      }
    }
    run = i;
  }
  p = put(p, text.substr(run, n - run));
  if (truncated) p = put(p, kEllipsis);
  *p++ = '"';
  return p;
}

char* put_rfc3339_ms(char* p, std::int64_t unix_us) {
  const std::int64_t secs = floor_div(unix_us, 1'000'000);
  const auto ms = static_cast<unsigned>((unix_us - secs * 1'000'000) / 1000);
  const std::int64_t days = floor_div(secs, 86'400);
  const auto second_of_day = static_cast<unsigned>(secs - days * 86'400);
  const CivilDate date = civil_from_days(days);
  const auto year = static_cast<unsigned>(date.year < 0 ? 0 : date.year > 9999 ? 9999 : date.year);
  p = put_digits(p, year, 4);
  *p++ = '-';
  p = put_digits(p, date.month, 2);
  *p++ = '-';
  p = put_digits(p, date.day, 2);
  *p++ = 'T';
  p = put_digits(p, second_of_day / 3600, 2);
  *p++ = ':';
  p = put_digits(p, second_of_day / 60 % 60, 2);
  *p++ = ':';
  p = put_digits(p, second_of_day % 60, 2);
  *p++ = '.';
  p = put_digits(p, ms, 3);
  *p++ = 'Z';
  return p;
}

char* put_millis(char* p, std::int64_t us) {
  if (us < 0) return put(p, "null");
  p = std::to_chars(p, p + 20, us / 1000).ptr;
  *p++ = '.';
  return put_digits(p, static_cast<unsigned>(us % 1000), 3);
}

namespace {

// The std::string forms: room for the worst case, written, then cut to what was written.
template <typename Put>
void append_with(std::string& out, std::size_t bound, Put put_value) {
  const std::size_t old = out.size();
  out.resize(old + bound);
  char* end = put_value(out.data() + old);
  out.resize(static_cast<std::size_t>(end - out.data()));
}

}  // namespace

void append_json_string(std::string& out, std::string_view text, bool truncated) {
  append_with(out, json_string_bound(text.size()),
              [&](char* p) { return put_json_string(p, text, truncated); });
}

void append_rfc3339_ms(std::string& out, std::int64_t unix_us) {
  append_with(out, kRfc3339MsBound, [&](char* p) { return put_rfc3339_ms(p, unix_us); });
}

void append_millis(std::string& out, std::int64_t us) {
  append_with(out, kMillisBound, [&](char* p) { return put_millis(p, us); });
}

std::string_view valid_utf8(std::string_view text, std::string& scratch) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  bool incomplete = false;
  while (i < n && (s[i] < 0x80 || utf8_sequence(s + i, n - i, incomplete) > 0)) {
    i += s[i] < 0x80 ? 1 : utf8_sequence(s + i, n - i, incomplete);
  }
  if (i == n) return text;  // the usual case: nothing to copy
  scratch.assign(text.data(), i);
  while (i < n) {
    const std::size_t len = s[i] < 0x80 ? 1 : utf8_sequence(s + i, n - i, incomplete);
    if (len > 0) {
      scratch.append(text.data() + i, len);
      i += len;
    } else {
      scratch += kReplacement;
      ++i;
    }
  }
  return scratch;
}

}  // namespace infergate::telemetry
