"""Installing a throwaway plug-in package into a folder, as pip would lay it out."""

from __future__ import annotations

from pathlib import Path


def install_plugin(
    site: Path, module: str, source: str, entry_points: dict[str, dict[str, str]]
) -> Path:
    """Write ``module`` and its ``.dist-info`` (with ``entry_points.txt``) into ``site``.

    With ``site`` on ``sys.path`` (or PYTHONPATH), ``importlib.metadata`` finds the
    distribution and its entry points exactly as it finds an installed wheel's.
    """
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(source, encoding="utf-8")
    info = site / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n", encoding="utf-8"
    )
    sections = [
        f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in names.items())
        for group, names in entry_points.items()
    ]
    (info / "entry_points.txt").write_text("\n".join(sections), encoding="utf-8")
    return site
