"""The Help → About text: versions, device and data licences."""

from __future__ import annotations

import platform
import sys

DATA_LICENCE = (
    "MNIST: Yann LeCun and Corinna Cortes, from NIST's Special Databases 1 and 3; made "
    "available under the Creative Commons Attribution-Share Alike 3.0 licence. The bundled "
    "5,000-digit sample is a subset of it.<br>Fashion-MNIST: © Zalando SE, MIT licence."
    "<br>Kuzushiji-MNIST: © ROIS-DS Center for Open Data in the Humanities, CC BY-SA 4.0."
)


def app_version() -> str:
    try:
        from importlib.metadata import version

        return version("latent-explorer")
    except Exception:  # noqa: BLE001 - running from a source tree
        return "source tree"


def about_text(device: str) -> str:
    import numpy
    import pyqtgraph
    import PySide6
    from PySide6.QtCore import qVersion

    torch_v = sys.modules["torch"].__version__ if "torch" in sys.modules else "not loaded"
    return (
        f"<h3>Latent Explorer {app_version()}</h3>"
        "<p>Train auto-encoders (AE, β-VAE, CVAE) on MNIST-style images, watch them learn "
        "and explore their latent spaces.</p>"
        f"<p>Python {platform.python_version()} · PySide6 {PySide6.__version__} "
        f"(Qt {qVersion()}) · pyqtgraph {pyqtgraph.__version__} · torch {torch_v} · "
        f"NumPy {numpy.__version__}<br>Device: {device}</p>"
        f"<p><b>Data licences</b><br>{DATA_LICENCE}</p>"
    )
