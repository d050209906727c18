// The writer threads (access log, span exporter) run beside the workers, often on the same
// cores. They lower their own priority (nice 10) so that a wake-up of theirs does not preempt a
// worker in the middle of a request; when the core is busy, the scheduler still gives them
// about a tenth of it, far more than formatting and writing a line per request needs.
#pragma once

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace infergate::telemetry {

inline void lower_this_thread_priority() noexcept {
  // Linux: a thread's nice value is its own (setpriority on the thread id).
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
}

}  // namespace infergate::telemetry
