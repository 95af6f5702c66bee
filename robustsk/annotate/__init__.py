"""The annotation web app where a person picks the perturbation level of an example."""

from ._app import create_app, is_loopback
from ._human_oracle import HumanOracle
from ._server import AnnotationServer
from ._store import QueryStore

__all__ = ["AnnotationServer", "HumanOracle", "QueryStore", "create_app", "is_loopback"]
