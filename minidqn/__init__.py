"""minidqn: deep Q-learning for e-commerce recommendation, on NumPy alone."""
__version__ = "0.1.0"

from .schedules import LinearSchedule
from .spaces import Box, Discrete
