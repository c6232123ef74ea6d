"""The gateway's part in ``pipeq demo``: started next to the demo's workers on a loopback port
(no keys needed there), and checked with one OpenAI-style chat completion."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from pipeq_gateway.process import GatewayProcess, free_port, port_is_free

__all__ = ["demo_gateway", "gateway_check"]


def demo_gateway(env: dict[str, str], port: int) -> GatewayProcess:
    """A gateway on ``port``, or on any free port when that one is taken."""
    return GatewayProcess(env, port=port if port_is_free(port) else free_port())


def gateway_check(url: str, timeout_s: float = 120.0) -> tuple[bool, str]:
    """``(ok, one line)``: a chat completion through the gateway with the default model."""
    body = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8, "temperature": 0}
    request = urllib.request.Request(
        f"{url}/v1/chat/completions", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            answer = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as error:
        return False, f"POST /v1/chat/completions failed: {error}"
    usage = answer["usage"]
    text = json.dumps(answer["choices"][0]["message"]["content"])
    return True, f"POST /v1/chat/completions -> {text} ({usage['completion_tokens']} tokens, {answer['model']})"
