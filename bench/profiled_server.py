"""``python -m bench.profiled_server OUTFILE serve ...``: the app's command line under
pyinstrument, saving the session to OUTFILE on SIGTERM. (uvicorn re-raises the signal after its
graceful shutdown, which would kill a plain ``pyinstrument -m app`` before it writes.)"""

from __future__ import annotations

import signal
import sys
from types import FrameType

from pyinstrument import Profiler

from app.__main__ import main as app_main


def _leave(_signal: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def main() -> None:
    outfile, argv = sys.argv[1], sys.argv[2:]
    signal.signal(signal.SIGTERM, _leave)
    profiler = Profiler()
    profiler.start()
    try:
        app_main(argv)
    except SystemExit:
        pass
    finally:
        session = profiler.stop()
        session.save(outfile)


if __name__ == "__main__":
    main()
