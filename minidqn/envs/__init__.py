"""The shops: ``TabularShop`` (finite, exact model), ``ShopEnv``/``VectorShopEnv`` (features),
``PricingEnv`` (dynamic pricing, exact model). All follow Gymnasium's API by duck typing;
``to_gymnasium`` makes any of them a real ``gymnasium.Env`` (Gymnasium imported only then)."""
from .gymnasium_bridge import to_gymnasium
from .pricing import PricingConfig, PricingEnv
from .shop import ShopConfig, ShopEnv
from .tabular_shop import TabularShop
from .vector_shop import VectorShopEnv

__all__ = ["TabularShop", "ShopEnv", "ShopConfig", "VectorShopEnv", "PricingEnv", "PricingConfig", "to_gymnasium"]
