"""``ws.endpoints``: real-time endpoints as the SDK shows them."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from modelyard.config.settings import Settings
from modelyard.errors import InvalidInput, ModelyardError, NotFound
from modelyard.registry.registry import Registry
from modelyard.storage.audit import AuditLog
from modelyard.storage.comparisons import Comparison, ComparisonStore
from modelyard.storage.endpoints import (
    EndpointRecord,
    EndpointStore,
    check_output_names,
    check_rate,
)
from modelyard.storage.rollout import Mirror, check_mirror, check_traffic
from modelyard.types import Flavour, ModelRef, files_refusal
from modelyard.workspace.scripts import ScriptDeployments


@dataclass(frozen=True)
class Endpoint:
    """An endpoint as the SDK shows it; ``keys`` is filled only when just created."""

    name: str
    target: str
    state: str
    scoring_uri: str
    swagger_uri: str
    created_at: datetime
    updated_at: datetime
    keys: Mapping[str, str] | None = None
    kind: str = "model"  # or "script": an entry script with its models
    auth_enabled: bool = True
    state_reason: str | None = None  # why it is in its state (a failure's cause)
    models: tuple[str, ...] = ()  # an entry-script endpoint's model versions
    collect: bool = False  # scored rows go to the collection table
    sampling_rate: float = 1.0  # the share of requests collected
    traffic: Mapping[str, int] | None = None  # canary weights by alias; None: the target alone
    mirror: Mapping[str, Any] | None = None  # {"alias", "percent"} scored after answering
    output_names: tuple[str, ...] = ()  # what the wire formats call the outputs; () defaults

    def predict(
        self, rows: builtins.list[Any], *, key: str | None = None, timeout: float = 30.0
    ) -> Any:
        """POST ``{"data": rows}`` to the scoring URI and return the predictions (for an
        entry-script endpoint: what its ``run()`` returned, decoded from JSON)."""
        token = key or (self.keys or {}).get("primary")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.post(
            self.scoring_uri, json={"data": rows}, headers=headers, timeout=timeout
        )
        if response.status_code != 200:
            try:
                body = response.json()
                message = body.get("message", response.text)
            except ValueError:
                message = response.text
            raise ModelyardError(f"{self.name} answered {response.status_code}: {message}")
        answer = response.json()
        if self.kind == "script":
            return answer
        return answer["predictions"]


class Endpoints:
    """``ws.endpoints``: real-time endpoints serving a model reference."""

    def __init__(
        self,
        store: EndpointStore,
        settings: Settings,
        registry: Registry,
        audit: AuditLog | None = None,
    ) -> None:
        self._store = store
        self._audit = audit
        self._base = settings.serve_url
        self._registry = registry
        self._comparisons = ComparisonStore(registry.db)
        self.scripts = ScriptDeployments(store, registry, self._view, settings.root)

    def _view(self, record: EndpointRecord, keys: Mapping[str, str] | None = None) -> Endpoint:
        return Endpoint(
            kind=record.kind,
            auth_enabled=record.auth_enabled,
            state_reason=record.state_reason,
            models=tuple(record.options.get("models") or ()),
            collect=record.collect,
            sampling_rate=record.sampling_rate,
            output_names=tuple(record.options.get("output_names") or ()),
            traffic=dict(record.rollout.traffic) or None,
            mirror=record.rollout.mirror.to_dict() if record.rollout.mirror else None,
            name=record.name,
            target=record.target,
            state=record.state.value,
            scoring_uri=f"{self._base}/endpoints/{record.name}/score",
            swagger_uri=f"{self._base}/endpoints/{record.name}/swagger.json",
            created_at=record.created_at,
            updated_at=record.updated_at,
            keys=keys,
        )

    def create(
        self,
        name: str,
        *,
        model: str,
        collect: bool = False,
        sampling_rate: float = 1.0,
        description: str = "",
        batch_max_rows: int = 0,
        batch_max_wait_ms: float = 2.0,
        check_packages: bool = True,
        output_names: Sequence[str] = (),
        actor: str | None = None,
    ) -> Endpoint:
        """Create an endpoint serving ``model`` (``immo``, ``immo@champion``, ``immo:3``);
        its keys are returned this once. ``collect`` writes its scored rows to the
        collection table (``sampling_rate``: the share of requests collected).
        ``batch_max_rows > 0`` turns on adaptive micro-batching of concurrent requests
        (batches of up to that many rows, each request waiting at most
        ``batch_max_wait_ms``). ``check_packages=False`` serves a version trained with
        another major or minor scikit-learn, xgboost or numpy. ``output_names`` name the
        outputs in every wire format that names them (classic's ``Scored Labels`` column,
        V2's ``output-0``, records in Azure ML and MLflow answers); by default the
        version's signature outputs if it has any, else each format's own names."""
        check_rate(sampling_rate)
        self._check_servable(model)
        options: dict[str, Any] = {} if check_packages else {"check_packages": False}
        if output_names:
            options["output_names"] = check_output_names(output_names)
        if sampling_rate != 1.0:
            options["sampling_rate"] = sampling_rate
        if batch_max_rows > 0:
            options["batch"] = {"max_rows": batch_max_rows, "max_wait_ms": batch_max_wait_ms}
        record, keys = self._store.create(
            name, model, collect=collect, description=description, options=options
        )
        self._record(actor, "endpoint.created", name, {"model": model})
        return self._view(record, keys)

    def get(self, name: str) -> Endpoint:
        """The endpoint ``name``."""
        return self._view(self._store.get(name))

    def list(self) -> builtins.list[Endpoint]:
        """All endpoints."""
        return [self._view(r) for r in self._store.list()]

    def update(
        self,
        name: str,
        *,
        model: str | None = None,
        traffic: Mapping[str, int] | None = None,
        mirror: Mapping[str, float] | None = None,
        actor: str | None = None,
    ) -> Endpoint:
        """Serve ``model`` (``immo``, ``immo@champion``, ``immo:3``) from the endpoint
        ``name`` from now on, and/or split its traffic or mirror it; keys stay the same
        and replicas follow within a second.

        ``traffic`` weighs aliases of the endpoint's model (``{"champion": 90,
        "challenger": 10}``, whole percentages summing to 100; ``{}`` turns the split
        off): each request is answered by one of them. ``mirror`` names one alias and
        the percentage of requests also scored on it after answering, to compare
        (``{"challenger": 20}``; ``{}`` turns it off). Each alias must exist."""
        if model is None and traffic is None and mirror is None:
            raise InvalidInput("give model, traffic or mirror", code="nothing_to_update")
        record = self._store.get(name)
        if model is not None:
            if record.kind == "model":
                self._check_servable(model)
            record = self._store.set_target(name, model)
            self._record(actor, "endpoint.retargeted", name, {"model": model})
        if traffic is not None or mirror is not None:
            split = check_traffic(traffic) if traffic is not None else None
            copy: Mirror | bool | None = False
            if mirror is not None:
                if len(mirror) > 1:
                    raise InvalidInput(
                        "mirror names one alias and a percentage, e.g. {'challenger': 20}",
                        code="bad_mirror",
                    )
                copy = check_mirror(*next(iter(mirror.items()))) if mirror else None
            self._check_aliases(
                record, [*(split or {}), *([copy.alias] if isinstance(copy, Mirror) else [])]
            )
            record = self._store.set_rollout(name, traffic=split, mirror=copy)
            details = {"traffic": dict(record.rollout.traffic)}
            details["mirror"] = record.rollout.mirror.to_dict() if record.rollout.mirror else {}
            self._record(actor, "endpoint.rollout", name, details)
        return self._view(record)

    def _check_servable(self, model: str) -> None:
        """Refuse a target that resolves to a ``files``-flavour version: a folder of files
        that no model endpoint can score (an entry script loads it)."""
        try:
            version = self._registry.resolve(ModelRef.parse(model))
        except NotFound:  # nothing promoted yet: the replicas say so until it is
            return
        if version.flavour is Flavour.FILES:
            raise InvalidInput(files_refusal(version.ref), code="files_flavour")

    def _check_aliases(self, record: EndpointRecord, aliases: builtins.list[str]) -> None:
        """Each alias exists on the endpoint's model (``AliasNotFound`` otherwise)."""
        if aliases and record.kind == "script":
            raise InvalidInput(
                f"endpoint {record.name} runs an entry script: traffic and mirror split "
                "a model endpoint between aliases of its model",
                code="not_a_model_endpoint",
            )
        model = ModelRef.parse(record.target).name
        for alias in aliases:
            self._registry.resolve(ModelRef(model, alias=alias))

    def comparison(self, name: str) -> builtins.list[Comparison]:
        """What the mirror of ``name`` found, one entry per (answering, mirrored) version
        pair, the most recent first."""
        self._store.get(name)
        return self._comparisons.summary(name)

    def collect(
        self,
        name: str,
        *,
        on: bool = True,
        sampling_rate: float | None = None,
        actor: str | None = None,
    ) -> Endpoint:
        """Turn collection of ``name``'s scored rows on (or off), collecting
        ``sampling_rate`` of its requests (unchanged if None); replicas follow within a
        second, an entry script's workers once restarted with it."""
        record = self._store.get(name)
        rate = record.sampling_rate if sampling_rate is None else sampling_rate
        updated = self._store.set_collection(name, on, rate)
        self._record(actor, "endpoint.collection", name, {"collect": on, "sampling_rate": rate})
        return self._view(updated)

    def name_outputs(
        self, name: str, output_names: Sequence[str], *, actor: str | None = None
    ) -> Endpoint:
        """Name the outputs of ``name`` in every wire format that names them (``()``: the
        defaults again); replicas follow within a second."""
        updated = self._store.set_output_names(name, output_names)
        names = list(updated.options.get("output_names") or [])
        self._record(actor, "endpoint.output_names", name, {"output_names": names})
        return self._view(updated)

    def delete(self, name: str, *, actor: str | None = None) -> None:
        """Delete the endpoint ``name`` (replicas stop serving it within a second)."""
        self._store.delete(name)
        self._comparisons.clear(name)
        self._record(actor, "endpoint.deleted", name)

    def regenerate_key(self, name: str, slot: str = "primary", *, actor: str | None = None) -> str:
        """A new primary or secondary key; the old one stops working. The audit log records
        who (``actor``, by default the OS user)."""
        key = self._store.regenerate(name, slot)
        self._record(actor, "endpoint.key_regenerated", name, {"slot": slot})
        return key

    def _record(
        self, actor: str | None, action: str, name: str, details: Mapping[str, Any] | None = None
    ) -> None:
        if self._audit is not None:
            self._audit.record(self._registry.who(actor), action, name, details)

    def deploy_script(self, name: str, **options: Any) -> Endpoint:
        """Deploy an entry script (``init()``/``run(raw_data)``) with its models; see
        :meth:`ScriptDeployments.deploy` for the options. Keys are returned this once."""
        return self.scripts.deploy(name, **options)

    def update_script(self, name: str, **options: Any) -> Endpoint:
        """Redeploy an entry-script endpoint with new code, models, environment or
        resources; the old deployment serves until the new one is ready."""
        return self.scripts.update(name, **options)

    def wait(
        self,
        name: str,
        *,
        timeout_s: float = 900.0,
        show_output: bool = False,
        echo: Callable[[str], None] = print,
    ) -> Endpoint:
        """Block until the endpoint is ``healthy`` or ``failed`` (or ``timeout_s`` passed);
        ``show_output`` echoes its log lines as they come. Raises ``ModelUnavailable``
        within 10 s if no replica serves the workspace to build and run it."""
        return self.scripts.wait(name, timeout_s=timeout_s, show_output=show_output, echo=echo)

    def logs(self, name: str, *, tail: int = 1000) -> str:
        """The endpoint's newest log lines: environment build, entry-script output, events."""
        return "\n".join(
            f"{line.created_at:%Y-%m-%d %H:%M:%S} {line.stream:<6} {line.line}"
            for line in self._store.logs(name, tail=tail)
        )
