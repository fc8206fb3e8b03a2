#pragma once
/// Human-readable numbers with units for tables and messages, and parsing of sizes on the CLI.

#include <cstdint>
#include <string>

namespace tpusim {

/// 1536 -> "1.5k", 2097152 -> "2m": powers of two, for token counts and element counts.
std::string format_count(double n);
/// Bytes with binary prefixes: "656 B", "20.5 MiB", "4.9 GiB".
std::string format_bytes(double bytes);
/// Bandwidth in decimal units: "819.2 GB/s".
std::string format_bandwidth(double bytes_per_s);
/// Seconds scaled to s/ms/us/ns: "3.4 ms".
std::string format_seconds(double s);
/// Cycles with SI prefixes: "1.23 M cycles" style without the word: "1.23M".
std::string format_si(double n);
/// FLOPs: "2.72 GFLOP".
std::string format_flops(double flops);
/// Wall time for progress lines, rounded to the second: "7s", "2m05s", "1h02m03s".
std::string format_duration(double s);

/// Parses "128k", "4m", "2048" (k and m are powers of two). Throws UserError naming `what`.
std::uint64_t parse_size(const std::string& text, const std::string& what);

}  // namespace tpusim
