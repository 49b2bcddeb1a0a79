"""Which file an eval runs a model on: its GGUF at the baseline's quantization when it has one, so the candidate is
not judged at a finer quantization than its base; else its default GGUF."""
from app.evaluating import target

BASE = "forkies/tiny@v1.0.0"
MODEL = "research/test/tiny"


def test_candidate_runs_at_the_baselines_quantization(workspace, tmp_path):
    files = {t: tmp_path / f"m-{t}.gguf" for t in ("q8_0", "q4_1", "q4_k_m")}
    for f in files.values():
        f.write_bytes(b"GGUF")
    with workspace.store() as store:
        store.add_model({"id": BASE, "license": "apache-2.0"})
        store.add_model({"id": MODEL, "parent_id": BASE, "relation": "fine-tune", "license": "apache-2.0",
                         "gguf_path": str(files["q8_0"])})
        for t, f in files.items():
            store.add_artifact("gguf", f, "0" * 64, 4, model_id=MODEL, quant_type=t)
        assert target(store, MODEL)["path"] == str(files["q8_0"])  # its default
        picked = target(store, MODEL, like="q4_1")
        assert (picked["path"], picked["quant_type"]) == (str(files["q4_1"]), "q4_1")
        assert target(store, MODEL, like="q6_k")["path"] == str(files["q8_0"])  # none of that type: the default
        files["q4_1"].unlink()  # a file gone from disk is never picked
        assert target(store, MODEL, like="q4_1")["path"] == str(files["q8_0"])
