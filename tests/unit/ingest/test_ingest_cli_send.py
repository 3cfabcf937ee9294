"""``antt send``'s progress bar: drawn on a terminal as acknowledgements arrive, else silent."""

from __future__ import annotations

from antt.cli.send import ProgressBar


def test_progress_bar_counts_acknowledged_events(capsys):
    bar = ProgressBar(total=200, enabled=True)
    bar(0, 0)
    bar(200, 0)  # the last update is always drawn, however soon after the previous one
    bar.done()
    drawn = capsys.readouterr().err
    assert drawn.startswith("\r[" + "." * 30 + "] 0/200 events acknowledged")
    assert "\r[" + "#" * 30 + "] 200/200 events acknowledged\n" in drawn


def test_progress_bar_off_the_terminal_is_silent(capsys):
    bar = ProgressBar(total=10, enabled=False)
    bar(10, 0)
    bar.done()
    assert capsys.readouterr().err == ""
