#!/usr/bin/env bash
# Distributed training with torchrun: tools/dist_train.sh CONFIG NUM_PROCS [train.py args]
# (gloo on machines without CUDA, nccl otherwise). NNODES/NODE_RANK/PORT/MASTER_ADDR as in mmdet;
# PYTHON picks the interpreter (default: python on PATH).
CONFIG=$1
GPUS=$2
shift 2
PORT=${PORT:-29500}
# no cd: relative CONFIG / --work-dir paths stay relative to where it is called from
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHONPATH="$ROOT:$PYTHONPATH" exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "$@"
