"""`make ui`'s launcher mechanics (etl_shared.launcher), without any tool's servers.

A taken port gives the one line every platform prints; a launcher whose process group
holds a child and an orphaned grandchild stops them all on a Ctrl-C within its bounded
stop time and exits 0.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from etl_shared import launcher
from etl_shared.testing.browser import descendants, free_port, running


def test_a_port_in_use_gives_one_clear_line_and_starts_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    started = []
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setenv("PORT", str(port))
        monkeypatch.setenv("HOST", "127.0.0.1")
        code = launcher.run_ui("Demo", 1, lambda *args: started.append(args) or "")
        assert launcher.port_in_use("127.0.0.1", port)
    assert code == 1
    assert started == []
    err = capsys.readouterr().err
    assert err == (
        f"make ui: port {port} on 127.0.0.1 is already in use; stop what listens there "
        "or choose another port: make ui PORT=<port>\n"
    )
    assert not launcher.port_in_use("127.0.0.1", port)


def test_browser_host_is_what_a_local_browser_opens() -> None:
    assert launcher.browser_host("0.0.0.0") == "127.0.0.1"
    assert launcher.browser_host("::") == "[::1]"
    assert launcher.browser_host("::1") == "[::1]"
    assert launcher.browser_host("127.0.0.2") == "127.0.0.2"


# A launcher with a server that starts a grandchild and exits on SIGINT, leaving the
# grandchild an orphan of the launcher (its subreaper).
LAUNCHER = textwrap.dedent(
    """
    import sys
    from etl_shared import launcher

    SERVER = (
        "import subprocess, time; subprocess.Popen(['sleep', '300']); "
        "print('serving', flush=True); time.sleep(300)"
    )

    def start(group, host, port, url):
        group.start([sys.executable, "-c", SERVER], {})
        return f"Demo UI: {url}"

    sys.exit(launcher.supervise("Demo", "127.0.0.1", int(sys.argv[1]), start))
    """
)


def test_ctrl_c_stops_the_process_group_within_the_bounded_time() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(free_port())],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        process_group=0,  # as a terminal runs it: the Ctrl-C goes to this group only
    )
    try:
        assert proc.stdout.readline().startswith("Demo UI: http://127.0.0.1:")
        assert proc.stdout.readline() == "serving\n"
        deadline = time.monotonic() + 10
        while len(pids := descendants(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(pids) == 2, pids  # the server and its grandchild
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        bound = sum(wait for _, wait in launcher.STOP_SIGNALS) + 5
        assert proc.wait(timeout=bound) == 0
        assert time.monotonic() - started < bound
        out = proc.stdout.read()
        assert "make ui: stopping Demo ..." in out, out
        assert [p for p in pids if running(p)] == [], out
    finally:
        if proc.poll() is None:
            for pid in descendants(proc.pid) | {proc.pid}:
                os.kill(pid, signal.SIGKILL)
            proc.wait()
