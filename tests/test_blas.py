"""Limiting BLAS threads: threadpoolctl when installed, OpenBLAS through ctypes otherwise."""
from __future__ import annotations

import sys
import types

import pytest

import minidqn._blas as blas


def fake_threadpoolctl(found_blas: bool):
    calls = []
    module = types.ModuleType("threadpoolctl")
    module.threadpool_limits = lambda limits, user_api: calls.append((limits, user_api))
    module.threadpool_info = lambda: ([{"user_api": "blas", "internal_api": "openblas"}] if found_blas else [])
    return module, calls


def test_threadpoolctl_is_used_when_installed(monkeypatch):
    module, calls = fake_threadpoolctl(found_blas=True)
    monkeypatch.setitem(sys.modules, "threadpoolctl", module)
    assert blas.limit_blas_threads(1) == "threadpoolctl" == blas.limited_by
    assert calls == [(1, "blas")]


@pytest.mark.skipif(not blas.openblas_threads(), reason="needs NumPy on OpenBLAS with /proc/self/maps (Linux)")
def test_without_threadpoolctl_openblas_is_set_through_ctypes(monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import now raises ImportError
    try:
        assert blas.limit_blas_threads(2) == "ctypes" == blas.limited_by
        assert set(blas.openblas_threads()) == {2}
    finally:
        assert blas.limit_blas_threads(1) == "ctypes"
    assert set(blas.openblas_threads()) == {1}


@pytest.mark.skipif(not blas.openblas_threads(), reason="needs NumPy on OpenBLAS with /proc/self/maps (Linux)")
def test_threadpoolctl_finding_no_blas_falls_back_to_ctypes(monkeypatch):
    module, calls = fake_threadpoolctl(found_blas=False)
    monkeypatch.setitem(sys.modules, "threadpoolctl", module)
    assert blas.limit_blas_threads(1) == "ctypes" and calls == [(1, "blas")]


def test_nothing_to_limit_is_reported_as_none(monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)
    monkeypatch.setattr(blas, "open", lambda *a, **k: (_ for _ in ()).throw(OSError("no /proc")), raising=False)
    assert blas.limit_blas_threads(1) is None and blas.limited_by is None


def test_a_bad_thread_count_is_refused():
    with pytest.raises(ValueError, match="n must be >= 1"):
        blas.limit_blas_threads(0)


def test_the_real_threadpoolctl_sets_the_count_when_installed():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    assert blas.limit_blas_threads(1) == "threadpoolctl"
    assert {info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"} == {1}
