"""What the Studio's pages show, read as HTML from a real server: the metric chart and the
ledger with its people, the decision page's deltas, diffs and lineage, the Test form built
from the signature, a preview's statistics, and only the actions a role may take."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from modelyard.storage.comparisons import NUMBERS, ComparisonStore, Tally
from tests.helpers.studio import Studio, serving_studio


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    with serving_studio(tmp_path_factory.mktemp("studio-pages")) as served:
        yield served


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_model_page_charts_versions_and_keeps_the_ledger(studio: Studio) -> None:
    html = studio.client("viewer").get("/studio/models/immo").text
    assert '<svg class="chart"' in html and 'aria-label="r2 across versions of immo"' in html
    assert html.count('class="dot"') == 3 and 'class="champion-ring"' in html
    text = _text(html)
    assert "champion v2" in text and "awaits approval" not in text
    ledger = text.split("Promotion ledger", 1)[1]
    assert ledger.count("promoted") == 2 and "april" in ledger and "approved by april" in ledger
    assert "Promote v1" not in html  # a viewer sees no move


def test_the_decision_page_puts_champion_and_challenger_side_by_side(studio: Studio) -> None:
    html = studio.client("approver").get("/studio/models/immo/decision").text
    text = _text(html)
    assert f"Challenger v{studio.pending} pending approval" in text  # the pending one first
    assert re.search(r"r2 gate ≥ 0\.5 0\.\d+ 0\.\d+ [+-]0\.\d+ (better|worse)", text), text
    assert "Same columns and types: callers are unaffected." in text
    assert "scikit-learn" in text and "data fingerprint" in text
    assert "SELECT surface, prix FROM immo" in text
    assert re.search(r'<tr class="changed"><th scope="row">data fingerprint', html)
    assert f"Approve v{studio.pending}" in text and "Four-eyes: sam authored it" in text


def test_the_endpoint_page_builds_the_test_form_from_the_signature(studio: Studio) -> None:
    client = studio.client("scientist")
    html = client.get("/studio/endpoints/immo").text
    assert re.search(r'<input id="col-surface" name="col-surface" type="number" step="any"', html)
    assert html.count("<details>") == 20  # 4 wire formats x 5 languages
    assert "Regenerate primary key" not in html  # admins only
    answer = client.post(
        "/studio/endpoints/immo/test",
        data={"csrf": studio.csrf(client), "col-surface": "big"},
        headers={"origin": studio.base},
    )
    assert answer.status_code == 200 and "bad_value" in answer.text  # the endpoint's own error


def test_a_preview_shows_statistics_and_refuses_anything_but_a_select(studio: Studio) -> None:
    client = studio.client("scientist")
    csrf = studio.csrf(client)
    answer = client.post(
        "/studio/sources/preview",
        data={"csrf": csrf, "source": "immo_db", "query": "SELECT surface, prix FROM immo"},
        headers={"origin": studio.base},
    )
    text = _text(answer.text)
    assert "300 rows read" in text and "Histogram of surface" in answer.text
    assert re.search(r"surface float64 nulls 0 min [\d.]+ mean [\d.]+", text)
    dropped = client.post(
        "/studio/sources/preview",
        data={"csrf": csrf, "source": "immo_db", "query": "DROP TABLE immo"},
        headers={"origin": studio.base},
    )
    assert "query_failed" in dropped.text or "source_error" in dropped.text
    assert studio.ws.sources.read("immo_db", "SELECT COUNT(*) AS n FROM immo")["n"][0] == 300


def test_people_shows_admins_the_users_and_everyone_their_own_tokens(studio: Studio) -> None:
    admin = _text(studio.client("admin").get("/studio/people").text)
    assert "vera viewer" in admin and "Issue token to sam" in admin and "Audit log" in admin
    viewer = _text(studio.client("viewer").get("/studio/people").text)
    assert "You: vera (viewer)" in viewer and "New personal token" in viewer
    assert "Issue token to sam" not in viewer


def test_the_endpoint_page_shows_the_split_the_mirror_and_what_it_found(studio: Studio) -> None:
    client = studio.client("viewer")
    assert "100% to immo@champion; no canary split." in _text(
        client.get("/studio/endpoints/immo").text
    )
    studio.ws.endpoints.update("immo", traffic={"champion": 100}, mirror={"champion": 12.5})
    store = ComparisonStore(studio.ws.db)
    store.add([Tally("immo", 2, "champion", 2, NUMBERS, requests=4, rows=4, abs_diff_sum=6.0)])
    try:
        text = _text(client.get("/studio/endpoints/immo").text)
        assert "Split: 100% to champion." in text
        assert "Mirror: 12.5% of requests also scored on champion, after answering." in text
        assert "What the mirror found" in text and "v2 champion (v2) 4 0 1.5" in text
    finally:
        studio.ws.endpoints.update("immo", traffic={}, mirror={})
        store.clear("immo")


def test_the_schedules_page_lists_batch_jobs_with_their_progress(
    studio: Studio, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("batch-out")
    job = studio.ws.batch.score(
        "immo@champion",
        source="immo_db",
        key="id",
        query="SELECT rowid AS id, surface FROM immo",
        output=str(folder),
        chunk_rows=100,
    )
    assert job.progress.done == 300
    html = studio.client("viewer").get("/studio/schedules").text
    row = _text(html.split(f"<code>{job.id}</code>", 1)[1].split("</tr>", 1)[0])
    assert f"immo :{job.row.version}" in row or f"immo:{job.row.version}" in row, row
    assert job.status in row and "300 / 300 rows" in row, row
    assert f'<progress max="300" value="300" aria-label="rows of job {job.id}"' in html
