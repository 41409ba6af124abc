"""The model registry: versions, aliases, events, flavours and the one safe loader."""

from modelyard.registry.doctor import DoctorReport, Finding
from modelyard.registry.flavours.loader import SafeLoader
from modelyard.registry.records import Event, FileEntry, Manifest, Model, ModelVersion
from modelyard.registry.registry import Registry, VersionInfo, current_actor
from modelyard.registry.signature import infer_signature

__all__ = [
    "DoctorReport",
    "Event",
    "FileEntry",
    "Finding",
    "Manifest",
    "Model",
    "ModelVersion",
    "Registry",
    "SafeLoader",
    "VersionInfo",
    "current_actor",
    "infer_signature",
]
