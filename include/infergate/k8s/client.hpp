// The Kubernetes API client: how to reach the API server (ClusterAccess), and a ClusterWatcher
// that keeps a local copy of chosen resources in sync with the reflector pattern (list with
// paging, then watch with bookmarks; relist on 410; resume a dropped watch from the last
// resourceVersion; back off with jitter on errors; a resource whose CRD is absent is disabled and
// looked for again later).
//
// No Beast or Asio here: the transport lives in src/k8s/*.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace infergate::k8s {

// A configuration problem (missing file, malformed kubeconfig, no current context...). The message
// names the file and the field.
struct AccessError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Everything needed to reach one API server. Each credential is either inline data or a file; a
// file is read when a connection is made, so rotated files are picked up.
struct ClusterAccess {
  std::string server;            // "https://host:port" (or "http://host:port" for tests)
  std::string ca_pem;            // CA certificate(s), PEM; or
  std::string ca_file;           //   a PEM file
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;   // name checked in the server certificate and sent as SNI
                                 // (default: the host of `server`)
  std::string token;             // static bearer token; or
  std::string token_file;        //   a file re-read whenever it changes (and after a 401)
  std::string client_cert_pem;   // client certificate chain, PEM; or
  std::string client_cert_file;
  std::string client_key_pem;    // its private key, PEM; or
  std::string client_key_file;
  std::string default_namespace = "default";  // the service account's / context's namespace
};

// In-cluster access: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, the token file
// (kept as a file: kubelet rotates it), ca.crt and namespace from the service-account directory
// `sa_dir`; empty means $INFERGATE_SA_DIR or else /var/run/secrets/kubernetes.io/serviceaccount.
// Throws AccessError when the variables or the token are missing.
ClusterAccess in_cluster_access(const std::string& sa_dir = {});

// Access described by a kubeconfig file: `context` (empty: current-context) -> cluster
// (server, certificate-authority[-data], insecure-skip-tls-verify, tls-server-name) and user
// (token, tokenFile, client-certificate[-data], client-key[-data]). Relative file paths are
// relative to the kubeconfig's directory. Throws AccessError naming the file and what is wrong
// (unreadable, not YAML, unknown context, exec/auth-provider plugins, which are not supported).
ClusterAccess kubeconfig_access(const std::string& path, const std::string& context = {});

// The same over a list of files merged as kubectl merges $KUBECONFIG: files that do not exist are
// skipped, the first current-context set wins, and so does the first definition of each cluster,
// user and context name (its relative paths relative to its own file).
ClusterAccess kubeconfig_access(const std::vector<std::string>& paths,
                                const std::string& context = {});

// $KUBECONFIG split at ':' (empty entries dropped); empty when it is not set.
std::vector<std::string> kubeconfig_env_list();

// client-go's order: `kubeconfig_path` if given, else the files of $KUBECONFIG (merged), else
// in-cluster when $KUBERNETES_SERVICE_HOST is set, else ~/.kube/config. Throws AccessError.
ClusterAccess default_access(const std::string& kubeconfig_path = {});

// One resource type of the API, e.g. {"inference.networking.k8s.io", "v1", "inferencepools"} or
// {"", "v1", "pods"} (the core group is empty).
struct ResourceKind {
  std::string group;
  std::string version;
  std::string plural;
  bool namespaced = true;

  std::string api_version() const;  // "v1" or "group/version"
  std::string display() const;      // "inferencepools.inference.networking.k8s.io/v1"
};

// What one reflector watches: optionally a single namespace and label/field selectors, and which
// fields of each object it keeps.
struct WatchScope {
  std::string namespace_name;  // empty: all namespaces (or a cluster-scoped resource)
  std::string label_selector;  // e.g. "app=vllm"
  std::string field_selector;  // e.g. "status.phase=Running"
  // Paths of the fields kept, e.g. {"/metadata/labels", "/status/podIP"} (plain names between
  // slashes); empty: the whole object. Like client-go's transform functions: a Pod is ~10 KB as
  // served (managedFields, spec, containerStatuses), the few fields a consumer reads a few hundred
  // bytes, and a change to any other field is no change to the reflector (no callback).
  std::vector<std::string> keep_fields;
};

// The current objects of one reflector: key "namespace/name" (just "name" for cluster-scoped
// resources) -> the object's JSON as the server sent it (minified), or only the fields its
// WatchScope keeps. Items of a list
// response may lack `kind`/`apiVersion` (the API server omits them for built-in types): decode by
// the ResourceKind you registered.
using ObjectMap = std::map<std::string, std::string>;

