#pragma once
/// Text files compiled into the binary (cmake/embed_files.cmake), so tpusim runs from any
/// directory: each folder that owns data files exposes them as {stem, text} pairs sorted by stem.

#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace tpusim {

using EmbeddedFiles = std::vector<std::pair<std::string_view, std::string_view>>;

/// The text of `stem` in `files`, if there is one.
inline std::optional<std::string_view> find_embedded(const EmbeddedFiles& files,
                                                     std::string_view stem) {
  for (const auto& [name, text] : files)
    if (name == stem) return text;
  return std::nullopt;
}

}  // namespace tpusim
