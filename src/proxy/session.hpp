// One client connection (internal to src/proxy): reads requests with limits and timeouts
// (keep-alive, pipelining), answers the gateway's own routes, and forwards model requests
// through the relay. A session is owned by its coroutine frame (run_session); nothing else
// holds it, and it never throws on the data path.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <new>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "infergate/errors.hpp"
#include "infergate/request_facts.hpp"
#include "infergate/routing.hpp"
#include "proxy/connection_limits.hpp"
#include "proxy/front_door.hpp"
#include "proxy/http_parse.hpp"
#include "proxy/read_blocks.hpp"
#include "proxy/upstream_pool.hpp"
#include "proxy/wait_queue.hpp"
#include "proxy/worker.hpp"
#include "routing/usage_reader.hpp"
#include "telemetry/request_record.hpp"

namespace boost::asio::ssl { class context; }

namespace infergate::proxy {

struct TlsStream;  // proxy/tls.hpp: only the files that use it pay for asio's ssl headers

// What one read asks for by default; large bodies ask for more (Session::read_room).
inline constexpr std::size_t kReadChunk = 16 * 1024;
// What the read that waits for a request asks for: a whole usual request, and all the memory an
// idle keep-alive connection keeps for reading (the buffer grows once a request needs more).
inline constexpr std::size_t kIdleRead = 4 * 1024;

// Serves one accepted client connection until it closes.
// `slot` is the connection's place under the connection limits, given back when it ends.
net::awaitable<void> run_session(Worker& worker, tcp::socket socket, ConnectionSlot slot);

// What the session is waiting for; decides which timeout applies and what its expiry does.
enum class Phase : std::uint8_t {
  none,
  idle,        // between requests (keepalive_idle): expiry closes quietly
  header,      // request head (client_header): 408
  body,        // request body (client_body): 408
  writing,     // a local answer to the client (client_body)
  connect,     // TCP connect to an endpoint (connect): next endpoint
  first_byte,  // request sent, waiting for the response head (first_byte): 504
  streaming,   // relaying the response (stream_idle): the stream ends
  queued,      // in the pool's wait queue: bounded by the queue's max_wait, not by the watchdog
};

// The client's read buffer. Unlike beast::flat_buffer, consuming never moves the region an
// outstanding read is filling: the session parses one request while the read that watches the
// client (and collects the next pipelined request) is still in progress.
class InputBuffer {
 public:
  explicit InputBuffer(std::size_t max_size) : max_(max_size) {}
  const char* data() const noexcept { return buf_.get() + head_; }
  std::size_t size() const noexcept { return tail_ - head_; }
  std::size_t max_size() const noexcept { return max_; }
  void consume(std::size_t n) noexcept {
    head_ += std::min(n, size());
    if (head_ == tail_ && !reading_) head_ = tail_ = 0;
  }
  void clear() noexcept {
    if (!reading_) head_ = tail_ = 0;
  }
  // The space for one read of `n` bytes (n <= max_size() - size()) after the unread bytes.
  // Only one read at a time; commit() ends it.
  boost::asio::mutable_buffer prepare(std::size_t n);
  void commit(std::size_t n) noexcept {
    tail_ += n;
    reading_ = false;
  }

 private:
  std::unique_ptr<char[]> buf_;
  std::size_t capacity_ = 0, head_ = 0, tail_ = 0, max_;
  bool reading_ = false;
};

// One parked completion handler of void(error_code), stored in place (no allocation). A
// coroutine parks here while the session's single client read is outstanding.
class ReadWaiter {
 public:
  ReadWaiter() = default;
  ReadWaiter(const ReadWaiter&) = delete;
  ReadWaiter& operator=(const ReadWaiter&) = delete;
  ~ReadWaiter() {
    if (destroy_) destroy_(storage_);
  }
  explicit operator bool() const noexcept { return complete_ != nullptr; }

