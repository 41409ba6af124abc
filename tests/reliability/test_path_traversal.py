"""Path traversal against every HTTP route that takes a name or a path (walked from the
served Studio app: scoring, admin API, classic management, Studio pages, forms and
static files) and every CLI command that takes a name, plus the registry's own paths:
a folder holding a symlink that points out, a zip whose members climb out, and a
version row whose file name and object-store key were forged to climb out.

A secret file is planted outside the workspace and a sentinel path is named by the
payloads: the secret must never appear in an answer, the sentinel never be created, and
each refusal is a 4xx (a JSON error on the API, an error page in the Studio) or a
one-line CLI error."""

from __future__ import annotations

import contextlib
import io
import os
import re
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa

from modelyard import Workspace
from modelyard.cli.main import run
from modelyard.errors import ModelyardError, UnsafePath
from modelyard.storage import schema
from modelyard.ui.app import create_studio_app
from tests.helpers import figures
from tests.helpers.cli_walk import commands, is_argument
from tests.helpers.control import ADMIN
from tests.helpers.studio import Studio, serving_studio
from tests.web.test_admin_auth import routes_of

SECRET = f"MODELYARD-SECRET-{uuid.uuid4().hex}"
PARAM = re.compile(r"\{([a-z_]+)(?::path)?\}")
# commands that start servers or workers, or that take a local path by design (the
# user's own file system: what to register, where to write): not name-taking
LONG_RUNNING = {"serve", "up", "worker", "scheduler", "quickstart"}
NAME_ARGUMENTS = {"name", "ref", "run_id", "endpoint", "job_id", "token_id", "webhook", "model"}


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    with serving_studio(tmp_path_factory.mktemp("traversal")) as served:
        yield served


@pytest.fixture(scope="module")
def outside(studio: Studio) -> Path:
    """A folder beside the workspace (outside its store and work folder), with a secret."""
    folder = Path(studio.ws.settings.root).parent / f"outside-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    (folder / "secret.txt").write_text(SECRET)
    return folder


def payloads(studio: Studio, outside: Path) -> list[str]:
    """Traversal path segments, as they go into a URL (already percent-encoded)."""
    store = Path(studio.ws.settings.artifacts)
    up = "../" * (len(store.parts) + 1)  # enough to reach / from the store or the root
    secret = f"{up}{outside.relative_to('/')}/secret.txt"
    sentinel = f"{up}{outside.relative_to('/')}/sentinel"
    found = [
        quote(secret, safe=""),  # ..%2F..%2F
        quote(sentinel, safe="").replace(".", "%2e"),  # %2e%2e%2f
        quote(quote(secret, safe=""), safe=""),  # %252e%252e%252f: double-encoded
        quote(secret.replace("/", "\\"), safe=""),  # backslashes
        quote(str(outside / "secret.txt"), safe=""),  # absolute
        "immo%00",  # NUL
        quote(sentinel, safe="") + "%00.json",
        "..%c0%af..%c0%af" + quote(str(outside / "secret.txt"), safe=""),  # overlong UTF-8
        "....%2f%2f....%2f%2f" + quote(str(outside / "sentinel"), safe=""),
        "..;" + quote(secret, safe="/"),
    ]
    return found if figures.FULL else [found[0], found[2], found[5]]


def _escaped(text: str) -> bool:
    return SECRET in text


def _sentinels(studio: Studio, outside: Path) -> list[Path]:
    """Sentinels anywhere under the test's own folders, or near the top of / and /tmp
    (where ``../`` climbing out of a deep folder lands; not deeper, where other programs'
    files, such as a virtualenv's ``sentinels.py``, live)."""
    roots = (Path(studio.ws.settings.root).parent, outside)
    found = [p for root in roots for p in root.rglob("sentinel*")]
    return sorted({*found, *_near_top(Path("/"), 0), *_near_top(Path("/tmp"), 2)})


def _near_top(top: Path, depth: int) -> list[Path]:
    """Entries named ``sentinel*`` in ``top`` and its folders down to ``depth`` levels
    (folders that vanish or cannot be read meanwhile are passed over)."""
    found: list[Path] = []
    level = [top]
    for _ in range(depth + 1):
        below: list[Path] = []
        for folder in level:
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                if entry.name.startswith("sentinel"):
                    found.append(Path(entry.path))
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False) and entry.name != ".venv":
                        below.append(Path(entry.path))
        level = below
    return found


