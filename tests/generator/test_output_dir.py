"""render --output-dir never loses a file of the user's: refusals name the files, --force keeps them, a
kustomization.yaml of theirs is never overwritten, an unwritable folder is one line without traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import main
from generator.errors import OutputError
from generator.output_dir import MARKER, digest, marker_text, parse_marker, plan, write_files

FILES = {"a.yaml": "kind: A\n", "kustomization.yaml": "resources: [a.yaml]\n"}
OURS = {name: digest(text.encode()) for name, text in FILES.items()}


def _sha(text: str) -> str:
    return digest(text.encode())


# (existing: name -> content (None: a folder), recorded by the marker, force, raises?, write, remove, kept)
PLANS = [
    pytest.param({}, {}, False, None, ["a.yaml", "kustomization.yaml"], [], [], id="empty-folder"),
    pytest.param(
        {"a.yaml": "kind: A\n"},
        {},
        False,
        None,
        ["a.yaml", "kustomization.yaml"],
        [],
        [],
        id="same-content-without-marker",
    ),
    pytest.param(
        {"a.yaml": "old\n", "b.yaml": "old b\n"},
        {"a.yaml": _sha("old\n"), "b.yaml": _sha("old b\n")},
        False,
        None,
        ["a.yaml", "kustomization.yaml"],
        ["b.yaml"],
        [],
        id="ours-overwritten-stale-removed",
    ),
    pytest.param(
        {"notes.md": "mine\n"},
        {},
        False,
        "holds files peribolos-generate did not write: notes.md;",
        [],
        [],
        [],
        id="foreign-file-refused",
    ),
    pytest.param({"sub": None}, {}, False, "did not write: sub;", [], [], [], id="foreign-folder-refused"),
    pytest.param(
        {"a.yaml": "edited\n"},
        {"a.yaml": _sha("old\n")},
        False,
        "did not write: a.yaml (changed since it was rendered);",
        [],
        [],
        [],
        id="edited-refused",
    ),
    pytest.param(
        {"notes.md": "mine\n"},
        {},
        True,
        None,
        ["a.yaml", "kustomization.yaml"],
        [],
        ["notes.md"],
        id="force-keeps-theirs",
    ),
    pytest.param(
        {"b.yaml": "edited\n"},
        {"b.yaml": _sha("old\n")},
        True,
        None,
        ["a.yaml", "kustomization.yaml"],
        [],
        ["b.yaml"],
        id="force-keeps-an-edited-file-no-longer-rendered",
    ),
    pytest.param(
        {"kustomization.yaml": "patches: []\n"},
        {},
        False,
        "kustomization.yaml is not the one peribolos-generate wrote, and it is never overwritten",
        [],
        [],
        [],
        id="their-kustomization",
    ),
    pytest.param(
        {"kustomization.yaml": "patches: []\n"},
        {},
        True,
        "kustomization.yaml is not the one",
        [],
        [],
        [],
        id="their-kustomization-even-with-force",
    ),
    pytest.param(
        {MARKER: "x"}, {}, False, None, ["a.yaml", "kustomization.yaml"], [], [], id="marker-itself"
    ),
]


@pytest.mark.parametrize(("existing", "recorded", "force", "error", "write", "remove", "kept"), PLANS)
def test_plan(
    existing: dict[str, str | None],
    recorded: dict[str, str],
    force: bool,
    error: str | None,
    write: list[str],
    remove: list[str],
    kept: list[str],
) -> None:
    hashes = {name: None if text is None else _sha(text) for name, text in existing.items()}
    if error is not None:
        with pytest.raises(OutputError) as caught:
            plan(hashes, recorded, FILES, "out", force)
        (line,) = caught.value.problems
        assert line.startswith("out: ") and error in line, line
        return
    decided = plan(hashes, recorded, FILES, "out", force)
    assert sorted(decided.write) == write
    assert decided.remove == remove
    assert decided.kept == kept


def test_marker_is_sha256sum_format_and_round_trips() -> None:
    text = marker_text(FILES)
    assert text.splitlines() == [
        f"{OURS['a.yaml']}  a.yaml",
        f"{OURS['kustomization.yaml']}  kustomization.yaml",
    ]
    assert parse_marker(text + "garbage\n../x  y\n") == OURS


def test_a_second_render_replaces_its_own_files_and_removes_the_stale_ones(tmp_path: Path) -> None:
    write_files(tmp_path, {**FILES, "b.yaml": "kind: B\n"})
    write_files(tmp_path, FILES)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*FILES, MARKER])
    assert parse_marker((tmp_path / MARKER).read_text()) == OURS


def test_force_writes_beside_the_users_files_and_keeps_them(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("ours, not the generator's\n")
    (tmp_path / "a.yaml").write_text("edited by hand\n")
    with pytest.raises(OutputError):
        write_files(tmp_path, FILES)
    assert (tmp_path / "a.yaml").read_text() == "edited by hand\n"
    write_files(tmp_path, FILES, force=True)
    assert (tmp_path / "README.md").read_text() == "ours, not the generator's\n"
    assert (tmp_path / "a.yaml").read_text() == FILES["a.yaml"]
    assert "README.md" not in parse_marker((tmp_path / MARKER).read_text())


@pytest.mark.parametrize(
    ("name", "content", "ours"),
    [
        pytest.param(
            "kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n",
            True,
            id="a-plain-kustomization",
        ),
        pytest.param(
            "kustomization.yaml",
            "kind: Kustomization\nresources: [a.yaml]\npatches: []\n",
            False,
            id="a-kustomization-with-patches",
        ),
        pytest.param(
            "a.yaml",
            "metadata:\n  labels: {app.kubernetes.io/managed-by: peribolos-generate}\n",
            True,
            id="labelled-objects",
        ),
        pytest.param(
            "a.yaml",
            "metadata:\n  labels: {app.kubernetes.io/managed-by: helm}\n",
            False,
            id="someone-elses-objects",
        ),
        pytest.param("a.yaml", "[unclosed\n", False, id="not-yaml"),
    ],
)
def test_a_folder_without_marker_counts_what_it_recognises_as_the_generators(
    tmp_path: Path, name: str, content: str, ours: bool
) -> None:
    """A render by 0.1.0 kept no marker: its files are recognised; anything else is refused."""
    (tmp_path / name).write_text(content)
    if ours:
        write_files(tmp_path, FILES)
        assert (tmp_path / MARKER).is_file()
    else:
        with pytest.raises(OutputError):
            write_files(tmp_path, FILES)
        assert (tmp_path / name).read_text() == content


def _render(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["render", *args])
    return result.exit_code, result.stderr


def test_cli_refuses_a_folder_with_foreign_files_with_exit_2_and_one_line(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("x\n")
    (tmp_path / "kustomization.yaml").write_text("resources: [base]\npatches: [{path: p.yaml}]\n")
    code, stderr = _render("--output-dir", str(tmp_path), "--force")
    assert code == 2
    assert stderr.count("\n") == 1 and stderr.startswith(f"error: {tmp_path}: kustomization.yaml is not ")
    (tmp_path / "kustomization.yaml").unlink()
    code, stderr = _render("--output-dir", str(tmp_path))
    assert (code, stderr) == (
        2,
        f"error: {tmp_path}: holds files peribolos-generate did not write: notes.md; move them elsewhere, or "
        "pass --force to keep them and write the render beside them\n",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.md"]
    assert _render("--output-dir", str(tmp_path), "--force")[0] == 0
    assert (tmp_path / "notes.md").read_text() == "x\n"
    assert _render("--output-dir", str(tmp_path), "--force")[0] == 0


@pytest.mark.parametrize(
    ("target", "message"),
    [
        pytest.param("/proc/nope", "/proc/nope: cannot write the manifests: ", id="proc"),
        pytest.param("{file}", "{file}: not a directory", id="a-file"),
        pytest.param("{file}/sub", "{file}/sub: cannot write the manifests: ", id="below-a-file"),
    ],
)
def test_an_unwritable_output_folder_is_one_line_without_traceback(
    tmp_path: Path, target: str, message: str
) -> None:
    file = tmp_path / "file"
    file.write_text("x")
    code, stderr = _render("--output-dir", target.format(file=file))
    assert code == 2
    assert stderr.startswith(f"error: {message.format(file=file)}"), stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
