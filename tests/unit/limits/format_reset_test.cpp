#include <doctest/doctest.h>

#include "limits/limiter.hpp"

using namespace std::chrono_literals;
using infergate::limits::format_reset;
using infergate::limits::retry_after_seconds;

TEST_CASE("format_reset writes OpenAI's (Go's) duration style") {
  struct Row {
    std::chrono::milliseconds in;
    const char* out;
  };
  const Row rows[] = {
      {0ms, "0s"},          {-5ms, "0s"},          {1ms, "1ms"},        {250ms, "250ms"},
      {999ms, "999ms"},     {1000ms, "1s"},        {1500ms, "1.5s"},    {1250ms, "1.25s"},
      {1005ms, "1.005s"},   {59'999ms, "59.999s"}, {60s, "1m0s"},       {90s, "1m30s"},
      {360s, "6m0s"},       {61'500ms, "1m1.5s"},  {3600s, "1h0m0s"},   {3723s, "1h2m3s"},
  };
  for (const Row& r : rows) {
    CAPTURE(r.in.count());
    CHECK(format_reset(r.in) == r.out);
  }
}

TEST_CASE("retry_after_seconds rounds up, at least 1") {
  struct Row {
    std::chrono::milliseconds in;
    std::uint64_t out;
  };
  const Row rows[] = {{0ms, 1}, {1ms, 1}, {999ms, 1}, {1000ms, 1}, {1001ms, 2}, {59'001ms, 60}, {61s, 61}};
  for (const Row& r : rows) {
    CAPTURE(r.in.count());
    CHECK(retry_after_seconds(r.in) == r.out);
  }
}
