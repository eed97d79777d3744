#!/usr/bin/env python3
"""Runs a notebook in a Jupyter kernel and prints what each code cell output, as JSON.

Unlike `jupyter nbconvert --execute`, it does not stop reading at a cell's `idle` status: the
Deno kernel sometimes sends a cell's outputs after it, so outputs are attributed to cells by their
parent message id, and reading goes on until the kernel has been quiet for a while.

Usage: run_notebook.py NOTEBOOK [--timeout SECONDS]   (prints {"cells": [...]} on stdout)
"""
import json
import os
import queue
import sys
import time

import nbformat
from jupyter_client.manager import start_new_kernel

QUIET = 2.0  # seconds without messages after the last idle status


def main():
    path = sys.argv[1]
    timeout = float(sys.argv[sys.argv.index("--timeout") + 1]) if "--timeout" in sys.argv else 600
    nb = nbformat.read(path, as_version=4)
    name = nb.metadata.get("kernelspec", {}).get("name", "deno")
    km, kc = start_new_kernel(kernel_name=name, cwd=os.path.dirname(os.path.abspath(path)) or ".")
    cells = {}  # msg_id -> {"id", "outputs", "status"}
    order = []
    try:
        deadline = time.monotonic() + timeout
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            msg_id = kc.execute(cell.source)
            cells[msg_id] = {"id": cell.get("id"), "outputs": [], "status": None}
            order.append(msg_id)
            reply = kc.get_shell_msg(timeout=max(1, deadline - time.monotonic()))
            while reply["parent_header"].get("msg_id") != msg_id:
                reply = kc.get_shell_msg(timeout=max(1, deadline - time.monotonic()))
            cells[msg_id]["status"] = reply["content"]["status"]
            if reply["content"]["status"] != "ok":
                cells[msg_id]["error"] = reply["content"].get("evalue", "")
        # Drain iopub until quiet: outputs may arrive after their cell's idle status.
        last = time.monotonic()
        while time.monotonic() - last < QUIET and time.monotonic() < deadline:
            try:
                msg = kc.get_iopub_msg(timeout=QUIET)
            except queue.Empty:
                break
            last = time.monotonic()
            parent = msg["parent_header"].get("msg_id")
            kind = msg["msg_type"]
            if parent not in cells:
                continue
            content = msg["content"]
            if kind in ("display_data", "update_display_data", "execute_result"):
                cells[parent]["outputs"].append({"type": kind, "data": content.get("data", {})})
            elif kind == "stream":
                cells[parent]["outputs"].append({"type": kind, "text": content.get("text", "")})
            elif kind == "error":
                cells[parent]["outputs"].append({"type": kind, "text": content.get("evalue", "")})
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    json.dump({"cells": [cells[m] for m in order]}, sys.stdout)


if __name__ == "__main__":
    main()
