from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Stored PDFs go to a directory of this test, never to the checkout's media/."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return Path(settings.MEDIA_ROOT)
