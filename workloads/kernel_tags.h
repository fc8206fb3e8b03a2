#pragma once
/// The kernel tags the lowerings put on their instructions, and the one list of them: report
/// order, the table's kernel rows and the sweep CSV's kernel columns all come from kKernelTags,
/// so a new kernel is one constant and one entry here.

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace tpusim {

inline constexpr std::string_view kTagKvAppend = "kv.append";
inline constexpr std::string_view kTagIndexerProj = "indexer.proj";
inline constexpr std::string_view kTagIndexerScores = "indexer.scores";
inline constexpr std::string_view kTagIndexerTopk = "indexer.topk";
inline constexpr std::string_view kTagAttnProj = "attn.proj";
inline constexpr std::string_view kTagAttnGather = "attn.gather";
inline constexpr std::string_view kTagAttnLoad = "attn.load";
inline constexpr std::string_view kTagAttnQk = "attn.qk";
inline constexpr std::string_view kTagAttnSoftmax = "attn.softmax";
inline constexpr std::string_view kTagAttnPv = "attn.pv";

/// Every tag a lowering emits, in pipeline order.
inline constexpr std::array kKernelTags = {
    kTagKvAppend,   kTagIndexerProj, kTagIndexerScores, kTagIndexerTopk, kTagAttnProj,
    kTagAttnGather, kTagAttnLoad,    kTagAttnQk,        kTagAttnSoftmax, kTagAttnPv};

/// kKernelTags as strings.
inline const std::vector<std::string>& kernel_tags() {
  static const std::vector<std::string> tags(kKernelTags.begin(), kKernelTags.end());
  return tags;
}

}  // namespace tpusim
