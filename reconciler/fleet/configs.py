"""From a fleet file's tenant and target to the ``ReconcileConfig`` one target's run takes.

Credentials are read here, for the tenants a process runs only (a shard's pod may hold the
secrets of its own tenants alone), from the environment variables the fleet file names.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.config import Credentials, ReconcileConfig, concrete_folder, is_template
from reconciler.errors import InvalidOption, MissingSetting, ReconcilerError
from reconciler.fleet.file import CREDENTIAL_VARIABLES, PATH_KEYS, Fleet, FleetFileError, TargetSpec, TenantSpec, render
from reconciler.wiring.settings import build_config, read_credentials


def tenant_credentials(fleet: Fleet, tenant: TenantSpec, environ: Mapping[str, str]) -> Credentials:
    """The tenant's login and secret, from the variables (or the file) its table names."""
    where = f"{fleet.path}: tenant {tenant.tenant!r}"
    login = environ.get(tenant.login_env, "")
    if not login:
        raise FleetFileError(f"{where}: key 'login_env': the environment variable {tenant.login_env} is not set")
    login_var, secret_var = CREDENTIAL_VARIABLES[tenant.dialect]
    if tenant.secret_file is not None:
        try:
            return read_credentials(tenant.dialect, {"password_file": tenant.secret_file}, {login_var: login})
        except ReconcilerError as exc:
            raise FleetFileError(f"{where}: key 'secret_file': {exc}") from None
    secret = environ.get(tenant.secret_env, "")
    if not secret:
        raise FleetFileError(f"{where}: key 'secret_env': the environment variable {tenant.secret_env} is not set")
    return read_credentials(tenant.dialect, {}, {login_var: login, secret_var: secret})


def target_config(fleet: Fleet, tenant: TenantSpec, target: TargetSpec, credentials: Credentials) -> ReconcileConfig:
    """The run of one target; an error names the file, the target and the key."""
    settings: dict[str, Any] = {
        key: render(value, target) if key in PATH_KEYS else value for key, value in target.settings.items()
    }
    settings.update(base_url=tenant.base_url, tenant=tenant.tenant, list=target.list_name, campaign=target.campaign,
                    dialect=tenant.dialect, rate=tenant.rate)
    login_var, secret_var = CREDENTIAL_VARIABLES[tenant.dialect]
    where = f"{fleet.path}: tenant {tenant.tenant!r}, target {target.campaign!r} / {target.list_name!r}"
    try:
        return build_config(settings, {login_var: credentials.login, secret_var: credentials.secret})
    except InvalidOption as exc:
        raise FleetFileError(f"{where}: key {exc.option.lstrip('-').replace('-', '_')!r}: {exc.value!r} is not "
                             f"valid; expected {exc.expected}") from None
    except MissingSetting as exc:
        raise FleetFileError(f"{where}: key {exc.setting.replace('-', '_')!r} is required, here, on its tenant "
                             "or in [defaults]") from None
    except ReconcilerError as exc:
        raise FleetFileError(f"{where}: {exc}") from None


def make_target_folders(target: TargetSpec, config: ReconcileConfig) -> list[Path]:
    """Make the folders that ``{tenant}``, ``{campaign}`` and ``{list}`` add to the target's paths.

    As with ``{date}``, the folder above the first placeholder must exist (else the run names it);
    what the names add below it is made. Returns the folders made, deepest first.
    """
    made: list[Path] = []
    paths = {"output": config.output_path, "unmatched": config.unmatched_path, "changes": config.changes_path,
             "state": config.state_path, "journal": config.journal_path}
    for key, path in paths.items():
        template = target.settings.get(key)
        if not isinstance(path, Path) or template is None:  # a PostgreSQL table has no folder to make
            continue
        base = _folder(Path(template))
        folder, missing = _folder(path), []
        while folder != base and base in folder.parents and not folder.exists():
            missing.append(folder)
            folder = folder.parent
        if missing and base.is_dir():
            missing[0].mkdir(parents=True, exist_ok=True)
            made.extend(missing)
    return made


def _folder(path: Path) -> Path:
    return concrete_folder(path) if is_template(path) else path.parent


def remove_empty_folders(folders: list[Path]) -> None:
    """Undo ``make_target_folders`` where nothing was written (a target that failed before it wrote)."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty, or gone
            continue
