"""``python -m pipeq_gateway``: the same as ``pipeq gateway``."""

from pipeq_gateway.cli import main

if __name__ == "__main__":
    main(prog_name="pipeq-gateway")
