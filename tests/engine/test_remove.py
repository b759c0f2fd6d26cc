"""`otpgen remove PATTERN NAME`: the module, its test, its wiring and its record go; what
the user edited stays unless --force; nothing else changes."""

import json
from pathlib import Path

import pytest

from otpgen._errors import OtpgenError
from otpgen._generate import NewRequest, plan_new
from otpgen._init import InitRequest, plan_init
from otpgen._plan import apply_plan
from otpgen._remove import RemoveRequest, plan_remove
from otpgen._update import check, plan_update
from otpgen._wire import Wiring, unwire, wire


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("svc")
    plan = plan_init(InitRequest(cwd=base, directory=Path("shop")))
    apply_plan(plan)
    return plan.root


@pytest.fixture
def service(pristine: Path, tmp_path: Path) -> Path:
    import shutil

    root = tmp_path / "shop"
    shutil.copytree(pristine, root)
    return root


def new(root: Path, pattern: str, name: str) -> None:
    apply_plan(plan_new(NewRequest(pattern=pattern, name=name, cwd=root)))


def remove(root: Path, pattern: str, name: str, force: bool = False) -> list[str]:
    plan = plan_remove(RemoveRequest(pattern=pattern, name=name, cwd=root, force=force))
    apply_plan(plan)
    return plan.notes


APP = "src/shop/application.py"


def test_new_then_remove_gives_back_every_byte(service: Path) -> None:
    before = {p: p.read_bytes() for p in sorted(service.rglob("*")) if p.is_file()}
    new(service, "genserver", "inventory")
    assert "Inventory.child_spec()" in (service / APP).read_text()
    remove(service, "genserver", "inventory")
    after = {p: p.read_bytes() for p in sorted(service.rglob("*")) if p.is_file()}
    # the kernel's base blobs may stay in .otpgen; every file the user sees is as before
    visible = {p: b for p, b in after.items() if ".otpgen" not in p.parts}
    assert visible == {p: b for p, b in before.items() if ".otpgen" not in p.parts}
    manifest = json.loads((service / ".otpgen/manifest.json").read_text())
    assert "genserver:inventory" not in manifest["renders"]
    assert not any(f.failing for f in check(service))


@pytest.mark.parametrize("order", [("a", "b", "c"), ("c", "b", "a"), ("b", "a", "c")])
def test_removing_one_module_leaves_the_file_as_if_only_the_others_were_added(
    service: Path, pristine: Path, order: tuple[str, str, str]
) -> None:
    names = {"a": ("agent", "hits"), "b": ("cache", "lookups"), "c": ("task", "jobs")}
    for key in order:
        new(service, *names[key])
    remove(service, *names[order[1]])
    expected = (pristine / APP).read_text()
    for key in (order[0], order[2]):
        expected = wire(expected, wiring(*names[key]))
    assert (service / APP).read_text() == expected


def wiring(pattern: str, name: str) -> Wiring:
    from otpgen._names import class_name
    from otpgen._patterns import load_patterns
    from otpgen._templates import templates_dir

    found = load_patterns(templates_dir())[pattern].wiring("shop", name, class_name(name), {})
    assert found is not None
    imports, child, setup = found
    return Wiring(imports, child, setup=setup)


def test_an_edited_module_is_refused_without_force_and_nothing_is_written(
    service: Path,
) -> None:
    new(service, "agent", "hits")
    module = service / "src/shop/hits.py"
    module.write_text(module.read_text() + "\n# mine\n")
    before = (service / APP).read_bytes()
    with pytest.raises(OtpgenError, match=r"src/shop/hits.py edited since .* --force"):
        plan_remove(RemoveRequest(pattern="agent", name="hits", cwd=service))
    assert module.is_file()
    assert (service / APP).read_bytes() == before
    remove(service, "agent", "hits", force=True)
    assert not module.exists()
    assert not (service / "tests/test_hits.py").exists()


def test_an_edited_child_spec_is_taken_out_too(service: Path) -> None:
    new(service, "genserver", "inventory")
    app = service / APP
    app.write_text(
        app.read_text().replace("Inventory.child_spec()", "Inventory.child_spec(capacity=500)")
    )
    remove(service, "genserver", "inventory")
    assert "Inventory" not in app.read_text().split('"""')[-1]


def test_an_import_still_used_elsewhere_is_kept_and_said(service: Path) -> None:
    new(service, "genserver", "inventory")
    app = service / APP
    app.write_text(app.read_text() + "\n\nCAPACITY = Inventory.__name__\n")
    notes = remove(service, "genserver", "inventory")
    text = app.read_text()
    assert "from shop.inventory import Inventory" in text
    assert "Inventory.child_spec()" not in text
    assert any("Inventory is still used in application.py" in note for note in notes)


def test_a_removed_module_stays_removed_through_update(service: Path) -> None:
    new(service, "cache", "lookups")
    remove(service, "cache", "lookups")
    apply_plan(plan_update(service))
    assert not (service / "src/shop/lookups.py").exists()
    assert "lookups" not in (service / APP).read_text().split('"""')[-1]


def test_an_unknown_module_is_refused_naming_the_ones_there(service: Path) -> None:
    new(service, "agent", "hits")
    with pytest.raises(OtpgenError, match=r"no agent module 'hots' .*; it has: hits"):
        plan_remove(RemoveRequest(pattern="agent", name="hots", cwd=service))


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # one name among several on one line
        (
            "from shop import cache, inventory, zoo\n",
            "from shop import cache, zoo\n",
        ),
        # exploded, one name a line
        (
            "from shop import (\n    cache,\n    inventory,\n    zoo,\n)\n",
            "from shop import (\n    cache,\n    zoo,\n)\n",
        ),
    ],
)
def test_unwire_takes_one_name_out_of_a_shared_import(before: str, after: str) -> None:
    body = (
        "\n\ndef children() -> list[object]:\n    return [\n"
        "        cache.child_spec(),\n        inventory.child_spec(),\n"
        "        zoo.child_spec(),\n    ]\n"
    )
    text, left = unwire(
        before + body, Wiring(("from shop import inventory",), "inventory.child_spec()")
    )
    assert left == []
    assert text == after + body.replace("        inventory.child_spec(),\n", "")


def test_unwire_keeps_comments_in_a_list_it_empties() -> None:
    text = (
        "from shop import inventory\n\n\ndef children() -> list[object]:\n    return [\n"
        "        # the stock\n        inventory.child_spec(),\n    ]\n"
    )
    out, _ = unwire(text, Wiring(("from shop import inventory",), "inventory.child_spec()"))
    assert out == (
        "\n\ndef children() -> list[object]:\n    return [\n        # the stock\n    ]\n"
    )
