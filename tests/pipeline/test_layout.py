"""Where the project's code is: the packages coverage measures, found or named."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from helpers import run_gate

from tools import layout, settings

WIDGETS = '"""Widgets."""\n\n\ndef count(items: list[int]) -> int:\n    return len(items)\n'
TEST = (
    "from acme.widgets import count\n\n\ndef test_count() -> None:\n    assert count([1, 2]) == 2\n"
)


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")


def test_a_namespace_package_under_src_is_measured_by_its_dotted_name(tmp_path: Path) -> None:
    # src/acme/ has no __init__.py (as poetry-core's src/poetry/): acme.widgets is the package.
    write(tmp_path, {
        "pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["src"]\n',
        "src/acme/widgets/__init__.py": WIDGETS,
        "tests/test_widgets.py": TEST,
    })  # fmt: skip
    found = layout.source_packages(tmp_path, settings.Settings())
    assert found == [layout.Package("acme.widgets", "src/acme/widgets")]
    result = run_gate("test", tmp_path)
    assert result.code == 0, result.stdout + result.stderr
    assert "coverage 100.0% of acme.widgets" in result.stdout + result.stderr


def test_a_named_path_is_imported_by_its_name_below_src(tmp_path: Path) -> None:
    write(tmp_path, {"src/acme/widgets/__init__.py": WIDGETS, "src/tool.py": "", "app.py": ""})
    configured = settings.Settings(source=("src/acme/widgets", "src/tool.py", "app.py"))
    names = [package.name for package in layout.source_packages(tmp_path, configured)]
    assert names == ["acme.widgets", "tool", "app"]
    for path, name in (("src/acme/widgets", "acme.widgets"), ("src/tool.py", "tool"),
                       ("app", "app"), ("app.py", "app")):  # fmt: skip
        assert layout.import_name(PurePosixPath(path)) == name


def test_a_flat_project_is_its_top_level_modules_but_the_pipeline_and_config() -> None:
    tracked = ["app.py", "noxfile.py", "setup.py", "conftest.py", "jobs.py", "pkg/mod.py", "a.md"]
    assert layout.top_level_modules(tracked) == [
        layout.Package("app", "app.py"),
        layout.Package("jobs", "jobs.py"),
    ]
