"""The ``modelyard`` entry point, and the one place that prints an error and exits."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from modelyard import __version__
from modelyard.cli import (
    batch,
    control,
    envs,
    jobs,
    models,
    monitoring,
    quickstart,
    rollout,
    scripts,
    serving,
    training,
    users,
)
from modelyard.cli.context import console, err_console, state
from modelyard.config.secret import redact, redact_url
from modelyard.errors import ModelyardError

app = typer.Typer(
    name="modelyard",
    help="Train models from SQL, version them, promote them through a gate, serve them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(models.app, name="models")
app.add_typer(training.runs_app, name="runs")
serving.endpoints_app.command("deploy")(scripts.deploy)
serving.endpoints_app.command("redeploy")(scripts.redeploy)
serving.endpoints_app.command("logs")(scripts.logs)
serving.endpoints_app.command("collect")(monitoring.collect)
serving.endpoints_app.command("update")(rollout.update)
serving.endpoints_app.command("compare")(rollout.compare)
app.add_typer(serving.endpoints_app, name="endpoints")
app.add_typer(jobs.schedules_app, name="schedules")
app.add_typer(envs.envs_app, name="envs")
app.add_typer(users.users_app, name="users")
app.add_typer(monitoring.webhooks_app, name="webhooks")
app.add_typer(batch.batch_app, name="batch")
app.command("serve")(serving.serve)
app.command("up")(control.up)
app.command("worker")(jobs.worker)
app.command("scheduler")(jobs.scheduler)
app.command("train")(training.train)
app.command("demo-data")(training.demo_data)
app.command("quickstart")(quickstart.quickstart)
app.command("monitor")(monitoring.monitor)


def _version(value: bool) -> None:
    if value:
        console.print(f"modelyard {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    workspace: Annotated[
        Path | None,
        typer.Option("--workspace", "-w", help="Folder (or modelyard.toml) of the workspace."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """modelyard: the model registry, trainer and scoring server for data in SQL."""
    state.workspace = workspace
    state.debug = debug


@app.command("init")
def init(
    folder: Annotated[Path, typer.Argument(help="Where to create the workspace.")] = Path("."),
) -> None:
    """Create modelyard.toml and .modelyard/ (SQLite registry, local artifact folder)."""
    # imported here, not at the top: `modelyard --help` starts without it
    from modelyard.workspace.root import Workspace

    existed = (folder / "modelyard.toml").exists()
    with Workspace.init(folder) as ws:
        verb = "Opened existing" if existed else "Created"
        console.print(f"{verb} workspace in {ws.settings.root}")
        console.print(f"  registry:  {ws.settings.database_url}")
        console.print(f"  artifacts: {redact_url(ws.settings.artifacts)}")


@app.command("doctor")
def doctor(
    fix: Annotated[
        bool, typer.Option("--fix", help="Remove temporaries left by interrupted writes.")
    ] = False,
) -> None:
    """Check the registry: every version's artifact exists and matches its sha256."""
    with state.open() as ws:
        report = ws.doctor(fix=fix)
    for finding in report.findings:
        style = "red" if finding.severity == "problem" else "yellow"
        console.print(
            f"[{style}]{finding.severity}[/] {escape(finding.subject)}: {escape(finding.message)}"
        )
    summary = f"{report.versions_checked} versions, {report.blobs_checked} blobs checked"
    if report.ok:
        console.print(f"[green]ok[/]: {summary}")
    else:
        problems = sum(1 for f in report.findings if f.severity == "problem")
        console.print(f"[red]{problems} problems[/]: {summary}")
        raise typer.Exit(1)


def run(argv: list[str] | None = None) -> None:
    """Run the CLI; errors print as one red line (a traceback only with ``--debug``)."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        # standalone_mode=False hands back the code of a ``typer.Exit`` instead of exiting
        # (or the command's own return value): it is the process's status.
        code = app(args=args, standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        _fail("aborted", debug)
    except ModelyardError as exc:
        _fail(f"error[{exc.code}]: {exc.message}", debug)
    except KeyboardInterrupt:
        _fail("interrupted", debug, code=130)
    except Exception as exc:  # a clean line for anything unforeseen, never a raw traceback
        if _is_click_usage_error(exc):
            _usage_error(exc)
        _fail(
            f"error[internal]: {type(exc).__name__}: {redact(str(exc))} (rerun with --debug)", debug
        )
    else:
        if isinstance(code, int) and code != 0:
            sys.exit(code)


def _is_click_usage_error(exc: Exception) -> bool:
    return hasattr(exc, "show") and hasattr(exc, "exit_code")


def _usage_error(exc: Exception) -> None:
    exc.show()  # type: ignore[attr-defined]  # click's own usage message
    sys.exit(int(exc.exit_code))  # type: ignore[attr-defined]


def _fail(message: str, debug: bool, code: int = 1) -> None:
    if debug:
        err_console.print(escape(traceback.format_exc()))
    one_line = redact_url(" ".join(message.split()))
    err_console.print(f"[red]{escape(one_line)}[/]", soft_wrap=True)
    sys.exit(code)