// Called on the watcher's thread with the whole current object set after each change (changes that
// arrive together are coalesced into one call). `synced` is false until the first full list has
// completed; a resource whose CRD is absent (404) counts as synced and empty. Keep it short: the
// watcher's event loop waits for it. The map is only valid during the call: a consumer that
// rebuilds something later (debounced) should note the change and read() then, rather than copy
// every object on every change.
using ChangeCallback = std::function<void(const ObjectMap& objects, bool synced)>;

// Where a reflector stands, for logs and /debug pages.
enum class SourceState {
  starting,   // first list not done yet
  synced,     // listed and watching
  absent,     // 404: the resource (CRD) does not exist; checked again every `absent_recheck`
  denied,     // 401/403: retried with backoff
  failing,    // transport or server errors: retried with backoff
};
const char* to_string(SourceState state);

// Timing knobs; the defaults follow client-go. Tests shorten them.
struct WatchTuning {
  std::chrono::milliseconds request_timeout{30'000};      // one list page / one API request;
                                                          //   connecting a watch
  std::chrono::seconds watch_timeout_min{300};            // timeoutSeconds of each watch is random
  std::chrono::seconds watch_timeout_max{600};            //   in [min, max], like client-go
  std::chrono::milliseconds watch_idle_timeout{150'000};  // no byte for this long: reconnect
                                                          //   (bookmarks come about every minute)
  std::chrono::milliseconds backoff_initial{800};         // first wait after an error
  std::chrono::milliseconds backoff_max{30'000};          // cap of the exponential backoff
  std::chrono::milliseconds absent_recheck{30'000};       // how often an absent CRD is looked for
  std::uint32_t page_size = 500;                          // `limit` of each list page
};

// Counters over all reflectors of a watcher (cheap atomics; read from any thread).
struct WatchCounters {
  std::uint64_t lists = 0;          // list requests (pages) that succeeded
  std::uint64_t relists = 0;        // full relists after the first (410, errors)
  std::uint64_t watches = 0;        // watch requests started
  std::uint64_t events = 0;         // ADDED/MODIFIED/DELETED applied
  std::uint64_t bookmarks = 0;
  std::uint64_t gone = 0;           // 410 seen (status or ERROR event)
  std::uint64_t errors = 0;         // failed requests and broken streams
  std::uint64_t token_reloads = 0;  // token file re-read because it changed or after a 401
};

// Owns one thread and event loop, and the reflectors running on it over one ClusterAccess.
class ClusterWatcher {
 public:
  using Id = std::uint64_t;

  // Throws AccessError when the server URL or the TLS material (CA, client certificate and key)
  // cannot be used.
  explicit ClusterWatcher(ClusterAccess access, WatchTuning tuning = {});
  ~ClusterWatcher();  // stop()s
  ClusterWatcher(const ClusterWatcher&) = delete;
  ClusterWatcher& operator=(const ClusterWatcher&) = delete;

  // Adds a reflector for `kind` in `scope`; `on_change` gets its object set on every change. Any
  // thread (also from inside a callback), before or after start().
  Id watch(ResourceKind kind, WatchScope scope, ChangeCallback on_change);

  // Stops one reflector: its callback is not called once unwatch() returns (called from inside a
  // callback, after that callback). Unknown ids are ignored. Any thread.
  void unwatch(Id id);

  // Writes the status subresource of one object with a JSON merge patch (PATCH
  // .../NAME/status, application/merge-patch+json), sent from the watcher's thread; not retried
  // (write again on the next change). `done`, if given, runs on that thread with the HTTP status
  // (0: no response) and the server's message or the transport error. A 403 is logged with the
  // permission missing (verb=patch on PLURAL/status). Any thread; sent once the watcher started.
  using PatchDone = std::function<void(int status, const std::string& message)>;
  void patch_status(const ResourceKind& kind, const std::string& namespace_name,
                    const std::string& name, std::string merge_patch, PatchDone done = {});

  // Starts the thread. Idempotent.
  void start();

  // Stops every reflector and joins the thread. Idempotent; any thread but the watcher's.
  void stop();

  // Calls `reader` with one reflector's current objects and whether it is synced, while no event
  // changes them; nothing for ids unknown or unwatched. Any thread, also from inside a callback.
  // Keep it short: that reflector's events wait for it.
  void read(Id id, const std::function<void(const ObjectMap& objects, bool synced)>& reader) const;

  SourceState state(Id id) const;  // `starting` for ids unknown or unwatched
  WatchCounters counters() const;
  const ClusterAccess& access() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace infergate::k8s
