// The session in its pool's wait queue: queued, shed by priority, or dispatched in turn.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "proxy/drop_reasons.hpp"
#include "proxy/session.hpp"

namespace infergate::proxy {
namespace {
constexpr auto kTuple = net::as_tuple(net::use_awaitable);
}  // namespace

std::optional<ErrorKind> Session::queue_behind_waiters() {
  if (decision_value_.priority >= 0) {
    decision_value_.verdict = Verdict::queue;
    return std::nullopt;
  }
  drop_reason_ = kDroppedSaturated;
  worker_.metrics().shed(decision_value_.model->name, decision_value_.priority);
  return ErrorKind::saturated;
}

net::awaitable<std::optional<ErrorKind>> Session::wait_in_queue() {
  WaitRoom& room = worker_.waits();
  // The watch read, as during a relay: a client that leaves wakes the wait at once
  // (on_client_read cancels the ticket's timer), and its request leaves the queue.
  relaying_ = true;
  client_gone_ = false;
  start_client_read();
  phase_ = Phase::queued;
  deadline_ = Clock::time_point::max();  // the queue's max_wait bounds the wait, not the watchdog
  if (worker_.draining()) {
    drop_reason_ = kDroppedShuttingDown;
    co_return ErrorKind::shutting_down;
  }
  ticket_ = std::make_shared<WaitTicket>(client_.get_executor());
  record_.queue_start_us = record_now();
  struct QueueEnd {  // however the wait ends
    Session& s;
    ~QueueEnd() { s.record_.queue_end_us = s.record_now(); }
  } queue_end{*this};
  // A copy: scheduling again replaces snapshot_, which owns the pool's name.
  std::string pool = decision_value_.target->pool->name;
  if (!room.enqueue(ticket_, *decision_value_.target->pool, decision_value_.priority, decided_at_)) {
    drop_reason_ = kDroppedQueueFull;
    co_return ErrorKind::queue_full;
  }
  for (;;) {
    ticket_->timer.expires_at(ticket_->deadline());
    auto wait = ticket_->timer.async_wait(kTuple);
    co_await std::move(wait);
    switch (room.settle(*ticket_, client_gone_, worker_.draining(), Clock::now())) {
      case WaitOutcome::waiting:
        continue;  // a late wake from an earlier turn
      case WaitOutcome::cancelled:
        co_return std::nullopt;
      case WaitOutcome::displaced:
        drop_reason_ = kDroppedDisplaced;
        co_return ErrorKind::queue_full;
      case WaitOutcome::expired:
        drop_reason_ = kDroppedTtl;
        co_return ErrorKind::queue_full;
      case WaitOutcome::shut_down:
        drop_reason_ = kDroppedShuttingDown;
        co_return ErrorKind::shutting_down;
      case WaitOutcome::admitted:
        break;
    }
    if (client_gone_) co_return std::nullopt;
    // Its turn: scheduled again on the current table (which may have gained endpoints).
    if (std::optional<ErrorKind> refusal = schedule_request()) co_return refusal;
    if (decision_value_.verdict == Verdict::dispatch) co_return std::nullopt;
    if (decision_value_.target->pool->name == pool) {
      room.report(ticket_, WaitRoom::Report::requeue);
      continue;
    }
    // Another target's pool (a model split over pools): a newcomer there.
    room.report(ticket_, WaitRoom::Report::sent);
    pool = decision_value_.target->pool->name;
    if (!room.enqueue(ticket_, *decision_value_.target->pool, decision_value_.priority, decided_at_)) {
      drop_reason_ = kDroppedQueueFull;
      co_return ErrorKind::queue_full;
    }
  }
}

void Session::leave_queue(bool dispatched) {
  if (!ticket_) return;
  WaitRoom& room = worker_.waits();
  if (dispatched) room.report(ticket_, WaitRoom::Report::sent);
  room.abandon(*ticket_);
  ticket_.reset();
}

}  // namespace infergate::proxy
