"""What every env of minidqn.envs shares: Gymnasium's reset options, close() and metadata, and
the bridge's clear error where Gymnasium is not installed (the bridge itself: test_gymnasium.py)."""
import numpy as np
import pytest

from minidqn.envs.pricing import PricingEnv
from minidqn.envs.shop import ShopEnv
from minidqn.envs.tabular_shop import TabularShop
from minidqn.envs.vector_shop import VectorShopEnv


@pytest.mark.parametrize("make", [ShopEnv, TabularShop, PricingEnv, lambda: PricingEnv(obs_mode="features"),
                                  lambda: VectorShopEnv(2)])
def test_every_env_has_gymnasiums_reset_options_close_and_metadata(make):
    env = make()
    first, _ = env.reset(seed=3, options={"anything": 1})
    again, _ = env.reset(seed=3, options=None)
    np.testing.assert_array_equal(first, again)  # options change nothing
    assert env.metadata["render_modes"] == []
    assert env.close() is None
    if hasattr(env, "num_envs"):
        assert env.metadata["autoreset_mode"] == "SameStep"  # gymnasium.vector.AutoresetMode's value


def test_to_gymnasium_without_gymnasium_names_the_extra_to_install(monkeypatch):
    import sys

    from minidqn.envs import to_gymnasium
    monkeypatch.setitem(sys.modules, "gymnasium", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"minidqn\[gym\]"):
        to_gymnasium(ShopEnv())
