#include "sim/progress.h"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>

#include "base/format.h"

namespace tpusim {

std::string format_progress_shares(const std::vector<ProgressEntry>& e, bool totals) {
  std::string text;
  for (std::size_t i = 0; i < e.size(); ++i) {
    const ProgressEntry& p = e[i];
    const std::uint64_t retired = std::min(p.retired, p.total);
    const double pct =
        p.total ? std::floor(100.0 * static_cast<double>(retired) / static_cast<double>(p.total))
                : 0.0;
    text += fmt::format("{}{} {:.0f}%", i ? ", " : "", p.label, pct);
    if (totals) text += " of " + format_si(static_cast<double>(p.total));
  }
  return text;
}

std::string format_progress_line(std::string_view command, const std::vector<ProgressEntry>& e,
                                 double elapsed_s, std::size_t width) {
  // Elapsed time first, so a narrow terminal cuts the entries, not the clock. No time left is
  // estimated: instructions differ in cost by orders of magnitude within one run (a prefill's
  // first tiles wait for their loads), so any estimate would mislead.
  std::string line =
      fmt::format("{}: {}, instructions retired:{}{}", command, format_duration(elapsed_s),
                  e.empty() ? "" : " ", format_progress_shares(e));
  if (width > 0 && line.size() > width) line.resize(width);
  return line;
}

std::size_t progress_line_width() {
  winsize ws{};
  return ::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 ? ws.ws_col - 1u : 0u;
}

namespace {

// Simulations running at once across the command's processes: a sweep's workers (-j) each run
// one point's variant, an extrapolated one three samples at a time. Beyond this many, the
// extra ones are not shown (their Task is inert); 16 was too few for -j 8 with extrapolation.
constexpr int kSlots = 256;
constexpr std::size_t kLabelBytes = 40;
// A run shorter than this draws nothing; the line is redrawn at most this often.
constexpr std::int64_t kFirstDrawNs = 1'000'000'000;
constexpr std::int64_t kRedrawNs = 500'000'000;

// Lives in a MAP_SHARED page, so every process forked after start() writes the same slots.
// A slot's state is its generation (bumped by every claim) times 4 plus its phase: 0 free, 1
// being filled in, 2 running. Every change is a compare-and-swap from the exact state seen, so
// a slot freed on behalf of a dead process can never free the next claim of it, and a reader
// that sees the state change while it copies the slot drops what it copied.
constexpr std::uint64_t kFree = 0, kFilling = 1, kRunning = 2, kPhase = 3;

struct Slot {
  std::atomic<std::uint64_t> state;
  std::atomic<pid_t> owner;  // the process running the simulation
  std::atomic<pid_t> group;  // its process group: a sweep worker's pid, shared by its children
  std::atomic<std::uint64_t> retired;
  std::atomic<std::uint64_t> total;
  char label[kLabelBytes];
};
struct Board {
  Slot slots[kSlots];
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free &&
                  std::atomic<pid_t>::is_always_lock_free,
              "slots are shared between processes, so their atomics must not need a lock");

// Frees slot s if it is still in `seen` (a claimed state).
void free_slot(Slot& s, std::uint64_t seen) {
  s.state.compare_exchange_strong(seen, seen & ~kPhase, std::memory_order_acq_rel);
}

Board* g_board = nullptr;
pid_t g_drawer = -1;
std::int64_t g_start_ns = 0;
std::string g_command;
std::string g_suffix;
std::int64_t g_last_draw_ns = 0;
bool g_drawn = false;

std::int64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);  // one clock for every process of the command
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void write_stderr(const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::write(STDERR_FILENO, s.data() + off, s.size() - off);
    if (n <= 0) return;  // a line lost is not worth an error
    off += static_cast<std::size_t>(n);
  }
}

// Only the process start() ran in draws (the caller checks: getpid is a system call).
void draw_if_due() {
  if (!g_board) return;
  const std::int64_t now = now_ns();
  const std::int64_t since = now - g_start_ns;
  if (since < kFirstDrawNs || now - g_last_draw_ns < kRedrawNs) return;
  std::vector<ProgressEntry> entries = Progress::running();
  if (entries.empty()) return;  // between simulations: keep the last line
  g_last_draw_ns = now;
  g_drawn = true;
  write_stderr("\r" +
               format_progress_line(g_command, entries, static_cast<double>(since) * 1e-9,
                                    progress_line_width()) +
               "\x1b[K");
}

}  // namespace