  template <typename Handler>
  void park(Handler&& handler) {
    using H = std::decay_t<Handler>;
    static_assert(sizeof(H) <= sizeof(storage_) && alignof(H) <= alignof(std::max_align_t));
    new (storage_) H(std::forward<Handler>(handler));
    complete_ = [](void* p, boost::system::error_code ec) {
      H handler(std::move(*static_cast<H*>(p)));
      static_cast<H*>(p)->~H();
      std::move(handler)(ec);
    };
    destroy_ = [](void* p) { static_cast<H*>(p)->~H(); };
  }

  // Resumes the parked handler; it may park a new one while it runs.
  void complete(boost::system::error_code ec) {
    auto complete = complete_;
    complete_ = nullptr;
    destroy_ = nullptr;
    complete(storage_, ec);
  }

 private:
  alignas(std::max_align_t) unsigned char storage_[128];
  void (*complete_)(void*, boost::system::error_code) = nullptr;
  void (*destroy_)(void*) = nullptr;
};

class Session final : public SessionHook {
 public:
  Session(Worker& worker, tcp::socket socket);
  ~Session() override;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  net::awaitable<void> run();
  void on_drain() override;

 private:
  enum class ReadResult : std::uint8_t { request, closed, refused };
  enum class Attempt : std::uint8_t { head, stale, failed, timeout, gone };
  using Buffer = boost::beast::basic_flat_buffer<ReadBlockAllocator<char>>;

  // session.cpp: the connection, local routes, refusals; session_io.cpp: deadlines, reads,
  // writes.
  net::awaitable<void> serve();
  // The watchdog: a timer handler, not a coroutine (an idle connection keeps no frame for it),
  // re-armed when it fires; run() waits for its last handler before the session ends.
  void arm_watchdog();
  void on_watchdog();
  net::awaitable<void> settle_watchdog();
  net::awaitable<ReadResult> read_request();
  net::awaitable<bool> dispatch();  // false: close the connection
  net::awaitable<bool> route_model_request();
  std::optional<ErrorKind> decide();  // facts_ and decision_value_, or a refusal
  std::optional<ErrorKind> schedule_request();  // decision_value_ from facts_ and the headers
  void read_routing_headers();  // session_id_, objective_, content_type_, the key headers
  // Front door (auth:): false when the request needs a key and has no valid one; sets key_.
  bool authenticate(std::string_view path);
  std::optional<ErrorKind> admit();  // the key's limits for facts_: charge_ or a refusal
  // session.cpp: a Verdict::queue decision waits in its pool's queue until it may be dispatched
  // (nullopt, decision_value_ says dispatch), is refused, or its client leaves (client_gone_).
  net::awaitable<std::optional<ErrorKind>> wait_in_queue();
  std::optional<ErrorKind> queue_behind_waiters();  // queue a dispatch verdict, or shed it
  // The request is done with the queue: an admitted one passes its pool's turn on.
  void leave_queue(bool dispatched);
  net::awaitable<bool> list_models();
  net::awaitable<bool> get_model(std::string_view encoded_id);
  // Answers with the OpenAI-shaped error of `kind`; `message_` (if set) replaces the default.
  net::awaitable<bool> refuse(ErrorKind kind, bool close = false, std::string_view allow = {});
  // Writes a JSON answer with the header lines in `extra_`.
  net::awaitable<bool> write_local(unsigned status, std::string_view body, bool close);
  net::awaitable<void> linger_close();
  void set_deadline(Phase phase, std::chrono::milliseconds after);
  void on_expired();

