"""Help that helps: a Help menu with the user guide, the keyboard shortcuts (read from the
window's own actions) and About; and a first-run hint on the Training tab, shown on the very
first launch only and never again once dismissed. Driven through the real window (qtbot)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QKeySequence

from helpers import LEFT, make_window
from latent_explorer.explorer.commands.help import (ShortcutsDialog, plain,
                                                    shortcut_rows, user_guide_url)

ROOT = Path(__file__).resolve().parent.parent


def menu(w, title: str):
    return next(a.menu() for a in w.menuBar().actions() if plain(a.text()) == title)


def test_the_help_menu_has_the_guide_the_shortcuts_and_about(window):
    items = [plain(a.text()) for a in menu(window, "Help").actions() if not a.isSeparator()]
    assert items == ["User guide", "Keyboard shortcuts", "About Latent Explorer"]
    window.menu_actions.about.trigger()
    assert "Latent Explorer" in window.dialogs.abouts[-1]


def test_the_user_guide_opens_the_checkouts_file(window):
    window.menu_actions.user_guide.trigger()
    url = window.dialogs.urls[-1]
    assert url.isLocalFile() and Path(url.toLocalFile()) == ROOT / "docs" / "user-guide.md"
    assert window.menu_actions.user_guide.shortcut() == QKeySequence(
        QKeySequence.StandardKey.HelpContents)


def test_a_copy_without_docs_has_no_guide_to_open(tmp_path):
    assert user_guide_url(tmp_path) is None  # no docs/ there
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "user-guide.md").write_text("# User guide\n")
    assert user_guide_url(tmp_path) == QUrl.fromLocalFile(str(tmp_path / "docs" / "user-guide.md"))


def test_a_guide_that_will_not_open_is_said(window):
    window.dialogs.url_opens = False
    assert window.open_user_guide() is False
    assert "Could not open" in window.statusBar().currentMessage()


def keys(rows, action: str) -> str:
    return next(r.keys for r in rows if r.action == action)


def test_the_shortcuts_are_read_from_the_actions(window):
    w = window
    w.menu_actions.shortcuts.trigger()
    rows = w.dialogs.shortcut_lists[-1]
    assert keys(rows, "Pause") == "Ctrl+P"
    assert keys(rows, "Train") == QKeySequence("Ctrl+Return").toString(
        QKeySequence.SequenceFormat.NativeText)
    pause = next(r for r in rows if r.action == "Pause")
    assert pause.menu == "Run" and pause.where == ""
    rename = next(r for r in rows if r.action == "Rename")
    assert rename.keys == "F2" and rename.where == "in the run list"  # its key works there
    # Every action of the window that has a key, and nothing else.
    with_keys = {plain(a.text()) for a in w.findChildren(QAction) if not a.shortcut().isEmpty()}
    assert {r.action for r in rows} == with_keys
    assert len(rows) == len({r.action for r in rows})
    # A new action with a key is listed at once: the list is not written by hand.
    extra = QAction("&Frobnicate", w)
    extra.setShortcut(QKeySequence("Ctrl+Shift+F"))
    w.addAction(extra)
    w.show_shortcuts()
    assert keys(w.dialogs.shortcut_lists[-1], "Frobnicate") == "Ctrl+Shift+F"


def test_the_shortcuts_dialog_shows_every_row(qtbot, window):
    rows = shortcut_rows(window.findChildren(QAction))
    dialog = ShortcutsDialog(rows)
    qtbot.addWidget(dialog)
    dialog.show()
    t = dialog.table
    cells = [[t.item(i, j).text() for j in range(3)] for i in range(t.rowCount())]
    assert ["Run", "Pause", "Ctrl+P"] in cells
    assert ["Run", "Rename (in the run list)", "F2"] in cells
    assert t.rowCount() == len(rows) and dialog.keys_of("Pause") == "Ctrl+P"


def test_the_rows_skip_menu_marks_and_ellipses():
    assert plain("&Open checkpoint…") == "Open checkpoint"
    assert plain("Save && quit") == "Save & quit"


# -- the first-run hint -------------------------------------------------------------------------
def test_the_first_launch_shows_a_hint_once_and_never_after_dismissal(qtbot, settings,
                                                                      datasets):
    w = make_window(qtbot, settings, datasets)
    qtbot.waitExposed(w)
    hint = w.monitor.hint
    assert hint.isVisible() and "press <b>Train</b>" in w.monitor.hint_label.text()
    qtbot.mouseClick(w.monitor.hint_close, LEFT)
    assert not hint.isVisible()
    w.shutdown()
    again = make_window(qtbot, settings, datasets)  # the same settings: a relaunch
    qtbot.waitExposed(again)
    assert not again.monitor.hint.isVisible()
    again.shutdown()


def test_the_hint_is_for_the_first_launch_only(qtbot, settings, datasets):
    w = make_window(qtbot, settings, datasets)
    assert w.monitor.hint.isVisible()
    w.shutdown()  # not dismissed, but the window was seen once: its settings are remembered
    again = make_window(qtbot, settings, datasets)
    assert not again.monitor.hint.isVisible()
    again.shutdown()


def test_a_dismissed_hint_stays_hidden_even_with_no_other_settings(qtbot, settings, datasets):
    settings.setValue("help/hint_dismissed", True)
    settings.sync()
    from latent_explorer.explorer.window_settings import WindowSettings

    assert not WindowSettings(settings).first_run_hint_due()
    settings.clear()
    assert WindowSettings(settings).first_run_hint_due()