void Progress::start(std::string_view command, bool quiet) {
  if (g_board || quiet || !::isatty(STDERR_FILENO)) return;
  void* page =
      ::mmap(nullptr, sizeof(Board), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return;  // no line, and nothing else lost
  g_board = new (page) Board{};
  g_start_ns = now_ns();
  g_drawer = ::getpid();
  g_command = command;
  g_last_draw_ns = 0;
  g_drawn = false;
}

void Progress::finish() {
  if (!g_board) return;
  if (::getpid() == g_drawer) {
    if (g_drawn) write_stderr("\r\x1b[K");
    ::munmap(g_board, sizeof(Board));
  }
  g_board = nullptr;
  g_drawn = false;
}

void Progress::tick() {
  if (g_board && ::getpid() == g_drawer) draw_if_due();
}

void Progress::set_label_suffix(std::string_view suffix) {
  g_suffix = suffix;
}

std::vector<ProgressEntry> Progress::running() {
  std::vector<ProgressEntry> entries;
  if (!g_board) return entries;
  for (Slot& s : g_board->slots) {
    const std::uint64_t seen = s.state.load(std::memory_order_acquire);
    if ((seen & kPhase) != kRunning) continue;
    // A process killed mid-run (a crash, SIGKILL) never gives its slot back; once it is gone
    // (reaped: kill finds no such process) the slot is free again. (A sweep frees its workers'
    // slots by group as it reaps them, which also covers a zombie no one reaps.)
    const pid_t owner = s.owner.load(std::memory_order_relaxed);
    if (owner > 0 && ::kill(owner, 0) != 0 && errno == ESRCH) {
      free_slot(s, seen);
      continue;
    }
    ProgressEntry e;
    e.label.assign(s.label, strnlen(s.label, kLabelBytes));
    e.total = s.total.load(std::memory_order_relaxed);
    e.retired = s.retired.load(std::memory_order_relaxed);
    e.group = s.group.load(std::memory_order_relaxed);
    if (s.state.load(std::memory_order_acquire) != seen) continue;  // reclaimed while copied
    entries.push_back(std::move(e));
  }
  std::stable_sort(
      entries.begin(), entries.end(),
      [](const ProgressEntry& a, const ProgressEntry& b) { return a.label < b.label; });
  return entries;
}

void Progress::release_group(pid_t group) {
  if (!g_board || group <= 0) return;
  for (Slot& s : g_board->slots) {
    const std::uint64_t seen = s.state.load(std::memory_order_acquire);
    if ((seen & kPhase) != kFree && s.group.load(std::memory_order_relaxed) == group)
      free_slot(s, seen);
  }
}

Progress::Task::Task(std::string_view label, std::uint64_t total) {
  if (!g_board) return;
  for (int i = 0; i < kSlots; ++i) {
    Slot& s = g_board->slots[i];
    std::uint64_t seen = s.state.load(std::memory_order_relaxed);
    if ((seen & kPhase) != kFree) continue;
    const std::uint64_t generation = (seen & ~kPhase) + 4;
    if (!s.state.compare_exchange_strong(seen, generation | kFilling, std::memory_order_acquire))
      continue;
    const std::string text = std::string(label) + g_suffix;
    const std::size_t n = std::min(text.size(), kLabelBytes - 1);
    std::memcpy(s.label, text.data(), n);
    s.label[n] = '\0';
    s.owner.store(::getpid(), std::memory_order_relaxed);
    s.group.store(::getpgrp(), std::memory_order_relaxed);
    s.total.store(total, std::memory_order_relaxed);
    s.retired.store(0, std::memory_order_relaxed);
    s.state.store(generation | kRunning, std::memory_order_release);
    m_slot = i;
    m_state = generation | kRunning;
    m_draws = ::getpid() == g_drawer;
    return;
  }
}

Progress::Task::~Task() {
  if (m_slot >= 0 && g_board) free_slot(g_board->slots[m_slot], m_state);
}

void Progress::Task::advance(std::uint64_t retired) {
  if (m_slot < 0 || !g_board) return;
  g_board->slots[m_slot].retired.store(retired, std::memory_order_relaxed);
  if (m_draws) draw_if_due();
}

}  // namespace tpusim
