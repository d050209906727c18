// infergate-sim: a simulated vLLM model server for tests, the demo and benchmarks.
#include <cstdio>
#include <cstdlib>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "sim/options.hpp"
#include "sim/server.hpp"

int main(int argc, char** argv) {
  using namespace infergate::sim;
  SimOptions opts;
  std::string error;
  switch (parse_options(argc, argv, std::getenv("POD_NAME"), opts, error)) {
    case ParseStatus::help:
      std::fputs(usage_text().c_str(), stdout);
      return 0;
    case ParseStatus::error:
      std::fprintf(stderr, "infergate-sim: %s\n%s", error.c_str(), usage_text().c_str());
      return 2;
    case ParseStatus::ok:
      break;
  }
  // stdout carries only the ready lines; logs go to stderr.
  auto log = spdlog::stderr_color_mt("sim");
  log->set_level(spdlog::level::from_str(opts.log_level));
  try {
    return run_server(opts);
  } catch (const std::exception& e) {
    log->error("fatal: {}", e.what());
    return 1;
  }
}
