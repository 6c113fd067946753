#!/usr/bin/env bash
# Run the core benchmarks on an earlier commit and on this working tree, alternating, in one
# run: for a change that must keep performance within noise (a refactor, a move).
#
#     bench/side_by_side.sh BASE_REV [ROUNDS]      # e.g. bench/side_by_side.sh HEAD~1 2
#
# BASE_REV is checked out in a temporary git worktree with its own .venv (built by uv from its
# lock file, offline from uv's cache when it can). Each round runs every benchmark once on the
# base, then once here; compare the figures of the same round, and across rounds for noise.
set -euo pipefail
cd "$(dirname "$0")/.."
base_rev=${1:?usage: bench/side_by_side.sh BASE_REV [ROUNDS]}
rounds=${2:-2}
benches=(overhead.py results.py blocks.py)
base_dir=$(mktemp -d /tmp/plait-bench-base-XXXXXX)
trap 'git worktree remove --force "$base_dir"' EXIT
git worktree add --detach --quiet "$base_dir" "$base_rev"
(cd "$base_dir" && python3 -m uv sync --locked --all-packages --compile-bytecode --quiet)
for round in $(seq "$rounds"); do
    for bench in "${benches[@]}"; do
        for tree in "$base_dir" "$PWD"; do
            label=$([ "$tree" = "$PWD" ] && echo "this tree" || echo "base $base_rev")
            echo "== round $round: $bench on $label"
            (cd "$tree" && .venv/bin/python "bench/$bench")
        done
    done
done
