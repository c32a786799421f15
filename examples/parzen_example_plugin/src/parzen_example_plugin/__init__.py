"""Example Parzen plugin: dataset `digits_two_view` and builder `two_tower`."""

from parzen_example_plugin.data import DigitsTwoView
from parzen_example_plugin.model import build_two_tower

__all__ = ["DigitsTwoView", "build_two_tower"]