def _concrete(path: str, payload: str) -> str:
    return PARAM.sub(payload, path)


def test_traversal_reaches_nothing_outside_the_workspace(
    studio: Studio, outside: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tried = {"http": 0, "cli": 0, "registry": 0}
    wrong: list[str] = []
    escapes: list[str] = []
    sent = payloads(studio, outside)

    # --- HTTP: every route with a path parameter, every payload in every parameter -------
    routes = sorted(
        (method, path)
        for method, path in routes_of(create_studio_app(studio.ws))
        if "{" in path and method not in ("HEAD", "OPTIONS")
    )
    admin = studio.client("key")
    csrf = studio.csrf(admin)
    for method, path in routes:
        for payload in sent:
            url = _concrete(path, payload)
            if path.startswith("/studio/"):
                data = {"csrf": csrf} if method == "POST" else None
                answer = admin.request(method, url, data=data, headers={"origin": studio.base})
                clear = 400 <= answer.status_code < 500
            else:
                body: dict[str, str] | None = {} if method in ("POST", "PATCH", "PUT") else None
                answer = httpx.request(
                    method, studio.base + url, json=body, headers=ADMIN, timeout=30
                )
                clear = 400 <= answer.status_code < 500 and _json_error(answer)
            tried["http"] += 1
            if _escaped(answer.text):
                escapes.append(f"{method} {url}")
            if not clear:
                wrong.append(f"{method} {url}: {answer.status_code} {answer.text[:120]}")
    for payload in sent:  # the Studio's static files
        answer = admin.get(f"/studio/static/{payload}")
        tried["http"] += 1
        if _escaped(answer.text):
            escapes.append(f"GET /studio/static/{payload}")
        if not 400 <= answer.status_code < 500:
            wrong.append(f"GET /studio/static/{payload}: {answer.status_code}")
    admin.close()

    # --- the CLI: every name a command takes --------------------------------------------
    (tmp_path / "modelyard.toml").write_text(
        f'[registry]\ndatabase_url = "{studio.ws.settings.database_url.reveal()}"\n'
        f'artifacts = "{studio.ws.settings.artifacts}"\n'
    )
    raw = [p.replace("%00", "\x00") for p in (_decoded(p) for p in sent)]
    names = 0
    for words, command in commands():
        if words[0] in LONG_RUNNING:
            continue
        taking = [p for p in command.params if is_argument(p) and p.name in NAME_ARGUMENTS]
        if not taking:
            continue
        names += 1
        script = tmp_path / "score.py"
        script.write_text("def init():\n    pass\n\ndef run(raw):\n    return raw\n")
        fixed = {"model": "immo", "entry_script": str(script), "source": "immo_db", "key": "x"}
        required = [
            part
            for p in command.params
            if not is_argument(p) and p.required
            for part in (p.opts[0], fixed[p.name])
        ]
        for payload in raw:
            argv = [*words, *(payload for _ in command.params if is_argument(_)), *required]
            code, err = _cli(tmp_path, argv, capsys)
            tried["cli"] += 1
            if _escaped(err):
                escapes.append(" ".join(words))
            lines = [line for line in err.strip().splitlines() if line.strip()]
            # no such name exists: exit 0 (an empty read) is not a clear refusal either
            if code == 0 or len(lines) != 1 or "Traceback" in err:
                wrong.append(f"modelyard {' '.join(words)} {payload!r}: exit {code} {err[:200]}")

    # --- the registry's own paths --------------------------------------------------------
    ws = studio.ws
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "weights.txt").write_text("1.5")
    (linked / "secret.txt").symlink_to(outside / "secret.txt")
    tried["registry"] += 1
    with contextlib.suppress(ModelyardError):
        ws.models.register("linked", linked, flavour="files")
        wrong.append("a folder with a symlink pointing out was registered")
    code, err = _cli(tmp_path, ["models", "register", str(linked), "-n", "linked2",
                                "--flavour", "files"], capsys)  # fmt: skip
    tried["registry"] += 1
    if code == 0 or len(err.strip().splitlines()) != 1:
        wrong.append(f"CLI registered a symlink pointing out: {err}")

    archive = tmp_path / "zipped"
    archive.mkdir()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("../../../../../sentinel-zip", "climbed out")
        package.writestr(str(outside / "sentinel-abs"), "climbed out")
    (archive / "package.zip").write_bytes(buffer.getvalue())
    ws.models.register("zipped", archive, flavour="files")
    for target in ("sdk", "cli"):
        tried["registry"] += 1
        folder = tmp_path / f"down-{target}" / "a" / "b"
        if target == "sdk":
            ws.models.download("zipped:1", folder)
        else:
            code, err = _cli(tmp_path, ["models", "download", "zipped:1", "--to", str(folder)],
                             capsys)  # fmt: skip
            assert code == 0, err
        if sorted(p.name for p in folder.iterdir()) != ["package.zip"]:
            wrong.append(f"download of a zip wrote {sorted(folder.iterdir())}")

    forged = _forge(studio.ws, outside)
    for what in ("load", "download"):
        tried["registry"] += 1
        try:
            if what == "load":
                ws.models.load(forged)
            else:
                ws.models.download(forged, tmp_path / "forged-out")
            wrong.append(f"a forged row was {what}ed")
        except ModelyardError as exc:
            if _escaped(exc.message):
                escapes.append(f"forged {what}")

    sentinels = _sentinels(studio, outside)
    total = sum(tried.values())
    figures.record(
        "Path traversal on every route and command that takes a name or a path",
        load=(
            f"{tried['http']} (route, payload) pairs over {len(routes)} routes + static; "
            f"{tried['cli']} CLI calls over {names} commands; {tried['registry']} registry "
            f"paths; {len(sent)} payloads"
        ),
        faults="..%2f, %2e%2e%2f, %252e%252e%252f, backslashes, %00, absolute paths, "
        "symlinks out, zip members with ../, forged store keys",
        result=(
            f"{len(escapes)} escapes, {len(sentinels)} sentinels created, secret in 0 answers; "
            f"{total - len(wrong)}/{total} refused clearly"
        ),
        passed=not escapes and not sentinels and not wrong,
    )
    assert escapes == []
    assert sentinels == []
    assert wrong == [], "\n".join(wrong[:40])


