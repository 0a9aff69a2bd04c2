import os
import shutil

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

from dallm.synth import synthesize, write_raw  # noqa: E402


@pytest.fixture(scope="session")
def synth799():
    "The default synthetic cohort (n=799, seed 0)."
    return synthesize(799, seed=0)


@pytest.fixture(scope="session")
def raw799(synth799, tmp_path_factory):
    "The default synthetic cohort written in the raw MIMIC/REFLACX layouts (read-only: copy before changing)."
    return write_raw(synth799, tmp_path_factory.mktemp("raw") / "raw")


@pytest.fixture
def raw_copy(raw799, tmp_path):
    "A private, writable copy of the raw export, for tests that break a file."
    dst = tmp_path / "raw"
    shutil.copytree(raw799, dst)
    return dst
