"""The book's command line, python -m cnnbook COMMAND (or cnnbook COMMAND once installed):

  download-weights [MODEL ...]  fetch the pretrained checkpoints the chapters use into
                                torchvision's cache, for reading the book offline
  predict PHOTO                 print the top ImageNet classes of AlexNet, VGG16 and ResNet18
  gradcam PHOTO [--out FILE]    save each network's Grad-CAM heatmap over PHOTO as a figure
  notebooks [--check]           rewrite the .ipynb beside every chapter for Colab and Binder,
                                or only list those that are out of date
  translations [--check]        update the Chinese edition's catalogs (locales/zh_TW) from the
                                English chapters and list what needs translating
  check-site [HTML]             check a built book (_build/html): links, anchors, images and alt
                                text, error output, page weight

python -m cnnbook COMMAND --help says more about each.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
from pathlib import Path
import warnings

from . import models, weights


def download_weights(args: argparse.Namespace) -> int:
    """Fetch each network's checkpoint into torchvision's cache; a cached file that fails its hash
    check is replaced. Exit 1, saying why per network, when any could not be had."""
    names = tuple(args.models) or models.BOOK_MODELS
    failed, offline_network = [], False
    for name in names:
        published = weights.default_weights(name)
        path = weights.checkpoint_path(published)
        if path.is_file():
            try:
                weights.verify(path)
                print(f"{name}: already cached at {path} (verified)")
                continue
            except (weights.DamagedCheckpointError, OSError) as err:
                print(f"{name}: {err}; downloading it again")
        if weights.offline():
            print(f"{name}: FAILED: not downloading {published.url} because {weights.OFFLINE_ENV}=1", file=sys.stderr)
            failed.append(name)
            continue
        folder = path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            writable = os.access(folder, os.W_OK)
        except OSError:
            writable = False
        if not writable:
            print(f"{name}: FAILED: cannot write to {folder}; set TORCH_HOME to a folder you can write to",
                  file=sys.stderr)
            failed.append(name)
            continue
        print(f"{name}: downloading {published.url}")
        try:
            weights.download(published, progress=not args.quiet)
        except (urllib.error.URLError, OSError, RuntimeError) as err:
            reason = getattr(err, "reason", err)
            print(f"{name}: FAILED to download {published.url} ({reason})", file=sys.stderr)
            failed.append(name)
            offline_network = offline_network or isinstance(err, (urllib.error.URLError, ConnectionError, TimeoutError))
            continue
        print(f"{name}: saved to {path}")
    if failed:
        hint = " Is this machine online?" if offline_network else ""
        print(
            f"Could not get the weights for {', '.join(failed)}.{hint} Run the command again where it can "
            "download them, or copy the files named above into "
            f"{weights.checkpoint_path(weights.default_weights(failed[0])).parent} from a machine that has them.",
            file=sys.stderr,
        )
        return 1
    return 0


class _Stop(Exception):
    """Ends a command with an exit code after its message has been printed."""

    def __init__(self, code: int):
        self.code = code


def _read_photo(path: str):
    from .data import ImageLoadError, load_image

    try:
        return load_image(path)
    except ImageLoadError as err:
        print(f"error: {err}", file=sys.stderr)
        raise _Stop(2) from err


def _networks(choice: str | None):
    """Load the chosen network, or all the book's, one at a time; whether each is untrained is
    said plainly by the caller, so the warning is silenced here."""
    for name in [choice] if choice else list(models.BOOK_MODELS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", models.UntrainedNetworkWarning)
                model = models.load(name)
        except weights.WeightsUnavailableError as err:
            print(f"error: {err}", file=sys.stderr)
            raise _Stop(1) from err
        yield name, model


def predict(args: argparse.Namespace) -> int:
    image = _read_photo(args.photo)
    for name, model in _networks(args.model):
        print(f"{name}:")
        if not model.is_pretrained:
            print("  UNTRAINED: its pretrained weights are not available, so this network has random "
                  "weights and these predictions mean nothing. Run `python -m cnnbook download-weights`.")
        (predictions,) = models.top_k(model, models.preprocess(image, model.weights), k=args.top)
        for p in predictions:
            print(f"  {p.index:>4}  {p.name:<30} {p.probability:7.2%}")
    return 0


def _figure_path(value: str) -> Path:
    """``--out``: a new or existing file (not a folder) in a folder that exists and can be written,
    with an ending matplotlib can save (so the file is written exactly where asked)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backend_bases import FigureCanvasBase

    path = Path(value)
    formats = sorted(FigureCanvasBase.get_supported_filetypes())
    if path.suffix.lstrip(".").lower() not in formats:
        raise argparse.ArgumentTypeError(f"{value!r} must end in one of .{', .'.join(formats)} (for example heat.png)")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} is a folder; give a file name such as {path / 'heat.png'}")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise argparse.ArgumentTypeError(f"cannot write {value!r}: permission denied")
    return path


