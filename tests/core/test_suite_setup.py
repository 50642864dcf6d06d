"""How the suite runs: on two pytest-xdist workers, each test file kept on one of them (setup.cfg, conftest.py)."""

import os

import pytest


def test_a_test_file_stays_on_one_worker(request):
    """Under xdist, a file's tests carry the file as their group (the @ suffix), so its module fixtures are made
    once. pytest 9.2 with pytest-xdist 3.8 drops the group silently: this fails instead of the suite slowing."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        pytest.skip("running in one process (-n 0): nothing to keep together")
    assert request.node.nodeid.endswith("@tests/core/test_suite_setup.py"), (
        f"{request.node.nodeid}: the xdist_group from tests/conftest.py did not reach pytest-xdist; check the "
        f"pytest / pytest-xdist versions (setup.cfg holds pytest below 9)")


def test_the_tours_lessons_are_not_grouped():
    """The tour's lessons are independent, so they spread over both workers (no group on test_tour.py)."""
    from conftest import xdist_group_of

    assert xdist_group_of("tests/core/test_tour.py::test_tour_quick[vqa]") is None
    assert xdist_group_of("tests/lessons/test_vqa.py::test_x") == "tests/lessons/test_vqa.py"
