"""Hostile and broken checkpoint files, crafted here, and how files are written.

Each test states one fact: a crafted file is refused with a ``ValueError`` naming it, before
anything large is allocated (measured with ``tracemalloc``, which sees NumPy's allocations), or a
write keeps the properties users rely on (mode, symlinks, atomicity, recognisable temporaries).
"""
from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import tracemalloc
import zipfile

import numpy as np
import pytest

import minidqn._checkpoint as ck
from minidqn import DQNAgent, MLP, TabularQAgent
from minidqn._checkpoint import load_arrays, save_arrays


# ------------------------------------------------------------------------------------------ helpers
def npy_bytes(array=None, header=None, data=b"") -> bytes:
    """A ``.npy`` member: a real array, or a ``header`` dict followed by raw ``data``."""
    f = io.BytesIO()
    if array is not None:
        np.lib.format.write_array(f, np.asarray(array), allow_pickle=False)
    else:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(data)
    return f.getvalue()


def write_zip(path, members: dict, compress: bool = False) -> None:
    """``name -> array or bytes`` as ``name.npy`` members of a zip (bytes are written as they are)."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, value in members.items():
            zf.writestr(name + ".npy", value if isinstance(value, bytes) else npy_bytes(value))


def rewrite(src, dst, kind, change_meta=None, **arrays) -> None:
    """Copy checkpoint ``src`` to ``dst`` with ``arrays`` replaced and ``change_meta(meta)`` applied."""
    data = load_arrays(src, kind)
    if change_meta is not None:
        meta = json.loads(str(data["meta"]))
        change_meta(meta)
        data["meta"] = np.array(json.dumps(meta))
    data.update(arrays)
    save_arrays(dst, kind, data)


def peak_bytes(f) -> tuple:
    """``(exception raised by f(), peak bytes traced while it ran)``."""
    tracemalloc.start()
    try:
        f()
        error = None
    except Exception as e:  # the caller asserts on it
        error = e
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return error, peak


def dqn_file(tmp_path, name="a.npz", include_buffer=False, **kw):
    agent = DQNAgent(3, 2, hidden=(8,), learning_starts=4, batch_size=4, buffer_size=16, seed=1,
                      **{"train_freq": 1, **kw})
    rng = np.random.default_rng(0)
    for _ in range(10):
        agent.observe(rng.normal(size=3), int(rng.integers(2)), 1.0, rng.normal(size=3), False)
    path = tmp_path / name
    agent.save(path, include_buffer=include_buffer)
    return agent, path


# ------------------------------------------------------------------------------------------ item 1: counts
def test_a_since_train_beyond_train_freq_is_refused(tmp_path):
    _, path = dqn_file(tmp_path, train_freq=4)
    rewrite(path, tmp_path / "bomb.npz", "DQNAgent", lambda m: m.update(since_train=10**18))
    with pytest.raises(ValueError, match=r"bomb.npz.*since_train must be <= 3"):
        DQNAgent.load(tmp_path / "bomb.npz")


def test_updates_must_match_the_optimizer_steps(tmp_path):
    agent, path = dqn_file(tmp_path)
    assert agent.updates == agent.optimizer.t == 7
    rewrite(path, tmp_path / "odd.npz", "DQNAgent", lambda m: m.update(updates=10**9))
    with pytest.raises(ValueError, match=r"odd.npz.*Adam has taken 7 steps but the agent counts 1000000000"):
        DQNAgent.load(tmp_path / "odd.npz")


def test_tabular_steps_must_equal_the_visits_counted(tmp_path):
    agent = TabularQAgent(3, 2, seed=0)
    for s in range(3):
        agent.observe(s, 1, 1.0, (s + 1) % 3, False)
    agent.save(tmp_path / "q.npz")
    rewrite(tmp_path / "q.npz", tmp_path / "odd.npz", "TabularQAgent", lambda m: m.update(steps=10**15))
    with pytest.raises(ValueError, match=r"odd.npz.*steps \(1000000000000000\) must equal the visits counted \(3\)"):
        TabularQAgent.load(tmp_path / "odd.npz")


# ------------------------------------------------------------------------------------------ item 2: size bombs
def test_mlp_sizes_are_checked_against_the_stored_params_before_allocating(tmp_path):
    MLP([2, 3]).save(tmp_path / "net.npz")
    rewrite(tmp_path / "net.npz", tmp_path / "bomb.npz", "MLP", sizes=np.array([20000, 20000]))
    error, peak = peak_bytes(lambda: MLP.load(tmp_path / "bomb.npz"))
    assert isinstance(error, ValueError) and "bomb.npz" in str(error) and "(400020000,)" in str(error)
    assert peak < 2**20  # the network would take 1.6 GB (3.2 GB with its gradients)


def test_mlp_sizes_of_a_billion_are_a_value_error_not_a_memory_error(tmp_path):
    MLP([2, 3]).save(tmp_path / "net.npz")
    rewrite(tmp_path / "net.npz", tmp_path / "bomb.npz", "MLP", sizes=np.array([10**9, 10**9]))
    with pytest.raises(ValueError, match="bomb.npz"):
        MLP.load(tmp_path / "bomb.npz")


def test_from_state_dict_checks_sizes_before_allocating():
    state = MLP([2, 3]).state_dict() | {"sizes": np.array([20000, 20000])}
    error, peak = peak_bytes(lambda: MLP.from_state_dict(state))
    assert isinstance(error, ValueError) and "need (400020000,)" in str(error)
    assert peak < 2**20


def test_a_dqn_hidden_width_that_disagrees_with_the_stored_params_is_refused_unallocated(tmp_path):
    _, path = dqn_file(tmp_path)
    rewrite(path, tmp_path / "wide.npz", "DQNAgent", lambda m: m["config"].update(hidden=[20000, 20000]))
    error, peak = peak_bytes(lambda: DQNAgent.load(tmp_path / "wide.npz"))
    assert isinstance(error, ValueError) and "wide.npz" in str(error) and "online.params" in str(error)
    assert peak < 2**20


def test_a_huge_declared_buffer_size_is_refused_before_allocating(tmp_path):
    _, path = dqn_file(tmp_path)
    rewrite(path, tmp_path / "bomb.npz", "DQNAgent", lambda m: m["config"].update(buffer_size=10**12))
    error, peak = peak_bytes(lambda: DQNAgent.load(tmp_path / "bomb.npz"))
    assert isinstance(error, ValueError) and "bomb.npz" in str(error) and "ceiling" in str(error)
    assert "buffer_size=" in str(error)  # says how to load it anyway
    assert peak < 2**20
    assert DQNAgent.load(tmp_path / "bomb.npz", buffer_size=100).buffer.capacity == 100


def test_a_stored_buffer_must_fit_its_declared_capacity(tmp_path):
    _, path = dqn_file(tmp_path, include_buffer=True)
    rewrite(path, tmp_path / "cap.npz", "DQNAgent", **{"buffer.capacity": np.array(10**12)})
    with pytest.raises(ValueError, match=r"cap.npz': replay buffer capacity 1000000000000 .* buffer_size=16"):
        DQNAgent.load(tmp_path / "cap.npz")
    rewrite(path, tmp_path / "rows.npz", "DQNAgent", **{"buffer.obs": np.zeros((11, 3), np.float32)})
    with pytest.raises(ValueError, match=r"rows.npz': 'buffer.obs' is float32 \(11, 3\).* need \(10, 3\)"):
        DQNAgent.load(tmp_path / "rows.npz")


def test_the_ceiling_applies_to_a_legitimate_file_too(tmp_path, monkeypatch):
    MLP([100, 100]).save(tmp_path / "net.npz")  # 40 KB of parameters
    monkeypatch.setattr(ck, "MAX_BYTES", 10_000)
    with pytest.raises(ValueError, match=r"net.npz': member 'params' declares \d+ bytes, more than .*MAX_BYTES"):
        MLP.load(tmp_path / "net.npz")


# ------------------------------------------------------------------------------------------ item 3: members
def test_an_unknown_compressed_member_is_refused_without_inflating_it(tmp_path):
    MLP([2, 3]).save(tmp_path / "net.npz")
    with zipfile.ZipFile(tmp_path / "net.npz") as src, \
            zipfile.ZipFile(tmp_path / "bomb.npz", "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
        with dst.open("extra.npy", "w") as f:  # 64 MB of zeros, about 64 KB deflated
            f.write(npy_bytes(header={"descr": "<f8", "fortran_order": False, "shape": (2**23,)}))
            for _ in range(64):
                f.write(bytes(2**20))
    assert os.path.getsize(tmp_path / "bomb.npz") < 2**20
    error, peak = peak_bytes(lambda: MLP.load(tmp_path / "bomb.npz"))
    assert isinstance(error, ValueError) and "bomb.npz" in str(error) and "['extra']" in str(error)
    assert peak < 2**20


def test_a_compressed_member_whose_header_lies_about_its_size_is_refused(tmp_path):
    net = MLP([2, 3])
    header = {"descr": "<f4", "fortran_order": False, "shape": (10**9,)}
    write_zip(tmp_path / "lie.npz", {"__kind__": np.array("MLP"), "__version__": np.array(1),
                                     "sizes": np.array([2, 3]), "activation": np.array("relu"),
                                     "dtype": np.array("float32"),
                                     "params": npy_bytes(header=header, data=net.params.tobytes())},
              compress=True)
    with pytest.raises(ValueError, match=r"lie.npz': member 'params' declares float32 \(1000000000,\) "
                                         r"\(4000000000 bytes\) but its entry holds 36"):
        MLP.load(tmp_path / "lie.npz")


def test_a_zip_of_thousands_of_members_is_refused_before_their_headers_are_read(tmp_path):
    write_zip(tmp_path / "many.npz", {f"m{i}": b"" for i in range(5000)})
    with pytest.raises(ValueError, match="many.npz': it has 5000 members"):
        ck.checkpoint_kind(tmp_path / "many.npz")


def test_only_the_needed_members_are_read(tmp_path, monkeypatch):
    _, path = dqn_file(tmp_path, include_buffer=True)
    read = []
    original = ck.Checkpoint.read
    monkeypatch.setattr(ck.Checkpoint, "read", lambda self, name: read.append(name) or original(self, name))
    assert ck.checkpoint_kind(path) == "DQNAgent"
    assert read == ["__kind__"]


# ------------------------------------------------------------------------------------------ item 4: errors
def test_a_header_claiming_8_terabytes_is_a_value_error(tmp_path):
    header = {"descr": "<f8", "fortran_order": False, "shape": (2**40,)}
    write_zip(tmp_path / "tb.npz", {"__kind__": np.array("MLP"), "__version__": np.array(1),
                                    "sizes": np.array([2, 3]), "activation": np.array("relu"),
                                    "dtype": np.array("float32"), "params": npy_bytes(header=header)})
    error, peak = peak_bytes(lambda: MLP.load(tmp_path / "tb.npz"))
    assert isinstance(error, ValueError) and "tb.npz" in str(error) and "8796093022208 bytes" in str(error)
    assert peak < 2**20


def test_an_unsupported_compression_method_in_the_directory_is_a_value_error(tmp_path):
    MLP([2, 3]).save(tmp_path / "net.npz")
    raw = bytearray((tmp_path / "net.npz").read_bytes())
    central = raw.index(b"PK\x01\x02")
    raw[central + 10] = 99  # compression method 99: NotImplementedError inside zipfile
    (tmp_path / "bad.npz").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="bad.npz"):
        MLP.load(tmp_path / "bad.npz")


def test_every_byte_of_the_zip_directory_changed_gives_a_value_error_or_the_same_network(tmp_path):
    net = MLP([2, 3], seed=1)
    net.save(tmp_path / "net.npz")
    raw = (tmp_path / "net.npz").read_bytes()
    start = raw.index(b"PK\x01\x02")
    path = tmp_path / "flip.npz"
    for i in range(start, len(raw)):
        for value in (0xFF, raw[i] ^ 0x01):
            if value == raw[i]:
                continue
            path.write_bytes(raw[:i] + bytes([value]) + raw[i + 1:])
            try:
                back = MLP.load(path)
            except ValueError as e:
                assert "flip.npz" in str(e)
            else:  # bytes zipfile ignores (times, comments) may change harmlessly
                np.testing.assert_array_equal(back.params, net.params)


def test_a_pickle_payload_is_never_run(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))
    arr = np.empty(1, object)
    arr[0] = Payload()
    f = io.BytesIO()
    np.lib.format.write_array(f, arr, allow_pickle=True)
    write_zip(tmp_path / "evil.npz", {"__kind__": np.array("MLP"), "__version__": np.array(1),
                                      "sizes": np.array([2, 3]), "activation": np.array("relu"),
                                      "dtype": np.array("float32"), "params": f.getvalue()})
    with pytest.raises(ValueError, match="evil.npz': member 'params' holds pickled objects"):
        MLP.load(tmp_path / "evil.npz")
    assert not marker.exists()


# ------------------------------------------------------------------------------------------ item 5: writing
def test_a_new_file_honours_the_umask_and_an_existing_one_keeps_its_mode(tmp_path):
    old = os.umask(0o022)
    try:
        MLP([2, 3]).save(tmp_path / "new.npz")
        assert stat.S_IMODE(os.stat(tmp_path / "new.npz").st_mode) == 0o644
        os.chmod(tmp_path / "new.npz", 0o640)
        MLP([2, 3]).save(tmp_path / "new.npz")
        assert stat.S_IMODE(os.stat(tmp_path / "new.npz").st_mode) == 0o640
    finally:
        os.umask(old)


def test_saving_to_a_symlink_writes_through_it(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "net.npz"
    MLP([2, 3], seed=0).save(target)
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    net = MLP([2, 3], seed=7)
    net.save(link)
    assert link.is_symlink()
    np.testing.assert_array_equal(MLP.load(target).params, net.params)
    assert sorted(os.listdir(tmp_path / "real")) == ["net.npz"]


def test_a_failed_save_names_the_path_asked_for_and_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "net.npz"
    old = MLP([2, 3], seed=0)
    old.save(path)

    def disk_full(f, **arrays):
        f.write(b"PK partial")
        raise OSError(28, "No space left on device", "/somewhere/tmp123.tmp")
    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError, match="No space left") as info:
        MLP([2, 3], seed=1).save(path)
    assert info.value.filename == str(path) and info.value.errno == 28
    assert os.listdir(tmp_path) == ["net.npz"]
    monkeypatch.undo()
    np.testing.assert_array_equal(MLP.load(path).params, old.params)


def test_a_missing_folder_is_named_as_asked(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        MLP([2, 3]).save(tmp_path / "nowhere" / "net.npz")
    assert info.value.filename == str(tmp_path / "nowhere" / "net.npz")


KILLED_SAVE = """
import os, signal, sys
import numpy as np
import minidqn._checkpoint as ck
from minidqn import MLP
def die(f, **arrays):
    f.write(b"half a checkpoint")
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)
np.savez = die
MLP([2, 3]).save(sys.argv[1])
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL and stale-file cleaning are POSIX")
def test_a_save_killed_by_sigkill_leaves_a_recognisable_temporary_that_the_next_save_removes(tmp_path):
    path = tmp_path / "net.npz"
    MLP([2, 3], seed=0).save(path)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    run = subprocess.run([sys.executable, "-c", KILLED_SAVE, str(path)], env=env)
    assert run.returncode == -9
    left = sorted(os.listdir(tmp_path))
    assert len(left) == 2 and left[0].startswith(".net.npz.minidqn-tmp-")
    np.testing.assert_array_equal(MLP.load(path).params, MLP([2, 3], seed=0).params)  # intact
    MLP([2, 3], seed=1).save(path)
    assert os.listdir(tmp_path) == ["net.npz"]


