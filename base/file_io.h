#pragma once
/// File and descriptor output that never loses data silently: every short write and every
/// failing step is seen and named.

#include <string>
#include <string_view>
#include <vector>

namespace tpusim {

/// Writes `content` to `path` through a temporary file and a rename, so a killed run leaves the
/// old file or none. "-" writes to stdout. Throws UserError naming the path on failure.
void write_file_atomic(const std::string& path, const std::string& content);

/// Writes all of `s` to `fd`, retrying short writes and EINTR. Throws UserError naming `what`
/// (a path or "pipe") when the descriptor refuses.
void write_all_fd(int fd, std::string_view s, const std::string& what);

/// Reads `fd` to end of file (EINTR retried; stops at the first other error).
std::string read_all_fd(int fd);

/// Reads every descriptor to end of file at the same time (poll), so several writers each
/// blocked on a full pipe cannot wait on one another; texts in the order of `fds`.
std::vector<std::string> read_all_fds(const std::vector<int>& fds);

}  // namespace tpusim