def _decoded(payload: str) -> str:
    from urllib.parse import unquote

    return unquote(payload)


def _json_error(answer: httpx.Response) -> bool:
    if not answer.headers.get("content-type", "").startswith("application/json"):
        return False
    body = answer.json()
    return isinstance(body, dict) and bool(str(body.get("message") or "").strip())


def _cli(root: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``modelyard --workspace ROOT ARGV`` in this process: exit code and stderr."""
    capsys.readouterr()
    code = 0
    try:
        run(["--workspace", str(root), *argv])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.err + out.out


def test_a_forged_store_key_neither_reads_nor_deletes_a_file_outside(
    sqlite_workspace: Workspace, tmp_path: Path
) -> None:
    """Found by this module: a version row whose sha256 climbed out of the store made the
    blob cache read that file, then delete it as a bad copy, and the loader create
    folders outside."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    ref = _forge(sqlite_workspace, outside)
    with pytest.raises(UnsafePath):
        sqlite_workspace.models.load(ref)
    with pytest.raises(UnsafePath):
        sqlite_workspace.models.download(ref, tmp_path / "out")
    assert (outside / "secret.txt").read_text() == SECRET
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def _forge(ws: Workspace, outside: Path) -> str:
    """A version whose stored file name and blob key climb out of the store (as a
    database edited behind the registry's back would say)."""
    folder = Path(ws.settings.root) / "forge"
    folder.mkdir(exist_ok=True)
    (folder / "weights.txt").write_text("1.5")
    version = ws.models.register("forged", folder, flavour="files")
    key = "../" * 8 + str(outside / "secret.txt").lstrip("/")
    files = version.manifest.to_dict()
    files["entries"] = [{**e, "name": "../../../sentinel-forged", "sha256": key}
                        for e in files["entries"]]  # fmt: skip
    with ws.db.engine.begin() as conn:
        conn.execute(
            sa.update(schema.model_versions)
            .where(schema.model_versions.c.sha256 == version.sha256)
            .values(files=files, sha256=key)
        )
    return "forged:1"
