// The one progress reporter: which mode where, which characters in which
// locale, and what it writes - driven by a fake clock into a string, so no
// test waits for real time.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "util/progress.hpp"

using namespace ctscope;

namespace {

// A reporter writing into `out` at the time `now` says.
struct Fake {
  std::string out;
  double now = 100;  // any origin: only differences count
  ProgressBar make(ProgressMode mode, bool unicode = false) {
    return ProgressBar(mode, unicode, {[this](std::string_view s) { out += s; }, [this] { return now; }});
  }
};

EnvFn env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

}  // namespace

TEST(Progress, ModeNamesAndAuto) {
  EXPECT_EQ(progress_mode_from_name("auto"), ProgressMode::Auto);
  EXPECT_EQ(progress_mode_from_name("bar"), ProgressMode::Bar);
  EXPECT_EQ(progress_mode_from_name("lines"), ProgressMode::Lines);
  EXPECT_EQ(progress_mode_from_name("none"), ProgressMode::None);
  EXPECT_FALSE(progress_mode_from_name("Bar").has_value());
  // Auto: a bar on a terminal, lines in a log or a pipe; the others as asked wherever stderr goes.
  EXPECT_EQ(resolve_progress_mode(ProgressMode::Auto, true), ProgressMode::Bar);
  EXPECT_EQ(resolve_progress_mode(ProgressMode::Auto, false), ProgressMode::Lines);
  for (bool tty : {false, true}) {
    EXPECT_EQ(resolve_progress_mode(ProgressMode::Bar, tty), ProgressMode::Bar);
    EXPECT_EQ(resolve_progress_mode(ProgressMode::Lines, tty), ProgressMode::Lines);
    EXPECT_EQ(resolve_progress_mode(ProgressMode::None, tty), ProgressMode::None);
  }
}

TEST(Progress, UnicodeOnlyInAUtf8LocaleThatDoesNotAskForPlainText) {
  EXPECT_TRUE(unicode_progress_allowed(env({{"LANG", "en_US.UTF-8"}})));
  EXPECT_TRUE(unicode_progress_allowed(env({{"LC_CTYPE", "C.utf8"}})));
  EXPECT_FALSE(unicode_progress_allowed(env({})));  // no locale: C
  EXPECT_FALSE(unicode_progress_allowed(env({{"LANG", "en_US.ISO-8859-1"}})));
  // LC_ALL wins over LC_CTYPE, which wins over LANG; an empty one does not count.
  EXPECT_FALSE(unicode_progress_allowed(env({{"LC_ALL", "C"}, {"LANG", "en_US.UTF-8"}})));
  EXPECT_FALSE(unicode_progress_allowed(env({{"LC_CTYPE", "POSIX"}, {"LANG", "en_US.UTF-8"}})));
  EXPECT_TRUE(unicode_progress_allowed(env({{"LC_ALL", ""}, {"LANG", "de_DE.UTF-8"}})));
  // NO_COLOR (any value) and TERM=dumb ask for plain output.
  EXPECT_FALSE(unicode_progress_allowed(env({{"LANG", "en_US.UTF-8"}, {"NO_COLOR", "1"}})));
  EXPECT_FALSE(unicode_progress_allowed(env({{"LANG", "en_US.UTF-8"}, {"TERM", "dumb"}})));
  EXPECT_TRUE(unicode_progress_allowed(env({{"LANG", "en_US.UTF-8"}, {"TERM", "xterm-256color"}})));
}

TEST(Progress, BarCells) {
  EXPECT_EQ(progress_bar_cells(0.0, 10, false), "          ");
  EXPECT_EQ(progress_bar_cells(0.5, 10, false), "#####     ");
  EXPECT_EQ(progress_bar_cells(1.0, 4, false), "####");
  EXPECT_EQ(progress_bar_cells(2.0, 4, false), "####");  // clamped
  // Eighths of a cell: 0.55 of 10 cells = 5 full + 3/8... 5.5 cells = 5 full + a half block.
  EXPECT_EQ(progress_bar_cells(0.55, 10, true), "█████▌    ");
  EXPECT_EQ(progress_bar_cells(0.0125, 10, true), "▏         ");  // 1/8 of a cell
  EXPECT_EQ(progress_bar_cells(1.0, 3, true), "███");
}

TEST(Progress, LinesEveryFewSecondsAndTheLast) {
  Fake f;
  ProgressBar p = f.make(ProgressMode::Lines);
  f.now += 1;
  p(1, 10, "a");  // too soon after the start
  EXPECT_EQ(f.out, "");
  f.now += 4.5;  // 5.5 s in
  p(2, 10, "layers.0.wq");
  EXPECT_EQ(f.out, "[2/10] layers.0.wq   20%  ETA 22s\n");  // 5.5 s for 2 of 10: 22 s for the other 8
  f.now += 1;
  p(3, 10, "c");  // 1 s after the last line
  f.now += 3;
  p(4, 10, "d");
  EXPECT_EQ(std::count(f.out.begin(), f.out.end(), '\n'), 1) << f.out;
  f.now += 2;  // 11.5 s in: 6 s since the last line
  p(5, 10, "e", 2.3e9);
  f.now += 0.5;
  p(10, 10, "z");  // the last one always
  EXPECT_EQ(f.out,
            "[2/10] layers.0.wq   20%  ETA 22s\n"
            "[5/10] e   50%  0.20 GB/s  ETA 12s\n"
            "[10/10] z  100%  12s\n");
  EXPECT_EQ(f.out.find('\r'), std::string::npos);
  EXPECT_EQ(f.out.find('\033'), std::string::npos);
}

TEST(Progress, BarRewritesOneLineAndErasesItAtTheEnd) {
  Fake f;
  ProgressBar p = f.make(ProgressMode::Bar);
  p(1, 4, "first");
  const std::string first = f.out;
  EXPECT_EQ(first.rfind("\r[1/4] #####                ", 0), 0u) << first;  // 1/4 of 20 cells
  EXPECT_NE(first.find(" 25%"), std::string::npos) << first;
  EXPECT_EQ(first.find('\n'), std::string::npos);
  EXPECT_EQ(first.find('\033'), std::string::npos) << "no escape codes: a dumb terminal shows it too";
  f.now += 0.05;
  p(2, 4, "second");  // redraws are at most ten a second
  EXPECT_EQ(f.out, first);
  f.now += 0.1;
  p(3, 4, "third");
  EXPECT_GT(f.out.size(), first.size());
  f.now += 0.01;
  p(4, 4, "done");  // the end erases the line, whenever it comes
  EXPECT_EQ(f.out.back(), '\r');
  const std::string last = f.out.substr(f.out.rfind('\r', f.out.size() - 2));
  EXPECT_EQ(last.find_first_not_of(" \r"), std::string::npos) << last;

  Fake u;
  ProgressBar pu = u.make(ProgressMode::Bar, /*unicode=*/true);
  pu(1, 2, "half");
  EXPECT_NE(u.out.find("██████████          "), std::string::npos) << u.out;
}

TEST(Progress, NoneWritesNothing) {
  Fake f;
  ProgressBar p = f.make(ProgressMode::None);
  for (size_t i = 1; i <= 3; ++i) {
    f.now += 10;
    p(i, 3, "x");
  }
  EXPECT_EQ(f.out, "");
}
