"""Active learning: a modAL-compatible learner, AQPL's perturbation-level learner, oracles,
stopping criteria and a durable journal of answers."""

from ._journal import AnswerJournal, row_keys
from ._learner import ActiveLearner
from ._level_learner import AQPLLearner, PerturbationLevelLearner
from ._oracles import CallableOracle, LevelQuery, SimulatedOracle, make_queries
from ._stopping import LabelBudget, LowUncertainty, StoppingCriterion, ValidationPlateau

__all__ = [
    "AQPLLearner",
    "ActiveLearner",
    "AnswerJournal",
    "CallableOracle",
    "LabelBudget",
    "LevelQuery",
    "LowUncertainty",
    "PerturbationLevelLearner",
    "SimulatedOracle",
    "StoppingCriterion",
    "ValidationPlateau",
    "make_queries",
    "row_keys",
]
