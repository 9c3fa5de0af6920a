#pragma once
// "did you mean 'X'?" for misspelt keys, names and keywords.
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace netpolicy::policy {

// Optimal string alignment distance (an adjacent transposition costs 1),
// giving up early: returns max_distance + 1 as soon as the distance is
// known to exceed max_distance.
std::size_t edit_distance(std::string_view a, std::string_view b, std::size_t max_distance);

// The candidate closest to `word` within edit distance 2 (the first one on a
// tie), or nullopt. `word` itself never counts as a suggestion.
std::optional<std::string> closest_match(std::string_view word,
                                         std::span<const std::string_view> candidates);

}  // namespace netpolicy::policy
