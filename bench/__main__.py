"""``python -m bench``: the same as ``pipeq bench`` (results in bench/results/)."""

from pipeq_workers.cli import main

if __name__ == "__main__":
    main(["bench"])
