"""minidqn: deep Q-learning for e-commerce recommendation, on NumPy alone.

The public names, in reading order: the network and its training pieces (``MLP``, ``Adam``,
``SGD``, ``clip_grad_norm``, ``mse``, ``huber``), tabular Q-learning (``td_target``, ``q_update``,
``value_iteration``, ``policy_evaluation``, ``TabularQAgent``), deep Q-learning (``ReplayBuffer``,
``DQNAgent``), the baselines, the loop (``train``, ``evaluate``) and the shops; slates of several
products (``SlateShopEnv``, ``TabularSlateShop``, ``SlateQAgent`` and the slate baselines).
"""
__version__ = "0.1.0"

from ._blas import limit_blas_threads
from .baselines import GreedyAgent, OracleAgent, PopularityAgent, RandomAgent
from .dqn import DQNAgent
from .dqn_config import DQNConfig, control_task_settings
from .envs.pricing import PricingConfig, PricingEnv
from .envs.shop import ShopConfig, ShopEnv
from .envs.tabular_shop import TabularShop
from .envs.slate_shop import SlateShopEnv
from .envs.tabular_slates import TabularSlateShop
from .envs.vector_shop import VectorShopEnv
from .item_dqn import ItemDQNAgent
from .explain import explain
from .losses import huber, mse
from .mlp import MLP
from .optim import SGD, Adam, clip_grad_norm
from .replay import Batch, ReplayBuffer
from .schedules import LinearSchedule, PowerStepSize
from .slate_baselines import GreedySlateAgent, PopularitySlateAgent, RandomSlateAgent
from .slate_q import SlateQAgent
from .spaces import Box, Discrete
from .tabular import TabularQAgent, policy_evaluation, q_update, td_target, value_iteration
from .train import History, evaluate, train

__all__ = [
    "MLP", "Adam", "SGD", "clip_grad_norm", "mse", "huber",
    "td_target", "q_update", "value_iteration", "policy_evaluation", "TabularQAgent",
    "ReplayBuffer", "Batch", "DQNAgent", "DQNConfig", "control_task_settings", "ItemDQNAgent",
    "LinearSchedule", "PowerStepSize",
    "RandomAgent", "PopularityAgent", "GreedyAgent", "OracleAgent",
    "train", "evaluate", "History", "explain", "limit_blas_threads",
    "Discrete", "Box", "TabularShop", "ShopEnv", "ShopConfig", "VectorShopEnv", "PricingEnv", "PricingConfig",
    "SlateShopEnv", "TabularSlateShop", "SlateQAgent", "GreedySlateAgent", "RandomSlateAgent", "PopularitySlateAgent",
]