# ------------------------------------------------------------------------------------------ item 6: arguments
@pytest.mark.parametrize("metadata, match", [([1, 2], "must be a dict"), ("shop", "must be a dict"),
                                             ({1: "a"}, "keys must be strings"),
                                             ({"env": object()}, "JSON-able")])
def test_save_takes_only_a_dict_of_json_values_as_metadata(tmp_path, metadata, match):
    with pytest.raises(TypeError, match=match):
        DQNAgent(3, 2).save(tmp_path / "a.npz", metadata=metadata)
    with pytest.raises(TypeError, match=match):
        TabularQAgent(3, 2).save(tmp_path / "q.npz", metadata=metadata)
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("change, match", [
    (lambda m: m.update(one_hot="no"), "one_hot must be true or false, got 'no'"),
    (lambda m: m.update(obs_dim=3.0), "obs_dim must be an integer"),
    (lambda m: m["config"].update(double="no"), "double must be a bool"),
    (lambda m: m["config"].update(hidden="8"), "hidden must be a list"),
    (lambda m: m["config"].update(lr="0.1"), "lr must be a real number"),
    (lambda m: m["config"].update(extra=1), r"unknown \['extra'\]"),
    (lambda m: m.update(metadata=[1, 2]), "metadata must be a JSON object"),
])
def test_typed_fields_of_a_crafted_file_are_refused_not_coerced(tmp_path, change, match):
    _, path = dqn_file(tmp_path)
    rewrite(path, tmp_path / "crafted.npz", "DQNAgent", change)
    with pytest.raises(ValueError, match=f"crafted.npz.*{match}"):
        DQNAgent.load(tmp_path / "crafted.npz")


