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

void append_escape(std::string& out, unsigned char c) {
  switch (c) {
    case '"': out += "\\\""; return;
    case '\\': out += "\\\\"; return;
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case '\t': out += "\\t"; return;
    case '\b': out += "\\b"; return;
    case '\f': out += "\\f"; return;
    default: break;
  }
  static constexpr char hex[] = "0123456789abcdef";
  const char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
  out.append(u, sizeof u);
}

void append_digits(std::string& out, unsigned value, int width) {
  char buf[8];
  for (int i = width - 1; i >= 0; --i, value /= 10) buf[i] = static_cast<char>('0' + value % 10);
  out.append(buf, static_cast<std::size_t>(width));
}

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

void append_json_string(std::string& out, std::string_view text, bool truncated) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  out += '"';
  std::size_t run = 0;  // start of the bytes that go out as they are
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    out.append(text.data() + run, i - run);
    if (c < 0x80) {
      append_escape(out, c);
      ++i;
    } else {
      bool incomplete = false;
      const std::size_t len = utf8_sequence(s + i, n - i, incomplete);
      if (len > 0) {
        out.append(text.data() + i, len);
        i += len;
      } else if (incomplete && truncated) {
        i = n;  // the cut fell inside a character: drop its start, the "…" says it was cut
      } else {
        out += kReplacement;
        ++i;
      }
    }
    run = i;
  }
  out.append(text.data() + run, n - run);
  if (truncated) out += kEllipsis;
  out += '"';
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

void append_rfc3339_ms(std::string& out, std::int64_t unix_us) {
  const std::int64_t secs = floor_div(unix_us, 1'000'000);
  const auto ms = static_cast<unsigned>((unix_us - secs * 1'000'000) / 1000);
  const std::int64_t days = floor_div(secs, 86'400);
  const auto second_of_day = static_cast<unsigned>(secs - days * 86'400);
  const CivilDate date = civil_from_days(days);
  const auto year = static_cast<unsigned>(date.year < 0 ? 0 : date.year > 9999 ? 9999 : date.year);
  append_digits(out, year, 4);
  out += '-';
  append_digits(out, date.month, 2);
  out += '-';
  append_digits(out, date.day, 2);
  out += 'T';
  append_digits(out, second_of_day / 3600, 2);
  out += ':';
  append_digits(out, second_of_day / 60 % 60, 2);
  out += ':';
  append_digits(out, second_of_day % 60, 2);
  out += '.';
  append_digits(out, ms, 3);
  out += 'Z';
}

void append_millis(std::string& out, std::int64_t us) {
  if (us < 0) {
    out += "null";
    return;
  }
  char buf[24];
  const auto end = std::to_chars(buf, buf + sizeof buf, us / 1000).ptr;
  out.append(buf, static_cast<std::size_t>(end - buf));
  out += '.';
  append_digits(out, static_cast<unsigned>(us % 1000), 3);
}

}  // namespace infergate::telemetry
