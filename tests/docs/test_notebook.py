"""``examples/quickstart.ipynb`` runs headless from top to bottom without a cell error."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "quickstart.ipynb"


def test_notebook_is_stored_without_outputs() -> None:
    cells = json.loads(NOTEBOOK.read_text("utf-8"))["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    assert code, "the quickstart has no code"
    assert all(not cell["outputs"] and cell["execution_count"] is None for cell in code), (
        "strip the outputs before committing the notebook")


@pytest.mark.slow
def test_quickstart_notebook_executes(tmp_path) -> None:
    nbformat = pytest.importorskip("nbformat", reason="nbformat (test extra) is not installed")
    nbclient = pytest.importorskip("nbclient", reason="nbclient (test extra) is not installed")
    pytest.importorskip("ipykernel", reason="ipykernel (test extra) is not installed")
    pytest.importorskip("ipympl", reason="ipympl (jupyter extra) is not installed")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError naming the cell on any error
    outputs = [out for cell in notebook.cells if cell.cell_type == "code"
               for out in cell.outputs]
    assert not [out for out in outputs if out.get("output_type") == "error"]
    text = "".join(out.get("text", "") for out in outputs if out.get("output_type") == "stream")
    assert "responsive:" in text and "onsets" in text