def test_load_refuses_a_seed_clearly(tmp_path):
    _, path = dqn_file(tmp_path)
    with pytest.raises(TypeError, match="takes no seed: a loaded agent continues the random state"):
        DQNAgent.load(path, seed=3)


@pytest.mark.parametrize("overrides, error, match", [
    (dict(hidden=(16,)), TypeError, r"load\(\): \['hidden'\] cannot be overridden"),
    (dict(lr=-1.0), ValueError, r"load\(\): bad override \{'lr': -1.0\}: lr must be > 0"),
    (dict(learning_rate=0.1), TypeError, r"load\(\): bad override .*learning_rate"),
    (dict(buffer_size=32), ValueError, r"load\(\): buffer_size=32 does not fit the replay buffer of capacity 16"),
])
def test_a_bad_override_is_reported_as_an_argument_not_a_file_fault(tmp_path, overrides, error, match):
    _, path = dqn_file(tmp_path, include_buffer=True)
    with pytest.raises(error, match="^DQNAgent." + match):
        DQNAgent.load(path, **overrides)


def test_without_a_stored_buffer_buffer_size_may_change(tmp_path):
    agent, path = dqn_file(tmp_path)
    loaded = DQNAgent.load(path, buffer_size=32)
    assert loaded.buffer.capacity == 32 and loaded.updates == agent.updates


def test_tabular_overrides_are_checked_as_arguments(tmp_path):
    TabularQAgent(3, 2).save(tmp_path / "q.npz")
    with pytest.raises(ValueError, match=r"^alpha must be <= 1"):
        TabularQAgent.load(tmp_path / "q.npz", alpha=5.0)
    assert TabularQAgent.load(tmp_path / "q.npz", epsilon=0.5).epsilon == 0.5


def test_optimizer_hyperparameters_stored_as_text_are_refused_not_parsed(tmp_path):
    _, path = dqn_file(tmp_path)
    rewrite(path, tmp_path / "text.npz", "DQNAgent", **{"adam.lr": np.array("0.5")})
    with pytest.raises(ValueError, match=r"text.npz': Adam state is incomplete or malformed: lr must be a single number"):
        DQNAgent.load(tmp_path / "text.npz")
