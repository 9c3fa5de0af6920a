#include "policy/spelling_hint.h"

#include <algorithm>
#include <array>
#include <vector>

namespace netpolicy::policy {

namespace {
constexpr std::size_t kMaxHintDistance = 2;
// Longer words are not names anyone misspelt; skipping them bounds the work.
constexpr std::size_t kMaxHintLength = 128;
}  // namespace

std::size_t edit_distance(std::string_view a, std::string_view b, std::size_t max_distance) {
  const std::size_t too_far = max_distance + 1;
  if ((a.size() > b.size() ? a.size() - b.size() : b.size() - a.size()) > max_distance)
    return too_far;
  // Three rows of the dynamic programme: two back (for transpositions),
  // previous and current. On the stack for names (the usual case): hints
  // compare one word against thousands of names.
  constexpr std::size_t kStackRow = 130;
  std::array<std::size_t, 3 * kStackRow> stack_rows;
  std::vector<std::size_t> heap_rows;
  std::size_t* rows = stack_rows.data();
  const std::size_t width = b.size() + 1;
  if (width > kStackRow) {
    heap_rows.resize(3 * width);
    rows = heap_rows.data();
  }
  std::size_t* before = rows;
  std::size_t* previous = rows + width;
  std::size_t* current = rows + 2 * width;
  for (std::size_t j = 0; j < width; ++j) previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    std::size_t row_min = current[0];
    for (std::size_t j = 1; j < width; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      std::size_t d = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d = std::min(d, before[j - 2] + 1);
      current[j] = d;
      row_min = std::min(row_min, d);
    }
    // Row minima never decrease, so the distance can only be larger.
    if (row_min > max_distance) return too_far;
    std::size_t* recycled = before;
    before = previous;
    previous = current;
    current = recycled;
  }
  return std::min(previous[b.size()], too_far);
}

std::optional<std::string> closest_match(std::string_view word,
                                         std::span<const std::string_view> candidates) {
  if (word.empty() || word.size() > kMaxHintLength) return std::nullopt;
  std::optional<std::string_view> best;
  std::size_t best_distance = kMaxHintDistance + 1;
  for (std::string_view candidate : candidates) {
    if (candidate == word) continue;
    // Only a strictly closer candidate can win, so search within one less.
    std::size_t d = edit_distance(word, candidate, best_distance - 1);
    if (d < best_distance) {
      best = candidate;
      best_distance = d;
      if (d == 1) break;  // nothing closer than one edit but the word itself
    }
  }
  if (!best) return std::nullopt;
  return std::string{*best};
}

}  // namespace netpolicy::policy
