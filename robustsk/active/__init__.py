"""Active learning: a modAL-compatible learner and a durable journal of answers."""

from ._journal import AnswerJournal, row_keys
from ._learner import ActiveLearner

__all__ = ["ActiveLearner", "AnswerJournal", "row_keys"]
