"""The readers: model GGUF / manifest JSON -> ModelInfo, imatrix GGUF / .dat / summary JSON -> ImatrixStats.

`load_model` and `load_imatrix` tell the kind of file by its first bytes; the manifest and the
summary are also written here (their schema lives next to its reader).
"""

from recipec.loaders.imatrix import (SUMMARY_SCHEMA, dumps_summary, load_imatrix, read_dat_imatrix,
                                     read_gguf_imatrix, summary_dict, summary_to_stats)
from recipec.loaders.model import (MANIFEST_SCHEMA, dumps_manifest, load_model, manifest_dict,
                                   manifest_to_info, output_kv_bytes, read_gguf_model, read_manifest,
                                   shard_paths)

__all__ = [
    "MANIFEST_SCHEMA", "SUMMARY_SCHEMA",
    "load_model", "read_gguf_model", "read_manifest", "manifest_to_info", "manifest_dict",
    "dumps_manifest", "shard_paths", "output_kv_bytes",
    "load_imatrix", "read_gguf_imatrix", "read_dat_imatrix", "summary_to_stats", "summary_dict",
    "dumps_summary",
]
