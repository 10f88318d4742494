"""Progress output: a redrawn bar on a terminal, a few plain lines otherwise."""

import io

from django_hooks.progress import Progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_gets_a_redrawn_bar() -> None:
    out = Tty()
    progress = Progress(out, "applying", width=10, min_interval=0)
    for done in range(0, 11):
        progress(done, 10)
    progress.finish()
    text = out.getvalue()
    assert "\r" in text and "[##########] 10/10" in text and text.endswith("\n")


def test_pipe_gets_plain_lines_per_tenth() -> None:
    out = io.StringIO()
    progress = Progress(out, "applying")
    for done in range(0, 1001):
        progress(done, 1000)
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines[-1] == "applying: 1000/1000"
    assert 10 <= len(lines) <= 12
