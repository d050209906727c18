// The wait-queue model: bands in a map (few distinct priorities), a list per band for FIFO order
// and O(1) removal by id through the index.
#include "routing/priority_queue.hpp"

namespace infergate {

void PriorityQueue::erase(std::map<int, Band, std::greater<>>::iterator band, Band::iterator entry) {
  index_.erase(entry->id);
  band->second.erase(entry);
  if (band->second.empty()) bands_.erase(band);
}

PriorityQueue::PushResult PriorityQueue::push(Id id, int priority, Clock::time_point now) {
  PushResult result;
  if (index_.contains(id)) return result;
  if (index_.size() >= config_.max_size) {
    if (bands_.empty()) return result;  // max_size 0: never queue
    auto lowest = std::prev(bands_.end());
    if (lowest->first >= priority) return result;
    result.displaced = lowest->second.back().id;  // the newest of the lowest band waited least
    erase(lowest, std::prev(lowest->second.end()));
  }
  Band& band = bands_[priority];
  band.push_back({id, priority, now});
  index_.emplace(id, std::make_pair(priority, std::prev(band.end())));
  result.queued = true;
  return result;
}

bool PriorityQueue::requeue(const Entry& entry) {
  if (index_.contains(entry.id)) return false;
  Band& band = bands_[entry.priority];
  band.push_front(entry);
  index_.emplace(entry.id, std::make_pair(entry.priority, band.begin()));
  return true;
}

bool PriorityQueue::remove(Id id) {
  const auto it = index_.find(id);
  if (it == index_.end()) return false;
  erase(bands_.find(it->second.first), it->second.second);
  return true;
}

const PriorityQueue::Entry* PriorityQueue::front() const {
  return bands_.empty() ? nullptr : &bands_.begin()->second.front();
}

std::optional<PriorityQueue::Entry> PriorityQueue::pop() {
  if (bands_.empty()) return std::nullopt;
  const auto band = bands_.begin();
  Entry entry = band->second.front();
  erase(band, band->second.begin());
  return entry;
}

void PriorityQueue::expire(Clock::time_point now, std::vector<Id>& expired) {
  for (auto band = bands_.begin(); band != bands_.end();) {
    auto next = std::next(band);
    // Entries of a band are in arrival order: stop at the first that may still wait.
    while (!band->second.empty() && now - band->second.front().enqueued > config_.max_wait) {
      expired.push_back(band->second.front().id);
      index_.erase(band->second.front().id);
      band->second.pop_front();
    }
    if (band->second.empty()) bands_.erase(band);
    band = next;
  }
}

std::optional<PriorityQueue::Clock::time_point> PriorityQueue::next_deadline() const {
  std::optional<Clock::time_point> oldest;
  for (const auto& [priority, band] : bands_) {
    if (!oldest || band.front().enqueued < *oldest) oldest = band.front().enqueued;
  }
  if (!oldest) return std::nullopt;
  return *oldest + config_.max_wait;
}

std::size_t PriorityQueue::band_size(int priority) const {
  const auto it = bands_.find(priority);
  return it == bands_.end() ? 0 : it->second.size();
}

}  // namespace infergate
