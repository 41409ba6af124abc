"""``modelyard endpoints deploy | redeploy | logs``: entry-script endpoints from the shell."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from modelyard.cli.context import console, state
from modelyard.cli.render import print_created
from modelyard.errors import InvalidInput, ModelUnavailable

if TYPE_CHECKING:
    from modelyard.workspace.endpoints import Endpoints

ModelsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--model",
        "-m",
        help="A model version for get_model_path (repeatable; none for a script that loads "
        "no model).",
    ),
]


def deploy(
    name: Annotated[str, typer.Argument(help="Endpoint name (part of its URL).")],
    entry_script: Annotated[Path, typer.Option(help="The script with init() and run(raw_data).")],
    model: ModelsOption = None,
    source_directory: Annotated[
        Path | None, typer.Option(help="A folder shipped with the script (it holds the script).")
    ] = None,
    environment: Annotated[
        Path | None, typer.Option(help="A conda YAML or requirements file for its own venv.")
    ] = None,
    cpu_cores: Annotated[float, typer.Option(help="Cores: one worker per whole core.")] = 1.0,
    memory_gb: Annotated[float, typer.Option(help="Memory per worker before a restart.")] = 1.0,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default: cores).")] = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="No keys (ACI's default; served on loopback only).")
    ] = False,
    skip_package_check: Annotated[
        bool,
        typer.Option(
            "--skip-package-check",
            help="Serve even if scikit-learn/xgboost/numpy differ from training.",
        ),
    ] = False,
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env", help="NAME=VALUE set for the script, e.g. AML_CORS_ORIGINS (repeatable)."
        ),
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait until it is healthy or failed.")] = True,
) -> None:
    """Deploy an Azure ML-style entry script with its models; prints its keys this once."""
    with state.open() as ws:
        endpoint = ws.endpoints.deploy_script(
            name,
            entry_script=entry_script,
            models=model or [],
            source_directory=source_directory,
            environment=environment,
            cpu_cores=cpu_cores,
            memory_gb=memory_gb,
            workers=workers,
            auth_enabled=not no_auth,
            check_packages=not skip_package_check,
            environment_variables=_variables(env or []),
        )
        print_created(endpoint, "running")
        if wait:
            _wait(ws.endpoints, name)


def redeploy(
    name: Annotated[str, typer.Argument(help="Endpoint name.")],
    entry_script: Annotated[Path | None, typer.Option(help="New entry script.")] = None,
    model: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="New model versions (repeatable).")
    ] = None,
    source_directory: Annotated[Path | None, typer.Option(help="New source folder.")] = None,
    environment: Annotated[Path | None, typer.Option(help="New conda/requirements file.")] = None,
    env: Annotated[
        list[str] | None,
        typer.Option("--env", help="NAME=VALUE for the script, replacing all (repeatable)."),
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait until it is healthy or failed.")] = True,
) -> None:
    """Redeploy an entry-script endpoint; the old deployment serves until the new one is up."""
    with state.open() as ws:
        changes: dict[str, object] = {}
        if entry_script is not None:
            changes.update(entry_script=entry_script, source_directory=source_directory)
        if model:
            changes["models"] = model
        if environment is not None:
            changes["environment"] = environment
        if env is not None:
            changes["environment_variables"] = _variables(env)
        ws.endpoints.update_script(name, **changes)
        console.print(f"Redeploying {name}")
        if wait:
            _wait(ws.endpoints, name)


def logs(
    name: Annotated[str, typer.Argument(help="Endpoint name.")],
    tail: Annotated[int, typer.Option(help="How many of the newest lines.")] = 200,
) -> None:
    """Show an endpoint's log: environment build, entry-script output, restarts."""
    with state.open() as ws:
        text = ws.endpoints.logs(name, tail=tail)
    console.print(text or f"{name} has logged nothing yet", markup=False, highlight=False)


def _wait(endpoints: Endpoints, name: str) -> None:
    done = endpoints.wait(
        name, show_output=True, echo=lambda line: console.print(line, markup=False, soft_wrap=True)
    )
    if done.state == "failed":
        raise ModelUnavailable(f"endpoint {name} failed: {done.state_reason}")
    if done.state != "healthy":
        raise ModelUnavailable(
            f"endpoint {name} is still {done.state}: is `modelyard serve` or `modelyard up` "
            "running for this workspace?"
        )
    console.print(f"[green]{name} is healthy[/]: {done.scoring_uri}")


def _variables(pairs: list[str]) -> dict[str, str]:
    """``NAME=VALUE`` options as a mapping; raises InvalidInput for one without ``=``."""
    variables: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InvalidInput(
                f"--env {pair!r}: expected NAME=VALUE", code="bad_environment_variable"
            )
        variables[name] = value
    return variables
