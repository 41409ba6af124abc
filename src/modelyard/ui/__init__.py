"""The Studio: the web UI of ``modelyard up``, server-rendered pages (Jinja2, htmx for live
parts) over the same functions as the admin API, under ``/studio``."""

from modelyard.ui.app import control_app_from_environment, create_studio_app, install_studio

__all__ = ["control_app_from_environment", "create_studio_app", "install_studio"]
