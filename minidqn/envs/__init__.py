"""The shops: ``TabularShop`` (finite, exact model), ``ShopEnv``/``VectorShopEnv`` (features),
``PricingEnv`` (dynamic pricing, exact model), ``SlateShopEnv``/``TabularSlateShop`` (pages of
several products). All follow Gymnasium's API by duck typing;
``to_gymnasium`` makes any of them a real ``gymnasium.Env`` (Gymnasium imported only then)."""
from .gymnasium_bridge import to_gymnasium
from .pricing import PricingConfig, PricingEnv
from .shop import ShopConfig, ShopEnv
from .slate_shop import SlateShopEnv
from .tabular_slates import TabularSlateShop
from .tabular_shop import TabularShop
from .vector_shop import VectorShopEnv

__all__ = ["TabularShop", "ShopEnv", "ShopConfig", "VectorShopEnv", "PricingEnv", "PricingConfig", "to_gymnasium",
           "SlateShopEnv", "TabularSlateShop"]
