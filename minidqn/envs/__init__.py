"""The shops: ``TabularShop`` (finite, exact model), ``ShopEnv``/``VectorShopEnv`` (features),
``PricingEnv`` (dynamic pricing, exact model). All follow Gymnasium's API by duck typing."""
from .pricing import PricingConfig, PricingEnv
from .shop import ShopConfig, ShopEnv
from .tabular_shop import TabularShop
from .vector_shop import VectorShopEnv

__all__ = ["TabularShop", "ShopEnv", "ShopConfig", "VectorShopEnv", "PricingEnv", "PricingConfig"]