  // The client socket has at most one read outstanding, shared by request reading and, during
  // a relay, the watch for a client that leaves. A relay's last watch read is not cancelled:
  // the next request read adopts it (no cancellation round trip per request).
  void start_client_read();
  void on_client_read(boost::system::error_code ec, std::size_t n);
  // Resumes once the outstanding read (started if none) appended to in_ or failed. Errors stick.
  net::awaitable<boost::system::error_code> wait_client_read();
  // Before the frame ends: no read may complete into a destroyed session.
  net::awaitable<void> settle_client_read();
  // Writes everything: one non-blocking attempt first (the usual case on a healthy socket costs
  // no event-loop round trip), the rest asynchronously. `buffers` is consumed in place.
  net::awaitable<boost::system::error_code> write_fully(tcp::socket& socket,
                                                        std::span<net::const_buffer> buffers);
  // To the client: write_fully on plain HTTP (no extra frame), write_tls over TLS.
  net::awaitable<boost::system::error_code> write_client(std::span<net::const_buffer> buffers) {
    for (const net::const_buffer& b : buffers) record_.bytes_out += b.size();  // the access log's
    return tls_ ? write_tls(buffers) : write_fully(client_, buffers);
  }
  // One gathered TLS record per write (the engine would make one per buffer), asynchronously:
  // a synchronous attempt could interleave with the pending TLS read.
  net::awaitable<boost::system::error_code> write_tls(std::span<net::const_buffer> buffers);
  net::awaitable<bool> tls_handshake();  // false: close
  net::awaitable<void> tls_close_notify();

  // session_record.cpp: the request's id, trace context and record (telemetry/).
  void begin_record();  // the request's first byte arrived
  std::int32_t record_now() const noexcept;  // microseconds since begin_record()
  // The id and trace headers, while read_routing_headers() walks the fields: true if taken.
  bool read_trace_header(std::string_view name, std::string_view value) noexcept;
  void start_trace();  // the method and path known: request id and trace ids
  const telemetry::FixedText<32>& request_id();  // made now if the request had none yet
  void append_trace_headers(std::string& head);  // toward the server
  void append_request_id(std::string& head);     // toward the client
  void note_status(unsigned status) noexcept;    // the response head the client gets
  void note_first_body_byte() noexcept;
  void note_reason(ErrorKind kind) noexcept;
  void note_attempt(const Decision& decision, const Endpoint& endpoint) noexcept;
  void finish_record();  // the request ended: hand the record to the log and the tracer

  // relay.cpp: forwarding one request and streaming its response back.
  net::awaitable<bool> forward(const RequestFacts& facts, const Decision& decision);
  net::awaitable<void> relay(const Decision& decision, std::string_view body);
  net::awaitable<Attempt> exchange(UpstreamLease& lease, std::string_view body);
  // `prefill` is released at the first body byte, `in_flight` once the upstream response is whole.
  net::awaitable<void> stream(UpstreamLease& lease, const EndpointPtr& endpoint,
                              InFlight& in_flight, PendingPrefill& prefill);
  // The upstream died mid-body: a last SSE error event and a clean end when the body is an event
  // stream (true once written: the connection may serve the next request), else nothing.
  net::awaitable<bool> end_stream_with_error(bool sse);
  void build_upstream_head(std::size_t content_length, const Decision& decision);
  void order_attempts(const Decision& decision);
  void build_response_head(const Endpoint& endpoint, bool chunked, bool close);
  // Usage accounting while the response streams (usage_reader.hpp): the pieces_ of one read.
  void start_usage(bool event_stream);
  void tap_usage();
  void settle_usage(WorkerMetrics::ModelSeries& series);
  bool write_pieces(bool chunked, bool last);  // fills iov_; false when there is nothing to write
  std::size_t read_room(const Buffer& buffer) const noexcept;
  std::size_t read_room(const InputBuffer& buffer) const noexcept;

