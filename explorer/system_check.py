"""Can the window open here? Answered before any Qt library loads, in one line.

Without a display, or without the system libraries Qt's xcb platform plugin links to (which
pip cannot install), PySide6 aborts the process (exit 134) with a message about plugins. On
Linux, `gui_problem()` finds both cases first so `python main.py` can print one line naming
the fix and exit 2. It imports no Qt: the PySide6 folder is located with importlib's finder,
without running PySide6's __init__, and the plugin's dependencies are read with `ldd`.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

EXIT_CODE = 2

# Platforms that need no display server: a QT_QPA_PLATFORM naming one of them skips the checks.
HEADLESS_PLATFORMS = frozenset(
    {"offscreen", "minimal", "minimalegl", "vnc", "linuxfb", "eglfs", "vkkhrdisplay"})

# What libqxcb.so and libQt6XcbQpa.so.6 link against beyond the C/C++ runtime, glib and zlib
# (`ldd`, PySide6 6.11): libxcb-{cursor,icccm,image,keysyms,randr,render,render-util,shape,
# shm,sync,util,xfixes,xkb}, libxcb, libxkbcommon(-x11), libX11(-xcb), libEGL, libGL,
# libfontconfig, libfreetype, libdbus-1 (Qt 6 dropped xinerama). These packages and the ones
# they depend on install all of them; one command fixes every missing library at once.
APT_PACKAGES = ("libxcb-cursor0", "libxcb-icccm4", "libxcb-image0", "libxcb-keysyms1",
                "libxcb-randr0", "libxcb-render-util0", "libxcb-shape0", "libxcb-sync1",
                "libxcb-xfixes0", "libxkbcommon-x11-0", "libx11-xcb1", "libegl1", "libgl1",
                "libfontconfig1", "libdbus-1-3")
DNF_PACKAGES = ("xcb-util-cursor", "xcb-util-wm", "xcb-util-image", "xcb-util-keysyms",
                "xcb-util-renderutil", "libxkbcommon-x11", "libX11-xcb", "mesa-libEGL",
                "mesa-libGL", "fontconfig", "dbus-libs")
APT_INSTALL = "sudo apt-get install -y " + " ".join(APT_PACKAGES)
DNF_INSTALL = "sudo dnf install -y " + " ".join(DNF_PACKAGES)

_ALTERNATIVES = ("use the command line instead (python main.py train --help) or a virtual "
                 "display (xvfb-run -a python main.py)")
NO_DISPLAY = ("latent-explorer: no display to open the window on (DISPLAY and WAYLAND_DISPLAY "
              f"are not set); {_ALTERNATIVES}")


def no_display_message(qt_platform: str = "", needs: tuple[str, ...] = ()) -> str:
    """The one line for no display; names the variable a forced QT_QPA_PLATFORM needs."""
    if not qt_platform:
        return NO_DISPLAY
    return (f"latent-explorer: no display for QT_QPA_PLATFORM={qt_platform} "
            f"({' or '.join(needs)} not set); {_ALTERNATIVES}")


def missing_libraries_message(missing: list[str]) -> str:
    """The one line for system libraries the xcb plugin needs and the loader cannot find."""
    return (f"latent-explorer: Qt's xcb platform plugin needs system libraries that are "
            f"missing ({', '.join(missing)}); install them with: {APT_INSTALL} "
            f"(Debian/Ubuntu) or {DNF_INSTALL} (Fedora)")


def qt_dir() -> Path | None:
    """PySide6's bundled Qt folder (with plugins/ and lib/), found without importing PySide6."""
    try:
        spec = importlib.util.find_spec("PySide6")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "Qt"
    return folder if folder.is_dir() else None


def xcb_plugin_files(qt: Path) -> list[Path]:
    """The xcb platform plugin and its integration library, where this PySide6 has them."""
    plugin = qt / "plugins" / "platforms" / "libqxcb.so"
    qpa = sorted((qt / "lib").glob("libQt6XcbQpa.so*"), key=lambda f: len(f.name))[:1]
    return [f for f in (plugin, *qpa) if f.is_file()]


_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found\s*$", re.MULTILINE)


def parse_ldd(output: str) -> list[str]:
    """The libraries `ldd` reports as 'not found', in order, each once."""
    return list(dict.fromkeys(_NOT_FOUND.findall(output)))


def missing_xcb_libraries(qt: Path | None = None,
                          run: Callable[..., subprocess.CompletedProcess] = subprocess.run
                          ) -> list[str]:
    """System libraries the xcb plugin links to that the loader cannot find (empty: all there).

    Empty too when it cannot tell (no PySide6 wheel layout, no ldd): then Qt itself decides.
    """
    qt = qt if qt is not None else qt_dir()
    if qt is None:
        return []
    missing: list[str] = []
    for f in xcb_plugin_files(qt):
        try:
            r = run(["ldd", str(f)], capture_output=True, text=True, timeout=20,
                    env={**os.environ, "LC_ALL": "C"})
        except (OSError, subprocess.SubprocessError):
            return []
        missing += parse_ldd(r.stdout)
    return list(dict.fromkeys(missing))


def qt_platforms(environ: Mapping[str, str]) -> list[str]:
    """QT_QPA_PLATFORM as the names Qt will try in order ('wayland;xcb' -> both, options cut)."""
    value = environ.get("QT_QPA_PLATFORM", "")
    return [p.split(":", 1)[0].strip().lower() for p in value.split(";") if p.strip()]


def gui_problem(environ: Mapping[str, str] | None = None, platform: str | None = None,
                probe: Callable[[], list[str]] = missing_xcb_libraries) -> str | None:
    """The one line saying why the window cannot open here, or None when it should open."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux"):
        return None  # macOS and Windows need no display variable or separate Qt libraries
    names = qt_platforms(environ)
    if any(n in HEADLESS_PLATFORMS for n in names):
        return None
    has_x11 = bool(environ.get("DISPLAY"))
    has_wayland = bool(environ.get("WAYLAND_DISPLAY"))
    may_xcb = not names or "xcb" in names
    may_wayland = not names or any(n.startswith("wayland") for n in names)
    if not (may_xcb or may_wayland):
        return None  # a platform this check does not know: Qt reports on it itself
    if not ((has_x11 and may_xcb) or (has_wayland and may_wayland)):
        needs = ("DISPLAY",) * may_xcb + ("WAYLAND_DISPLAY",) * may_wayland
        return no_display_message(environ.get("QT_QPA_PLATFORM", "") if names else "", needs)
    # Qt tries Wayland first when asked to, or by itself in a Wayland session; then the xcb
    # libraries may not matter, and a false alarm would block a window that opens.
    wayland_first = has_wayland and (
        (names and names[0].startswith("wayland"))
        or (not names and environ.get("XDG_SESSION_TYPE") == "wayland"))
    if has_x11 and may_xcb and not wayland_first:
        missing = probe()
        if missing:
            return missing_libraries_message(missing)
    return None


def exit_if_gui_cannot_start(environ: Mapping[str, str] | None = None,
                             probe: Callable[[], list[str]] = missing_xcb_libraries) -> int | None:
    """Print the reason to stderr and return EXIT_CODE if the window cannot open; else None."""
    problem = gui_problem(environ, probe=probe)
    if problem is None:
        return None
    print(problem, file=sys.stderr)
    return EXIT_CODE
