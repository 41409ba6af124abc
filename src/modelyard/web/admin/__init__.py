"""The admin HTTP API under ``/api/v1``: thin routes over the SDK, every one behind
:class:`~modelyard.web.admin.guard.AdminGuard` (admin key, own Host, own Origin)."""
