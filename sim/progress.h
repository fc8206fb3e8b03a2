#pragma once
/// The progress line of a long `run`, `trace run` or `sweep` on stderr. A command may simulate in
/// several processes at once (the DSA child beside dense in this process, the samples of an
/// extrapolation, the F and S layers of --index-share, a sweep's workers), so each simulation
/// writes how many of its instructions have retired into a slot of a page shared across fork, and
/// the process the user started draws one line from all the slots. Nothing is drawn unless stderr
/// is a terminal, nor during a run's first second, so short runs and redirected output stay
/// silent.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tpusim {

/// What one slot says when the line is drawn.
struct ProgressEntry {
  std::string label;          ///< "dense", "dsa", "dsa S layer", "dsa sample 2", "trace"
  std::uint64_t retired = 0;  ///< instructions retired so far
  std::uint64_t total = 0;    ///< instructions in the stream
  pid_t group = 0;            ///< process group of the simulating process (a sweep's worker)
};

/// The line for `command` after `elapsed_s` seconds (plain C++, tested without a terminal): the
/// elapsed time, then each running simulation's share of its instructions; cut to `width`
/// characters (0: not cut).
std::string format_progress_line(std::string_view command, const std::vector<ProgressEntry>& e,
                                 double elapsed_s, std::size_t width);
/// Each simulation's share, "dsa 45% of 1.2M, dense 3% of 4.5M" (the part after the clock), or
/// without `totals` "dsa 45%, dense 3%".
std::string format_progress_shares(const std::vector<ProgressEntry>& e, bool totals = true);
/// The columns a line on stderr may use without wrapping (one short of the terminal's width, so
/// that "\r" can redraw it), or 0 when stderr is not a terminal of known width.
std::size_t progress_line_width();

class Progress {
 public:
  /// Turns the line on for this process and every process it forks from now on, if stderr is a
  /// terminal and `quiet` is false; this process draws.
  static void start(std::string_view command, bool quiet);
  /// Erases the line (before the report or any note is printed) and turns it off.
  static void finish();
  /// Draws the line if one is due; the drawing process calls it while it waits for children.
  static void tick();
  /// The label of every simulation this process starts from now on gets `suffix` (" sample").
  static void set_label_suffix(std::string_view suffix);
  /// The simulations running now in this process or any it forked since start(), by label (for
  /// a command that draws its own line, as `sweep` does). A slot whose process has died without
  /// giving it back is freed, not listed.
  static std::vector<ProgressEntry> running();
  /// Frees the slots of every simulation in process group `group` (a sweep calls it for a
  /// worker it has reaped or killed: the worker's pid is its group, and its children share it).
  static void release_group(pid_t group);

  /// One simulation's slot, held while it runs; inert when the line is off or every slot is
  /// taken.
  class Task {
   public:
    Task(std::string_view label, std::uint64_t total);
    ~Task();
    Task(const Task&) = delete;
    Task& operator=(const Task&) = delete;
    bool active() const { return m_slot >= 0; }
    /// `retired` instructions have retired; draws if this is the drawing process and one is due.
    void advance(std::uint64_t retired);

   private:
    int m_slot = -1;
    std::uint64_t m_state = 0;  // the slot's state while this task holds it
    bool m_draws = false;       // this process draws the line
  };
};

/// The line for one command's scope: started here, erased by erase() or when the scope is left
/// (an error message then starts on a clean line).
class ProgressLine {
 public:
  ProgressLine(std::string_view command, bool quiet) { Progress::start(command, quiet); }
  ~ProgressLine() { erase(); }
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;
  void erase() { Progress::finish(); }
};

}  // namespace tpusim