def _top(value: str) -> int:
    """``--top``: how many classes, 1 to 1000 (ImageNet's classes)."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 1000, got {value!r}") from None
    if not 1 <= number <= 1000:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 1000, got {number}")
    return number


def _budget(value: str) -> float:
    """``--budget``: the largest page weight in MB, a positive finite number."""
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not (number > 0 and number < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive number of megabytes, got {value!r}")
    return number


def gradcam(args: argparse.Namespace) -> int:
    from . import viz
    from .gradcam import GRADCAM_LAYERS, gradcam as grad_cam

    image = _read_photo(args.photo)
    maps = {}
    photo = None
    for name, model in _networks(args.model):
        x = models.preprocess(image, model.weights)
        (best,) = models.top_k(model, x, k=1)
        heatmap = grad_cam(model, GRADCAM_LAYERS[name], x)[0].numpy()
        label = f"{name}: {best[0].name}" + ("" if model.is_pretrained else "\n(UNTRAINED)")
        maps[label] = heatmap
        print(label.replace("\n", " ") + (f" ({best[0].probability:.1%})" if model.is_pretrained else
                                          " - random weights, the heatmap means nothing"))
        if photo is None:
            photo = models.as_picture(x[0], model.weights)
    fig = viz.gradcam_figure(photo, maps)
    try:
        fig.savefig(args.out, dpi=100)
    except OSError as err:
        print(f"error: could not write {args.out}: {err.strerror or err}", file=sys.stderr)
        return 1
    print(f"saved {args.out}")
    return 0


def notebooks(args: argparse.Namespace) -> int:
    from .build import notebooks as nb

    if args.check:
        problems = nb.out_of_sync()
        for problem in problems:
            print(problem)
        print("all chapter notebooks are in sync" if not problems else "run: python -m cnnbook notebooks")
        return 1 if problems else 0
    nb.regenerate()
    problems = nb.out_of_sync()
    for problem in problems:
        print(problem)
    return 1 if problems else 0


def translations(args: argparse.Namespace) -> int:
    from .build import i18n

    current = i18n.templates()
    if args.check:
        stale = i18n.out_of_date(current=current)
        for line in stale:
            print(line)
        left = i18n.pending()
    else:
        stale = []
        left = i18n.update(current=current)
    bad = i18n.lint()
    for item in left:
        print(item)
    for line in bad:
        print(line)
    folder = i18n.catalog_dir().relative_to(i18n.ROOT)
    if stale:
        print("run: python -m cnnbook translations (the catalogs are older than the English sources)")
    if left or bad:
        print(f"{len(left)} message(s) to translate and {len(bad)} translation(s) to mend in {folder}/")
    else:
        print(f"every message in {folder}/ is translated" + (" (catalogs not updated: --check)" if args.check else ""))
    return 1 if (stale or left or bad) else 0


def check_site(args: argparse.Namespace) -> int:
    from .build import sitecheck

    try:
        return sitecheck.main(args.html, int(args.budget * 1e6))
    except FileNotFoundError as err:
        print(err, file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cnnbook", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser(
        "download-weights",
        help="fetch every pretrained checkpoint the book uses into torchvision's cache",
        description=f"Download the ImageNet weights of {', '.join(models.BOOK_MODELS)} into "
        "$TORCH_HOME/hub/checkpoints (torchvision's own cache), for reading the book offline.",
    )
    fetch.add_argument("models", nargs="*", metavar="MODEL", help="models to fetch (default: all the book uses)")
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")
    fetch.set_defaults(run=download_weights)

    def photo_command(name: str, run, help: str, description: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help, description=description)
        command.add_argument("photo", help="an image file (JPEG, PNG, ...)")
        command.add_argument("--model", choices=models.BOOK_MODELS, help="only this network (default: all three)")
        command.set_defaults(run=run)
        return command

    photo_command(
        "predict", predict, help="the top ImageNet classes of AlexNet, VGG16 and ResNet18 for a photo",
        description="Print the most probable ImageNet classes for PHOTO, as each network sees it.",
    ).add_argument("--top", type=_top, default=5, help="how many classes to show, 1 to 1000 (default 5)")
    photo_command(
        "gradcam", gradcam, help="Grad-CAM heatmaps of AlexNet, VGG16 and ResNet18 over a photo, saved as a PNG",
        description="Save a figure of PHOTO with each network's Grad-CAM heatmap for its top class.",
    ).add_argument("--out", type=_figure_path, default="gradcam.png",
                   help="where to save the figure: .png, .pdf, .svg, ... (default gradcam.png)")
    paired = commands.add_parser(
        "notebooks", help="regenerate the .ipynb beside every chapter (for Colab and Binder), or --check them",
        description="Give every chapter the install cell for the repository in _config.yml and write "
        "the notebook readers open: MyST rewritten as Markdown Jupyter renders, no outputs.")
    paired.add_argument("--check", action="store_true", help="only report the notebooks that are out of date")
    paired.set_defaults(run=notebooks)
    translate = commands.add_parser(
        "translations", help="update the Chinese edition's catalogs from the English chapters and list what needs translating",
        description="Extract every message of the English chapters (Sphinx's gettext builder, nothing executed) "
        "and the phrases their cells glue, merge them into locales/zh_TW/LC_MESSAGES/*.po (changed English "
        "keeps its old translation, marked fuzzy), and list every message that is untranslated or fuzzy and "
        "every translation that loses markup or uses a mainland form. Exit status 1 while any is left.")
    translate.add_argument("--check", action="store_true",
                           help="change nothing; also fail when the catalogs are older than the English sources")
    translate.set_defaults(run=translations)
    site = commands.add_parser(
        "check-site", help="check a built book: links, anchors, images and alt text, error output, page weight",
        description="Check every page of a built book and print each page's weight.")
    site.add_argument("html", nargs="?", default="_build/html", help="the built site (default _build/html)")
    site.add_argument("--budget", type=_budget, default=1.5, help="largest page weight in MB (default 1.5)")
    site.set_defaults(run=check_site)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except _Stop as stop:
        return stop.code
    except ValueError as err:  # an unknown model name, for example
        parser.error(str(err))
        return 2


if __name__ == "__main__":
    sys.exit(main())
