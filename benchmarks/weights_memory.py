"""Peak memory of loading a pretrained network three ways, each in a fresh process.

    python benchmarks/weights_memory.py [--model vgg16]

* ``cnnbook``: what ``cnnbook.models.load`` does: the network built on the meta device, the
  checkpoint read into memory and assigned to it (one copy of the weights, owned by the model);
* ``mmap``: the same, but the checkpoint memory-mapped (what the book did before: as little
  memory, but the model's weights are the file's pages, so changing the file changes the model);
* ``naive``: torchvision's usual way, a randomly initialised network and then ``load_state_dict``
  (two copies for a while).

A stand-in checkpoint of the real size is written to a temporary TORCH_HOME (the real weights
cannot be downloaded everywhere). Prints the peak resident memory after one forward pass, and
the libraries alone for reference.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap

CHILD = textwrap.dedent("""
    import resource, sys, torch, torchvision
    from cnnbook import models, weights
    name, way = sys.argv[1], sys.argv[2]
    path = weights.checkpoint_path(weights.default_weights(name))
    if way == "cnnbook":
        model = models.load(name)
    elif way == "mmap":
        with torch.device("meta"):
            model = torchvision.models.get_model(name, weights=None)
        model.load_state_dict(torch.load(path, weights_only=True, mmap=True), assign=True)
    elif way == "naive":
        model = torchvision.models.get_model(name, weights=None)
        model.load_state_dict(torch.load(path, weights_only=True))
    if way != "libraries":
        with torch.no_grad():
            model.eval()(torch.rand(1, 3, 224, 224))
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
""")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vgg16")
    args = parser.parse_args()
    import torch
    import torchvision

    from cnnbook import weights

    with tempfile.TemporaryDirectory() as home:
        env = {"TORCH_HOME": home, "CNNBOOK_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
        import os

        os.environ["TORCH_HOME"] = home
        path = weights.checkpoint_path(weights.default_weights(args.model))
        path.parent.mkdir(parents=True)
        torch.save(torchvision.models.get_model(args.model).state_dict(), path)
        weights.trust(path)
        size_mb = path.stat().st_size / 2**20
        print(f"{args.model}: checkpoint {size_mb:.0f} MiB (stand-in of the real size)")
        for way in ("libraries", "cnnbook", "mmap", "naive"):
            result = subprocess.run([sys.executable, "-c", CHILD, args.model, way], capture_output=True, text=True,
                                    env={**os.environ, **env}, check=True)
            print(f"  {way:<10} peak RSS {float(result.stdout.split()[-1]):7.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
