#pragma once
/// A queue kept sorted by a key, for event times that arrive almost in order (a DMA engine's
/// request completions, its loaded data waiting for SRAM). Elements live contiguously; popping
/// the minimum is O(1); an insertion behind the last element (a stream, in order) is an append,
/// any other (gathers: completions out of order) finds its place by a branch-free binary search
/// and shifts the later elements with one memmove, which measured faster than a binary heap's
/// O(log n) sifts with their mispredicted branches. Equal keys leave in
/// arrival order, which makes results independent of any standard library's heap layout.

#include <algorithm>
#include <cstddef>
#include <vector>

namespace tpusim {

/// `KeyOf` maps an element to its ordering key. `T` must be trivially copyable.
template <class T, class KeyOf>
class SortedQueue {
 public:
  bool empty() const { return m_head == m_tail; }
  std::size_t size() const { return m_tail - m_head; }
  void clear() { m_head = m_tail = 0; }
  /// Replaces the contents with `n` copies of `x` (all equal, so already sorted).
  void fill(std::size_t n, const T& x) {
    if (m_buf.size() < n) m_buf.resize(n);
    std::fill(m_buf.begin(), m_buf.begin() + static_cast<std::ptrdiff_t>(n), x);
    m_head = 0;
    m_tail = n;
  }
  /// The element with the smallest key (the earliest inserted among equals).
  const T& front() const { return m_buf[m_head]; }
  void pop_front() {
    if (++m_head == m_tail) m_head = m_tail = 0;
  }
  void push(const T& x) {
    if (m_tail == m_buf.size()) make_room();
    const auto k = KeyOf{}(x);
    std::size_t pos = m_tail;
    if (pos > m_head && k < KeyOf{}(m_buf[pos - 1])) pos = upper_bound_before_last(k);
    // Equal keys stay in arrival order: x goes after every key <= k.
    std::copy_backward(m_buf.begin() + static_cast<std::ptrdiff_t>(pos),
                       m_buf.begin() + static_cast<std::ptrdiff_t>(m_tail),
                       m_buf.begin() + static_cast<std::ptrdiff_t>(m_tail + 1));
    m_buf[pos] = x;
    ++m_tail;
  }

 private:
  /// The first position in [head, tail - 1] whose key is > k, knowing the last one's is. Gather
  /// completions land a few dozen places from the back of a queue of hundreds, at random: a
  /// branchy search mispredicted at every level and dominated the DMA engine's profile. Probes
  /// at distances 1, 2, 4, ... from the back are independent loads whose results are only
  /// summed; their count brackets the place, and a search halving by a multiply (no branch)
  /// finishes inside the bracket.
  template <class K>
  std::size_t upper_bound_before_last(const K& k) const {
    const T* b = m_buf.data();
    const std::size_t last = m_tail - 1;
    const std::size_t n = last - m_head;  // candidates before the last
    std::size_t c = 0;                    // probes whose key is > k: the first c
    for (std::size_t d = 1; d <= n; d *= 2)
      c += static_cast<std::size_t>(KeyOf{}(b[last - d]) > k);
    // The place is at most the last probe above k, and past the first one not above it.
    const std::size_t hi = c == 0 ? last : last - (std::size_t{1} << (c - 1));
    const std::size_t lo =
        c < 64 && (std::size_t{1} << c) <= n ? last - (std::size_t{1} << c) + 1 : m_head;
    const T* first = b + lo;
    std::size_t len = hi - lo;
    while (len > 1) {
      const std::size_t half = len / 2;
      // A multiply, not a ?: (which GCC turns back into a branch here).
      first += static_cast<std::size_t>(KeyOf{}(first[half - 1]) <= k) * half;
      len -= half;
    }
    if (len == 1 && KeyOf{}(*first) <= k) ++first;
    return static_cast<std::size_t>(first - b);
  }

  void make_room() {
    const std::size_t n = size();
    // Grow while more than half full, so compactions stay amortised O(1) per push.
    if (2 * n >= m_buf.size()) {
      std::vector<T> next(std::max<std::size_t>(16, 2 * m_buf.size()));
      std::copy(m_buf.begin() + static_cast<std::ptrdiff_t>(m_head),
                m_buf.begin() + static_cast<std::ptrdiff_t>(m_tail), next.begin());
      m_buf.swap(next);
    } else {
      std::copy(m_buf.begin() + static_cast<std::ptrdiff_t>(m_head),
                m_buf.begin() + static_cast<std::ptrdiff_t>(m_tail), m_buf.begin());
    }
    m_head = 0;
    m_tail = n;
  }

  std::vector<T> m_buf;
  std::size_t m_head = 0;  ///< first live element
  std::size_t m_tail = 0;  ///< one past the last
};

}  // namespace tpusim
