"""The ``thorough`` profile deepens every property test, those that name their own number of examples too."""

from __future__ import annotations

import os

from hypothesis import settings

from strategies import CI_EXAMPLES, examples


def test_an_explicit_number_of_examples_deepens_under_thorough() -> None:
    active = os.environ.get("HYPOTHESIS_PROFILE", "ci")
    try:
        settings.load_profile("ci")
        assert settings().max_examples == CI_EXAMPLES and examples(60) == 60
        settings.load_profile("thorough")
        assert examples(60) == 60 * settings.get_profile("thorough").max_examples // CI_EXAMPLES > 60
    finally:
        settings.load_profile(active)
