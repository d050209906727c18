// The writer threads (access log, span exporter) run beside the workers, often on the same
// cores. They lower their own priority by 10 nice steps below the process's, so that a wake-up
// of theirs does not preempt a worker in the middle of a request; when the core is busy, the
// scheduler still gives them about a tenth of it (weights differ ~10x), more than formatting
// and writing a line per request needs. Relative, not absolute: a gateway started at nice -19
// would otherwise starve its writers (nice 10 weighs 1/650 of nice -19).
#pragma once

#include <cerrno>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace infergate::telemetry {

inline void lower_this_thread_priority() noexcept {
  // Linux: a thread's nice value is its own (setpriority on the thread id); a new thread starts
  // with the process's.
  const auto self = static_cast<id_t>(syscall(SYS_gettid));
  errno = 0;
  const int now = getpriority(PRIO_PROCESS, self);
  if (errno != 0) return;
  (void)setpriority(PRIO_PROCESS, self, now + 10 > 19 ? 19 : now + 10);
}

}  // namespace infergate::telemetry
