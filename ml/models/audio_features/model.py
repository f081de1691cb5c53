"""The served audio-feature model: pyfunc wrapper around the fitted encoder and network weights."""

from __future__ import annotations

import math
import threading

import numpy as np
import pandas as pd

from ml.features.tracks import add_derived_columns
from ml.models.audio_features.features import FEATURES, FeatureBuilder, from_model_scale
from ml.models.audio_features.network import build_net, pad, torch_threads
from ml.models.base import TrackModel


class AudioFeatureModel(TrackModel):
    required_columns = ("artists", "track_name")

    def __init__(self, builder: FeatureBuilder, arch: dict, state: dict[str, np.ndarray], target_std: np.ndarray,
                 spread_ref: float, mc_samples: int):
        self.builder = builder
        self.arch = arch
        self.state = state  # numpy copy of the torch state_dict
        self.target_std = target_std  # per-feature std of the training targets (model scale)
        self.spread_ref = spread_ref  # median normalised MC spread on validation rows
        self.mc_samples = mc_samples
        self._net = None
        self._mutex = threading.Lock()

    def __getstate__(self):
        d = self.__dict__.copy()
        d["_net"] = None
        d.pop("_mutex", None)
        return d

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._mutex = threading.Lock()

    def _lock(self):
        """MC mode is a flag on the dropout modules: serialise forward passes across threads."""
        return self._mutex

    def net(self):
        if self._net is None:
            import torch

            net = build_net(**self.arch)
            net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in self.state.items()})
            net.eval()
            self._net = net
        return self._net

    def _forward(self, X: dict[str, np.ndarray], mc: int, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """Deterministic (dropout off) prediction and MC-dropout std, model scale, (n, 8) each."""
        import torch

        net = self.net()
        n = len(X["text"])
        means, stds = np.zeros((n, len(FEATURES))), np.zeros((n, len(FEATURES)))
        with self._lock(), torch_threads(1), torch.no_grad():
            net.eval()
            for s in range(0, n, chunk):
                parts = [torch.from_numpy(np.ascontiguousarray(pad(X[k][s:s + chunk]), dtype=np.float32))
                         for k in ("text", "genre", "tag", "meta")]
                means[s:s + chunk] = net(*parts).numpy()
                if mc > 1:  # the same `mc` sub-networks for every row and call
                    stds[s:s + chunk] = net.mc_samples(parts, mc).std(0).numpy()
        return means, stds

    def confidence(self, completeness: np.ndarray, std_model_scale: np.ndarray) -> np.ndarray:
        spread = (std_model_scale / self.target_std).mean(1)
        agreement = np.exp(-spread / max(self.spread_ref, 1e-6) * math.log(2))  # 0.5 at the typical spread
        return np.clip(0.5 * completeness + 0.5 * agreement, 0.0, 1.0)

    def predict_df(self, df: pd.DataFrame) -> pd.DataFrame:
        index = df.index
        df = add_derived_columns(df.reset_index(drop=True))
        X = self.builder.transform(df)
        mean, std = self._forward(X, self.mc_samples)
        out = {}
        pred_bpm, std_bpm = from_model_scale(mean), from_model_scale(std)
        for j, f in enumerate(FEATURES):
            out[f"{f}_pred"] = pred_bpm[:, j]
        for j, f in enumerate(FEATURES):
            out[f"{f}_std"] = std_bpm[:, j]
        out["completeness"] = X["completeness"]
        out["confidence"] = self.confidence(X["completeness"], std)
        return pd.DataFrame(out, index=index)
