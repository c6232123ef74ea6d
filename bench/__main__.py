"""``python -m bench [OPTIONS]``: the same as ``pipeq bench [OPTIONS]`` (results in bench/results/)."""

import sys

from pipeq_workers.cli import bench

if __name__ == "__main__":
    bench(sys.argv[1:], prog_name="python -m bench")
