"""benchmarks/peer.py scores as semble-bench's README says, checked on cases worked out by hand."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

PEER = Path(__file__).resolve().parents[1] / "benchmarks" / "peer.py"
_spec = importlib.util.spec_from_file_location("peer_benchmark", PEER)
peer = sys.modules["peer_benchmark"] = importlib.util.module_from_spec(_spec)  # dataclasses look their module up
_spec.loader.exec_module(peer)


def test_ndcg_follows_the_readme_rules() -> None:
    targets = [
        peer.Target("lib/a.py"),
        peer.Target("lib/a.py", (1, 3)),  # covered by the same hit as the file: rank 1 counts once
        peer.Target("b.py", (10, 20)),
        peer.Target("c.py"),  # only at rank 11, past the cut
        peer.Target("missing.py"),  # not in the tree, still in the ideal DCG
    ]
    hits = [
        ("pkg/lib/a.py", 1, 5),  # rank 1: suffix match, lines overlap 1-3
        ("pkg/b.py", 1, 9),  # right file, lines miss 10-20
        ("pkg/b.py", 20, 30),  # rank 3: overlaps at line 20
        ("xc.py", 1, 5),  # not c.py: the suffix starts at a '/'
        ("pkg/lib/a.py", 6, 9),
        *[("other.py", 1, 1)] * 5,
        ("c.py", 1, 1),
    ]
    dcg = 1 + 1 / 2  # ranks {1, 3}
    ideal = 1 + 1 / math.log2(3) + 1 / 2 + 1 / math.log2(5) + 1 / math.log2(6)  # five targets
    assert peer.ndcg(hits, targets) == pytest.approx(dcg / ideal)
    assert dcg / ideal == pytest.approx(0.50874, abs=1e-5)


def test_file_share_counts_distinct_target_files() -> None:
    targets = [peer.Target("lib/a.py"), peer.Target("lib/a.py", (1, 3)), peer.Target("b.py"), peer.Target("c.py")]
    assert peer.file_share(["pkg/lib/a.py", "pkg/b.py", "pkg/b.py"], targets) == pytest.approx(2 / 3)


def test_overall_is_a_mean_over_repositories_and_categories_over_those_that_have_them() -> None:
    x = peer.figure([("semantic", 1.0), ("semantic", 0.0), ("symbol", 1.0)])
    y = peer.figure([("semantic", 0.2)])
    assert x == pytest.approx({"all": 2 / 3, "semantic": 0.5, "symbol": 1.0})
    assert peer.mean_of([x, y], "all") == pytest.approx((2 / 3 + 0.2) / 2)  # not the query mean, 0.55
    assert peer.mean_of([x, y], "semantic") == pytest.approx(0.35)
    assert peer.mean_of([x, y], "symbol") == pytest.approx(1.0)
    assert peer.mean_of([y], "symbol") is None


def test_hit_paths_are_read_relative_to_the_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "bench"
    src = data / "repos" / "tiny" / "src"
    src.mkdir(parents=True)
    (src / "parse.py").write_text("def parse_json(text):\n    return loads(text)\n")
    (src / "write.py").write_text("def write_csv(rows, out):\n    out.writelines(rows)\n")
    (data / "repos.json").write_text(json.dumps([{"name": "tiny", "language": "python", "benchmark_root": "src"}]))
    (data / "annotations").mkdir()
    (data / "annotations" / "tiny.json").write_text(json.dumps([
        {"query": "parse_json", "relevant": ["src/parse.py"], "secondary": [], "category": "symbol"},
        {"query": "write_csv", "relevant": [{"path": "write.py", "start_line": 2, "end_line": 2}], "secondary": [], "category": "symbol"},
    ]))
    entry = {"ndcg10": 0.5, "by_category": {"symbol": 0.5}}
    (data / "figures.json").write_text(json.dumps({"repos": {"tiny": {key: entry for key in peer.PUBLISHED}}}))

    assert peer.main(["--data", str(data), "--work", str(tmp_path / "work"), "--mode", "lexical", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["tiny"]
    assert result["ndcg10"] == {"all": 1.0, "symbol": 1.0}
    assert result["files@2000tok"] == {"all": 1.0, "symbol": 1.0}

    assert peer.main(["--data", str(data), "--work", str(tmp_path / "work"), "--mode", "lexical"]) == 0
    assert "| overall | 1 | 1.000 | 0.500 | 0.500 | 0.500 | 0.500 | 1.000 | 1.000 |" in capsys.readouterr().out
