"""pipeq_gateway: the HTTP front door of pipeq (OpenAI, TGI, Hugging Face task routes, jobs).

A thin, stateless shell over ``pipeq_client.AsyncClient``: run as many replicas as you like.

    pipeq gateway --host 0.0.0.0 --port 8000      # or: pipeq-gateway, python -m pipeq_gateway
"""

from __future__ import annotations

from pipeq_gateway.app import create_app
from pipeq_gateway.settings import GatewaySettings

__all__ = ["GatewaySettings", "create_app"]
__version__ = "0.1.0"
