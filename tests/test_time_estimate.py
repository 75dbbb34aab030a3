"""The form's time estimate, Qt-free: per family of models, never another family's speed."""

from __future__ import annotations

import pytest

from latent_explorer.explorer.views.time_estimate import SpeedBook
from latent_explorer.training.config import speed_families, speed_family


def test_families_name_the_architecture_and_the_prior():
    assert speed_family("mlp", "normal") == "mlp"  # the key the course MLP always had
    assert speed_family("conv", "vamp") == "conv-vamp"
    assert {"mlp", "conv", "mlp-vamp", "conv-vamp"} <= set(speed_families())


def test_a_book_estimates_each_family_from_its_own_speeds():
    book = SpeedBook()
    assert book.seconds(100, "mlp") is None
    book.set(10.0)  # a plain number: the course MLP's single-run speed
    assert book.seconds(100, "mlp") == pytest.approx(10.0)
    assert book.seconds(100, "conv") is None  # never the MLP's figure for a conv run
    assert book.seconds(100, "mlp", members=4) == pytest.approx(40.0)  # as 4 runs in turn
    assert book.is_upper_bound("mlp", 4) and not book.is_upper_bound("mlp", 0)
    book.set({"mlp": 10.0, "conv": 1.0}, {"mlp": 40.0, "conv": -3.0})
    assert book.seconds(100, "mlp", members=4) == pytest.approx(10.0)  # 40 model-steps/s
    assert not book.is_upper_bound("mlp", 4) and book.is_upper_bound("conv", 4)
    assert book.seconds(100, "conv") == pytest.approx(100.0)
    book.set_single("conv", None)  # forgotten
    assert book.seconds(100, "conv") is None and book.seconds(100, "mlp") == pytest.approx(10.0)
