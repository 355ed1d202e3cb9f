"""The template databases the end-to-end stacks copy (benchmarks/prepared.py) are made again when the code changes."""

from benchmarks.prepared import fingerprint


def test_the_fingerprint_follows_code_and_data_but_not_the_tests(tmp_path):
    (tmp_path / "workflows" / "definitions").mkdir(parents=True)
    (tmp_path / "tests").mkdir()
    (tmp_path / ".venv").mkdir()
    migration = tmp_path / "workflows" / "0001_initial.py"
    migration.write_text("operations = []\n")
    definition = tmp_path / "workflows" / "definitions" / "waterlogging.yaml"
    definition.write_text("states: [reported]\n")
    first = fingerprint(tmp_path)

    (tmp_path / "tests" / "test_x.py").write_text("def test(): pass\n")
    (tmp_path / ".venv" / "site.py").write_text("x = 1\n")
    (tmp_path / "workflows" / "notes.txt").write_text("not code\n")
    assert fingerprint(tmp_path) == first

    definition.write_text("states: [reported, closed]\n")
    second = fingerprint(tmp_path)
    assert second != first
    migration.write_text("operations = ['x']\n")
    assert fingerprint(tmp_path) not in (first, second)
