def init():
    raise RuntimeError("init exploded")


def run(raw_data):
    return raw_data
