"""Share an exported folder on the Hugging Face Hub: one call, given a token and a network.

    push_to_hub("out/my-design", "alice/my-design", token=os.environ["HF_TOKEN"])

Creates the repository (private unless told otherwise) and uploads the folder as one commit. The
model card's usage lines name the repository when the folder was exported with `repo_id`.
"""

from __future__ import annotations

from pathlib import Path


def push_to_hub(folder: Path, repo_id: str, token: str | None = None, private: bool = True,
                commit_message: str = "Genesys Studio export") -> str:
    """Upload `folder` to the model repository `repo_id`; returns the commit URL."""
    from huggingface_hub import HfApi  # lazy: only sharing needs it

    folder = Path(folder)
    if not (folder / "config.json").is_file() or not (folder / "model.safetensors").is_file():
        raise FileNotFoundError(f"{folder} is not an exported model folder (no config.json / model.safetensors)")
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="model",
                             commit_message=commit_message)
    return str(getattr(info, "commit_url", info))
