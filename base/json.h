#pragma once
/// The JSON type of reports, child-process results and config dumps: keys keep insertion order,
/// so every report lists its keys in a stable, readable order.

#include <nlohmann/json.hpp>

namespace tpusim {

using Json = nlohmann::ordered_json;

}  // namespace tpusim
