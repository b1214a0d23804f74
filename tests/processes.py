"""Processes the tests start and watch: their output read line by line as it comes."""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path


class WatchedProcess:
    """A process whose output (stdout and stderr) is read line by line as it comes."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._ended = False
        self.process = subprocess.Popen(  # noqa: S603 - the tests' own commands
            command,
            cwd=cwd,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "".join(self.lines)

    def wait_for(self, pattern: re.Pattern[str], count: int = 1, timeout: float = 120) -> list[str]:
        """The first ``count`` lines matching ``pattern``, once printed; fails if it ends first."""

        def found() -> list[str]:
            return [line for line in self.lines if pattern.search(line)]

        with self._changed:
            self._changed.wait_for(lambda: len(found()) >= count or self._ended, timeout)
            matches = found()
        assert len(matches) >= count, f"no {count} x {pattern.pattern!r} in:\n{self.output}"
        return matches[:count]

    def stop(self) -> int:
        """SIGTERM, as a process manager stops it; its exit status."""
        self.process.terminate()
        try:
            status = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            status = self.process.wait(timeout=60)
        self._reader.join(timeout=60)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return status
