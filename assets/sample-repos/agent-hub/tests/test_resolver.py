import pytest

from conductor.packs.manifest import ManifestError, parse_manifest
from conductor.packs.resolver import Catalog, ResolutionError, install_order, resolve
from conductor.packs.version import Constraint, Version


def pack(name, version, requires=None):
    return parse_manifest({"name": name, "version": version, "requires": requires or {},
                           "skills": {"run": f"{name.replace('-', '_')}.main:run"}})


@pytest.mark.parametrize("spec,version,ok", [
    ("^1.2", "1.9.0", True), ("^1.2", "2.0.0", False), ("^0.3.1", "0.3.9", True), ("^0.3.1", "0.4.0", False),
    ("~1.4", "1.4.7", True), ("~1.4", "1.5.0", False), (">=1, <2", "1.0.0", True), ("*", "3.1.4", True),
    ("^1", "1.3.0-rc.1", False),
])
def test_constraints(spec, version, ok):
    assert Constraint.parse(spec).satisfied_by(Version.parse(version)) is ok


def test_prerelease_sorts_before_release():
    assert Version.parse("1.0.0-rc.2") < Version.parse("1.0.0-rc.10") < Version.parse("1.0.0")


def test_resolver_backtracks_to_a_compatible_version():
    catalog = Catalog([
        pack("web-search", "2.0.0", {"http-client": "^2"}),
        pack("web-search", "1.4.0", {"http-client": "^1"}),
        pack("summarizer", "1.0.0", {"http-client": "~1.1"}),
        pack("http-client", "2.1.0"),
        pack("http-client", "1.1.3"),
    ])
    solution = resolve(catalog, {"web-search": "*", "summarizer": "^1"})
    assert str(solution["web-search"].version) == "1.4.0"
    assert str(solution["http-client"].version) == "1.1.3"
    assert [m.name for m in install_order(solution)][0] == "http-client"


def test_resolver_explains_missing_versions():
    with pytest.raises(ResolutionError, match="available: 1.0.0"):
        resolve(Catalog([pack("vector-store", "1.0.0")]), {"vector-store": "^2"})


def test_manifest_reports_every_problem():
    with pytest.raises(ManifestError) as info:
        parse_manifest({"name": "Bad Name", "version": "one", "permissions": ["root"]})
    assert len(info.value.problems) == 4
