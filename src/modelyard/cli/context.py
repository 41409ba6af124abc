"""What every command shares: the console and how to open the workspace."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from modelyard.workspace.root import Workspace

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


@dataclass
class CliState:
    """Options given before the command: ``--workspace`` and ``--debug``."""

    workspace: Path | None = None
    debug: bool = False

    def open(self) -> Workspace:
        """Open the workspace named by ``--workspace``/``MODELYARD_WORKSPACE`` or found upwards."""
        where = self.workspace or (
            Path(os.environ["MODELYARD_WORKSPACE"])
            if os.environ.get("MODELYARD_WORKSPACE")
            else None
        )
        # imported here, not at the top: `modelyard --help` (and a command that fails
        # before opening anything) starts without SQLAlchemy, scikit-learn or pandas
        from modelyard.workspace.root import Workspace

        return Workspace.from_config(where)


state = CliState()
