"""Reports the top-level modules loaded in the host process that are not standard library."""

import sys


def init():
    pass


def run(raw_data):
    tops = {name.split(".")[0] for name in sys.modules}
    return sorted(t for t in tops if t not in sys.stdlib_module_names and not t.startswith("_"))
