"""The launch explains itself: no display or a missing Qt system library is one line, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from latent_explorer.explorer import system_check as sc

ROOT = Path(__file__).resolve().parents[1]
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux launch checks")


def _no_display_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}


def _never(*a, **k):
    raise AssertionError("the library probe must not run here")


# -- the real launch --------------------------------------------------------------------------
@linux_only
@pytest.mark.slow  # a process
def test_main_without_a_display_exits_2_with_one_line():
    r = subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=_no_display_env(),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr == sc.NO_DISPLAY + "\n"
    assert "xvfb-run -a python main.py" in r.stderr and "python main.py train --help" in r.stderr


@linux_only
@pytest.mark.slow  # a process
def test_the_check_runs_before_any_qt_library_loads():
    code = ("import sys\nfrom latent_explorer import main\n"
            "rc = main.main([])\n"
            "print(rc, sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken6'))))\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_no_display_env(),
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "2 []", r.stdout + r.stderr


@pytest.mark.slow  # a process
def test_the_module_imports_no_qt():
    code = ("import sys, latent_explorer.explorer.system_check as sc\n"
            "sc.gui_problem({'DISPLAY': ':0'}, 'linux')\n"  # runs the real probe too
            "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken6'))))\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert r.stdout.strip() == "[]", r.stdout + r.stderr


# -- the decision -----------------------------------------------------------------------------
def test_a_probe_reporting_missing_libraries_gives_the_install_line(capsys):
    env = {"DISPLAY": ":0"}
    code = sc.exit_if_gui_cannot_start(env, probe=lambda: ["libxcb-icccm.so.4",
                                                           "libxcb-keysyms.so.1"])
    assert code == 2
    out, err = capsys.readouterr()
    assert out == ""
    line = err.removesuffix("\n")
    assert "\n" not in line
    assert line == sc.missing_libraries_message(["libxcb-icccm.so.4", "libxcb-keysyms.so.1"])
    assert "missing (libxcb-icccm.so.4, libxcb-keysyms.so.1)" in line
    assert "sudo apt-get install -y libxcb-cursor0 libxcb-icccm4 " in line
    assert " libxcb-keysyms1 " in line and " libxkbcommon-x11-0 " in line
    assert "(Debian/Ubuntu) or sudo dnf install -y xcb-util-cursor xcb-util-wm " in line
    assert line.endswith("(Fedora)")


def test_nothing_is_printed_when_the_window_can_open(capsys):
    assert sc.exit_if_gui_cannot_start({"DISPLAY": ":0"}, probe=lambda: []) is None
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("env, platform, expected", [
    ({}, "linux", sc.NO_DISPLAY),
    ({"DISPLAY": ""}, "linux", sc.NO_DISPLAY),
    ({"QT_QPA_PLATFORM": ""}, "linux", sc.NO_DISPLAY),
    ({"QT_QPA_PLATFORM": "xcb"}, "linux",
     "latent-explorer: no display for QT_QPA_PLATFORM=xcb (DISPLAY not set); use the command "
     "line instead (python main.py train --help) or a virtual display (xvfb-run -a python "
     "main.py)"),
    ({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"}, "linux",
     sc.no_display_message("xcb", ("DISPLAY",))),
    ({"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":0"}, "linux",
     sc.no_display_message("wayland", ("WAYLAND_DISPLAY",))),
    ({"QT_QPA_PLATFORM": "wayland;xcb"}, "linux",
     sc.no_display_message("wayland;xcb", ("DISPLAY", "WAYLAND_DISPLAY"))),
    ({"QT_QPA_PLATFORM": "cocoa"}, "linux", None),  # not ours to judge: Qt says what is wrong
    ({}, "darwin", None),
    ({}, "win32", None),
    ({"QT_QPA_PLATFORM": "offscreen"}, "linux", None),
    ({"QT_QPA_PLATFORM": "minimal"}, "linux", None),
    ({"QT_QPA_PLATFORM": "vnc:size=800x600"}, "linux", None),
    ({"QT_QPA_PLATFORM": "xcb;offscreen"}, "linux", None),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", None),
    ({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland"},
     "linux", None),
    ({"QT_QPA_PLATFORM": "wayland;xcb", "WAYLAND_DISPLAY": "w", "DISPLAY": ":0"}, "linux", None),
])
def test_display_decisions_without_probing(env, platform, expected):
    """No display, or nothing that uses xcb: decided without looking at libraries."""
    assert sc.gui_problem(env, platform, probe=_never) == expected


@pytest.mark.parametrize("env", [
    {"DISPLAY": ":0"},
    {"DISPLAY": ":99", "QT_QPA_PLATFORM": "xcb"},
    {"DISPLAY": ":0", "WAYLAND_DISPLAY": "w"},  # no Wayland session: Qt picks xcb
    {"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb;wayland", "WAYLAND_DISPLAY": "w"},
])
def test_xcb_libraries_are_probed_where_qt_will_use_xcb(env):
    calls = []

    def probe():
        calls.append(1)
        return ["libxcb-cursor.so.0"]

    msg = sc.gui_problem(env, "linux", probe=probe)
    assert calls == [1]
    assert msg == sc.missing_libraries_message(["libxcb-cursor.so.0"])
    assert sc.gui_problem(env, "linux", probe=lambda: []) is None


# -- the probe --------------------------------------------------------------------------------
LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007ffd1a3f5000)
\tlibQt6XcbQpa.so.6 => /x/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f6f4f000000)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f6f4f6a0000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\t/lib64/ld-linux-x86-64.so.2 (0x00007f6f4f8c5000)
"""


def test_parse_ldd_lists_each_missing_library_once():
    assert sc.parse_ldd(LDD_OUTPUT) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert sc.parse_ldd("\tlibc.so.6 => /lib/libc.so.6 (0x1)\n") == []


def _fake_qt(tmp_path: Path) -> Path:
    qt = tmp_path / "Qt"
    (qt / "plugins" / "platforms").mkdir(parents=True)
    (qt / "lib").mkdir()
    (qt / "plugins" / "platforms" / "libqxcb.so").write_bytes(b"")
    (qt / "lib" / "libQt6XcbQpa.so.6").write_bytes(b"")
    return qt


def test_probe_runs_ldd_on_the_plugin_and_its_integration_library(tmp_path):
    qt = _fake_qt(tmp_path)
    seen = []

    def run(cmd, **kw):
        seen.append(Path(cmd[1]).name)
        out = LDD_OUTPUT if cmd[1].endswith("libqxcb.so") else "\tlibxcb-util.so.1 => not found\n"
        return subprocess.CompletedProcess(cmd, 0, out, "")

    assert sc.missing_xcb_libraries(qt, run) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1",
                                                 "libxcb-util.so.1"]
    assert seen == ["libqxcb.so", "libQt6XcbQpa.so.6"]


def test_probe_says_nothing_when_it_cannot_tell(tmp_path):
    def no_ldd(cmd, **kw):
        raise FileNotFoundError("ldd")

    assert sc.missing_xcb_libraries(_fake_qt(tmp_path), no_ldd) == []
    assert sc.missing_xcb_libraries(tmp_path / "empty", _never) == []  # no plugin files


@linux_only
def test_qt_dir_finds_this_pyside6():
    qt = sc.qt_dir()
    assert qt is not None and (qt / "plugins" / "platforms").is_dir()
    assert [f.name for f in sc.xcb_plugin_files(qt)][0] == "libqxcb.so"
