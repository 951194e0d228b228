"""The package's own files: licence, typing marker, what the sdist carries, its metadata.

(Building an sdist needs the ``build`` tool and takes seconds; these checks read the files the
build reads, so they also run from an unpacked sdist.)
"""
from __future__ import annotations

import configparser
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def setup_cfg() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return cfg


def test_the_mit_licence_is_shipped():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Copyright (c) 2026 the minidqn authors" in text
    cfg = setup_cfg()
    assert cfg["metadata"]["license"] == "MIT" and cfg["metadata"]["license_files"].strip() == "LICENSE"


def test_the_package_is_marked_typed_and_ships_the_marker():
    assert (ROOT / "minidqn" / "py.typed").is_file()
    assert setup_cfg()["options.package_data"]["minidqn"].split() == ["py.typed"]


def test_the_sdist_carries_tests_with_their_conftest_and_the_benchmarks():
    lines = (ROOT / "MANIFEST.in").read_text().splitlines()
    assert "recursive-include tests *.py" in lines and "recursive-include benchmarks *.py" in lines
    assert any(line.startswith("include ") and "LICENSE" in line.split() for line in lines)
    assert any(line.startswith("include ") and ".ci/run" in line.split() for line in lines)  # test_readme reads it


def test_classifiers_name_the_python_versions_licence_and_audience():
    classifiers = set(setup_cfg()["metadata"]["classifiers"].split("\n"))
    for version in ("3.10", "3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {version}" in classifiers
    assert {"License :: OSI Approved :: MIT License", "Operating System :: OS Independent",
            "Intended Audience :: Science/Research", "Intended Audience :: Education",
            "Typing :: Typed"} <= classifiers
    assert any(c.startswith("Development Status ::") for c in classifiers)


def test_threadpoolctl_is_an_optional_extra():
    assert setup_cfg()["options.extras_require"]["blas"].split() == ["threadpoolctl>=3"]