  Worker& worker_;
  tcp::socket client_;
  std::unique_ptr<TlsStream> tls_;  // set on a TLS listener; wraps client_
  std::string tls_out_;             // write_tls's gathering buffer
  net::steady_timer timer_;  // the watchdog's; re-armed only when a deadline comes sooner
  Clock::time_point deadline_ = Clock::time_point::max();
  Clock::time_point armed_ = Clock::time_point::max();
  Phase phase_ = Phase::none;
  Phase expired_ = Phase::none;
  bool finished_ = false;
  bool watchdog_armed_ = false;
  bool keep_alive_ = true;
  bool client_gone_ = false;
  bool linger_ = false;  // close after a refusal that left request bytes unread
  bool relay_keep_ = false;
  std::optional<ErrorKind> relay_error_;  // what a forwarded request failed with, for metrics
  bool relaying_ = false;
  bool read_pending_ = false;
  std::size_t read_hint_ = kReadChunk;  // bytes the next client read asks for
  boost::system::error_code read_error_;
  ReadWaiter read_waiter_;
  std::string peer_ip_;

  // The request, reused across keep-alive requests.
  InputBuffer in_;
  std::optional<RequestParser> request_;
  FieldList request_fields_;
  std::string target_;
  std::string body_;
  std::string rewritten_;
  std::string upstream_head_;
  std::vector<std::uint32_t> attempt_order_;  // indices into the decision's endpoints
  const Decision* decision_ = nullptr;  // during stream(): for the debug headers
  Clock::time_point decided_at_;         // when decision_value_ was made
  std::string_view session_id_;          // header x-session-id (views into request_fields_)
  std::string_view objective_;           // header x-gateway-inference-objective
  std::string_view content_type_;        // header content-type (a form is read as one)
  std::string_view authorization_;       // header authorization (the front door's key)
  std::string_view api_key_;             // header x-api-key
  std::string_view drop_reason_;         // a scheduling refusal's x-gateway-request-dropped-reason
  TicketPtr ticket_;                     // while the request is (or was) in a wait queue
  unsigned attempts_ = 0;
  std::string message_;     // a refusal's specific message
  std::string local_body_;  // a local answer's body
  std::string extra_;       // a local answer's extra header lines
  std::string_view routed_model_;  // metrics label: a model of `snapshot_`, or empty
  SnapshotPtr snapshot_;
  // The caller, when auth: is on. key_ points into keys_, which it keeps alive for the request.
  std::shared_ptr<const auth::KeyTable> keys_;
  const auth::ApiKey* key_ = nullptr;
  WorkerMetrics::TeamSeries* team_ = nullptr;
  limits::Charge charge_;              // what admission reserved; settled with the usage
  std::string rate_headers_;           // x-ratelimit-* lines for every response to this request
  std::chrono::milliseconds retry_after_{0};  // a limit refusal's wait (Retry-After)
  bool usage_injected_ = false;        // the body asks for stream usage the client did not
  bool strip_usage_ = false;           // and its usage chunk is left out of the response
  unsigned response_status_ = 0;       // the upstream response's status; 0: none
  enum class UsageTap : std::uint8_t { none, json, sse } usage_tap_ = UsageTap::none;
  BodyTail body_tail_;
  SseUsageTap sse_tap_;
  std::vector<std::string_view> tapped_;  // pieces_ without the usage chunk the client didn't ask for
  RequestFacts facts_;
  Decision decision_value_;
  // What this request did, for the access log and the tracer (session_record.cpp).
  telemetry::RequestRecord record_;
  Clock::time_point record_start_;
  bool record_started_ = false;
  bool first_body_byte_ = false;
  bool trace_continued_ = false;  // the client's traceparent (and tracestate) were valid
  std::string_view request_id_in_, traceparent_in_, tracestate_in_;  // views into request_fields_

  // The response, reused across requests.
  Buffer upstream_in_;
  std::size_t fed_ = 0;  // bytes of upstream_in_ parsed but not yet written to the client
  std::optional<ResponseParser> response_;
  FieldList response_fields_;
  std::string reason_;
  std::vector<std::string_view> pieces_;
  std::string head_;
  std::vector<net::const_buffer> iov_;
  std::array<char, 24> chunk_head_{};
  std::array<char, 2> tail_{};  // last two body bytes sent, to end an SSE event before an error
  UpstreamLease* upstream_ = nullptr;  // the lease in use, closed by the watchdog or the watch
};

}  // namespace infergate::proxy
