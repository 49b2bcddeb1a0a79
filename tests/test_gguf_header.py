"""export.gguf_header against gguf-py's own reader on a real GGUF (the embedded SmolLM2), and its refusals."""
import pytest

from export.errors import ExportError
from export.gguf_header import scalars


@pytest.fixture(scope="module")
def smol_gguf():
    from app.forks import embedded_gguf

    return embedded_gguf("smollm2-135m")


def test_scalars_match_gguf_py(smol_gguf):
    from gguf import GGUFReader, GGUFValueType

    reader = GGUFReader(str(smol_gguf))
    expected = {name: field.contents() for name, field in reader.fields.items()
                if field.types and field.types[0] != GGUFValueType.ARRAY and not name.startswith("GGUF.")}
    got = scalars(smol_gguf)
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        assert got[name] == pytest.approx(value) if isinstance(value, float) else got[name] == value, name
    assert got["general.architecture"] == "llama" and got["llama.block_count"] == 30


def test_refusals(tmp_path, smol_gguf):
    bad = tmp_path / "x.gguf"
    bad.write_bytes(b"GGML" + b"\0" * 64)
    with pytest.raises(ExportError, match="not a GGUF file"):
        scalars(bad)
    bad.write_bytes(smol_gguf.read_bytes()[:2000])  # cut inside the vocabulary array
    with pytest.raises(ExportError, match="cut short"):
        scalars(bad)
    with pytest.raises(ExportError, match="cannot read"):
        scalars(tmp_path / "missing.gguf")
