"""Which map the Latent map tab shows for the chosen method, and where it comes from.

A method the registry marks instant (`MapMethod.background` False: PCA) is fitted at once on
the GUI thread. Any other comes from memory (`LatentMaps`, per run, method, parameters and
codes), else from the `.maps.npz` cache beside a saved run's checkpoint (its transform rebuilt
in the background by the method's `warm`), else it is fitted in a worker thread
(explorer/session/map_runner.py) while the map shown stays; `ready` brings it, and a fitted map
is written to the cache. The words on the toolbar say which of these happened.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, Signal

from latent_explorer.explorer.panels.map_controls import MapControls
from latent_explorer.explorer.session.map_runner import MapRunner, shared_maps
from latent_explorer.training.explore import latent_methods as lm
from latent_explorer.training.record.run import Run


class MapFitting(QObject):
    """Gets the chosen method's map: at once, from memory or the cache, or fitted meanwhile."""

    ready = Signal(object)  # FittedMap, fitted (or warmed) in the background for the run shown
    cancelled = Signal()  # the fit was cancelled: the map shown stays

    def __init__(self, controls: MapControls, current_run: Callable[[], Run | None],
                 shown_map: Callable[[], lm.FittedMap | None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.controls = controls
        self._current_run = current_run
        self._shown_map = shown_map
        self.runner = MapRunner(self)
        self.maps = shared_maps()
        self._target: tuple[int, str] | None = None  # (run id, map key) being fitted
        self.runner.progressed.connect(controls.show_progress)
        self.runner.fitted.connect(self._on_fitted)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(self._on_cancelled)

    def choose(self, run: Run, method: str, params: lm.MapParams, codes: np.ndarray,
               codes_key: str) -> lm.FittedMap | None:
        """The map to show now, or None while it is fitted in the background (`ready`)."""
        m = lm.get_map_method(method)
        status = self.controls.method_status
        shown = self._shown_map()
        if shown is not None and shown.key == lm.map_key(method, params, codes_key):
            self.runner.cancel()
            return shown  # asked again (Apply with nothing changed): the same map
        if not m.background:
            self.runner.cancel()
            status.setText("")
            return lm.fit_map(codes, method, params)
        found = self.maps.get(run.id, method, params, codes_key)
        if found is None and run.path is not None and run.saved:
            found = lm.read_cached_map(run.path, method, params, codes)
            if found is not None:
                self.maps.put(run.id, found)
        if found is not None:
            self.runner.cancel()
            self.controls.show_busy(False)
            if found.placer is None and m.warm is not None:  # from the file: rebuild its transform
                self._target = (run.id, found.key)
                self.runner.warm(codes, found)
            return found
        self._target = (run.id, lm.map_key(method, params, codes_key))
        now = lm.get_map_method(shown.method).label if shown is not None else "current"
        status.setText(f"Computing the {m.label} map of {len(codes):,} codes in the background; "
                       f"the {now} map stays until it is ready.")
        self.controls.show_busy(True)
        self.runner.fit(codes, method, params)
        return None

    def cancel(self) -> None:
        self.runner.cancel()
        self.controls.show_busy(False)

    def _on_fitted(self, fitted: lm.FittedMap) -> None:
        target, self._target = self._target, None
        self.controls.show_busy(False)
        run = self._current_run()
        if target is None or run is None or target != (run.id, fitted.key):
            return  # a map for another run or other codes (the run moved on): drop it
        self.maps.put(run.id, fitted)
        label = lm.get_map_method(fitted.method).label
        where = ""
        saved = run.path is not None and run.saved
        if saved and not fitted.from_cache and lm.write_cached_map(run.path, fitted) is not None:
            where = f"; cached in {lm.cache_path(run.path).name}"
        if fitted.from_cache:
            self.controls.method_status.setText(
                f"{label} map read from {lm.cache_path(run.path).name}; its transform is ready "
                "to place drawings.")
        else:
            self.controls.method_status.setText(f"{label} map computed in {fitted.seconds:.1f} s{where}.")
        self.ready.emit(fitted)

    def _on_failed(self, message: str) -> None:
        self._target = None
        self.controls.show_busy(False)
        self.controls.method_status.setText(f"The map could not be computed: {message}")

    def _on_cancelled(self) -> None:
        self._target = None
        self.controls.show_busy(False)
        shown = self._shown_map()
        label = lm.get_map_method(shown.method).label if shown is not None else "previous"
        self.controls.method_status.setText(f"Cancelled; showing the {label} map.")
        if shown is not None and shown.method != self.controls.method:
            self.controls.set_method_quietly(shown.method)
        self.cancelled.emit()

    def shutdown(self) -> None:
        self.controls.stop()
        self.runner.shutdown()


__all__ = ["MapFitting"]
