"""The profile report runs as a durable job: progress shows while it runs, then the report renders."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_build_report_shows_progress_then_manager_chain_reports_and_groups(spa):
    spa.sign_in("Priya Natarajan")
    spa.button("Build report").click()
    progress = spa.testid("job-progress")
    progress.wait_for()
    spa.screenshot("report-running")

    report = spa.testid("report")
    report.wait_for(timeout=60_000)
    spa.screenshot("report")
    text = report.inner_text()
    assert "null" not in text and "undefined" not in text
    # Priya reports to Daniel Reyes, who reports to Mira Okafor (the seeded tenant).
    chain = report.get_by_role("heading", name="Manager chain")
    assert chain.is_visible()
    assert "Daniel Reyes" in text and "Mira Okafor" in text
    assert report.get_by_role("heading", name="Direct reports").is_visible()
    assert report.get_by_role("heading", name="Groups", exact=False).first.is_visible()
    assert "Engineering" in text
    assert progress.evaluate("bar => bar.value") == 100
    assert spa.testid("error").is_hidden()
